"""The computer's microphone as a stream of 16 kHz mono int16 blocks (sounddevice).

`mic_blocks()` opens a PortAudio input (any device sounddevice lists: a USB headset, the
laptop's built-in mic, an ALSA PCM) and yields `bytes` of little-endian int16 samples,
converted to 16 kHz mono when the device cannot capture that natively. Capture starts at
the first ``next()``; the stream closes when the generator is closed or `limit_samples`
have been yielded. sounddevice (and PortAudio) load lazily, with one clear error if missing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

__all__ = ["MicError", "mic_blocks", "list_inputs", "RATE_HZ"]

RATE_HZ = 16000


class MicError(RuntimeError):
    """No usable microphone: PortAudio missing, device unknown, or capture failed."""


def _sd():
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise MicError(f"sounddevice/PortAudio unavailable ({exc}); fix: "
                       "apt-get install libportaudio2 && pip install sounddevice") from None
    return sounddevice


def _device(spec: str | int | None) -> str | int | None:
    if spec in (None, ""):
        return None
    if isinstance(spec, str) and spec.isdigit():
        return int(spec)
    return spec


def list_inputs() -> list[dict]:
    """Input devices as sounddevice reports them (index, name, channels, default rate)."""
    sd = _sd()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append({"index": i, "name": d["name"], "channels": d["max_input_channels"],
                        "default_rate_hz": d["default_samplerate"]})
    return out


def _resampler(rate_in: float):
    """A stateful linear-interpolation resampler from ``rate_in`` to 16 kHz (float in, int16 out)."""
    import numpy as np

    step = rate_in / RATE_HZ
    state = {"pos": 0.0, "prev": np.zeros(1, dtype=np.float64)}

    def run(x):
        x = np.concatenate([state["prev"], x.astype(np.float64)])
        n = int((len(x) - 1 - state["pos"]) / step) + 1 if len(x) > 1 else 0
        idx = state["pos"] + step * np.arange(max(n, 0))
        idx = idx[idx <= len(x) - 1]
        y = np.interp(idx, np.arange(len(x)), x)
        nxt = (idx[-1] + step) if len(idx) else state["pos"]
        keep = int(nxt)
        state["prev"] = x[keep:] if keep < len(x) else x[-1:]
        state["pos"] = nxt - keep if keep < len(x) else nxt - (len(x) - 1)
        return np.clip(np.round(y), -32768, 32767).astype("<i2")

    return run


def mic_blocks(device: str | int | None = None, block_samples: int = 1600,
               limit_samples: int | None = None) -> Iterator[bytes]:
    """Yield blocks of 16 kHz mono s16le audio from the microphone.

    ``limit_samples`` stops after that many 16 kHz samples (None: until closed). Raises
    MicError with one line when the device cannot be opened.
    """
    sd = _sd()
    dev = _device(device)
    try:
        info = sd.query_devices(dev, "input")
    except (ValueError, sd.PortAudioError) as exc:
        raise MicError(f"no input device {device!r}: {exc}") from None
    rate = RATE_HZ
    resample = None
    try:
        sd.check_input_settings(device=dev, samplerate=RATE_HZ, channels=1, dtype="int16")
    except (ValueError, sd.PortAudioError):
        rate = int(info["default_samplerate"])
        resample = _resampler(rate)
    try:
        stream = sd.InputStream(samplerate=rate, channels=1, dtype="int16", device=dev,
                                blocksize=0)
        stream.start()
    except (ValueError, sd.PortAudioError) as exc:
        raise MicError(f"cannot open {info['name']!r} for capture: {exc}") from None
    left = limit_samples
    per_read = max(1, int(block_samples * rate / RATE_HZ))
    try:
        while left is None or left > 0:
            data, overflowed = stream.read(per_read)
            if overflowed:
                print("warning: microphone overflow, audio dropped", file=sys.stderr)
            mono = data[:, 0]
            out = resample(mono) if resample else mono.astype("<i2")
            if left is not None:
                out = out[:left]
                left -= len(out)
            if len(out):
                yield out.tobytes()
    finally:
        stream.stop()
        stream.close()
