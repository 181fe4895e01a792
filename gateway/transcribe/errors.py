"""Named errors of the transcription package: one base, subclasses that carry the reason."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AudioError",
    "CorruptAudioError",
    "ModelUnavailableError",
    "NotAudioError",
    "TranscribeError",
    "TruncatedAudioError",
    "UnsupportedAudioError",
]


class TranscribeError(RuntimeError):
    """Base of every error raised by `gateway.transcribe`."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = message


class AudioError(TranscribeError):
    """A file that cannot be decoded into audio (base of the audio errors)."""


class NotAudioError(AudioError):
    """The file is not a RIFF/WAVE file at all (text, JSON, another format)."""


class UnsupportedAudioError(AudioError):
    """A WAV whose encoding this gateway does not decode."""


class CorruptAudioError(AudioError):
    """A WAV with malformed chunks or ADPCM blocks."""


class TruncatedAudioError(CorruptAudioError):
    """A WAV that ends before the length its header announces."""


class ModelUnavailableError(TranscribeError):
    """The speech model folder is missing, incomplete or not a Whisper model."""
