"""What the pages and the API do, in one place: scoped queries and review actions.

Every query is limited to the user's tenant and branches (`scope`); a meeting outside
them is reported exactly like one that does not exist (`NotFound`), for pages, API and
files alike. Review actions lock the meeting row, change it, update the roll-ups and add
an audit entry in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from inbox import audit, stats
from inbox.auth import User
from inbox.errors import InboxError
from inbox.importer import SEVERITY_RANK
from inbox.schema import clips, documents, findings, meetings

__all__ = ["COUNT_CAP", "DECISIONS", "Filters", "NotFound", "comment", "decide", "list_meetings",
           "meeting_view", "review_finding", "scope"]

COUNT_CAP = 10_000
"""Counts above this are shown as "10,000+": the list costs the same at any size."""
DECISIONS = {"pass": "passed", "fail": "failed", "reinspect": "reinspect"}
STATES = ("pending", "passed", "failed", "reinspect")
SORTS = {
    "new": (meetings.c.started_at.desc(), meetings.c.id.desc()),
    "old": (meetings.c.started_at.asc(), meetings.c.id.asc()),
    "problems": (meetings.c.problems.desc(), meetings.c.started_at.desc()),
    "agent": (meetings.c.agent.asc(), meetings.c.started_at.desc()),
}


class NotFound(InboxError):
    """No such meeting or finding for this user (also: it exists but is out of scope)."""


class Refused(InboxError):
    """An action that is not allowed as asked (missing reason, wrong state, role)."""


def scope(user: User) -> Any:
    cond = meetings.c.tenant == user.tenant
    if user.branches:
        cond = and_(cond, meetings.c.branch.in_(user.branches))
    return cond


@dataclass(frozen=True)
class Filters:
    branch: str = ""
    agent: str = ""
    badge: str = ""
    case: str = ""
    date_from: date | None = None
    date_to: date | None = None
    state: str = ""
    severity: str = ""
    sort: str = "new"

    def where(self, user: User) -> Any:
        conds = [scope(user)]
        for col, v in ((meetings.c.branch, self.branch), (meetings.c.agent, self.agent),
                       (meetings.c.badge, self.badge), (meetings.c.case_id, self.case)):
            if v:
                conds.append(col == v)
        if self.date_from:
            conds.append(meetings.c.started_at >= datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            conds.append(meetings.c.started_at < datetime.combine(self.date_to + timedelta(days=1),
                                                                  datetime.min.time()))
        if self.state in STATES:
            conds.append(meetings.c.review_state == self.state)
        if self.severity in SEVERITY_RANK:  # the most severe open problem (an equality: the index keeps the order)
            conds.append(meetings.c.worst == SEVERITY_RANK[self.severity])
        return and_(*conds)


def _capped_count(conn: Connection, where: Any) -> int:
    sub = select(meetings.c.id).where(where).limit(COUNT_CAP + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(sub)).scalar_one())


LIST_COLUMNS = (meetings.c.id, meetings.c.tenant, meetings.c.branch, meetings.c.badge, meetings.c.session,
                meetings.c.agent, meetings.c.case_id, meetings.c.started_at, meetings.c.duration_s,
                meetings.c.clips, meetings.c.gaps, meetings.c.recovered, meetings.c.problems, meetings.c.worst,
                meetings.c.review_state)


def list_meetings(conn: Connection, user: User, f: Filters, page: int = 1, per_page: int = 50
                  ) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """(rows of this page, total, count per review state); counts stop at COUNT_CAP + 1."""
    where = f.where(user)
    order = SORTS.get(f.sort, SORTS["new"])
    page = max(1, page)
    rows = conn.execute(select(*LIST_COLUMNS).where(where).order_by(*order)
                        .limit(per_page).offset((page - 1) * per_page)).mappings().all()
    total = _capped_count(conn, where)
    base = Filters(**{**f.__dict__, "state": ""}).where(user)
    counts = {s: _capped_count(conn, and_(base, meetings.c.review_state == s)) for s in STATES}
    return [dict(r) for r in rows], total, counts


def _meeting(conn: Connection, user: User, mid: int, lock: bool = False) -> Any:
    q = select(meetings).where(and_(meetings.c.id == mid, scope(user)))
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no meeting {mid}")
    return row


def _finding_order(f: dict[str, Any]) -> tuple[int, int]:
    """Problems first (violations, missing disclosures), most severe first; then what was said."""
    problem = f["status"] == "violated" or (f["kind"] == "required" and f["status"] == "missing")
    occurred = f["status"] != "missing"
    return (0 if problem else 1 if occurred else 2, SEVERITY_RANK.get(f["severity"], 9))


def meeting_view(conn: Connection, user: User, mid: int) -> dict[str, Any]:
    m = _meeting(conn, user, mid)
    docs = {r.kind: r for r in conn.execute(select(documents).where(documents.c.meeting_id == mid))}

    def doc(name: str) -> dict[str, Any]:
        r = docs.get(name)
        try:
            v = json.loads(r.body) if r else {}
        except json.JSONDecodeError:
            v = {}
        return v if isinstance(v, dict) else {"items": v}

    transcript = doc("transcript.json").get("transcript") or {}
    clip_rows = [dict(r) for r in conn.execute(select(clips).where(clips.c.meeting_id == mid)
                                               .order_by(clips.c.seq)).mappings()]
    for c in clip_rows:
        c["custody"] = json.loads(c["custody"])
    group = []
    if m.case_id:
        group = [dict(r) for r in conn.execute(
            select(*LIST_COLUMNS).where(and_(scope(user), meetings.c.tenant == m.tenant,
                                             meetings.c.case_id == m.case_id))
            .order_by(meetings.c.started_at)).mappings()]
    log = audit.entries(conn, mid)
    return {
        "meeting": dict(m._mapping),
        "clips": clip_rows,
        "findings": sorted((dict(r) for r in conn.execute(select(findings).where(findings.c.meeting_id == mid)
                                                          .order_by(findings.c.id)).mappings()), key=_finding_order),
        "segments": [s for s in transcript.get("segments") or [] if isinstance(s, dict)],
        "gaps": (json.loads(docs["gaps.json"].body) if "gaps.json" in docs else []),
        "group": group,
        "group_findings": (doc("findings.json").get("group") or {}),
        "integrity": doc("integrity.json") or None,
        "audit": log,
        "audit_ok": audit.verify_chain(log),
        "documents": {k: {"sha256": r.sha256, "revision": r.revision} for k, r in docs.items()},
    }


def review_finding(conn: Connection, user: User, mid: int, fid: int, action: str, reason: str) -> dict[str, Any]:
    m = _meeting(conn, user, mid, lock=True)
    f = conn.execute(select(findings).where(and_(findings.c.id == fid, findings.c.meeting_id == m.id))).first()
    if f is None:
        raise NotFound(f"no finding {fid} in meeting {mid}")
    new = {"confirm": "confirmed", "overrule": "overruled", "reopen": "open"}.get(action)
    if new is None:
        raise Refused(f"unknown action {action!r} (confirm, overrule, reopen)")
    reason = reason.strip()[:2000]
    if new == "overruled" and not reason:
        raise Refused("overruling a finding needs a reason")
    conn.execute(findings.update().where(findings.c.id == fid).values(review=new, review_reason=reason))
    return audit.append(conn, mid, user.name, f"finding_{action}", target=f"{f.item_id}",
                        before=f.review, after=new, reason=reason)


def decide(conn: Connection, user: User, mid: int, decision: str, reason: str) -> dict[str, Any]:
    m = _meeting(conn, user, mid, lock=True)
    new = DECISIONS.get(decision)
    if new is None:
        raise Refused(f"unknown decision {decision!r} (pass, fail, reinspect)")
    reason = reason.strip()[:2000]
    if new in ("failed", "reinspect") and not reason:
        raise Refused("failing a meeting or sending it to re-inspection needs a reason")
    if m.review_state in ("passed", "failed") and not user.can_decide_again:
        raise Refused("this meeting is decided; only a supervisor can change the decision")
    values: dict[str, Any] = {"review_state": new}
    md = dict(m._mapping)
    if new == "reinspect":
        values["reinspections"] = m.reinspections + 1
        if m.reinspections == 0:
            stats.add_review(conn, md, 1, 0)
    elif m.reinspections > 0 and not m.first_reinspection:
        values["first_reinspection"] = new
        if new == "passed":
            stats.add_review(conn, md, 0, 1)
    conn.execute(meetings.update().where(meetings.c.id == mid).values(**values))
    return audit.append(conn, mid, user.name, decision, target="meeting", before=m.review_state,
                        after=new, reason=reason)


def comment(conn: Connection, user: User, mid: int, text: str) -> dict[str, Any]:
    _meeting(conn, user, mid, lock=True)
    text = text.strip()[:4000]
    if not text:
        raise Refused("an empty comment")
    return audit.append(conn, mid, user.name, "comment", target="meeting", reason=text)
