"""A receiver store's integrity records, one per session (`integrity` has the rules)."""

from __future__ import annotations

from typing import Any

from badgecore.clipcheck import Gap
from gateway.delivery.integrity import BAD_MAC, auth_lists, effective_auth, session_status
from gateway.delivery.store import ReceiverStore

__all__ = ["store_integrity"]


def store_integrity(store: ReceiverStore, gaps: list[Gap]) -> list[dict[str, Any]]:
    """One integrity record per (tenant, branch, badge, session) in a receiver's store."""
    sessions: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for c in store.clips():
        sessions.setdefault((c["tenant"], c["branch"], c["badge"], c["session"]), []).append(c)
    conflicts: dict[str, list[str]] = {}
    for x in store.conflicts():
        levels = x["topic"].split("/")
        conflicts.setdefault(f"{levels[2]}/{levels[3]}", []).append(x["clip_id"])
    manifests = {(m.get("tenant"), m.get("branch"), m.get("badge"), m.get("session")): m for m in store.manifests()}
    out = []
    for (tenant, branch, badge, session), clips in sorted(sessions.items()):
        ids = {c["clip_id"] for c in clips}
        listed = {c.get("clip_id") for c in manifests.get((tenant, branch, badge, session), {}).get("clips", [])
                  if isinstance(c, dict)}
        have = {c["clip_id"] for c in clips if c["audio"]}
        seals = {c["clip_id"]: effective_auth(c["auth"], c["record_auth"], store.keys is not None)
                 for c in clips if c["audio"] or c["auth"] == BAD_MAC}
        unauth, bad = auth_lists(seals)
        quarantined = [q for q in manifests.get((tenant, branch, badge, session), {}).get("quarantined", [])
                       if isinstance(q, dict)]  # what the gateway held back, with its reasons
        bad = sorted(set(bad) | {q.get("clip_id", "") for q in quarantined
                                 if str(q.get("reason", "")).startswith(BAD_MAC)})
        out.append(session_status({
            "tenant": tenant, "branch": branch, "badge": badge, "session": session,
            "clips": len(clips), "verified": sum(1 for c in clips if c["verified"]),
            "unauthenticated": unauth, "bad_mac": bad,
            "recovered": sorted(c["clip_id"] for c in clips if c["verified"] and c["recovered"]),
            "gaps": [g.as_dict() for g in gaps if g.badge == badge and (g.before_clip in ids or g.after_clip in ids)],
            "missing": sorted(x for x in listed - have if x),
            "failed": sorted({c["clip_id"] for c in clips if c["error"]}
                             | {q.get("clip_id", "") for q in quarantined}),
            "conflicts": sorted(set(conflicts.get(f"{badge}/{session}", []))),
        }))
    return out
