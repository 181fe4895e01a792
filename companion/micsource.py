"""The computer's microphone as a stream of 16 kHz mono int16 blocks (sounddevice).

`mic_blocks()` opens a PortAudio input (any device sounddevice lists: a USB headset, the
laptop's built-in mic, an ALSA PCM) and yields `bytes` of little-endian int16 samples,
converted to 16 kHz mono when the device cannot capture that natively. Capture starts at
the first ``next()``; the stream closes when the generator is closed or `limit_samples`
have been yielded. sounddevice (and PortAudio) load lazily, with one clear error if missing.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

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


class _Resampler:
    """Stateful resampling of a stream from ``rate_in`` to 16 kHz: a windowed-sinc
    low-pass at 7.2 kHz (when downsampling) then linear interpolation."""

    def __init__(self, rate_in: float) -> None:
        import numpy as np

        self.step = rate_in / RATE_HZ
        self.t = 0.0  # position of the next output sample within ``self.buf``
        self.buf = np.zeros(0)
        self.fir = None
        if rate_in > RATE_HZ:
            n = np.arange(63) - 31
            fc = 7200.0 / rate_in
            h = 2 * fc * np.sinc(2 * fc * n) * np.hamming(63)
            self.fir = h / h.sum()
            self.hist = np.zeros(62)

    def __call__(self, x: Any) -> Any:
        import numpy as np

        x = x.astype(np.float64)
        if self.fir is not None:
            full = np.concatenate([self.hist, x])
            self.hist = full[-62:]
            x = np.convolve(full, self.fir, "valid")
        buf = np.concatenate([self.buf, x])
        last = len(buf) - 1
        count = int((last - self.t) // self.step) + 1 if last >= 0 and self.t <= last else 0
        pos = self.t + self.step * np.arange(count)
        y = np.interp(pos, np.arange(len(buf)), buf) if count else np.zeros(0)
        nxt = self.t + self.step * count
        drop = min(int(nxt), max(last, 0))
        self.buf, self.t = buf[drop:], nxt - drop
        return np.clip(np.round(y), -32768, 32767).astype("<i2")


def mic_blocks(device: str | int | None = None, block_samples: int = 1600,
               limit_samples: int | None = None,
               stats: dict[str, int] | None = None) -> Generator[bytes, None, None]:
    """Yield blocks of 16 kHz mono s16le audio from the microphone.

    ``limit_samples`` stops after that many 16 kHz samples (None: until closed);
    ``stats["overflows"]`` counts reads where PortAudio dropped input (a busy CPU). Raises
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
        resample = _Resampler(rate)
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
            try:
                data, overflowed = stream.read(per_read)
            except sd.PortAudioError as exc:  # the device went away mid-recording
                raise MicError(f"capture from {info['name']!r} failed: {exc}") from None
            if overflowed and stats is not None:
                stats["overflows"] = stats.get("overflows", 0) + 1
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
