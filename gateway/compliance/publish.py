"""The findings document the gateway publishes on `…/{badge}/{session}/findings`.

`findings_document(transcript, common, sidecars)` checks a session transcript (the
`SessionTranscript.to_json()` dict the gateway just made) with the bundled rule pack and
returns the payload described in docs/asyncapi.yaml (`findings` message): the session
document fields the gateway adds to every document (`common`: tenant, branch, gateway,
badge, session, revision, generated_at) plus `kind: "findings"` and `findings`, the
`Findings.to_dict()` of `badgekit gateway check --json`. The case id the agent set on
the badge travels in the clip sidecars, so they are passed along for related groups.

Given a `CaseBook` (the gateway keeps one in its state folder), a session with a case id
is also checked together with the earlier meetings of that case (`check_group`): the
payload then has `group`, this session's findings with the required items said in an
earlier meeting credited (`credited_from`), and the meetings of the group in order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from gateway.compliance.casebook import CaseBook
from gateway.compliance.check import check_group, check_session
from gateway.compliance.errors import ComplianceError
from gateway.compliance.findings import Findings
from gateway.compliance.rules import RulePack, load_rules
from gateway.compliance.transcript import with_sidecars

__all__ = ["findings_document", "group_result"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _bundled() -> RulePack:
    return load_rules()


def findings_document(transcript: dict[str, Any], common: dict[str, Any],
                      sidecars: Iterable[dict[str, Any]] = (),
                      rules: RulePack | None = None,
                      cases: CaseBook | None = None) -> dict[str, Any] | None:
    """The findings payload, or None (logged) when the transcript cannot be checked."""
    pack = rules or _bundled()
    try:
        doc = with_sidecars(transcript, list(sidecars))
        for key in ("badge", "session"):
            if doc.get(key) in (None, "") and common.get(key):
                doc[key] = common[key]
        found = check_session(doc, pack)
    except ComplianceError as exc:
        log.error("session %s/%s: no findings: %s", common.get("badge"), common.get("session"), exc)
        return None
    out = {"kind": "findings", **common, "findings": found.to_dict()}
    if cases is not None and found.case_id:
        try:
            out["group"] = group_result(found, doc, str(doc.get("badge") or "-"), cases, pack)
        except OSError as exc:  # the state disk: the session's own findings still go out
            log.error("session %s/%s: case %s not grouped: %s", common.get("badge"),
                      common.get("session"), found.case_id, exc)
    return out


def group_result(found: Findings, transcript: dict[str, Any], badge: str, cases: CaseBook,
                 rules: RulePack) -> dict[str, Any]:
    """Keep this meeting in `cases`, check it with the case's other meetings, and return
    the `group` object of the findings payload (docs/asyncapi.yaml)."""
    case_id = str(found.case_id)
    cases.put(case_id, badge, found.session, transcript)
    meetings: list[tuple[str, Findings]] = []
    for doc in cases.meetings(case_id):
        if (doc.get("badge"), doc.get("session")) == (badge, found.session):
            continue
        try:
            meetings.append((str(doc.get("badge")), check_session(doc, rules)))
        except ComplianceError as exc:
            log.error("case %s: meeting %s skipped: %s", case_id, doc.get("session"), exc)
    meetings.append((badge, found))
    grouped = check_group(f for _, f in meetings)
    mine = grouped[-1]
    order = sorted(range(len(meetings)), key=lambda i: (str(meetings[i][1].started or ""), i))
    return {
        "case_id": case_id,
        "sessions": [{"badge": meetings[i][0], "session": meetings[i][1].session,
                      "started": meetings[i][1].started} for i in order],
        "ok": not mine.problems,
        "credited": [r.id for r in mine.items if r.credited_from],
        "findings": mine.to_dict(),
    }
