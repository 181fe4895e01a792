"""The gateway's use of the transcription package: one loaded model, one call per session.

`TranscriptionStep(model_dir, language, compute_type)` wraps `gateway.transcribe.Transcriber` (which
loads Whisper once and serves any number of sessions); `session(wav_paths)` transcribes
one session's clips and returns the JSON document and the WebVTT text. All speech work
lives in `gateway.transcribe`; this module only adapts its errors for the service.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["SessionText", "TranscriptionStep", "TranscriptionStepError"]


class TranscriptionStepError(RuntimeError):
    """The session could not be transcribed (model missing or wrong, audio unreadable)."""


@dataclass(frozen=True)
class SessionText:
    document: dict[str, Any]
    """`SessionTranscript.to_json()` of the transcription package."""
    vtt: str
    audio_s: float
    """Length of the session timeline in seconds."""


class TranscriptionStep:
    """A reusable, lazily loaded transcription model (one per gateway worker)."""

    def __init__(self, model_dir: Path | None = None, language: str | None = None,
                 compute_type: str | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.language = language
        self.compute_type = compute_type
        self._tr: Any = None

    def _transcriber(self) -> Any:
        if self._tr is None:
            try:
                from gateway import transcribe as tx
            except ImportError as exc:
                raise TranscriptionStepError(f"the transcription package is not available: {exc}") from None
            engine = tx.EngineSettings(model_dir=str(self.model_dir) if self.model_dir else None)
            if self.language:
                engine = replace(engine, language=self.language)
            if self.compute_type:
                engine = replace(engine, compute_type=self.compute_type)
            try:
                self._tr = tx.Transcriber(tx.TranscribeSettings(engine=engine))
            except tx.TranscribeError as exc:
                raise TranscriptionStepError(exc.reason) from None
        return self._tr

    def check(self) -> None:
        """Load the model now, so a missing or wrong model folder is reported at start."""
        from gateway.transcribe import TranscribeError

        try:
            self._transcriber().engine  # noqa: B018 - loads the model
        except TranscribeError as exc:
            raise TranscriptionStepError(exc.reason) from None

    def session(self, wavs: list[Path]) -> SessionText:
        from gateway.transcribe import TranscribeError

        try:
            result = self._transcriber().transcribe(wavs)
        except TranscribeError as exc:
            raise TranscriptionStepError(exc.reason) from None
        return SessionText(document=result.to_json(), vtt=result.to_vtt(), audio_s=float(result.duration_s))
