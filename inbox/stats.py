"""Dashboard roll-ups, kept in the same transaction as the import or review they count.

A finding is a hit the way `gateway rates` counts it (`gateway.compliance.rates`): a
required item or event said, a prohibited claim violated; every finding is one session
of its item. Adding a meeting adds +1, replacing it subtracts the old counts first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from inbox.schema import (
    stat_agent_day,
    stat_agent_item_week,
    stat_branch_day,
    stat_item_week,
    stat_review_week,
)

__all__ = ["AGENT_ITEM_KEYS", "DAY_ADDS", "ITEM_KEYS", "add_meeting", "add_review", "is_hit", "upsert_many"]


def is_hit(kind: str, status: str) -> bool:
    return status == ("violated" if kind == "prohibited" else "said")


def upsert_many(conn: Connection, table: Table, keys: list[str], adds: list[str],
                rows: list[dict[str, Any]]) -> None:
    """Insert rows, or add their `adds` columns to the rows already there (one statement)."""
    if not rows:
        return
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = mod.insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={k: table.c[k] + stmt.excluded[k] for k in adds})
    conn.execute(stmt)


def _upsert(conn: Connection, table: Table, keys: dict[str, Any], adds: dict[str, Any],
            sets: dict[str, Any] | None = None) -> None:
    upsert_many(conn, table, list(keys), list(adds), [{**keys, **adds, **(sets or {})}])


ITEM_KEYS = ["tenant", "branch", "week", "item_id"]
AGENT_ITEM_KEYS = ["tenant", "branch", "agent", "week", "item_id"]
DAY_ADDS = ["meetings", "seconds", "delay_s", "delay_n"]


def add_meeting(conn: Connection, m: dict[str, Any], items: Iterable[dict[str, Any]], sign: int) -> None:
    """Count (sign=+1) or uncount (-1) one meeting and its findings."""
    per_item: dict[str, dict[str, Any]] = {}
    for f in items:  # summed, so an item listed twice cannot break the one statement
        row = per_item.setdefault(f["item_id"], {"tenant": m["tenant"], "branch": m["branch"], "week": m["week"],
                                                 "item_id": f["item_id"], "kind": f["kind"], "hits": 0, "sessions": 0})
        row["hits"] += sign * int(is_hit(f["kind"], f["status"]))
        row["sessions"] += sign
    rows = list(per_item.values())
    upsert_many(conn, stat_item_week, ITEM_KEYS, ["hits", "sessions"], rows)
    upsert_many(conn, stat_agent_item_week, AGENT_ITEM_KEYS, ["hits", "sessions"],
                [{**r, "agent": m["agent"]} for r in rows])
    delay = m.get("sync_delay_s")
    day = {"meetings": sign, "seconds": sign * float(m["speech_s"]), "delay_s": sign * float(delay or 0.0),
           "delay_n": sign * int(delay is not None)}
    base = {"tenant": m["tenant"], "branch": m["branch"], "day": m["day"]}
    upsert_many(conn, stat_branch_day, list(base), DAY_ADDS, [{**base, **day}])
    upsert_many(conn, stat_agent_day, [*base, "agent"], DAY_ADDS, [{**base, "agent": m["agent"], **day}])


__all__ += ["stat_agent_day", "stat_agent_item_week", "stat_branch_day", "stat_item_week"]


def add_review(conn: Connection, m: dict[str, Any], reinspected: int, first_pass: int) -> None:
    _upsert(conn, stat_review_week, {"tenant": m["tenant"], "branch": m["branch"], "week": m["week"]},
            {"reinspected": reinspected, "first_pass": first_pass})
