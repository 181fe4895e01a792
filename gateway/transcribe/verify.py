"""Check the clips of a session: each clip's hash, the badge's hash chain, gaps, recoveries.

Parsing and hashing are `firmware.clips.fmt`'s (`read_wav`, `verify_wav`), the same code
the badge writes with; this module orders the clips by sequence number and turns every
finding into a record instead of an exception, so one bad clip never stops a session:

- `ok`: hash matches the trailer (and the sidecar, when there is one);
- `hash_mismatch`: audio or metadata altered after recording (excluded from transcripts);
- `corrupt`, `truncated`, `not_audio`, `not_a_clip`: the file cannot be read as a clip
  (excluded, with the reason);
- chain links and sequence numbers give `Gap`s: missing clips, or a clip whose
  `prev_sha256` names a different predecessor than the one on disk.
Recovered clips (closed by boot recovery after a power cut) and dropped milliseconds are
reported, and their audio is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gateway.transcribe.bounds import trusted_samples

__all__ = ["ClipCheck", "Gap", "SessionCheck", "check_clip", "check_session", "session_files"]

USABLE = ("ok",)


@dataclass(frozen=True)
class ClipCheck:
    """What one clip file turned out to be."""

    path: Path
    status: str
    """`ok`, `hash_mismatch`, `corrupt`, `truncated`, `not_audio`, `not_a_clip` or `duplicate`
    (the same audio as an earlier clip of the session, under another sequence number)."""
    reason: str = ""
    clip_id: str | None = None
    badge: str | None = None
    session: str | None = None
    seq: int | None = None
    sha256: str | None = None
    """Recomputed over header ‖ ADPCM data (None if the file could not be parsed)."""
    prev_sha256: str | None = None
    start_epoch_s: float | None = None
    """Wall-clock start (Unix seconds, with milliseconds)."""
    session_offset_s: float = 0.0
    samples: int = 0
    recovered: bool = False
    dropped_ms: int = 0
    clock_unset: bool = False
    case_id: str | None = None
    """The customer/case id on the clip's sidecar (`sidecar_case_id`)."""
    problems: tuple[str, ...] = ()
    """Trailer, `fact` or sidecar sample counts that disagree with the audio (`bounds`)."""

    @property
    def usable(self) -> bool:
        return self.status in USABLE

    def to_json(self) -> dict[str, object]:
        from firmware.clips.fmt import iso_utc

        start = None
        if self.start_epoch_s is not None:
            ms = round(self.start_epoch_s * 1000)
            start = iso_utc(ms // 1000, ms % 1000)
        return {"clip_id": self.clip_id, "file": self.path.name, "status": self.status,
                "reason": self.reason, "seq": self.seq, "sha256": self.sha256,
                "prev_sha256": self.prev_sha256, "start_time": start,
                "session_offset_s": round(self.session_offset_s, 3),
                "seconds": round(self.samples / 16000, 3), "recovered": self.recovered,
                "dropped_ms": self.dropped_ms, "clock_unset": self.clock_unset,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class Gap:
    """A hole in the badge's chain between two clips of the session."""

    after_clip: str | None
    before_clip: str
    missing_seqs: tuple[int, ...]
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"after_clip": self.after_clip, "before_clip": self.before_clip,
                "missing_seqs": list(self.missing_seqs), "reason": self.reason}


@dataclass(frozen=True)
class SessionCheck:
    clips: tuple[ClipCheck, ...]
    """Every clip file, in sequence order (unreadable files last)."""
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]

    @property
    def usable(self) -> list[ClipCheck]:
        return [c for c in self.clips if c.usable]

    @property
    def problems(self) -> list[str]:
        out = [f"{c.path.name}: {c.status}: {c.reason}" for c in self.clips if not c.usable]
        out += [g.reason for g in self.gaps]
        out += [f"{c.clip_id}: recovered after a power cut, {c.dropped_ms} ms dropped"
                for c in self.clips if c.recovered]
        return out + [p for c in self.clips for p in c.problems]


def _status_of(message: str) -> str:
    m = message.lower()
    if "not a riff" in m:
        return "not_audio"
    if "truncated" in m:
        return "truncated"
    if "lacks the fmt/bkcl/bktr" in m:
        return "not_a_clip"
    return "corrupt"


def _sidecar(path: Path) -> dict[str, object]:
    """The clip's sidecar (`<clip>.json`), or {} when there is none or it is unreadable."""
    try:
        side = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return side if isinstance(side, dict) else {}


def sidecar_case_id(side: dict[str, object]) -> str | None:
    """The case id the agent set for the meeting (badge or companion wrote it to the clip's
    sidecar), if the sidecar holds a valid one (firmware.sync.state.case_error)."""
    from firmware.sync.state import case_error

    value = side.get("case_id")
    return value if isinstance(value, str) and value and case_error(value) is None else None


def check_clip(path: Path) -> ClipCheck:
    """Parse and verify one clip WAV (hash against its trailer and its sidecar)."""
    from firmware.clips import fmt as clipfmt

    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
                return ClipCheck(path, "not_audio", "empty file" if not head
                                 else "not a RIFF/WAVE file")
            f.seek(0)
            info = clipfmt.read_wav(f)
    except clipfmt.ClipFormatError as exc:
        return ClipCheck(path, _status_of(str(exc)), str(exc))
    except (OSError, ValueError) as exc:  # struct errors on garbage, unreadable files
        return ClipCheck(path, "corrupt", f"cannot parse: {exc}")
    h, t = info.header, info.trailer
    status, reason = "ok", ""
    side = _sidecar(path)
    expect = side.get("sha256")
    try:
        with open(path, "rb") as f:
            clipfmt.verify_wav(f, expect_sha256=expect if isinstance(expect, str) else None)
    except clipfmt.ClipVerifyError as exc:
        status, reason = "hash_mismatch", str(exc)
    count, problems = trusted_samples(path, side)
    return ClipCheck(
        path, status, reason, h.clip_id, h.badge, h.session, h.seq, info.sha256, h.prev_sha256,
        h.start_epoch + h.start_ms / 1000.0, h.session_offset_samples / h.sample_rate,
        t.samples if count is None else count, t.recovered, t.dropped_ms,
        bool(h.flags & clipfmt.HFLAG_CLOCK_UNSET), sidecar_case_id(side),
        tuple(f"{h.clip_id}: {p}" for p in problems))


def session_files(folder: Path) -> list[Path]:
    """The clip files of a session folder (`*.wav`; `.partial` files are ignored)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix == ".wav")


def _predecessor(first: ClipCheck) -> tuple[str | None, str | None]:
    """Hash and id of the badge's previous clip, if the spool holds it in a sibling session."""
    from firmware.clips import fmt as clipfmt

    if first.seq is None or first.badge is None or first.seq == 0:
        return None, None
    want = clipfmt.clip_id(first.badge, first.seq - 1)
    for cand in sorted(first.path.parent.parent.glob(f"*/{want}.wav")):
        prev = check_clip(cand)
        if prev.sha256:
            return prev.sha256, want
    return None, None


def check_session(files: list[Path]) -> SessionCheck:
    """Verify every clip and the chain between them."""
    checks = [check_clip(p) for p in files]
    parsed = sorted((c for c in checks if c.seq is not None), key=lambda c: c.seq or 0)
    broken = [c for c in checks if c.seq is None]
    gaps: list[Gap] = []
    notes: list[str] = []
    seen: dict[int, ClipCheck] = {}
    for c in parsed:
        assert c.seq is not None and c.clip_id is not None
        if c.seq in seen:
            notes.append(f"{c.path.name} repeats sequence number {c.seq} of "
                         f"{seen[c.seq].path.name}")
        seen.setdefault(c.seq, c)
    order = [seen[k] for k in sorted(seen)]
    if order:
        first = order[0]
        prev_hash, prev_id = _predecessor(first)
        if prev_hash is not None and prev_hash != first.prev_sha256:
            gaps.append(Gap(prev_id, first.clip_id or "", (),
                            f"chain broken before {first.clip_id}: {prev_id} in the spool is "
                            "not the clip it follows (altered or replaced)"))
        elif prev_hash is None and first.prev_sha256 not in (None, "0" * 64):
            notes.append(f"{first.clip_id} follows a clip of an earlier session that is not in "
                         "the spool; its link was not checked")
    for a, b in zip(order, order[1:], strict=False):
        assert a.seq is not None and b.seq is not None
        if b.seq != a.seq + 1:
            missing = tuple(range(a.seq + 1, b.seq))
            seqs = str(missing[0]) if len(missing) == 1 else f"{missing[0]}..{missing[-1]}"
            gaps.append(Gap(a.clip_id, b.clip_id or "", missing,
                            f"{len(missing)} clip(s) missing between {a.clip_id} and "
                            f"{b.clip_id} (seq {seqs})"))
        elif b.prev_sha256 != a.sha256:
            gaps.append(Gap(a.clip_id, b.clip_id or "", (),
                            f"chain broken between {a.clip_id} and {b.clip_id}: "
                            f"{b.clip_id} names a different previous clip"))
    return SessionCheck(tuple(order) + tuple(c for c in parsed if c not in order) + tuple(broken),
                        tuple(gaps), tuple(notes))
