"""A throwaway PostgreSQL server from Debian's packages, for tests and benchmarks.

`LocalPostgres().start()` makes a cluster in a new temporary folder owned by the
`postgres` user (PostgreSQL refuses to run as root), starts it on a free loopback port
with `runuser -u postgres --` when run as root, and `close()` stops it and removes the
folder. `url(dbname)` is a SQLAlchemy URL; `create_database(name)` makes an empty one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from badgekit.broker import free_port

__all__ = ["FIX_POSTGRES", "LocalPostgres", "PostgresError"]

FIX_POSTGRES = "sudo apt-get install -y postgresql (or run script/bootstrap)"


class PostgresError(RuntimeError):
    """PostgreSQL is missing or did not start."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresError(f"initdb not found; fix: {FIX_POSTGRES}")
    return Path(found[-1]).parent


class LocalPostgres:
    def __init__(self) -> None:
        self.bin = _bindir()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.dir: Path | None = None
        self._as: list[str] = []

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
        return proc

    def start(self) -> LocalPostgres:
        self.dir = Path(tempfile.mkdtemp(prefix="badgekit-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses={self.host} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        if self.dir is None:
            return
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        except PostgresError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
