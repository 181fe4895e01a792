"""A live microphone for the recording simulation: PortAudio through sounddevice.

`SoundDeviceMic` has the firmware mic interface (`readinto(buf) -> samples`, `close()`),
so `firmware.recorder.record_stream` runs on it exactly as on the badge's I2S mic or a
WAV file. It captures 16 kHz mono int16 (PortAudio/ALSA resample if the device cannot)
and stops after `seconds`. sounddevice is imported only when a live mic is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MicUnavailable", "SoundDeviceMic"]

RATE_HZ = 16000


class MicUnavailable(RuntimeError):
    """No usable input device (or PortAudio is missing)."""


class SoundDeviceMic:
    """Blocking reads from a PortAudio input stream, `seconds` long at most."""

    def __init__(self, device: str | int | None = None, seconds: float = 60.0,
                 frame_samples: int = 320) -> None:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise MicUnavailable(f"sounddevice/PortAudio unavailable: {exc}; fix: "
                                 "sudo apt-get install -y libportaudio2") from exc
        self.remaining = int(seconds * RATE_HZ)
        try:
            self._stream: Any = sd.RawInputStream(samplerate=RATE_HZ, channels=1, dtype="int16",
                                                  device=device, blocksize=frame_samples)
            self._stream.start()
        except Exception as exc:  # PortAudio reports bad devices with several types
            raise MicUnavailable(f"cannot open input device {device!r}: {exc}") from exc
        self.overflows = 0

    def readinto(self, buf: Any) -> int:
        """Fill `buf` (array('h')) with the next samples; 0 once `seconds` are done."""
        n = min(len(buf), self.remaining)
        if n <= 0:
            return 0
        data, overflowed = self._stream.read(n)
        if overflowed:
            self.overflows += 1
        raw = bytes(data)
        got = len(raw) // 2
        memoryview(buf).cast("B")[: 2 * got] = raw[: 2 * got]
        self.remaining -= got
        return got

    def close(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stream.close()
