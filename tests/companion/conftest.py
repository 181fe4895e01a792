"""Fixtures for the companion tests: an isolated companion home and a tray of sim badges."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.companion.simbadge import SimBadge, make_clips


class Companion:
    """The companion CLI (typer's runner) with its own config, data and key store."""

    def __init__(self, home: Path, branch: str = "branch-01") -> None:
        self.home = home
        self.env = {
            "BADGEKIT_CONFIG": str(home / "cfg"),
            "BADGEKIT_DATA": str(home / "data"),
            "BADGEKIT_COMPANION_SETTINGS": str(home / "cfg" / "companion.toml"),
            "BADGEKIT_KEYSTORE": str(home / "cfg" / "keystore.json"),
        }
        (home / "cfg").mkdir(parents=True, exist_ok=True)
        (home / "cfg" / "companion.toml").write_text(f"[branch]\nid = '{branch}'\n")
        self.spool = home / "spool"

    def __call__(self, *args: str):
        from companion.cli import app

        return CliRunner().invoke(app, list(args), env=self.env)

    def subprocess_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env


@pytest.fixture
def companion(tmp_path) -> Companion:
    return Companion(tmp_path / "pc1")


@pytest.fixture
def tray(tmp_path) -> Iterator[Callable[..., SimBadge]]:
    """``tray(badge_id, clips=3, blocks_each=20, ble=False)`` starts a simulated badge on a
    pty (or, with ``ble``, on its own bumble link reached through ``badge.hci``)."""
    made: list[SimBadge] = []

    def start(badge: str, clips: int = 3, blocks_each: int = 20, ble: bool = False) -> SimBadge:
        folder = tmp_path / f"clips-{badge}"
        make_clips(folder, badge, clips, blocks_each)
        b = SimBadge(folder, *(["--ble"] if ble else []))
        made.append(b)
        return b

    yield start
    for b in made:
        b.kill()
