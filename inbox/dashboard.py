"""Dashboard tables (看板), read from the roll-ups and scoped like every other query.

Each function returns `(columns, rows)`; the page charts them and `…/<name>.csv` exports
them. `rate` is hits / sessions as `gateway rates` computes it (`execution_rates`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from inbox.auth import User
from inbox.schema import stat_agent_day, stat_item_week, stat_review_week

__all__ = ["TABLES", "Window", "table"]

Rows = tuple[list[str], list[dict[str, Any]]]


class Window:
    """A range of days (both ends included) and the ISO weeks it touches."""

    def __init__(self, first: date | None, last: date | None, today: date | None = None) -> None:
        today = today or date.today()
        self.last = last or today
        self.first = first or self.last - timedelta(days=83)

    @staticmethod
    def week(d: date) -> str:
        iso = d.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"

    @property
    def weeks(self) -> tuple[str, str]:
        return self.week(self.first), self.week(self.last)


def _scope(t: Any, user: User) -> Any:
    cond = t.c.tenant == user.tenant
    return and_(cond, t.c.branch.in_(user.branches)) if user.branches else cond


def _rate_rows(conn: Connection, user: User, w: Window, by: Any | None) -> Rows:
    t = stat_item_week
    lo, hi = w.weeks
    cols = [t.c.item_id, t.c.kind] + ([by] if by is not None else [])
    q = (select(*cols, func.sum(t.c.hits).label("hits"), func.sum(t.c.sessions).label("sessions"))
         .where(and_(_scope(t, user), t.c.week >= lo, t.c.week <= hi)).group_by(*cols).order_by(*cols))
    rows = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d["hits"], d["sessions"] = int(d["hits"]), int(d["sessions"])
        d["rate"] = round(d["hits"] / d["sessions"], 4) if d["sessions"] else 0.0
        rows.append(d)
    names = ["item_id", "kind"] + ([by.name] if by is not None else []) + ["hits", "sessions", "rate"]
    return names, rows


def rates(conn: Connection, user: User, w: Window) -> Rows:
    return _rate_rows(conn, user, w, None)


def rates_branch(conn: Connection, user: User, w: Window) -> Rows:
    return _rate_rows(conn, user, w, stat_item_week.c.branch)


def rates_agent(conn: Connection, user: User, w: Window) -> Rows:
    return _rate_rows(conn, user, w, stat_item_week.c.agent)


def rates_week(conn: Connection, user: User, w: Window) -> Rows:
    return _rate_rows(conn, user, w, stat_item_week.c.week)


def agent_days(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_agent_day
    q = (select(t.c.day, t.c.agent, func.sum(t.c.meetings).label("meetings"),
                func.sum(t.c.seconds).label("seconds"))
         .where(and_(_scope(t, user), t.c.day >= w.first, t.c.day <= w.last))
         .group_by(t.c.day, t.c.agent).order_by(t.c.day, t.c.agent))
    rows = [{"day": r.day.isoformat(), "agent": r.agent, "meetings": int(r.meetings),
             "hours": round(float(r.seconds) / 3600, 3)} for r in conn.execute(q)]
    return ["day", "agent", "meetings", "hours"], rows


def sync_delay(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_agent_day
    q = (select(t.c.agent, func.sum(t.c.delay_s).label("s"), func.sum(t.c.delay_n).label("n"))
         .where(and_(_scope(t, user), t.c.day >= w.first, t.c.day <= w.last))
         .group_by(t.c.agent).order_by(t.c.agent))
    rows = [{"agent": r.agent, "meetings": int(r.n),
             "mean_delay_h": round(float(r.s) / int(r.n) / 3600, 3) if r.n else None} for r in conn.execute(q)]
    return ["agent", "meetings", "mean_delay_h"], rows


def findings_week(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_item_week
    lo, hi = w.weeks
    missing = func.sum(case((t.c.kind == "required", t.c.sessions - t.c.hits), else_=0))
    violated = func.sum(case((t.c.kind == "prohibited", t.c.hits), else_=0))
    events = func.sum(case((t.c.kind == "event", t.c.hits), else_=0))
    q = (select(t.c.week, missing.label("missing"), violated.label("violated"), events.label("events"))
         .where(and_(_scope(t, user), t.c.week >= lo, t.c.week <= hi)).group_by(t.c.week).order_by(t.c.week))
    rows = [{"week": r.week, "missing": int(r.missing), "violated": int(r.violated), "events": int(r.events)}
            for r in conn.execute(q)]
    return ["week", "missing", "violated", "events"], rows


def first_pass(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_review_week
    lo, hi = w.weeks
    q = (select(t.c.week, func.sum(t.c.reinspected).label("reinspected"), func.sum(t.c.first_pass).label("fp"))
         .where(and_(_scope(t, user), t.c.week >= lo, t.c.week <= hi)).group_by(t.c.week).order_by(t.c.week))
    rows = [{"week": r.week, "reinspected": int(r.reinspected), "first_pass": int(r.fp),
             "rate": round(int(r.fp) / int(r.reinspected), 4) if r.reinspected else None}
            for r in conn.execute(q)]
    return ["week", "reinspected", "first_pass", "rate"], rows


TABLES: dict[str, Callable[[Connection, User, Window], Rows]] = {
    "rates": rates, "rates_branch": rates_branch, "rates_agent": rates_agent, "rates_week": rates_week,
    "agent_days": agent_days, "sync_delay": sync_delay, "findings_week": findings_week,
    "first_pass": first_pass,
}


def table(conn: Connection, user: User, name: str, w: Window) -> Rows:
    return TABLES[name](conn, user, w)
