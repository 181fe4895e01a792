"""The session documents the gateway publishes: transcript and manifest.

Pure functions of what the gateway recorded about a session's clips (`gw_clips` rows as
dicts) and the transcription's result; `ingest.GatewayState.finish_session` enqueues them.
The manifest lists every clip (published or quarantined), the badge's chain gaps, the
transcript's revision or why there is none, and the session's integrity record.
"""

from __future__ import annotations

import json
from typing import Any

from badgecore.clipcheck import Gap
from gateway.delivery.integrity import manifest_integrity

__all__ = ["manifest_document", "transcript_document"]


def transcript_document(common: dict[str, Any], case_id: str | None, good: list[dict[str, Any]],
                        doc: dict[str, Any], vtt: str | None) -> dict[str, Any]:
    """The `transcript` message: the session transcript and the clips it was made from."""
    return {"kind": "transcript", **common, "case_id": case_id,
            "clips": [c["clip_id"] for c in good], "transcript": doc, "vtt": vtt or ""}


def manifest_document(common: dict[str, Any], clips: list[dict[str, Any]], gaps: list[Gap],
                      revision: int, doc: dict[str, Any] | None, error: str) -> dict[str, Any]:
    """The `manifest` message of a session; `clips` are all its rows, in sequence order."""
    good = [c for c in clips if c["status"] == "published"]
    audio_s = sum(float(c["audio_s"]) for c in good)
    manifest = {
        "kind": "manifest", **common,
        "clips": [{"clip_id": c["clip_id"], "seq": c["seq"], "sha256": c["sha256"],
                   "prev_sha256": c["prev_sha256"], "audio_s": c["audio_s"],
                   "start_time": json.loads(c["sidecar"]).get("start_time", ""),
                   "recovered": bool(json.loads(c["sidecar"]).get("recovered", False)),
                   "problems": [p for p in c["reason"].split("\n") if p]}
                  for c in good],
        "quarantined": [{"clip_id": c["clip_id"], "reason": c["reason"]}
                        for c in clips if c["status"] != "published"],
        "gaps": [g.as_dict() for g in gaps],
        "audio_s": round(audio_s, 3),
        "transcript": {"revision": revision if doc is not None else None, "error": error},
    }
    manifest["integrity"] = manifest_integrity(manifest, [json.loads(c["sidecar"]) for c in good], doc)
    return manifest
