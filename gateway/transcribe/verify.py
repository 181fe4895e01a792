"""Check the clips of a session: each clip's hash, the badge's hash chain, gaps, recoveries.

The checks are `badgecore.clipcheck`'s, the one verifier the gateway and the inbox use
too; this module adds what a transcription needs: the clip's sidecar (its hash, case id
and sample counts, `bounds`), the session's files in sequence order, and the link to the
badge's previous clip when the spool holds it in a sibling session. One bad clip never
stops a session: unusable clips are excluded with their reason, repeats and an unlinked
first clip become notes, breaks become `Gap`s. Recovered clips (closed by boot recovery
after a power cut) and dropped milliseconds are reported, and their audio is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from badgecore.clipcheck import ClipCheck, Gap, check_chain, sidecar_case_id
from badgecore.clipcheck import check_clip as verify_clip
from gateway.transcribe.bounds import trusted_samples

__all__ = ["ClipCheck", "Gap", "SessionCheck", "check_spool_clip", "check_session_clips", "session_files",
           "sidecar_case_id"]

@dataclass(frozen=True)
class SessionCheck:
    clips: tuple[ClipCheck, ...]
    """Every clip file, in sequence order (unreadable files last)."""
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]

    @property
    def usable(self) -> list[ClipCheck]:
        return [c for c in self.clips if c.ok]

    @property
    def problems(self) -> list[str]:
        out = [f"{c.file_name}: {c.status}: {c.reason}" for c in self.clips if not c.ok]
        out += [g.reason for g in self.gaps]
        out += [f"{c.clip_id}: recovered after a power cut, {c.dropped_ms} ms dropped"
                for c in self.clips if c.recovered]
        return out + [p for c in self.clips for p in c.problems]


def _sidecar(path: Path) -> dict[str, object]:
    """The clip's sidecar (`<clip>.json`), or {} when there is none or it is unreadable."""
    try:
        side = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return side if isinstance(side, dict) else {}


def check_spool_clip(path: Path) -> ClipCheck:
    """Verify one clip WAV of a spool folder against its trailer and its sidecar (`<clip>.json`),
    adding what the sidecar says: its case id and the sample counts `bounds` trusts."""
    path = Path(path)
    side = _sidecar(path)
    expect = side.get("sha256")
    check = verify_clip(path, expect_sha256=expect if isinstance(expect, str) else None)
    if check.seq is None:
        return check
    count, problems = trusted_samples(path, side)
    return replace(check, samples=check.samples if count is None else count,
                   case_id=sidecar_case_id(side), problems=tuple(f"{check.clip_id}: {p}" for p in problems))


def session_files(folder: Path) -> list[Path]:
    """The clip files of a session folder (`*.wav`; `.partial` files are ignored)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix == ".wav")


def _predecessor(first: ClipCheck) -> tuple[str | None, str | None]:
    """Hash and id of the badge's previous clip, if the spool holds it in a sibling session."""
    from firmware.clips import fmt as clipfmt

    if first.seq is None or first.badge is None or first.seq == 0 or first.path is None:
        return None, None
    want = clipfmt.clip_id(first.badge, first.seq - 1)
    for cand in sorted(first.path.parent.parent.glob(f"*/{want}.wav")):
        prev = check_spool_clip(cand)
        if prev.sha256:
            return prev.sha256, want
    return None, None


def check_session_clips(files: list[Path]) -> SessionCheck:
    """Verify every clip and the chain between them."""
    checks = [check_spool_clip(p) for p in files]
    parsed = sorted((c for c in checks if c.seq is not None), key=lambda c: c.seq or 0)
    broken = [c for c in checks if c.seq is None]
    notes: list[str] = []
    before = None
    if parsed:
        prev_hash, prev_id = _predecessor(parsed[0])
        before = (prev_id, prev_hash) if prev_hash is not None and prev_id is not None else None
    chain = check_chain(parsed[0].badge or "" if parsed else "", parsed, before)
    notes += chain.repeat_notes()
    gaps = []
    for g in chain.gaps:
        if g.kind == "start":  # the previous clip may have been delivered and cleared already
            notes.append(f"{g.before_clip} follows a clip of an earlier session that is not in "
                         "the spool; its link was not checked")
        else:
            gaps.append(g)
    order = chain.order
    return SessionCheck(tuple(order) + tuple(c for c in parsed if c not in order) + tuple(broken),
                        tuple(gaps), tuple(notes))
