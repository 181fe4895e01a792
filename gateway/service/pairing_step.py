"""Two badges in one meeting, as the gateway meets them (`gateway.transcribe.pairing`).

When a session is transcribed, `pair_transcript()` looks for a transcribed session of
another badge with the same non-empty case id whose wall-clock span overlaps it, runs
`pair_sessions` on the two and returns both transcripts relabelled; the caller publishes
this one and a new revision of the partner's. No partner, or a pair that cannot be
aligned (`PairingError`), leaves the single-badge labels, with the reason logged.

Every transcribed session's single-badge transcript is kept in `gw_transcripts`
(`remember()`), so a partner is always relabelled from its own badge's evidence, never
from an earlier pairing's verdict, which would count the other badge twice. Audio is
read again from the clips' WAVs the gateway delivered (`gw_clips.wav`).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SCHEMA", "Paired", "Partner", "find_partner", "pair_transcript", "remember"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gw_transcripts (
  badge TEXT NOT NULL, session TEXT NOT NULL, case_id TEXT NOT NULL, start REAL, end REAL,
  doc TEXT NOT NULL, vtt TEXT NOT NULL, PRIMARY KEY (badge, session));
"""


@dataclass(frozen=True)
class Paired:
    doc: dict[str, Any]
    """This session's transcript, relabelled."""
    partner_badge: str
    partner_session: str
    partner_doc: dict[str, Any]
    """The partner's transcript, relabelled from its single-badge labels."""
    partner_vtt: str


@dataclass
class _Turn:
    """A transcript segment as `pair_sessions` reads it."""

    start_s: float
    end_s: float
    speaker: str
    speaker_confidence: float


def _span(doc: dict[str, Any]) -> tuple[float, float] | None:
    """Wall-clock (start, end) of a transcript, None without a clock."""
    start = doc.get("session_start")
    if not isinstance(start, str):
        return None
    try:
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return t0, t0 + float(doc.get("duration_s") or 0.0)


def remember(db: Any, badge: str, session: str, case_id: str | None, doc: dict[str, Any],
             vtt: str) -> None:
    """Keep a session's single-badge transcript for a partner that comes later (in the
    caller's transaction)."""
    span = _span(doc) or (None, None)
    db.execute("INSERT OR REPLACE INTO gw_transcripts(badge, session, case_id, start, end, doc, vtt) "
               "VALUES(?,?,?,?,?,?,?)", (badge, session, case_id or "", *span, json.dumps(doc), vtt))


Partner = tuple[str, str, dict[str, Any], str]
"""(badge, session, single-badge transcript, WebVTT) of a stored transcript."""


def find_partner(db: Any, badge: str, case_id: str, span: tuple[float, float]) -> Partner | None:
    """The other badge's transcribed session of this case that overlaps `span` most."""
    row = db.execute(
        "SELECT badge, session, doc, vtt FROM gw_transcripts WHERE case_id=? AND badge<>? "
        "AND start < ? AND end > ? ORDER BY MIN(end, ?) - MAX(start, ?) DESC LIMIT 1",
        (case_id, badge, span[1], span[0], span[1], span[0])).fetchone()
    return None if row is None else (row[0], row[1], json.loads(row[2]), row[3])


def _timeline(wavs: list[Path]) -> tuple[np.ndarray, float | None]:
    """A session's clips on its timeline and the wall clock of its zero, placed exactly as
    the transcription placed them (`gateway.transcribe.session.place_clips`)."""
    from gateway.transcribe.decode import RATE_HZ
    from gateway.transcribe.pairing import timeline_audio
    from gateway.transcribe.session import place_clips

    placed = place_clips(wavs)
    return timeline_audio(placed.pieces, RATE_HZ), placed.start_epoch_s


def _turns(doc: dict[str, Any]) -> list[_Turn]:
    return [_Turn(float(s["start"]), float(s["end"]), str(s.get("speaker", "unknown")),
                  float(s.get("speaker_confidence", 0.0))) for s in doc.get("segments", [])]


def _relabelled(doc: dict[str, Any], turns: list[_Turn], other: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for seg, t in zip(out.get("segments", []), turns, strict=True):
        seg.update(speaker=t.speaker, speaker_confidence=round(t.speaker_confidence, 3),
                   paired_with=other)
    return out


def pair_transcript(badge: str, session: str, case_id: str | None, doc: dict[str, Any],
                    wavs: list[Path], partner_of: Callable[[str, str, tuple[float, float]], Partner | None],
                    wavs_of: Callable[[str, str], list[Path]]) -> Paired | None:
    """Both sessions relabelled if a partner exists and the two align, else None.

    `wavs`: this session's delivered clip files; `partner_of(badge, case_id, span)`:
    `find_partner` on the gateway's database; `wavs_of(badge, session)`: a partner's clips."""
    from gateway.transcribe.errors import TranscribeError
    from gateway.transcribe.pairing import PairingError, pair_sessions

    name = f"session {badge}/{session}"
    span = _span(doc)
    if not case_id or span is None:
        log.info("%s: single-badge speaker labels (%s)", name,
                 "no case id" if not case_id else "no wall clock to find a partner by")
        return None
    found = partner_of(badge, case_id, span)
    if found is None:
        log.info("%s: single-badge speaker labels (no transcribed session of another badge "
                 "with case id %s overlaps it)", name, case_id)
        return None
    p_badge, p_session, p_doc, p_vtt = found
    try:
        a_audio, a_start = _timeline(wavs)
        b_audio, b_start = _timeline(wavs_of(p_badge, p_session))
        if a_start is None or b_start is None:
            raise PairingError("a session without a wall clock")
        a_turns, b_turns = pair_sessions(a_audio, a_start, _turns(doc), b_audio, b_start,
                                         _turns(p_doc))
    except Exception as exc:  # noqa: BLE001 - pairing only refines labels; it must not stop delivery
        reason = exc.reason if isinstance(exc, TranscribeError) else f"{type(exc).__name__}: {exc}"
        kind = "cannot be paired with" if isinstance(exc, PairingError) else "could not pair with"
        expected = isinstance(exc, TranscribeError | OSError)  # anything else is a fault here: traced
        log.log(logging.INFO if expected else logging.WARNING, "%s: single-badge speaker labels "
                "(%s %s/%s: %s)", name, kind, p_badge, p_session, reason, exc_info=not expected)
        return None
    log.info("%s: speaker labels paired with %s/%s (case %s)", name, p_badge, p_session, case_id)
    return Paired(_relabelled(doc, a_turns, p_badge), p_badge, p_session,
                  _relabelled(p_doc, b_turns, badge), p_vtt)
