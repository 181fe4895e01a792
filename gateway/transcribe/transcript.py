"""The transcript of one session and its two renderings: JSON and WebVTT.

JSON (`SessionTranscript.to_json()`), the interface the delivery and compliance parts
read: top-level `text` and `segments` (each with `start`, `end`, `text` in seconds from
the session's start), plus wall-clock times, words, confidences, the clips with their
hashes and verification status, gaps, the model and every option used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.transcribe.segment import Segment
from gateway.transcribe.verify import ClipCheck, Gap

__all__ = ["SCHEMA", "SessionTranscript", "iso_time", "join_text", "vtt_time"]

SCHEMA = "badgekit.transcript/1"


def iso_time(epoch_s: float | None) -> str | None:
    """Unix seconds → ISO 8601 UTC with milliseconds (`…T09:30:00.250Z`)."""
    if epoch_s is None:
        return None
    from firmware.clips.fmt import iso_utc

    ms = round(epoch_s * 1000)
    return str(iso_utc(ms // 1000, ms % 1000))


def vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def join_text(parts: list[str]) -> str:
    """Join segment texts: no space between CJK text, one space between Latin words."""
    out = ""
    for p in (p.strip() for p in parts):
        if not p:
            continue
        if out and out[-1].isascii() and out[-1].isalnum() and p[0].isascii() and p[0].isalnum():
            out += " "
        out += p
    return out


@dataclass
class SessionTranscript:
    """Everything the gateway knows about one transcribed session."""

    segments: list[Segment]
    clips: list[ClipCheck]
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    session_start_epoch_s: float | None = None
    """Wall-clock time of the session's start (None for a plain WAV without a clock)."""
    clip_start_epoch_s: dict[int, float] = field(default_factory=dict)
    """Wall-clock start minus timeline offset, per clip index (each clip's own clock)."""
    source: str = ""
    badge: str | None = None
    session: str | None = None
    case_id: str | None = None
    """Customer/case id the agent set for this meeting (from the clips' sidecars)."""
    duration_s: float = 0.0
    speech_s: float = 0.0
    processing_s: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return join_text([s.text for s in self.segments])

    @property
    def problems(self) -> list[str]:
        out = [f"{c.file_name}: {c.status}: {c.reason}" for c in self.clips if not c.ok]
        out += [g.reason for g in self.gaps]
        out += [f"{c.clip_id}: recovered after a power cut, {c.dropped_ms} ms dropped"
                for c in self.clips if c.recovered]
        out += [p for c in self.clips for p in c.problems]  # sample counts that disagree (bounds)
        return out + list(self.notes)

    def wall_time(self, seg_time_s: float, source: int) -> float | None:
        base = self.clip_start_epoch_s.get(source)
        return None if base is None else base + seg_time_s

    def _segment_json(self, s: Segment) -> dict[str, Any]:
        clip = self.clips[s.source] if 0 <= s.source < len(self.clips) else None
        return {
            "start": round(s.start_s, 3), "end": round(s.end_s, 3), "text": s.text,
            "wall_start": iso_time(self.wall_time(s.start_s, s.source)),
            "wall_end": iso_time(self.wall_time(s.end_s, s.source)),
            "clip_id": clip.clip_id if clip else None,
            "confidence": round(s.confidence, 4), "avg_logprob": round(s.avg_logprob, 4),
            "no_speech_prob": round(s.no_speech_prob, 4),
            "compression_ratio": round(s.compression_ratio, 3),
            "temperature": s.temperature, "redecoded": s.redecoded,
            "words": [{"start": round(w.start_s, 3), "end": round(w.end_s, 3), "text": w.text,
                       "probability": round(w.probability, 4)} for w in s.words],
            "speaker": s.speaker, "speaker_confidence": round(s.speaker_confidence, 3),
            "flags": list(s.flags),
            "cuts": [{"flag": flag, "text": text} for flag, text in s.cuts],
        }

    def to_json(self) -> dict[str, Any]:
        """The transcript as a JSON-ready dict (see the module docstring)."""
        return {
            "schema": SCHEMA, "source": self.source, "badge": self.badge,
            "session": self.session, "case_id": self.case_id,
            "language": self.model.get("language"),
            "session_start": iso_time(self.session_start_epoch_s),
            "duration_s": round(self.duration_s, 3), "speech_s": round(self.speech_s, 3),
            "text": self.text,
            "segments": [self._segment_json(s) for s in self.segments],
            "clips": [c.to_json() for c in self.clips],
            "gaps": [g.to_json() for g in self.gaps],
            "problems": self.problems,
            "model": self.model, "options": self.options,
            "timing": {"processing_s": round(self.processing_s, 3),
                       "real_time_factor": round(self.processing_s / self.duration_s, 4)
                       if self.duration_s else None},
        }

    def to_json_text(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent)

    def to_vtt(self) -> str:
        """WebVTT subtitles on the session timeline (cue times from the session's start)."""
        lines = ["WEBVTT", ""]
        if self.session_start_epoch_s is not None:
            lines += [f"NOTE session {self.session or ''} of badge {self.badge or ''}, "
                      f"started {iso_time(self.session_start_epoch_s)}", ""]
        for i, s in enumerate((s for s in self.segments if s.text), 1):
            end = max(s.end_s, s.start_s + 0.001)
            text = s.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            text = text.replace("-->", "→")
            lines += [str(i), f"{vtt_time(s.start_s)} --> {vtt_time(end)}", text, ""]
        return "\n".join(lines)
