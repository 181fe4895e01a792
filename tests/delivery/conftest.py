"""Fixtures for the delivery tests: spools written by the real clip writer, clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.delivery import BrokerSettings, Outbox, Publisher, PublisherSettings


@pytest.fixture
def make_publisher(tmp_path):
    """`make_publisher(broker_settings, **PublisherSettings kwargs)`; stopped afterwards."""
    made: list[Publisher] = []

    def make(broker: BrokerSettings, db: Path | None = None, start: bool = True, **kw) -> Publisher:
        kw.setdefault("tenant", "acme")
        kw.setdefault("branch", "sh01")
        kw.setdefault("gateway_id", f"gw{len(made)}")
        pub = Publisher(broker, PublisherSettings(**kw), Outbox(db or tmp_path / f"pub{len(made)}.db"))
        made.append(pub)
        if start:
            pub.start()
        return pub

    yield make
    for p in made:
        p.stop()
        p.outbox.close()
