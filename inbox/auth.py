"""Accounts, API tokens and login back-off.

Passwords are hashed with Argon2id (argon2-cffi, memory-hard). API tokens are random,
shown once, and stored only as their SHA-256. After `FREE_FAILURES` wrong passwords for
a name (known or not, so the answer never tells which names exist) each further attempt
waits twice as long as the one before, up to `MAX_LOCK_S`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, select

from inbox.errors import InboxError
from inbox.schema import login_failures, tokens, users

__all__ = ["ROLES", "LoginLocked", "User", "add_user", "check_password", "create_token", "reset_password",
           "user_by_id", "user_by_token"]

ROLES = ("reviewer", "supervisor", "admin")
FREE_FAILURES = 3
MAX_LOCK_S = 900.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_hasher = PasswordHasher()


class LoginLocked(InboxError):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"too many failed logins; try again in {int(wait_s) + 1} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    tenant: str
    branches: tuple[str, ...]
    """Empty: every branch of the tenant."""

    @property
    def can_decide_again(self) -> bool:
        return self.role in ("supervisor", "admin")

    @property
    def sees_dashboards(self) -> bool:
        return self.role in ("supervisor", "admin")


def _user(row) -> User:  # type: ignore[no-untyped-def]
    branches = tuple(b for b in row.branches.split(",") if b)
    return User(row.id, row.name, row.role, row.tenant, branches)


def add_user(engine: Engine, name: str, role: str, tenant: str, branches: list[str], password: str) -> User:
    if not _NAME.fullmatch(name):
        raise InboxError(f"user name {name!r}: letters, digits, . _ @ - (at most 64)")
    if role not in ROLES:
        raise InboxError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < 8:
        raise InboxError("the password must have at least 8 characters")
    if not tenant or any("," in b or not b for b in branches):
        raise InboxError("--tenant and each --branch must be non-empty (no commas)")
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first():
            raise InboxError(f"user {name!r} exists already")
        conn.execute(users.insert().values(name=name, role=role, tenant=tenant, branches=",".join(branches),
                                           password_hash=_hasher.hash(password),
                                           created_at=datetime.now(UTC).replace(tzinfo=None)))
        return _user(conn.execute(select(users).where(users.c.name == name)).one())


def reset_password(engine: Engine, name: str, password: str, role: str, tenant: str) -> None:
    """Set a user's password, making the user (of all branches) if it does not exist."""
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first():
            conn.execute(users.update().where(users.c.name == name).values(password_hash=_hasher.hash(password)))
            conn.execute(delete(login_failures).where(login_failures.c.name == name))
            return
    add_user(engine, name, role, tenant, [], password)


def user_by_id(conn: Connection, uid: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == uid)).first()
    return _user(row) if row else None


def create_token(engine: Engine, name: str) -> str:
    token = "bk_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if uid is None:
            raise InboxError(f"no user {name!r}")
        conn.execute(tokens.insert().values(user_id=uid, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                                            created_at=datetime.now(UTC).replace(tzinfo=None)))
    return token


def user_by_token(conn: Connection, token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = conn.execute(select(users).join(tokens, tokens.c.user_id == users.c.id)
                       .where(tokens.c.token_sha256 == digest)).first()
    return _user(row) if row else None


def check_password(engine: Engine, name: str, password: str, now: float | None = None) -> User | None:
    """The user for a right password, None for a wrong one; LoginLocked while backing off."""
    now = time.time() if now is None else now
    name = name[:64]
    with engine.begin() as conn:
        fail = conn.execute(select(login_failures).where(login_failures.c.name == name)).first()
        if fail and fail.locked_until > now:
            raise LoginLocked(fail.locked_until - now)
        row = conn.execute(select(users).where(users.c.name == name)).first()
        ok = False
        if row is not None:
            try:
                ok = _hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher.hash(password)  # the same work for an unknown name
        if ok:
            conn.execute(delete(login_failures).where(login_failures.c.name == name))
            return _user(row)
        n = (fail.failures if fail else 0) + 1
        lock = now + min(2.0 ** (n - FREE_FAILURES), MAX_LOCK_S) if n >= FREE_FAILURES else 0.0
        if fail:
            conn.execute(login_failures.update().where(login_failures.c.name == name)
                         .values(failures=n, locked_until=lock))
        else:
            conn.execute(login_failures.insert().values(name=name, failures=n, locked_until=lock))
        return None
