"""Clip checks for the receiver, built on `firmware.clips.fmt` (the one clip parser).

`check_clip(f)` runs `clipfmt.verify_wav` (the recomputed sha256 over header ‖ data
must equal the trailer's) and returns a `ClipCheck` instead of raising. `chain_gaps`
walks one badge's clips in sequence order and reports every break: a missing sequence
number, a `prev_sha256` that is not the previous clip's hash, or a chain whose first
received clip is not the badge's first clip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["ZERO_HASH", "ClipCheck", "Gap", "chain_gaps", "check_clip"]

ZERO_HASH = "0" * 64


@dataclass(frozen=True)
class ClipCheck:
    ok: bool
    clip_id: str = ""
    seq: int = -1
    sha256: str = ""
    prev_sha256: str = ""
    reason: str = ""
    recovered: bool = False
    badge: str = ""
    session: str = ""


@dataclass(frozen=True)
class Gap:
    """A break in a badge's hash chain between two received clips (or before the first)."""

    badge: str
    after_clip: str
    """The last clip before the break ("" when the break is before the first received clip)."""
    before_clip: str
    missing_seqs: tuple[int, ...]
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"badge": self.badge, "after_clip": self.after_clip, "before_clip": self.before_clip,
                "missing_seqs": list(self.missing_seqs), "reason": self.reason}


def check_clip(f: BinaryIO, expect_sha256: str | None = None) -> ClipCheck:
    """Verify a clip WAV read from `f`; never raises for bad content."""
    from firmware.clips import fmt as clipfmt

    try:
        info = clipfmt.verify_wav(f, expect_sha256=expect_sha256)
    except clipfmt.ClipFormatError as exc:  # includes ClipVerifyError
        return ClipCheck(False, reason=str(exc))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return ClipCheck(False, reason=f"unreadable clip: {exc}")
    h = info.header
    return ClipCheck(True, h.clip_id, h.seq, info.sha256, h.prev_sha256,
                     recovered=bool(info.trailer.recovered), badge=h.badge, session=h.session)


def chain_gaps(badge: str, clips: Iterable[ClipCheck]) -> list[Gap]:
    """Breaks in one badge's chain; `clips` are that badge's verified clips, any order."""
    items = sorted(clips, key=lambda c: c.seq)
    gaps: list[Gap] = []
    if items and items[0].prev_sha256 != ZERO_HASH:
        first = items[0]
        gaps.append(Gap(badge, "", first.clip_id, (),
                        f"the chain starts at seq {first.seq}: the clip before it was not received"))
    for a, b in zip(items, items[1:], strict=False):
        if b.seq == a.seq:
            continue
        missing = tuple(range(a.seq + 1, b.seq))
        if missing:
            gaps.append(Gap(badge, a.clip_id, b.clip_id, missing,
                            f"{len(missing)} clip(s) missing between seq {a.seq} and {b.seq}"))
        elif b.prev_sha256 != a.sha256:
            gaps.append(Gap(badge, a.clip_id, b.clip_id, (),
                            f"{b.clip_id} names a previous hash that is not {a.clip_id}'s: "
                            "a clip was replaced or altered"))
    return gaps
