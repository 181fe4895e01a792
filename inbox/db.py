"""Open the inbox database (SQLite file or PostgreSQL URL) and bring its schema up to date.

    engine = open_db("sqlite:///inbox.db")          # or "postgresql://user@host/db"
    with engine.begin() as conn: ...

`open_db` runs the Alembic migrations (`inbox/migrations`) to the newest revision, under
a lock on PostgreSQL so several inbox processes starting at once migrate only once.
SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL URLs use psycopg 3.
"""

from __future__ import annotations

import os
import secrets as _secrets
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from inbox.errors import InboxError
from inbox.schema import secrets

__all__ = ["default_db_url", "migrate", "open_db", "secret"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 7_282_028  # advisory lock id held while migrating


def default_db_url(store: Path) -> str:
    return f"sqlite:///{Path(store) / 'inbox.db'}"


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_db(url: str, migrate_schema: bool = True) -> Engine:
    """An engine for `url` with the schema at the newest migration."""
    try:
        parsed = make_url(_normalise(url))
    except ArgumentError:
        raise InboxError(f"--db {url!r} is not a database URL (sqlite:///FILE or postgresql://…)") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InboxError(f"--db: only sqlite and postgresql are supported, not {parsed.get_backend_name()}")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # transcripts, custody records and the session key: 0600 (SQLite gives its WAL the same)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # transactions begin below, not in the driver
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            # Take the write lock up front: two requests that read an audit chain's tail and
            # then append cannot interleave (a deferred transaction would fail on upgrade).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    if migrate_schema:
        try:
            migrate(engine)
        except OperationalError as exc:
            raise InboxError(f"cannot open the database {parsed.render_as_string(hide_password=True)}: "
                             f"{str(exc.orig).strip().splitlines()[0]}") from None
    return engine


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def secret(engine: Engine, name: str) -> str:
    """A random secret kept in the database, made once and shared by every inbox process."""
    with engine.begin() as conn:
        row = conn.execute(select(secrets.c.value).where(secrets.c.name == name)).first()
        if row:
            return str(row[0])
    value = _secrets.token_urlsafe(48)
    try:
        with engine.begin() as conn:
            conn.execute(secrets.insert().values(name=name, value=value))
    except IntegrityError:  # another process made it first
        pass
    with engine.begin() as conn:
        return str(conn.execute(select(secrets.c.value).where(secrets.c.name == name)).scalar_one())
