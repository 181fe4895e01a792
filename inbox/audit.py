"""The append-only, hash-chained audit log of each meeting.

Each entry's `hash` is the SHA-256 of the previous entry's hash and the entry's own
fields in canonical JSON (sorted keys, UTF-8), the first entry chaining from 64 zeros,
as a badge chains its clips. `(meeting_id, seq)` is unique, so two processes writing at
once cannot fork a chain (the loser retries on the new tail). `verify_chain` is the same
check the evidence verifier runs offline on the exported log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from inbox.schema import audit, meetings

__all__ = ["ZERO", "append", "entries", "entry_hash", "verify_chain"]

ZERO = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "target", "before", "after", "reason")


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = json.dumps({k: entry[k] for k in FIELDS}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def append(conn: Connection, meeting_id: int, actor: str, action: str, target: str = "",
           before: Any = "", after: Any = "", reason: str = "") -> dict[str, Any]:
    """Add one entry in the caller's transaction; returns it."""
    if conn.dialect.name == "postgresql":  # one writer per meeting's chain at a time
        conn.execute(select(meetings.c.id).where(meetings.c.id == meeting_id).with_for_update())
    last = conn.execute(select(audit.c.seq, audit.c.hash).where(audit.c.meeting_id == meeting_id)
                        .order_by(audit.c.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, ZERO)
    entry = {"seq": seq, "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "actor": actor, "action": action, "target": target, "before": _text(before),
             "after": _text(after), "reason": reason}
    entry["prev_hash"] = prev
    entry["hash"] = entry_hash(prev, entry)
    conn.execute(audit.insert().values(meeting_id=meeting_id, **entry))
    return entry


def entries(conn: Connection, meeting_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(audit).where(audit.c.meeting_id == meeting_id).order_by(audit.c.seq))
    return [{k: r._mapping[k] for k in (*FIELDS, "prev_hash", "hash")} for r in rows]


def count(conn: Connection, meeting_id: int) -> int:
    return int(conn.execute(select(func.count()).where(audit.c.meeting_id == meeting_id)).scalar_one())


def verify_chain(items: Iterable[dict[str, Any]]) -> str | None:
    """None when the chain holds, else the first break in one line."""
    prev = ZERO
    for n, e in enumerate(items, 1):
        if e.get("seq") != n:
            return f"audit entry {n}: sequence number {e.get('seq')!r} (an entry was removed or added)"
        if e.get("prev_hash") != prev:
            return f"audit entry {n}: does not chain to the entry before it"
        if entry_hash(prev, e) != e.get("hash"):
            return f"audit entry {n}: its content does not match its hash (edited)"
        prev = e["hash"]
    return None
