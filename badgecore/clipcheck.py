"""The one clip verifier: each clip's hash and header, and the badge's hash chain between clips.

Parsing and hashing are `firmware.clips.fmt`'s (`read_wav`, `verify_wav`), the code the badge
writes with; this module turns every finding into a record instead of an exception, so one
bad clip never stops the others. The gateway (ingest, receiver store, integrity), the
transcription package and the inbox all verify with it.

`check_clip(path_or_file, expect_sha256)` gives a `ClipCheck` whose `status` is

- `ok`: the hash matches the trailer (and `expect_sha256`, when given);
- `hash_mismatch`: audio or metadata altered after recording (the header is still read);
- `not_audio`: an empty file, or not RIFF/WAVE at all;
- `not_a_clip`, `truncated`, `corrupt`: a WAV that cannot be read as a badge clip, or a
  file that could not be read.

`check_chain(badge, clips, before)` (and `chain_gaps`, its list of breaks) walks one badge's clips in sequence order and reports
every break as a `Gap` (clips missing between two, a `prev_sha256` that is not the previous
clip's hash, a first clip whose predecessor is neither the badge's start nor known) and
every sequence number seen twice as a repeat.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ZERO_HASH",
    "ChainCheck",
    "ClipCheck",
    "Gap",
    "chain_gaps",
    "check_chain",
    "check_clip",
    "sidecar_case_id",
]

ZERO_HASH = "0" * 64
"""`prev_sha256` of a badge's first clip."""


@dataclass(frozen=True)
class ClipCheck:
    """What one clip turned out to be."""

    path: Path | None = None
    """The file checked (None when the clip came as bytes, or from a stored record)."""
    status: str = "ok"
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
    """Sample counts that disagree with the audio (the transcription package's `bounds`)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def file_name(self) -> str:
        """The file's name, or the clip id when the clip came as bytes."""
        return self.path.name if self.path is not None else str(self.clip_id)

    @classmethod
    def link(cls, clip_id: str, seq: int, sha256: str, prev_sha256: str) -> ClipCheck:
        """A verified clip as a stored record knows it: enough for `check_chain`."""
        return cls(status="ok", clip_id=clip_id, seq=seq, sha256=sha256, prev_sha256=prev_sha256)

    def to_json(self) -> dict[str, object]:
        from firmware.clips.fmt import iso_utc

        start = None
        if self.start_epoch_s is not None:
            ms = round(self.start_epoch_s * 1000)
            start = iso_utc(ms // 1000, ms % 1000)
        return {"clip_id": self.clip_id, "file": self.path.name if self.path else None,
                "status": self.status, "reason": self.reason, "seq": self.seq, "sha256": self.sha256,
                "prev_sha256": self.prev_sha256, "start_time": start,
                "session_offset_s": round(self.session_offset_s, 3),
                "seconds": round(self.samples / 16000, 3), "recovered": self.recovered,
                "dropped_ms": self.dropped_ms, "clock_unset": self.clock_unset,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class Gap:
    """A break in a badge's hash chain between two clips (or before the first one)."""

    badge: str
    after_clip: str
    """The last clip before the break ("" when no clip before it is known)."""
    before_clip: str
    missing_seqs: tuple[int, ...]
    reason: str
    kind: str = "missing"
    """`missing` (clips between), `broken` (a wrong `prev_sha256`), `start` (the first
    clip follows one nobody here holds) or `repeat` (a sequence number seen twice)."""

    def as_dict(self) -> dict[str, object]:
        return {"badge": self.badge, "after_clip": self.after_clip, "before_clip": self.before_clip,
                "missing_seqs": list(self.missing_seqs), "reason": self.reason}

    def to_json(self) -> dict[str, object]:
        """The transcript's form: the badge is the session's, so it is left out."""
        return {"after_clip": self.after_clip or None, "before_clip": self.before_clip,
                "missing_seqs": list(self.missing_seqs), "reason": self.reason}


@dataclass(frozen=True)
class ChainCheck:
    gaps: tuple[Gap, ...]
    repeats: tuple[tuple[ClipCheck, ClipCheck], ...] = ()
    """(clip, the earlier clip with its sequence number): the later one is left out of the chain."""
    order: tuple[ClipCheck, ...] = field(default=())
    """The clips of the chain, one per sequence number, in order."""

    def repeat_notes(self) -> list[str]:
        return [f"{c.file_name} repeats sequence number {c.seq} of {first.file_name}" for c, first in self.repeats]


def _status_of(message: str) -> str:
    m = message.lower()
    if "not a riff" in m:
        return "not_audio"
    if "truncated" in m:
        return "truncated"
    if "lacks the fmt/bkcl/bktr" in m:
        return "not_a_clip"
    return "corrupt"


def check_clip(source: Path | str | BinaryIO, expect_sha256: str | None = None) -> ClipCheck:
    """Parse and verify one clip WAV (a path or an open binary file); never raises for bad content."""
    from firmware.clips import fmt as clipfmt

    path = Path(source) if isinstance(source, (str, Path)) else None
    try:
        data = path.read_bytes() if path is not None else source.read()  # type: ignore[union-attr]
    except OSError as exc:
        return ClipCheck(path, "corrupt", f"unreadable clip: {exc}")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return ClipCheck(path, "not_audio", "empty file" if not data else "not a RIFF/WAVE file")
    try:
        info = clipfmt.read_wav(io.BytesIO(data))
    except clipfmt.ClipFormatError as exc:
        return ClipCheck(path, _status_of(str(exc)), str(exc))
    except (ValueError, UnicodeDecodeError) as exc:  # struct errors on garbage
        return ClipCheck(path, "corrupt", f"cannot parse: {exc}")
    status, reason = "ok", ""
    try:
        clipfmt.verify_wav(io.BytesIO(data), expect_sha256=expect_sha256)
    except clipfmt.ClipVerifyError as exc:
        status, reason = "hash_mismatch", str(exc)
    except clipfmt.ClipFormatError as exc:
        status, reason = _status_of(str(exc)), str(exc)
    h, t = info.header, info.trailer
    return ClipCheck(
        path, status, reason, h.clip_id, h.badge, h.session, h.seq, info.sha256, h.prev_sha256,
        h.start_epoch + h.start_ms / 1000.0, h.session_offset_samples / h.sample_rate,
        t.samples, bool(t.recovered), t.dropped_ms, bool(h.flags & clipfmt.HFLAG_CLOCK_UNSET))


def check_chain(badge: str, clips: Iterable[ClipCheck],
                before: tuple[str, str] | None = None) -> ChainCheck:
    """Breaks in one badge's chain. `clips`: that badge's parsed clips, any order;
    `before`: (clip id, sha256) of the clip before the first one, when it is known."""
    seen: dict[int, ClipCheck] = {}
    repeats: list[tuple[ClipCheck, ClipCheck]] = []
    for c in sorted((c for c in clips if c.seq is not None), key=lambda c: c.seq or 0):
        assert c.seq is not None
        if c.seq in seen:
            if c.sha256 != seen[c.seq].sha256 or c.clip_id != seen[c.seq].clip_id or c.path != seen[c.seq].path:
                repeats.append((c, seen[c.seq]))
            continue
        seen[c.seq] = c
    order = [seen[k] for k in sorted(seen)]
    gaps: list[Gap] = []
    if order:
        first = order[0]
        if before is not None and before[1] != first.prev_sha256:
            gaps.append(Gap(badge, before[0], first.clip_id or "", (),
                            f"chain broken before {first.clip_id}: {before[0]} in the spool is not the "
                            "clip it follows (altered or replaced)", "broken"))
        elif before is None and first.prev_sha256 not in (None, ZERO_HASH):
            gaps.append(Gap(badge, "", first.clip_id or "", (),
                            f"the chain starts at seq {first.seq}: the clip before it was not received", "start"))
    for a, b in zip(order, order[1:], strict=False):
        assert a.seq is not None and b.seq is not None
        if b.seq != a.seq + 1:
            missing = tuple(range(a.seq + 1, b.seq))
            seqs = str(missing[0]) if len(missing) == 1 else f"{missing[0]}..{missing[-1]}"
            gaps.append(Gap(badge, a.clip_id or "", b.clip_id or "", missing,
                            f"{len(missing)} clip(s) missing between {a.clip_id} and {b.clip_id} (seq {seqs})"))
        elif b.prev_sha256 != a.sha256:
            gaps.append(Gap(badge, a.clip_id or "", b.clip_id or "", (),
                            f"chain broken between {a.clip_id} and {b.clip_id}: {b.clip_id} names a "
                            "different previous clip", "broken"))
    return ChainCheck(tuple(gaps), tuple(repeats), tuple(order))


def chain_gaps(badge: str, clips: Iterable[ClipCheck]) -> list[Gap]:
    """Every break in one badge's chain as a `Gap`, a repeated sequence number included:
    the form the gateway's manifests, the receiver and the inbox publish."""
    chain = check_chain(badge, clips)
    repeats = [Gap(badge, first.clip_id or "", c.clip_id or "", (),
                   f"{c.file_name} repeats sequence number {c.seq} of {first.file_name}", "repeat")
               for c, first in chain.repeats]
    return list(chain.gaps) + repeats


def sidecar_case_id(side: dict[str, object]) -> str | None:
    """The case id the agent set for the meeting (badge or companion wrote it to the clip's
    sidecar), if the sidecar holds a valid one (firmware.sync.state.case_error)."""
    from firmware.sync.state import case_error

    value = side.get("case_id")
    return value if isinstance(value, str) and value and case_error(value) is None else None
