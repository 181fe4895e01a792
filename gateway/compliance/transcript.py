"""Read a transcript: one file that `badgekit gateway transcribe --json` wrote, or a
session folder holding one.

Accepted JSON (fields beyond these are ignored; the MQTT `transcript` document that a
receiver stores, with the transcript under `transcript`, is unwrapped first):
- top level: `text` and/or `segments` (each with `start`, `end` in seconds and `text`);
- session fields, any of: `session`/`session_id`, `badge`, `agent`/`agent_id`,
  `case_id`/`case`/`customer_id`/`customer` (the related-group key; also taken from
  the first clip record that has a `case_id`), `clips` (each with `clip_id`/`id` and
  its place in the session: `start` or `session_offset_s` seconds, or
  `session_offset_samples` with `sample_rate`);
- per segment, optionally `clip`/`clip_id` and `clip_start`/`clip_offset` (seconds into
  that clip); otherwise the clip is found from `clips`, or for a single-file transcript
  it is the transcribed file itself (`source`/`file`/`input`/`audio`/`path`).
A session folder is searched for `transcript.json`, then `*.transcript.json`, then any
`*.json` with `segments`; clip sidecars (`<clip id>.json` with `clip_id`) in it supply
`clips`, the badge and the case id when the transcript has none. A folder of clips with
no transcript raises `NoTranscriptError` (the CLI then transcribes it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.compliance.errors import TranscriptError

__all__ = ["ClipRef", "NoTranscriptError", "TranscriptSegment", "Transcript", "add_sidecars",
           "find_sessions", "load_transcript", "parse_transcript", "with_sidecars"]


SPEAKERS = ("wearer", "other", "unknown")
"""The speaker labels a gateway transcript's segments carry."""


class NoTranscriptError(TranscriptError):
    """A session folder holds clips but no transcript yet."""


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    """Seconds from the start of the session (or file)."""
    end: float
    text: str
    clip: str | None = None
    """Clip id (or audio file) to play for this segment."""
    clip_start: float | None = None
    """Seconds into that clip."""
    speaker: str | None = None
    """"wearer" (the agent wearing the badge), "other" or "unknown", from the gateway's
    transcript; None where the transcript does not say."""


@dataclass(frozen=True)
class ClipRef:
    clip_id: str
    start: float
    """Seconds from the start of the session."""


@dataclass(frozen=True)
class Transcript:
    session: str
    segments: tuple[TranscriptSegment, ...]
    agent: str | None = None
    case_id: str | None = None
    source: str = ""
    started: str | None = None
    """When the meeting started (ISO 8601 UTC), for ordering a related group."""


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = d.get(k)
        if v not in (None, ""):
            return v
    return None


def _num(v: Any, what: str, src: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TranscriptError(f"{what} must be a number of seconds, got {v!r}", src)
    return float(v)


def _clips(raw: Any) -> list[ClipRef]:
    out = []
    for c in raw if isinstance(raw, list) else []:
        if not isinstance(c, dict):
            continue
        cid = _first(c, "clip_id", "id")
        start = c.get("start", c.get("session_offset_s"))
        if not isinstance(start, int | float) and isinstance(c.get("session_offset_samples"), int):
            start = c["session_offset_samples"] / float(c.get("sample_rate") or 16000)
        if cid is not None and isinstance(start, int | float):
            out.append(ClipRef(str(cid), float(start)))
    return sorted(out, key=lambda c: c.start)


def parse_transcript(data: Any, source: str = "<transcript>",
                     extra_clips: list[ClipRef] | None = None) -> Transcript:
    """Build a `Transcript` from parsed JSON; raise `TranscriptError` with the reason."""
    if not isinstance(data, dict):
        raise TranscriptError("a transcript must be a JSON object with 'segments' or 'text'", source)
    if "segments" not in data and isinstance(data.get("transcript"), dict):
        # the MQTT transcript document (as a receiver stores it): the transcript inside,
        # badge and session beside it
        inner = dict(data["transcript"])
        for key in ("session", "badge", "case_id", "agent"):
            if inner.get(key) in (None, "") and data.get(key) not in (None, ""):
                inner[key] = data[key]
        data = inner
    raw_segs = data.get("segments")
    if raw_segs is None:
        text = data.get("text")
        if not isinstance(text, str):
            raise TranscriptError("no 'segments' list and no 'text' string", source)
        raw_segs = [{"start": 0.0, "end": 0.0, "text": text}]
    if not isinstance(raw_segs, list):
        raise TranscriptError("'segments' must be a list", source)
    clips = _clips(data.get("clips")) or list(extra_clips or [])
    whole_file = _first(data, "source", "file", "input", "audio", "path")
    segs = []
    for n, s in enumerate(raw_segs):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str):
            raise TranscriptError(f"segment #{n} must be an object with a 'text' string", source)
        start = _num(s.get("start", 0.0), f"segment #{n} 'start'", source)
        end = _num(s.get("end", start), f"segment #{n} 'end'", source)
        clip = _first(s, "clip", "clip_id")
        clip_start = _first(s, "clip_start", "clip_offset")
        if clip is not None and clip_start is None:
            ref = next((c for c in clips if c.clip_id == str(clip)), None)
            if ref is not None:
                clip_start = max(0.0, start - ref.start)
        if clip is None and clips:
            ref = next((c for c in reversed(clips) if c.start <= start + 1e-6), clips[0])
            clip, clip_start = ref.clip_id, max(0.0, start - ref.start)
        elif clip is None and whole_file is not None:
            clip, clip_start = str(whole_file), start
        who = s.get("speaker")
        segs.append(TranscriptSegment(start, end, s["text"], None if clip is None else str(clip),
                            float(clip_start) if isinstance(clip_start, int | float) else None,
                            who if who in SPEAKERS else None))
    session = _first(data, "session", "session_id")
    if session is None and isinstance(whole_file, str):
        session = Path(whole_file).stem
    if session is None:
        session = Path(source).name.removesuffix(".json").removesuffix(".transcript")
    agent = _first(data, "agent", "agent_id", "badge")
    case = _first(data, "case_id", "case", "customer_id", "customer")
    if case is None:  # the case id the agent set on the badge, carried in clip records
        raw_clips = data.get("clips")
        case = next((c.get("case_id") for c in raw_clips if isinstance(c, dict) and c.get("case_id")),
                    None) if isinstance(raw_clips, list) else None
    started = _first(data, "session_start", "start_time", "started_at")
    if started is None and isinstance(data.get("clips"), list):
        started = next((c.get("start_time") for c in data["clips"]
                        if isinstance(c, dict) and c.get("start_time")), None)
    return Transcript(str(session), tuple(segs), None if agent is None else str(agent),
                      None if case is None else str(case), source,
                      None if started is None else str(started))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranscriptError("no such file", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TranscriptError(f"not a readable JSON file: {exc}", path) from None


def _scan(folder: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    """Clip sidecars and transcript candidates in a session folder."""
    sidecars: list[dict[str, Any]] = []
    candidates: list[Path] = []
    for p in sorted(folder.glob("*.json")):
        if p.name.endswith(".custody.json"):
            continue
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(d, dict) and "clip_id" in d and "segments" not in d:
            sidecars.append(d)
        elif isinstance(d, dict) and ("segments" in d or "text" in d
                                      or isinstance(d.get("transcript"), dict)):
            candidates.append(p)
    return sidecars, candidates


def with_sidecars(data: dict[str, Any], sidecars: list[dict[str, Any]]) -> dict[str, Any]:
    """Fill a transcript's missing session, badge, agent and case id from clip sidecars."""
    data = dict(data)
    for side in sidecars:
        for key in ("session", "badge", "case_id", "agent"):
            if data.get(key) in (None, "") and side.get(key) not in (None, ""):
                data[key] = side[key]
    return data


def add_sidecars(data: dict[str, Any], folder: Path | str) -> dict[str, Any]:
    """`with_sidecars` for the clip sidecars in `folder` (after transcribing it)."""
    return with_sidecars(data, _scan(Path(folder))[0])


def _session_dir(folder: Path) -> Transcript:
    sidecars, candidates = _scan(folder)
    candidates.sort(key=lambda p: (p.name != "transcript.json",
                                   not p.name.endswith(".transcript.json"), p.name))
    if not candidates and any(folder.glob("*.wav")):
        raise NoTranscriptError("clips but no transcript in this session folder", folder)
    if not candidates:
        raise TranscriptError("no transcript in this session folder (expected transcript.json; "
                              "run: badgekit gateway transcribe)", folder)
    data = _read_json(candidates[0])
    if isinstance(data, dict):
        data = with_sidecars(data, sidecars)
    return parse_transcript(data, str(candidates[0]), _clips(sidecars))


def find_sessions(path: Path | str) -> list[Path]:
    """A transcript file, a session folder, or every session folder under a tree (e.g. a
    receiver's `<out>/<tenant>/<branch>/…`), in path order."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    sidecars, candidates = _scan(p)
    if candidates or sidecars or any(p.glob("*.wav")):
        return [p]
    found = sorted({c.parent for c in p.rglob("*.json")
                    if c.name == "transcript.json" or c.name.endswith(".transcript.json")})
    return found or [p]


def load_transcript(path: Path | str) -> Transcript:
    """Load a transcript JSON file or a session folder."""
    p = Path(path)
    if p.is_dir():
        return _session_dir(p)
    return parse_transcript(_read_json(p), str(p))
