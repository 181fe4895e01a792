"""Durable outbox in SQLite: a message leaves only when the broker acknowledged it.

WAL journal with `synchronous=FULL`, so every committed enqueue survives a SIGKILL or a
power cut. Messages carry a `msg_id` (unique here, and the receiver's key for
dropping duplicates) and are published in `seq` order. States:

- `pending`: to be published;
- `sent`: the broker acknowledged it (PUBACK). With `await_receipts` the message stays
  until a receiver confirms that it stored it (a receipt naming its `msg_id`), because a
  broker that crashes loses what it acknowledged but had not yet saved or forwarded;
  `resend_unconfirmed()` makes such messages pending again. Without receipts the PUBACK
  deletes the message;
- `rejected`: the broker refused it (too large, not authorised); kept with the reason,
  nothing is dropped silently.

The same database can hold the caller's own tables (`Outbox.db`), so marking work done
and enqueuing its messages is one transaction (`with outbox.transaction(): ...`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Message", "Outbox", "OutboxStats", "connect_db"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  props TEXT NOT NULL DEFAULT '{}',
  content_type TEXT NOT NULL DEFAULT '',
  retain INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  sent_at REAL NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_msg ON outbox(msg_id);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, seq);
CREATE TABLE IF NOT EXISTS outbox_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def connect_db(path: Path) -> sqlite3.Connection:
    """Open (create) a SQLite file in WAL mode with fsync on every commit."""
    from badgecore.privatefs import private_file, tighten

    path = Path(path)
    private_file(path)  # it holds audio: 0600 in a 0700 folder; SQLite gives -wal/-shm the same mode
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    for extra in ("-wal", "-shm"):  # made by an older release with the umask's mode
        tighten(path.with_name(path.name + extra))
    return db


@dataclass(frozen=True)
class Message:
    """One MQTT message as stored in the outbox."""

    msg_id: str
    topic: str
    payload: bytes
    props: dict[str, str] = field(default_factory=dict)
    """MQTT 5 user properties (msg_id is added on publish)."""
    content_type: str = ""
    retain: bool = False
    seq: int = 0


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    pending_bytes: int
    unconfirmed: int
    """Acknowledged by the broker, not yet confirmed by a receiver."""
    rejected: int
    enqueued_total: int
    acked_total: int
    acked_bytes_total: int
    confirmed_total: int


class Outbox:
    """The outbox table in a SQLite file; safe to use from the publisher's threads."""

    def __init__(self, path: Path, await_receipts: bool = True) -> None:
        self.path = Path(path)
        self.await_receipts = await_receipts
        self.db = connect_db(self.path)
        self.lock = threading.RLock()
        self._depth = 0
        with self.lock:
            self.db.executescript(_SCHEMA)
            self._depth = self._count()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable transaction (nested calls join the outer one)."""
        with self.lock:
            if self.db.in_transaction:
                yield self.db
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                self._depth = self._count()
                raise
            self.db.execute("COMMIT")
            self._depth = self._count()

    def _count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sent')").fetchone()[0])

    def _bump(self, name: str, by: int) -> None:
        self.db.execute(
            "INSERT INTO outbox_counters(name, value) VALUES(?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def put(self, messages: list[Message]) -> int:
        """Store messages (one transaction); a msg_id already stored is skipped. Returns new count."""
        added = 0
        now = time.time()
        with self.transaction() as db:
            for m in messages:
                cur = db.execute(
                    "INSERT OR IGNORE INTO outbox(msg_id, topic, payload, props, content_type, retain, created) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?)",
                    (m.msg_id, m.topic, m.payload, json.dumps(m.props, sort_keys=True), m.content_type,
                     int(m.retain), now),
                )
                added += cur.rowcount
            if added:
                self._bump("enqueued", added)
        return added

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[Message]:
        """Pending messages in publish order, after `after_seq`."""
        with self.lock:
            rows = self.db.execute(
                "SELECT seq, msg_id, topic, payload, props, content_type, retain FROM outbox "
                "WHERE state='pending' AND seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [
            Message(msg_id=r[1], topic=r[2], payload=bytes(r[3]), props=json.loads(r[4]),
                    content_type=r[5], retain=bool(r[6]), seq=r[0])
            for r in rows
        ]

    def ack(self, seqs: list[int]) -> int:
        """The broker acknowledged these: mark them sent, or delete them without receipts."""
        if not seqs:
            return 0
        with self.transaction() as db:
            marks = ",".join("?" * len(seqs))
            size = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE seq IN ({marks}) "
                "AND state='pending'",
                seqs,
            ).fetchone()
            if self.await_receipts:
                db.execute(f"UPDATE outbox SET state='sent', sent_at=? WHERE seq IN ({marks}) AND state='pending'",
                           [time.time(), *seqs])
            else:
                db.execute(f"DELETE FROM outbox WHERE seq IN ({marks}) AND state='pending'", seqs)
            self._bump("acked", int(size[0]))
            self._bump("acked_bytes", int(size[1]))
        return int(size[0])

    def confirm(self, msg_ids: list[str]) -> int:
        """A receiver stored these messages: they leave the outbox."""
        if not msg_ids:
            return 0
        n = 0
        with self.transaction() as db:
            for i in range(0, len(msg_ids), 500):
                chunk = msg_ids[i : i + 500]
                n += db.execute(
                    f"DELETE FROM outbox WHERE msg_id IN ({','.join('?' * len(chunk))}) AND state IN ('pending', 'sent')",
                    chunk).rowcount
            if n:
                self._bump("confirmed", n)
        return n

    def resend_unconfirmed(self, older_than_s: float = 0.0) -> int:
        """Make sent-but-unconfirmed messages pending again (e.g. after a broker restart)."""
        with self.transaction() as db:
            n = db.execute("UPDATE outbox SET state='pending' WHERE state='sent' AND sent_at <= ?",
                           (time.time() - older_than_s,)).rowcount
        return int(n)

    def reject(self, seq: int, reason: str) -> None:
        """Keep the message, but stop publishing it; `reason` says why."""
        with self.transaction() as db:
            db.execute("UPDATE outbox SET state='rejected', error=? WHERE seq=?", (reason, seq))
            self._bump("rejected", 1)

    def retry_rejected(self) -> int:
        """Put rejected messages back in the queue (e.g. after the broker's limit was raised)."""
        with self.transaction() as db:
            n = db.execute("UPDATE outbox SET state='pending', error='' WHERE state='rejected'").rowcount
        return int(n)

    def rejected(self) -> list[tuple[str, str, int, str]]:
        """(msg_id, topic, size in bytes, reason) of every rejected message."""
        with self.lock:
            rows = self.db.execute(
                "SELECT msg_id, topic, LENGTH(payload), error FROM outbox WHERE state='rejected' ORDER BY seq"
            ).fetchall()
        return [(r[0], r[1], int(r[2]), r[3]) for r in rows]

    @property
    def depth(self) -> int:
        """Messages not yet delivered: pending or unconfirmed (cached; updated on every commit)."""
        return self._depth

    def stats(self) -> OutboxStats:
        with self.lock:
            pend = self.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE state='pending'"
            ).fetchone()
            rej = self.db.execute("SELECT COUNT(*) FROM outbox WHERE state='rejected'").fetchone()[0]
            sent = self.db.execute("SELECT COUNT(*) FROM outbox WHERE state='sent'").fetchone()[0]
            counters = dict(self.db.execute("SELECT name, value FROM outbox_counters").fetchall())
        return OutboxStats(
            pending=int(pend[0]),
            pending_bytes=int(pend[1]),
            unconfirmed=int(sent),
            rejected=int(rej),
            enqueued_total=int(counters.get("enqueued", 0)),
            acked_total=int(counters.get("acked", 0)),
            acked_bytes_total=int(counters.get("acked_bytes", 0)),
            confirmed_total=int(counters.get("confirmed", 0)),
        )

    def close(self) -> None:
        with self.lock:
            self.db.close()
