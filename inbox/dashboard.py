"""Dashboard tables (看板), read from the roll-ups and scoped like every other query.

Each function returns `(columns, rows)`; the page charts them and `…/<name>.csv` and
`/api/v1/dashboard/<name>` give every row. `rate` is hits / sessions as `gateway rates`
computes it (`execution_rates`). Company-wide tables read the per-branch roll-ups; the
per-agent tables (`AGENT_TABLES`) are charted for one branch at a time (`?branch=`), which
is also what keeps a chart readable with hundreds of agents.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from inbox.auth import User
from inbox.schema import (
    stat_agent_day,
    stat_agent_item_week,
    stat_branch_day,
    stat_item_week,
    stat_review_week,
)

__all__ = ["AGENT_TABLES", "TABLES", "Window", "table"]

Rows = tuple[list[str], list[dict[str, Any]]]


class Window:
    """A range of days (both ends included), the ISO weeks it touches, optionally one branch."""

    def __init__(self, first: date | None, last: date | None, branch: str = "", today: date | None = None) -> None:
        today = today or date.today()
        self.last = last or today
        self.first = first or self.last - timedelta(days=83)
        self.branch = branch

    @staticmethod
    def week(d: date) -> str:
        iso = d.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"

    @property
    def weeks(self) -> tuple[str, str]:
        return self.week(self.first), self.week(self.last)


def _where(t: Any, user: User, w: Window, by_week: bool) -> Any:
    conds = [t.c.tenant == user.tenant]
    if user.branches:
        conds.append(t.c.branch.in_(user.branches))
    if w.branch:
        conds.append(t.c.branch == w.branch)
    if by_week:
        lo, hi = w.weeks
        conds += [t.c.week >= lo, t.c.week <= hi]
    else:
        conds += [t.c.day >= w.first, t.c.day <= w.last]
    return and_(*conds)


def _rates(conn: Connection, user: User, w: Window, t: Any, by: str | None) -> Rows:
    cols = [t.c.item_id, t.c.kind] + ([t.c[by]] if by else [])
    q = (select(*cols, func.sum(t.c.hits).label("hits"), func.sum(t.c.sessions).label("sessions"))
         .where(_where(t, user, w, True)).group_by(*cols).order_by(*cols))
    rows = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d["hits"], d["sessions"] = int(d["hits"]), int(d["sessions"])
        d["rate"] = round(d["hits"] / d["sessions"], 4) if d["sessions"] else 0.0
        rows.append(d)
    return ["item_id", "kind"] + ([by] if by else []) + ["hits", "sessions", "rate"], rows


def rates(conn: Connection, user: User, w: Window) -> Rows:
    return _rates(conn, user, w, stat_item_week, None)


def rates_branch(conn: Connection, user: User, w: Window) -> Rows:
    return _rates(conn, user, w, stat_item_week, "branch")


def rates_week(conn: Connection, user: User, w: Window) -> Rows:
    return _rates(conn, user, w, stat_item_week, "week")


def rates_agent(conn: Connection, user: User, w: Window) -> Rows:
    return _rates(conn, user, w, stat_agent_item_week, "agent")


def _days(conn: Connection, user: User, w: Window, t: Any, by: str) -> Rows:
    q = (select(t.c.day, t.c[by], func.sum(t.c.meetings).label("meetings"), func.sum(t.c.seconds).label("seconds"))
         .where(_where(t, user, w, False)).group_by(t.c.day, t.c[by]).order_by(t.c.day, t.c[by]))
    rows = [{"day": r.day.isoformat(), by: r[1], "meetings": int(r.meetings),
             "hours": round(float(r.seconds) / 3600, 3)} for r in conn.execute(q)]
    return ["day", by, "meetings", "hours"], rows


def branch_days(conn: Connection, user: User, w: Window) -> Rows:
    return _days(conn, user, w, stat_branch_day, "branch")


def agent_days(conn: Connection, user: User, w: Window) -> Rows:
    return _days(conn, user, w, stat_agent_day, "agent")


def _delay(conn: Connection, user: User, w: Window, t: Any, by: str) -> Rows:
    q = (select(t.c[by], func.sum(t.c.delay_s).label("s"), func.sum(t.c.delay_n).label("n"))
         .where(_where(t, user, w, False)).group_by(t.c[by]).order_by(t.c[by]))
    rows = [{by: r[0], "meetings": int(r.n),
             "mean_delay_h": round(float(r.s) / int(r.n) / 3600, 3) if r.n else None} for r in conn.execute(q)]
    return [by, "meetings", "mean_delay_h"], rows


def sync_delay(conn: Connection, user: User, w: Window) -> Rows:
    return _delay(conn, user, w, stat_branch_day, "branch")


def sync_delay_agent(conn: Connection, user: User, w: Window) -> Rows:
    return _delay(conn, user, w, stat_agent_day, "agent")


def findings_week(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_item_week
    missing = func.sum(case((t.c.kind == "required", t.c.sessions - t.c.hits), else_=0))
    violated = func.sum(case((t.c.kind == "prohibited", t.c.hits), else_=0))
    events = func.sum(case((t.c.kind == "event", t.c.hits), else_=0))
    q = (select(t.c.week, missing.label("missing"), violated.label("violated"), events.label("events"))
         .where(_where(t, user, w, True)).group_by(t.c.week).order_by(t.c.week))
    rows = [{"week": r.week, "missing": int(r.missing), "violated": int(r.violated), "events": int(r.events)}
            for r in conn.execute(q)]
    return ["week", "missing", "violated", "events"], rows


def first_pass(conn: Connection, user: User, w: Window) -> Rows:
    t = stat_review_week
    q = (select(t.c.week, func.sum(t.c.reinspected).label("reinspected"), func.sum(t.c.first_pass).label("fp"))
         .where(_where(t, user, w, True)).group_by(t.c.week).order_by(t.c.week))
    rows = [{"week": r.week, "reinspected": int(r.reinspected), "first_pass": int(r.fp),
             "rate": round(int(r.fp) / int(r.reinspected), 4) if r.reinspected else None}
            for r in conn.execute(q)]
    return ["week", "reinspected", "first_pass", "rate"], rows


TABLES: dict[str, Callable[[Connection, User, Window], Rows]] = {
    "rates": rates, "rates_branch": rates_branch, "rates_week": rates_week, "branch_days": branch_days,
    "sync_delay": sync_delay, "findings_week": findings_week, "first_pass": first_pass,
    "rates_agent": rates_agent, "agent_days": agent_days, "sync_delay_agent": sync_delay_agent,
}
AGENT_TABLES = ("rates_agent", "agent_days", "sync_delay_agent")


def table(conn: Connection, user: User, name: str, w: Window) -> Rows:
    return TABLES[name](conn, user, w)


def item_titles() -> dict[str, str]:
    """Item id → title from the bundled rule pack (ids of other packs are shown as they are)."""
    global _TITLES
    if _TITLES is None:
        from gateway.compliance import load_rules

        _TITLES = {it.id: it.title for it in load_rules(None).items}
    return _TITLES


_TITLES: dict[str, str] | None = None


def page_tables(conn: Connection, user: User, w: Window) -> dict[str, dict[str, Any]]:
    """The tables the page charts: per-agent ones only for one branch."""
    one_branch = bool(w.branch) or len(user.branches) == 1
    return {name: dict(zip(("columns", "rows"), fn(conn, user, w), strict=True)) for name, fn in TABLES.items()
            if one_branch or name not in AGENT_TABLES}
