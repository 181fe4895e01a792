"""Fixtures of the firmware-update tests: signed bundles (keys made in a temporary
folder), a meeting of real speech for the badge's mic, settings for a companion."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.badge.helpers import meeting_wav
from tests.update.helpers import Releases


@pytest.fixture(scope="session")
def releases(tmp_path_factory, mpy_cross) -> Releases:
    return Releases(tmp_path_factory.mktemp("releases"))


@pytest.fixture(scope="session")
def update_meeting(speech, tmp_path_factory) -> Path:
    return meeting_wav(speech, tmp_path_factory.mktemp("meeting") / "meeting.wav")


@pytest.fixture
def companion_settings(tmp_path):
    """A settings file for branch b-up-01 with short timeouts (a silent badge fails fast)."""
    p = tmp_path / "companion.toml"
    p.write_text('[branch]\nid = "b-up-01"\n\n[scan]\nconnect_timeout_s = 5.0\nble = false\n'
                 'serial = false\n', encoding="utf-8")
    return p
