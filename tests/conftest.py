"""Fixtures that give every test the real parts (DESIGN.md, "Real parts in tests").

A fixture whose part is missing fails with the same one-line fix that
`badgekit doctor` prints; nothing here skips silently.
"""

from __future__ import annotations

import hashlib
import os
import re
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from badgecore import mpy
from badgekit import doctor
from badgekit.broker import LocalBroker

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BADGEKIT_SHARED", REPO.parent / "shared"))
SPEECH_DIR = SHARED / "data" / "speech"


def _require(name: str) -> None:
    c = doctor.check(name)
    if not c.ok:
        pytest.fail(f"{name} missing: {c.detail}; fix: {c.fix}", pytrace=False)


@pytest.fixture(scope="session")
def micropython():
    """Run firmware code under the real MicroPython unix port: `micropython(code=...)`."""
    _require("micropython")
    return mpy.run


@pytest.fixture(scope="session")
def mpy_cross():
    """Compile a module for the ESP32-S3: `mpy_cross(path, out)`."""
    _require("mpy-cross")
    return mpy.cross_compile


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory) -> Iterator[LocalBroker]:
    """One real Mosquitto broker on a free loopback port for the whole test session."""
    _require("mosquitto")
    broker = LocalBroker(workdir=tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def broker_factory(tmp_path):
    """Start extra brokers (TLS, ACL, size limits, restarts); all are stopped afterwards."""
    _require("mosquitto")
    made: list[LocalBroker] = []

    def make(**kwargs) -> LocalBroker:
        n = len(made)
        b = LocalBroker(workdir=kwargs.pop("workdir", tmp_path / f"broker{n}"), **kwargs)
        made.append(b)
        return b.start()

    yield make
    for b in made:
        b.close()


@pytest.fixture
async def ble_link():
    """A bumble `LocalLink` with two virtual controllers: (link, device_a, device_b)."""
    from badgekit.blelink import VirtualLink

    link = VirtualLink()
    a = link.add_device("badge")
    b = link.add_device("companion")
    await a.power_on()
    await b.power_on()
    yield link, a, b


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A raw pty pair: (master fd, slave device path)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    name = os.ttyname(slave)
    try:
        yield master, name
    finally:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="session")
def whisper_model():
    """The installed speech model (verified by sha256)."""
    from gateway.model import ModelError, install

    try:
        return install()
    except ModelError as exc:
        pytest.fail(f"speech model: {exc}; fix: badgekit model install", pytrace=False)


def _manifest_hashes() -> dict[str, str]:
    text = (SHARED / "data" / "MANIFEST.md").read_text()
    return {m.group(2): m.group(1) for m in re.finditer(r"^\s*([0-9a-f]{64})\s+(\S+\.wav)\s*$", text, re.M)}


@pytest.fixture(scope="session")
def speech() -> dict[str, Path]:
    """The real speech recordings of ../shared/data/speech, each checked against MANIFEST.md."""
    if not SPEECH_DIR.is_dir():
        pytest.fail(f"speech recordings not found at {SPEECH_DIR}; put ../shared beside the repo "
                    "or set BADGEKIT_SHARED", pytrace=False)
    hashes = _manifest_hashes()
    out = {}
    for name, want in hashes.items():
        path = SPEECH_DIR / name
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != want:
            pytest.fail(f"{path} has sha256 {got}, MANIFEST.md says {want}", pytrace=False)
        out[path.stem] = path
    return out


@pytest.fixture(scope="session")
def speech_transcripts() -> dict[str, str]:
    """Reference transcripts from MANIFEST.md (only the verified ones)."""
    text = (SHARED / "data" / "MANIFEST.md").read_text()
    out = {}
    for m in re.finditer(r"^\|\s*(\S+)\.wav\s*\|[^|]*\|[^|]*\|\s*([^|]+?)\s*\|", text, re.M):
        ref = m.group(2)
        if "no verified" not in ref:
            out[m.group(1)] = ref
    return out
