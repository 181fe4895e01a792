"""HTML pages: login, meeting list, meeting view with review forms, dashboards, files."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from inbox import dashboard, service
from inbox.auth import User, check_password
from inbox.web.deps import check_csrf, current_user, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
UserDep = Annotated[User, Depends(current_user)]
MeetingId = Annotated[int, Path(ge=1, le=2**31)]
CLIP = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,159}$"
PER_PAGE = 50


def filters(branch: str = "", agent: str = "", badge: str = "", case: str = "", date_from: str = Query("", alias="from"),
            date_to: str = Query("", alias="to"), state: str = "", severity: str = "", sort: str = "new"
            ) -> service.Filters:
    def day(v: str) -> date | None:
        try:
            return date.fromisoformat(v) if v else None
        except ValueError:
            return None
    return service.Filters(branch[:128], agent[:128], badge[:128], case[:128], day(date_from), day(date_to),
                           state[:16], severity[:8], sort[:16])


FiltersDep = Annotated[service.Filters, Depends(filters)]


def csv_response(name: str, columns: list[str], rows: list[dict[str, Any]]) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/")
def home() -> Response:
    return RedirectResponse("/meetings", status_code=303)


@router.get("/lang/{lang}")
def set_lang(lang: str, request: Request) -> Response:
    back = request.headers.get("referer", "/meetings")
    if not back.startswith(str(request.base_url)):
        back = "/meetings"
    r = RedirectResponse(back, status_code=303)
    r.set_cookie("lang", "en" if lang == "en" else "zh", max_age=365 * 86400, samesite="strict")
    return r


@router.get("/login")
def login_page(request: Request, expired: int = 0) -> Response:
    return render(request, "login.html", user=None, message="会话已过期，请重新登录" if expired else "")


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    user = check_password(request.app.state.engine, name, password)
    if user is None:
        return render(request, "login.html", status=401, user=None, message="用户名或密码错误")
    request.session.clear()
    request.session.update({"uid": user.id, "t": int(time.time())})
    return RedirectResponse("/meetings", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/meetings")
def meeting_list(request: Request, user: UserDep, f: FiltersDep, page: int = Query(1, ge=1, le=10**6)) -> Response:
    with request.app.state.engine.connect() as conn:
        rows, total, counts = service.list_meetings(conn, user, f, page, PER_PAGE)
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(request, "meetings.html", user=user, rows=rows, total=total, counts=counts, page=page,
                  per_page=PER_PAGE, f=f, query=query, cap=service.COUNT_CAP)


@router.get("/meetings.csv")
def meeting_csv(request: Request, user: UserDep, f: FiltersDep) -> Response:
    with request.app.state.engine.connect() as conn:
        rows, _, _ = service.list_meetings(conn, user, f, 1, service.COUNT_CAP)
    cols = [c.name for c in service.LIST_COLUMNS]
    return csv_response("meetings", cols, rows)


def timeline(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Transcript segments with gaps, recovered clips and unrecorded stretches in their place,
    so a reviewer never reads a gap as silence."""
    events: list[tuple[float, int, dict[str, Any]]] = []
    for s in view["segments"]:
        if isinstance(s.get("start"), int | float):
            events.append((float(s["start"]), 2, {"type": "seg", "start": s["start"], "end": s.get("end", s["start"]),
                                                 "text": str(s.get("text", ""))}))
    for g in view["gaps"]:
        events.append((float(g.get("at_s") or 0.0), 0, {"type": "gap", **g}))
    end = 0.0
    for c in view["clips"]:
        if c["offset_s"] - end > 1.0:
            events.append((end, 1, {"type": "idle", "seconds": c["offset_s"] - end}))
        end = max(end, c["offset_s"] + c["seconds"])
        if c["recovered"] or c["dropped_ms"]:
            events.append((c["offset_s"] + c["seconds"], 3, {"type": "recovered", **c}))
    return [e for _, _, e in sorted(events, key=lambda x: (x[0], x[1]))]


@router.get("/meetings/{mid}")
def meeting_page(request: Request, user: UserDep, mid: MeetingId) -> Response:
    with request.app.state.engine.connect() as conn:
        view = service.meeting_view(conn, user, mid)
    return render(request, "meeting.html", user=user, timeline=timeline(view), **view)


@router.get("/meetings/{mid}/audio.wav")
def meeting_audio(request: Request, user: UserDep, mid: MeetingId) -> Response:
    with request.app.state.engine.connect() as conn:
        m = service.meeting_view(conn, user, mid)["meeting"]
    return FileResponse(request.app.state.store.path(m["audio_sha256"]), media_type="audio/wav",
                        filename=f"{m['session']}.wav", content_disposition_type="inline")


@router.get("/meetings/{mid}/clips/{clip}.wav")
def clip_audio(request: Request, user: UserDep, mid: MeetingId,
               clip: Annotated[str, Path(pattern=CLIP)]) -> Response:
    with request.app.state.engine.connect() as conn:
        clips = service.meeting_view(conn, user, mid)["clips"]
    for c in clips:
        if c["clip_id"] == clip:
            return FileResponse(request.app.state.store.path(c["wav_sha256"]), media_type="audio/wav",
                                filename=f"{clip}.wav")
    raise service.NotFound(f"no clip {clip}")


@router.post("/meetings/{mid}/findings/{fid}", dependencies=[Depends(check_csrf)])
def finding_form(request: Request, user: UserDep, mid: MeetingId, fid: MeetingId,
                 action: Annotated[str, Form()], reason: Annotated[str, Form()] = "") -> Response:
    with request.app.state.engine.begin() as conn:
        service.review_finding(conn, user, mid, fid, action, reason)
    return RedirectResponse(f"/meetings/{mid}#finding-{fid}", status_code=303)


@router.post("/meetings/{mid}/decision", dependencies=[Depends(check_csrf)])
def decision_form(request: Request, user: UserDep, mid: MeetingId, decision: Annotated[str, Form()],
                  reason: Annotated[str, Form()] = "") -> Response:
    with request.app.state.engine.begin() as conn:
        service.decide(conn, user, mid, decision, reason)
    return RedirectResponse(f"/meetings/{mid}#review", status_code=303)


@router.post("/meetings/{mid}/comment", dependencies=[Depends(check_csrf)])
def comment_form(request: Request, user: UserDep, mid: MeetingId, text: Annotated[str, Form()]) -> Response:
    with request.app.state.engine.begin() as conn:
        service.comment(conn, user, mid, text)
    return RedirectResponse(f"/meetings/{mid}#audit", status_code=303)


def evidence_response(request: Request, user: User, ids: list[int], name: str) -> Response:
    from inbox import audit
    from inbox.evidence import build_zip

    engine = request.app.state.engine
    with engine.begin() as conn:
        data, manifest_sha = build_zip(conn, request.app.state.store, ids, user.name)
        for mid in ids:
            audit.append(conn, mid, user.name, "export", target=name, after={"manifest_sha256": manifest_sha})
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}.zip"',
                             "X-Manifest-SHA256": manifest_sha})


@router.get("/meetings/{mid}/evidence.zip")
def meeting_evidence(request: Request, user: UserDep, mid: MeetingId) -> Response:
    with request.app.state.engine.connect() as conn:
        m = service.meeting_view(conn, user, mid)["meeting"]
    return evidence_response(request, user, [mid], f"evidence-{m['session']}")


@router.get("/cases/{case}/evidence.zip")
def case_evidence(request: Request, user: UserDep, case: Annotated[str, Path(pattern=CLIP)]) -> Response:
    with request.app.state.engine.connect() as conn:
        rows, total, _ = service.list_meetings(conn, user, service.Filters(case=case, sort="old"), 1, 500)
    if not rows:
        raise service.NotFound(f"no case {case}")
    return evidence_response(request, user, [r["id"] for r in rows], f"evidence-case-{case}")


def _window(date_from: str, date_to: str, branch: str = "") -> dashboard.Window:
    def day(v: str) -> date | None:
        try:
            return date.fromisoformat(v) if v else None
        except ValueError:
            return None
    return dashboard.Window(day(date_from), day(date_to), branch[:128])


@router.get("/dashboard")
def dashboard_page(request: Request, user: UserDep, date_from: str = Query("", alias="from"),
                   date_to: str = Query("", alias="to"), branch: str = "") -> Response:
    if not user.sees_dashboards:
        raise service.NotFound("dashboards are for supervisors")
    w = _window(date_from, date_to, branch)
    with request.app.state.engine.connect() as conn:
        data = dashboard.page_tables(conn, user, w)
    return render(request, "dashboard.html", user=user, data=data, window=w, titles=dashboard.item_titles(),
                  query=dict(request.query_params))


@router.get("/dashboard/{name}.csv")
def dashboard_csv(request: Request, user: UserDep, name: str, date_from: str = Query("", alias="from"),
                  date_to: str = Query("", alias="to"), branch: str = "") -> Response:
    if not user.sees_dashboards or name not in dashboard.TABLES:
        raise service.NotFound(f"no table {name}")
    with request.app.state.engine.connect() as conn:
        cols, rows = dashboard.table(conn, user, name, _window(date_from, date_to, branch))
    return csv_response(name, cols, rows)
