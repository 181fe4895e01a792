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

from inbox.schema import stat_agent_day, stat_item_week, stat_review_week

__all__ = ["add_meeting", "add_review", "is_hit"]


def is_hit(kind: str, status: str) -> bool:
    return status == ("violated" if kind == "prohibited" else "said")


def _upsert(conn: Connection, table: Table, keys: dict[str, Any], adds: dict[str, Any],
            sets: dict[str, Any] | None = None) -> None:
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = mod.insert(table).values(**keys, **adds, **(sets or {}))
    update = {k: table.c[k] + stmt.excluded[k] for k in adds}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
    conn.execute(stmt)


def add_meeting(conn: Connection, m: dict[str, Any], items: Iterable[dict[str, Any]], sign: int) -> None:
    """Count (sign=+1) or uncount (-1) one meeting and its findings."""
    base = {"tenant": m["tenant"], "branch": m["branch"], "agent": m["agent"]}
    for f in items:
        _upsert(conn, stat_item_week, {**base, "week": m["week"], "item_id": f["item_id"]},
                {"hits": sign * int(is_hit(f["kind"], f["status"])), "sessions": sign},
                {"kind": f["kind"]})
    delay = m.get("sync_delay_s")
    _upsert(conn, stat_agent_day, {**base, "day": m["day"]},
            {"meetings": sign, "seconds": sign * float(m["speech_s"]),
             "delay_s": sign * float(delay or 0.0), "delay_n": sign * int(delay is not None)})


def add_review(conn: Connection, m: dict[str, Any], reinspected: int, first_pass: int) -> None:
    _upsert(conn, stat_review_week, {"tenant": m["tenant"], "branch": m["branch"], "week": m["week"]},
            {"reinspected": reinspected, "first_pass": first_pass})
