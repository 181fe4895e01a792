"""The badge application's BLE task: firmware/badge.py and firmware/hw/radio.py under
CPython on the bumble `bluetooth` shim (the unix port has no radio), synced by bleak on
the bumble backend over one bumble LocalLink while the badge records real speech."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from badgekit.blelink import VirtualLink
from companion.client import BadgeClient
from companion.keystore import KeyStore
from companion.link import authenticate
from companion.spool import Spool
from companion.sync import badge_status, enroll_badge, sync_badge
from companion.transport.ble import BleTransport
from tests.badge.helpers import FAKEHW, meeting_wav
from tests.badge.test_badge import _check_chain


@pytest.fixture(scope="module")
def meeting(speech, tmp_path_factory) -> Path:
    return meeting_wav(speech, tmp_path_factory.mktemp("meeting") / "meeting.wav")


@pytest.fixture
def port_shims(monkeypatch):
    """What MicroPython's `time`, `asyncio` and the badge's `machine` give, on CPython
    (the `machine` stand-in of tests/firmware/fakehw, only for this test)."""
    monkeypatch.setattr(time, "ticks_ms", lambda: int(time.monotonic() * 1000), raising=False)
    monkeypatch.setattr(time, "ticks_us", lambda: int(time.monotonic() * 1e6), raising=False)
    monkeypatch.setattr(time, "ticks_diff", lambda a, b: a - b, raising=False)
    monkeypatch.setattr(time, "ticks_add", lambda a, b: a + b, raising=False)
    monkeypatch.setattr(asyncio, "sleep_ms", lambda ms: asyncio.sleep(ms / 1000), raising=False)
    spec = importlib.util.spec_from_file_location("machine", FAKEHW / "machine.py")
    assert spec is not None and spec.loader is not None
    machine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(machine)
    monkeypatch.setitem(sys.modules, "machine", machine)
    for name in [n for n in sys.modules if n.startswith("firmware.badge")]:
        monkeypatch.delitem(sys.modules, name)
    from badgekit.sim import bluetooth_shim

    bluetooth_shim.install()
    return machine


class _LoopMic:
    def __init__(self, path: Path) -> None:
        from firmware.hw.mic import WavMic

        self.path, self.mk = path, WavMic
        self.m = WavMic(str(path))

    def readinto(self, buf) -> int:
        n = self.m.readinto(buf)
        if n <= 0:
            self.m.close()
            self.m = self.mk(str(self.path))
            n = self.m.readinto(buf)
        return n

    def close(self) -> None:
        self.m.close()


async def _until(cond, timeout_s: float = 30, what: str = "condition") -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_the_ble_task_serves_sync_while_recording(tmp_path, meeting, port_shims):
    from badgekit.sim import bluetooth_shim
    from firmware import badge, badgetasks

    link = VirtualLink()
    comp = link.add_device("companion")
    dev = link.add_device("BK-BLE01")
    await comp.power_on()
    await dev.power_on()
    b = badge.Badge(badge_id="BK-BLE01", rev="A", store_dir=str(tmp_path / "store"),
                    state_dir=str(tmp_path / "state"), mic=lambda: _LoopMic(meeting),
                    serial=None, ble=bluetooth_shim.BLE(dev), frame_us=5000, wdt_ms=0).boot()
    assert b.errors == {}
    task = asyncio.create_task(badgetasks.serve(b))
    addr = str(dev.public_address).split("/")[0]
    ks = KeyStore(tmp_path / "keys.json")
    try:
        await _until(lambda: "ble" in b.running and b.radio is not None, what="the BLE task")
        async with BleTransport(addr, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b-01", agent="agent-zhao", set_time=False)
        async with BleTransport(addr, bumble_device=comp) as t, BadgeClient(t) as c:
            await authenticate(c, ks, "b-01")
            await c.set_config({"max_clip_s": 10})  # the companion sets the clip length
        await _until(lambda: b.sess.recorder_opts["max_clip_ms"] == 10000, what="config applied")
        gpio = 17  # rev A's button (hardware/pinmap.json)
        port_shims.Pin.levels[gpio] = 0
        await asyncio.sleep(0.15)
        port_shims.Pin.levels[gpio] = 1
        await _until(lambda: b.sess.recording, what="the session to start")
        await _until(lambda: b.store.status()["clips"]["closed"] >= 1, what="a clip")
        frames = b.frames
        async with BleTransport(addr, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b-01")
        assert rep.ok and rep.synced >= 1, rep
        assert b.sess.recording and b.frames > frames  # recording went on during the sync
        sides = _check_chain(tmp_path / "spool", "BK-BLE01")
        assert {s["session"] for s in sides} == {b.sess.session}
        async with BleTransport(addr, bumble_device=comp) as t:
            info = await badge_status(t, ks, "b-01")
        assert info["recording"]["state"] == "recording" and info["ble"] == "on"
        assert b.radio.stats["notifications"] > 0 and b.tasks["ble"]["restarts"] == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        b.shutdown()
        await comp.power_off()
        await dev.power_off()
