"""The JSON API under /api/v1/ (its OpenAPI document: /api/v1/openapi.json).

Scripts authenticate with `Authorization: Bearer <token>` (`badgekit inbox token create`);
the pages' own calls may use the session cookie plus the `X-CSRF-Token` header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from inbox import dashboard, service
from inbox.auth import User
from inbox.web.deps import check_csrf, current_user
from inbox.web.pages import FiltersDep, _window, evidence_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["inbox"])
UserDep = Annotated[User, Depends(current_user)]
MeetingId = Annotated[int, Path(ge=1, le=2**31)]


class MeetingSummary(BaseModel):
    id: int
    tenant: str
    branch: str
    badge: str
    session: str
    agent: str
    case_id: str | None
    started_at: datetime
    duration_s: float
    clips: int
    gaps: int
    recovered: int
    problems: int
    worst: int = Field(description="most severe open problem: 0 严重, 1 一般, 2 提示, 9 none")
    review_state: str


class MeetingPage(BaseModel):
    total: int = Field(description=f"meetings matching the filters (counted up to {service.COUNT_CAP + 1})")
    counts: dict[str, int]
    page: int
    items: list[MeetingSummary]


class FindingAction(BaseModel):
    action: Literal["confirm", "overrule", "reopen"]
    reason: str = ""


class Decision(BaseModel):
    decision: Literal["pass", "fail", "reinspect"]
    reason: str = ""


class Comment(BaseModel):
    text: str


class AuditEntry(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: str
    before: str
    after: str
    reason: str
    prev_hash: str
    hash: str


class Table(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]


@router.get("/meetings", response_model=MeetingPage)
def meetings(request: Request, user: UserDep, f: FiltersDep, page: int = Query(1, ge=1, le=10**6),
             per_page: int = Query(50, ge=1, le=500)) -> Any:
    """Meetings in the caller's tenant and branches, filtered, sorted, one page."""
    with request.app.state.engine.connect() as conn:
        rows, total, counts = service.list_meetings(conn, user, f, page, per_page)
    return {"total": total, "counts": counts, "page": page, "items": rows}


@router.get("/meetings/{mid}")
def meeting(request: Request, user: UserDep, mid: MeetingId) -> dict[str, Any]:
    """One meeting: clips with custody, findings with verdicts, transcript segments, gaps, case group,
    audit log and whether its chain holds (`audit_ok` is null when it does)."""
    with request.app.state.engine.connect() as conn:
        return service.meeting_view(conn, user, mid)


@router.get("/meetings/{mid}/audit", response_model=list[AuditEntry])
def audit_log(request: Request, user: UserDep, mid: MeetingId) -> Any:
    with request.app.state.engine.connect() as conn:
        return service.meeting_view(conn, user, mid)["audit"]


@router.post("/meetings/{mid}/findings/{fid}", response_model=AuditEntry, dependencies=[Depends(check_csrf)])
def finding(request: Request, user: UserDep, mid: MeetingId, fid: MeetingId, body: FindingAction) -> Any:
    """Confirm or overrule (reason required) one finding, or reopen it."""
    with request.app.state.engine.begin() as conn:
        return service.review_finding(conn, user, mid, fid, body.action, body.reason)


@router.post("/meetings/{mid}/decision", response_model=AuditEntry, dependencies=[Depends(check_csrf)])
def decision(request: Request, user: UserDep, mid: MeetingId, body: Decision) -> Any:
    """Pass, fail or send to re-inspection (复检); fail and reinspect need a reason."""
    with request.app.state.engine.begin() as conn:
        return service.decide(conn, user, mid, body.decision, body.reason)


@router.post("/meetings/{mid}/comments", response_model=AuditEntry, dependencies=[Depends(check_csrf)])
def comment(request: Request, user: UserDep, mid: MeetingId, body: Comment) -> Any:
    with request.app.state.engine.begin() as conn:
        return service.comment(conn, user, mid, body.text)


@router.get("/meetings/{mid}/evidence.zip", response_class=Response)
def evidence(request: Request, user: UserDep, mid: MeetingId) -> Response:
    """The meeting's evidence zip (check it with `badgekit evidence verify`)."""
    with request.app.state.engine.connect() as conn:
        m = service.meeting_view(conn, user, mid)["meeting"]
    return evidence_response(request, user, [mid], f"evidence-{m['session']}")


@router.get("/dashboard/{name}", response_model=Table)
def dashboard_table(request: Request, user: UserDep, name: Literal[tuple(dashboard.TABLES)],  # type: ignore[valid-type]
                    date_from: str = Query("", alias="from"), date_to: str = Query("", alias="to"),
                    branch: str = "") -> Any:
    """One dashboard table: execution rates by item / branch / week / agent, meetings and hours per
    branch or agent per day, sync delay per branch or agent, findings per week, first-pass
    re-inspection rate (`?branch=` limits any of them to one branch)."""
    if not user.sees_dashboards:
        raise service.NotFound("dashboards are for supervisors")
    with request.app.state.engine.connect() as conn:
        cols, rows = dashboard.table(conn, user, name, _window(date_from, date_to, branch))
    return {"columns": cols, "rows": rows}
