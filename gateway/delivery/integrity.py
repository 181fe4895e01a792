"""A session's integrity status: what a reviewer must know before trusting its findings.

    {"status": "verified" | "unauthenticated" | "unverified" | "gaps" | "failed" | "unknown",
     "clips": 5, "verified": 5, "unauthenticated": [...], "bad_mac": [...],
     "recovered": [...], "gaps": [...], "missing": [...], "failed": [...], "duplicates": [...]}

`status` is the worst that applies: `failed` (audio that does not verify or disagrees
with its record or manifest, a bad MAC), `gaps` (clips missing from the badge's chain or
from the manifest), `unverified` (audio without a matching signed clip record),
`unauthenticated` (clips without a badge MAC, format version 1, or sealed clips whose
seal nobody here could check: `no_key`), else `verified`. Seal statuses are clipmac's:
`authenticated`, `unauthenticated`, `bad_mac`, `no_key` (`effective_auth`).
`conflicts` lists clip ids re-sent with other content (kept aside; the stored clip
stands). The receiver computes it from its store (`storeintegrity.store_integrity`); `gateway
check` from a session folder (`folder_integrity`: a receiver's session folder with its
manifest, or a spool session of clips and sidecars).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from badgecore.clipcheck import ClipCheck, chain_gaps, check_clip

__all__ = ["auth_lists", "effective_auth", "folder_integrity", "manifest_integrity", "session_status"]

# a clip's seal (clip format 2, firmware.clips.mac): the same words as clipmac's statuses
AUTHENTICATED, UNAUTHENTICATED, BAD_MAC, NO_KEY = "authenticated", "unauthenticated", "bad_mac", "no_key"


def effective_auth(own: str, claimed: str | None, signed: bool) -> str:
    """A clip's seal status at a receiver: what it checked itself (`own`, with the badge
    keys it holds), else what the gateway's signed clip record says it checked. A record
    claiming a seal the clip does not carry is a bad MAC (a seal stripped on the way)."""
    if own in (AUTHENTICATED, BAD_MAC):
        return own
    if claimed == AUTHENTICATED:
        if own == UNAUTHENTICATED:
            return BAD_MAC
        if own == NO_KEY and signed:
            return AUTHENTICATED
    return own or UNAUTHENTICATED


def session_status(rec: dict[str, Any]) -> dict[str, Any]:
    """Fill in `status` from the lists of `rec`."""
    if rec.get("failed") or rec.get("bad_mac"):
        status = "failed"
    elif rec.get("gaps") or rec.get("missing"):
        status = "gaps"
    elif not rec.get("clips"):
        status = "unknown"
    elif rec.get("verified", 0) < rec.get("clips", 0):
        status = "unverified"
    elif rec.get("unauthenticated"):
        status = UNAUTHENTICATED
    else:
        status = "verified"
    rec["status"] = status
    return rec


def auth_lists(auth: dict[str, str]) -> tuple[list[str], list[str]]:
    """(unauthenticated, bad MAC) clip ids from clip id → seal status; a seal nobody here
    could check (`no_key`) counts as unauthenticated."""
    bad = sorted(c for c, a in auth.items() if a == BAD_MAC)
    unauth = sorted(c for c, a in auth.items() if a not in (AUTHENTICATED, BAD_MAC))
    return unauth, bad


def manifest_integrity(manifest: dict[str, Any], sidecars: list[dict[str, Any]],
                       transcript: dict[str, Any] | None) -> dict[str, Any]:
    """The gateway's integrity record for a session manifest (its clips' sidecars say the
    badge MAC status; the transcript says which clips were duplicates)."""
    auth = {str(side.get("clip_id")): str(side.get("auth") or UNAUTHENTICATED) for side in sidecars}
    unauth, bad = auth_lists(auth)
    bad += [q["clip_id"] for q in manifest["quarantined"] if str(q.get("reason", "")).startswith("bad_mac")]
    ids = set(auth)
    return session_status({
        "clips": len(sidecars) + len(manifest["quarantined"]), "verified": len(sidecars),
        "unauthenticated": unauth, "bad_mac": bad,
        "recovered": [c["clip_id"] for c in manifest["clips"] if c["recovered"]],
        "gaps": [g for g in manifest["gaps"] if g["before_clip"] in ids or g["after_clip"] in ids],
        "missing": [], "failed": [q["clip_id"] for q in manifest["quarantined"]],
        "duplicates": [c.get("clip_id") for c in (transcript or {}).get("clips", []) if c.get("status") == "duplicate"],
        "problems": [p for c in manifest["clips"] for p in c["problems"]],
    })


def _load(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def folder_integrity(folder: Path) -> dict[str, Any]:
    """The integrity of a session folder: a receiver's (manifest.json + clips/) or a spool
    session (<clip id>.wav + .json). Every WAV is verified with clipfmt against its
    sidecar or record and the manifest; the chain is checked within the folder."""
    folder = Path(folder)
    transcript = None
    if folder.is_file():  # a transcript file: its folder holds the clips, if anything does
        transcript, folder = _load(folder), folder.parent
    clips_dir = folder / "clips" if (folder / "clips").is_dir() else folder
    if not any(clips_dir.glob("*.wav")):
        return _from_transcript(transcript or _load(folder / "transcript.json") or {})
    manifest = _load(folder / "manifest.json")
    listed = {c["clip_id"]: c for c in (manifest or {}).get("clips", []) if isinstance(c, dict) and "clip_id" in c}
    checks: list[ClipCheck] = []
    failed, recovered, auth = [], [], {}
    seen_sha: dict[str, str] = {}
    duplicates = []
    for wav in sorted(clips_dir.glob("*.wav")):
        cid = wav.stem
        record = _load(wav.with_suffix(".json")) or {}
        signed = "signature" in record  # a receiver's clip record: the gateway's signed finding
        side = record.get("sidecar", record) if isinstance(record.get("sidecar", record), dict) else {}
        if signed and isinstance(record.get("auth"), str):
            side = {**side, "auth": record["auth"]}
        expect = side.get("sha256") or listed.get(cid, {}).get("sha256")
        with open(wav, "rb") as f:
            check = check_clip(f, expect_sha256=str(expect) if expect else None)
        if not check.ok:
            failed.append(cid)
            continue
        if cid in listed and listed[cid].get("sha256") != check.sha256:
            failed.append(cid)
            continue
        if check.sha256 in seen_sha:
            duplicates.append(cid)
            continue
        seen_sha[check.sha256 or ""] = cid
        checks.append(check)
        auth[cid] = effective_auth(_seal(wav), side.get("auth") if isinstance(side.get("auth"), str) else None,
                                   signed)
        if check.recovered:
            recovered.append(cid)
    badge = (checks[0].badge or "") if checks else str((manifest or {}).get("badge", ""))
    gaps = [g.as_dict() for g in chain_gaps(badge, checks)]
    if manifest is not None:  # the gateway saw the whole chain; its gaps are the ones to report
        gaps = list(manifest.get("gaps", []))
        failed += [q.get("clip_id", "") for q in manifest.get("quarantined", []) if isinstance(q, dict)]
    elif gaps and checks and (checks[0].seq or 0) > 1 and gaps[0]["after_clip"] == "":
        gaps = gaps[1:]  # a spool session rarely starts the badge's chain: only breaks inside it count
    unauth, bad = auth_lists(auth)
    have = {c.clip_id for c in checks} | set(duplicates)
    return session_status({
        "badge": badge, "session": (manifest or {}).get("session", folder.name),
        "clips": len(checks) + len(failed), "verified": len(checks),
        "unauthenticated": unauth, "bad_mac": bad, "recovered": recovered, "gaps": gaps,
        "missing": sorted(set(listed) - have), "failed": sorted(set(failed)), "duplicates": duplicates,
    })


def _seal(wav: Path) -> str:
    """The clip's seal status as far as it can be told without the badge keys."""
    from firmware.clips import fmt as clipfmt
    from firmware.clips import mac as clipmac

    try:
        with open(wav, "rb") as f:
            return str(clipmac.verify_wav(f, None).status)
    except (OSError, clipfmt.ClipFormatError):
        return BAD_MAC


def _from_transcript(doc: dict[str, Any]) -> dict[str, Any]:
    """Without the audio at hand: what the transcript recorded when it was made (unchecked)."""
    inner = doc.get("transcript", doc) if isinstance(doc.get("transcript"), dict) else doc
    clips = [c for c in inner.get("clips", []) if isinstance(c, dict)]
    ok = [c for c in clips if c.get("status") == "ok"]
    return session_status({
        "badge": inner.get("badge") or doc.get("badge", ""), "session": inner.get("session") or doc.get("session", ""),
        "clips": len(clips), "verified": 0, "unauthenticated": [str(c.get("clip_id")) for c in ok],
        "bad_mac": [], "recovered": [str(c.get("clip_id")) for c in ok if c.get("recovered")],
        "gaps": list(inner.get("gaps", [])), "missing": [],
        "failed": [str(c.get("clip_id") or c.get("file")) for c in clips
                   if c.get("status") not in ("ok", "duplicate")],
        "duplicates": [str(c.get("clip_id")) for c in clips if c.get("status") == "duplicate"],
        "note": "no audio beside the transcript: as recorded in it, not re-verified",
    })
