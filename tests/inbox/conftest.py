"""Fixtures of the inbox tests: a received folder from the real chain, databases on
SQLite and on a throwaway PostgreSQL server, an inbox app with users."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from badgekit.pgserver import LocalPostgres, PostgresError
from tests.inbox.chain import build_received

_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def received(tmp_path_factory, mosquitto, speech, whisper_model) -> Path:
    """A `gateway receive` output folder made once by the real chain."""
    return build_received(tmp_path_factory.mktemp("chain"), mosquitto.url, speech, whisper_model.path)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One real PostgreSQL server (Debian's packages) for the whole test session."""
    try:
        pg = LocalPostgres().start()
    except PostgresError as exc:
        pytest.fail(f"postgresql: {exc}", pytrace=False)
    yield pg
    pg.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    pg = request.getfixturevalue("postgres")
    return pg.create_database(f"inbox{next(_db_names)}")


@dataclass
class Inbox:
    engine: object
    store: object
    store_dir: Path
    url: str


@pytest.fixture
def inbox(db_url, tmp_path) -> Iterator[Inbox]:
    from inbox.db import open_db
    from inbox.store import AudioStore

    engine = open_db(db_url)
    store_dir = tmp_path / "store"
    yield Inbox(engine, AudioStore(store_dir), store_dir, db_url)
    engine.dispose()
