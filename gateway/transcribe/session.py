"""Transcribe one session (a folder of clips) or one WAV file onto the session timeline.

A session folder holds a badge's clips of one meeting (`<clip id>.wav` + sidecar). Every
clip is verified (`verify.check_session_clips`), the intact ones are decoded and placed on the
session timeline at their `session_offset_samples`, and the pipeline transcribes them
together, so segments carry their time from the session's start and, through the clip's
own clock, their wall-clock time. A single WAV is a session of one piece: a badge clip
(verified like any clip) or a plain PCM/ADPCM recording starting at 0 with no clock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from gateway.transcribe.decode import RATE_HZ, decode_wav
from gateway.transcribe.engine import EngineSettings, WhisperEngine, load_engine
from gateway.transcribe.errors import (
    AudioError,
    CorruptAudioError,
    NotAudioError,
    TranscribeError,
    TruncatedAudioError,
)
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.transcript import SessionTranscript
from gateway.transcribe.verify import (
    ClipCheck,
    SessionCheck,
    check_session_clips,
    check_spool_clip,
    session_files,
)
from gateway.transcribe.vocabulary import Vocabulary, load_vocabulary

__all__ = ["PlacedClips", "TranscribeSettings", "Transcriber", "place_clips", "transcribe_session"]

_ERRORS: dict[str, type[AudioError]] = {"not_audio": NotAudioError,
                                        "truncated": TruncatedAudioError}


@dataclass(frozen=True)
class TranscribeSettings:
    """Everything that shapes a transcript; recorded in its `options`."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    vocabulary_path: str | None = None
    """Vocabulary TOML; None = gateway/vocabulary.toml."""
    vocabulary_enabled: bool | None = None
    """Force the vocabulary on or off; None = the file's `enabled`."""


class Transcriber:
    """A loaded model plus settings: build once, transcribe many sessions.

    `Transcriber(settings)` loads Whisper on first use (or takes a loaded `engine`), so a
    long-running gateway pays the load once. Not for concurrent calls: one per worker.
    """

    def __init__(self, settings: TranscribeSettings | None = None,
                 engine: WhisperEngine | None = None) -> None:
        self.settings = settings or TranscribeSettings()
        self._engine = engine
        vocab = load_vocabulary(self.settings.vocabulary_path)
        if self.settings.vocabulary_enabled is not None:
            vocab = vocab.with_enabled(self.settings.vocabulary_enabled)
        self.vocabulary: Vocabulary = vocab

    @property
    def engine(self) -> WhisperEngine:
        if self._engine is None:
            self._engine = load_engine(self.settings.engine)
        return self._engine

    def _pipeline_settings(self) -> PipelineSettings:
        return replace(self.settings.pipeline, initial_prompt=self.vocabulary.initial_prompt,
                       hotwords=self.vocabulary.hotwords)

    def _options(self, p: PipelineSettings) -> dict[str, object]:
        opts = asdict(p)
        opts["vocabulary"] = self.vocabulary.describe()
        return opts

    def transcribe(self, source: Path | str | Sequence[Path | str]) -> SessionTranscript:
        """Transcribe a session folder, a list of clip files, or one WAV file."""
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                return self._clips(session_files(path), str(path))
            if not path.exists():
                raise TranscribeError(f"{path}: no such file or folder", path)
            return self._file(path)
        return self._clips([Path(p) for p in source], "")

    def _run(self, pieces: list[Piece], tr: SessionTranscript) -> SessionTranscript:
        p = self._pipeline_settings()
        t0 = time.perf_counter()
        engine = self.engine
        tr.segments = list(transcribe_pieces(pieces, engine, p))
        tr.processing_s = time.perf_counter() - t0
        tr.model = engine.description
        tr.options = self._options(p)
        tr.speech_s = sum(s.end_s - s.start_s for s in tr.segments)
        return tr

    def _file(self, path: Path) -> SessionTranscript:
        check = check_spool_clip(path)
        if check.status in ("ok", "hash_mismatch"):
            return self._clips([path], str(path))
        if check.status != "not_a_clip":  # a badge clip that cannot be read, or not audio
            error = _ERRORS.get(check.status, CorruptAudioError)
            raise error(f"{path.name}: {check.reason}", path)
        audio = decode_wav(path)  # a plain WAV: PCM or ADPCM without a badge header
        plain = ClipCheck(path, "ok", "plain WAV: no badge header, hash and chain not checked",
                          samples=len(audio.samples))
        tr = SessionTranscript(segments=[], clips=[plain], source=str(path),
                               duration_s=audio.seconds)
        return self._run([Piece(audio.samples, 0.0, 0)], tr)

    def _clips(self, files: list[Path], source: str) -> SessionTranscript:
        placed = place_clips(files, source)
        clips, usable = placed.clips, [c for c in placed.clips if c.ok]
        duration = max(c.session_offset_s + c.samples / RATE_HZ for c in usable)
        first = min(usable, key=lambda c: c.session_offset_s)
        tr = SessionTranscript(
            segments=[], clips=clips, gaps=list(placed.check.gaps), notes=list(placed.check.notes),
            session_start_epoch_s=placed.start_epoch_s, clip_start_epoch_s=placed.wall,
            source=source, badge=first.badge, session=first.session,
            case_id=next((c.case_id for c in usable if c.case_id), None), duration_s=duration)
        return self._run(placed.pieces, tr)


@dataclass(frozen=True)
class PlacedClips:
    """A session's clips checked, decoded and placed on its timeline."""

    check: SessionCheck
    clips: list[ClipCheck]
    """Every clip, with decoding failures and duplicates marked (`ok` only for those placed)."""
    pieces: list[Piece]
    """The audio of each usable clip at its session offset (`source`: index in `clips`)."""
    wall: dict[int, float]
    """Wall-clock time of timeline zero by clip index, where the clip had a clock."""
    start_epoch_s: float | None
    """Wall-clock time of timeline zero, from the earliest usable clip."""


def place_clips(files: list[Path], source: str = "") -> PlacedClips:
    """Verify, decode and place a session's clips as the transcription does: a clip whose
    audio does not decode is `corrupt`, a copy of earlier audio is a `duplicate` and is
    placed once. Raises `AudioError` when no clip is usable."""
    check = check_session_clips(files)
    clips = list(check.clips)
    pieces: list[Piece] = []
    wall: dict[int, float] = {}
    heard: dict[bytes, str] = {}
    for i, c in enumerate(clips):
        if not c.ok or c.path is None:
            continue
        try:
            audio = decode_wav(c.path, samples=c.samples)  # bounded by the blocks, not the trailer
        except AudioError as exc:
            clips[i] = replace(c, status="corrupt", reason=exc.reason)
            continue
        same = hashlib.sha256(audio.samples.tobytes()).digest()
        if same in heard:  # a copy under another sequence number: its speech once only
            clips[i] = replace(c, status="duplicate", reason=f"same audio as {heard[same]}; not transcribed again")
            continue
        heard[same] = c.clip_id or c.file_name
        pieces.append(Piece(audio.samples, c.session_offset_s, i))
        if c.start_epoch_s is not None:
            wall[i] = c.start_epoch_s - c.session_offset_s
    usable = [c for c in clips if c.ok]
    if not usable:
        reasons = "; ".join(f"{c.file_name}: {c.status}: {c.reason}" for c in clips)
        raise AudioError(f"no usable clip in {source or 'the clip list'} "
                         f"({reasons or 'no .wav files'})")
    first = min(usable, key=lambda c: c.session_offset_s)
    return PlacedClips(check, clips, pieces, wall, wall.get(clips.index(first)))


def transcribe_session(source: Path | str | Sequence[Path | str],
                       settings: TranscribeSettings | None = None,
                       transcriber: Transcriber | None = None) -> SessionTranscript:
    """One-shot: transcribe a session folder, clip list or WAV (loads the model if needed)."""
    return (transcriber or Transcriber(settings)).transcribe(source)
