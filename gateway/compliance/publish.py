"""The findings document the gateway publishes on `…/{badge}/{session}/findings`.

`findings_document(transcript, common, sidecars)` checks a session transcript (the
`SessionTranscript.to_json()` dict the gateway just made) with the bundled rule pack and
returns the payload described in docs/asyncapi.yaml (`findings` message): the session
document fields the gateway adds to every document (`common`: tenant, branch, gateway,
badge, session, revision, generated_at) plus `kind: "findings"` and `findings`, the
`Findings.to_dict()` of `badgekit gateway check --json`. The case id the agent set on
the badge travels in the clip sidecars, so they are passed along for related groups.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from gateway.compliance.check import check_session
from gateway.compliance.errors import ComplianceError
from gateway.compliance.rules import RulePack, load_rules
from gateway.compliance.transcript import with_sidecars

__all__ = ["findings_document"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _bundled() -> RulePack:
    return load_rules()


def findings_document(transcript: dict[str, Any], common: dict[str, Any],
                      sidecars: Iterable[dict[str, Any]] = (),
                      rules: RulePack | None = None) -> dict[str, Any] | None:
    """The findings payload, or None (logged) when the transcript cannot be checked."""
    try:
        doc = with_sidecars(transcript, list(sidecars))
        for key in ("badge", "session"):
            if doc.get(key) in (None, "") and common.get(key):
                doc[key] = common[key]
        found = check_session(doc, rules or _bundled())
    except ComplianceError as exc:
        log.error("session %s/%s: no findings: %s", common.get("badge"), common.get("session"), exc)
        return None
    return {"kind": "findings", **common, "findings": found.to_dict()}
