"""The badge application end to end: firmware/badge.py under the real MicroPython unix
port, real speech into the mic, the real store on a block device, sync over a pty with
the real companion, a reset mid-meeting, and missing hardware."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.client import BadgeClient
from companion.keystore import KeyStore
from companion.link import authenticate
from companion.spool import Spool
from companion.sync import badge_status, enroll_badge, sync_badge
from companion.transport.serial import SerialTransport
from firmware.clips import fmt as clipfmt
from firmware.clips import mac as clipmac
from tests.badge.helpers import BadgeProc, meeting_wav, wait_for

BRANCH = "b-sh-01"


@pytest.fixture(scope="module")
def meeting(speech, tmp_path_factory) -> Path:
    return meeting_wav(speech, tmp_path_factory.mktemp("meeting") / "meeting.wav")


async def _sync(port: str, spool: Spool, ks: KeyStore):
    async with SerialTransport(port) as t:
        return await sync_badge(t, spool, ks, branch=BRANCH)


async def _logs(port: str, ks: KeyStore) -> list[dict]:
    async with SerialTransport(port) as t, BadgeClient(t) as c:
        await authenticate(c, ks, BRANCH)
        return await c.logs()


def _spooled(spool_dir: Path) -> dict[str, dict]:
    return {p.name[:-5]: json.loads(p.read_text()) for p in spool_dir.glob("*/*/*.json")
            if not p.name.endswith(".custody.json")}


def _check_chain(spool_dir: Path, badge: str, ks: KeyStore | None = None) -> list[dict]:
    """Every spooled clip of ``badge`` verifies, and the chain has no gap from seq 0; with
    the key store, every clip (recorded after enrollment) is sealed by the badge."""
    sides = sorted(_spooled(spool_dir).values(), key=lambda s: s["seq"])
    assert [s["seq"] for s in sides] == list(range(len(sides)))
    key = ks.get(badge) if ks is not None else None
    prev = clipfmt.ZERO_HASH
    for s in sides:
        wav = next(spool_dir.glob(f"{badge}/*/{s['clip_id']}.wav"))
        with open(wav, "rb") as f:
            res = clipmac.verify_wav(f, clipmac.clip_key_of(key.secret) if key else None,
                                     prev_sha256=prev, expect_sha256=s["sha256"])
        if key is not None:
            assert (res.status, s["auth"], s["format_version"]) == ("authenticated",) * 2 + (2,)
        prev = s["sha256"]
    return sides


async def test_records_speech_syncs_while_recording_and_resumes_after_a_reset(
        tmp_path, meeting, micropython):
    ks = KeyStore(tmp_path / "keys.json")
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    work = tmp_path / "badge"
    b = BadgeProc(work, wav=meeting)
    try:
        first = b.first["status"]
        assert first["errors"] == [] and first["recording"]["state"] == "idle"
        assert first["ble"].startswith("off: no bluetooth")  # unix port: no radio task
        assert "ble" not in b.status()["running"] and "usb" in b.status()["running"]
        assert not b.status()["mic_powered"]  # privacy: the mic is off while idle
        async with SerialTransport(b.port) as t:
            await enroll_badge(t, ks, branch=BRANCH, agent="agent-wang")

        b.press(100)  # a short press starts a meeting
        st = wait_for(lambda: (s := b.status())["store"]["clips"]["closed"] >= 2 and s,
                      what="two clips recorded")
        session = st["recording"]["session"]
        assert st["recording"]["state"] == "recording" and st["mic_powered"]
        assert st["led_state"] == "recording" and st["led_gpio_writes"] > 0
        assert st["mic"]["code"] == "ok"

        frames = st["recording"]["frames"]
        rep = await _sync(b.port, spool, ks)  # the companion syncs; the badge keeps recording
        assert rep.ok and rep.synced >= 2, rep
        after = b.status()
        assert after["recording"]["state"] == "recording"
        assert after["recording"]["session"] == session and after["errors"] == []
        assert after["recording"]["frames"] > frames
        sides = _check_chain(spool_dir, "BK-TEST01", ks)
        assert {s["session"] for s in sides} == {session}
        assert all(s["samples"] > 16000 for s in sides)  # real speech, not blips
        async with SerialTransport(b.port) as t:  # what the branch tool sees
            info = await badge_status(t, ks, BRANCH)
        assert info["recording"]["state"] == "recording" and info["recording"]["session"] == session
        assert info["mic"]["code"] == "ok" and info["led"] == "recording"
        assert info["errors"] == [] and info["agent"] == "agent-wang"

        # a crash of the recording task is logged and the task restarted
        b.cmd("crash")
        st = wait_for(lambda: (s := b.status())["tasks"]["rec"]["restarts"] == 1 and s,
                      what="the recording task restarted")
        assert "injected fault" in st["tasks"]["rec"]["error"]
        frames = st["recording"]["frames"]
        wait_for(lambda: b.status()["recording"]["frames"] > frames, what="recording again")
        st = b.status()
        assert st["recording"]["session"] == session and st["recording"]["state"] == "recording"
        events = await _logs(b.port, ks)
        crash = [e for e in events if e.get("event") == "task_crash"]
        assert crash and crash[0]["task"] == "rec"

        # a reset (power cut) mid-clip, then the badge boots again
        wait_for(lambda: b.status()["store_open_clip"], what="a clip being written")
        b.kill()
        b = BadgeProc(work, wav=meeting)
        st = b.first["status"]
        assert st["recording"]["state"] == "recording" and st["recording"]["resumed"]
        assert st["recording"]["session"] == session
        assert st["store"]["clips"]["recovered"] >= 1  # the clip cut by the reset, closed
        n = st["store"]["next_seq"]
        wait_for(lambda: b.status()["store"]["next_seq"] >= n + 2, what="clips after the reset")
        rep = await _sync(b.port, spool, ks)
        assert rep.ok and rep.synced >= 2, rep
        sides = _check_chain(spool_dir, "BK-TEST01", ks)  # sealed at boot recovery too
        assert {s["session"] for s in sides} == {session}  # one meeting across the reset
        assert any(s["recovered"] for s in sides)
        resumed = [s for s in sides if s["seq"] >= n]
        assert resumed and all(s["session_offset_samples"] > 0 for s in resumed)

        b.press(1000)  # a long press ends the meeting
        st = wait_for(lambda: (s := b.status())["recording"]["state"] == "idle" and s,
                      what="the session to stop")
        assert st["recording"]["stop_reason"] == "button" and not st["mic_powered"]
        assert b.alive
    finally:
        b.kill()


async def test_a_full_store_stops_the_session_with_an_error_until_synced(
        tmp_path, meeting, micropython):
    ks = KeyStore(tmp_path / "keys.json")
    with BadgeProc(tmp_path / "badge", wav=meeting, blocks=64) as b:  # 256 KiB of flash
        async with SerialTransport(b.port) as t:
            await enroll_badge(t, ks, branch=BRANCH, agent="agent-li")
        b.press(100)
        st = wait_for(lambda: (s := b.status())["recording"]["stop_reason"] and s,
                      timeout_s=40, what="the store to fill up")
        assert st["recording"]["stop_reason"] == "storage_error"
        assert st["recording"]["state"] == "idle"
        assert st["led_state"] == "error" and not st["mic_powered"]
        assert any("store full" in e for e in st["errors"]) and b.alive
        rep = await _sync(b.port, Spool(tmp_path / "spool"), ks)  # the branch takes the clips
        assert rep.ok and rep.synced >= 1
        _check_chain(tmp_path / "spool", "BK-TEST01")
        b.press(100)  # room again: a new meeting starts
        st = wait_for(lambda: (s := b.status())["recording"]["state"] == "recording" and s,
                      what="recording again")
        assert st["led_state"] == "recording"


@pytest.mark.parametrize("mic", ["dead", "none"])
async def test_a_missing_or_dead_mic_is_an_error_not_a_crash(tmp_path, mic, micropython):
    with BadgeProc(tmp_path / "badge", mic=mic) as b:
        b.press(100)
        st = wait_for(lambda: (s := b.status())["errors"] and s, what="a mic error")
        assert st["mic"]["code"] == "error"
        assert any(e.startswith("mic: ") for e in st["errors"])
        assert st["led_state"] == "error"
        assert b.alive and st["recording"]["state"] == "recording"  # it keeps trying
        async with SerialTransport(b.port) as t:  # the companion still sees why
            info = await badge_status(t, KeyStore(tmp_path / "k.json"))
        assert info["mic"]["code"] == "error" and any("mic" in e for e in info["errors"])
        events = [e["event"] for e in b.status()["events"]]
        assert "error" in events and "task_crash" not in events


async def test_no_sd_card_gives_an_error_and_refuses_to_record(tmp_path, micropython):
    # board revision B stores on a microSD card; the stand-in machine has none
    with BadgeProc(tmp_path / "badge", rev="B", flash=False) as b:
        st = b.first["status"]
        assert any(e.startswith("store: no microSD card") for e in st["errors"])
        b.press(100)
        st = wait_for(lambda: (s := b.status()) and "start_refused" in
                      [e["event"] for e in s["events"]] and s, what="the press refused")
        assert st["led_state"] == "error" and st["recording"]["state"] == "unavailable"
        async with SerialTransport(b.port) as t:
            info = await badge_status(t, KeyStore(tmp_path / "k.json"))
        assert any("microSD" in e for e in info["errors"])
        assert b.alive


def test_button_held_at_power_on_is_maintenance_mode(tmp_path, micropython):
    with BadgeProc(tmp_path / "badge", hold_button=True) as b:
        assert b.first == {"maintenance": True}
        b.proc.wait(10)
        assert b.proc.returncode == 0


def test_main_starts_the_badge_only_as_the_boot_script(micropython):
    code = """
import firmware.main as m
from firmware import badge
calls = []
def fake_main():
    calls.append(1)
    raise KeyboardInterrupt
badge.main = fake_main
print('imported', calls)
m.run()
print('after', calls)
"""
    out = micropython(code=code).stdout.decode()
    assert "imported []" in out  # importing it (the self-test does) starts nothing
    assert "KeyboardInterrupt" in out and "after [1]" in out


def test_deploy_installs_main_py(tmp_path):
    from hardware.deploy import deploy_argv

    argv = deploy_argv("/dev/ttyACM0", tmp_path, "B")
    i = argv.index(":main.py")
    assert argv[i - 1] == str(tmp_path / "main.py") and argv[i - 3:i - 1] == ["fs", "cp"]
    assert argv.index(":main.py") < argv.index("soft-reset")


def test_store_medium_is_formatted_only_when_it_holds_no_littlefs(micropython):
    code = """
import json
from firmware.hw import storage
from firmware.ramdisk import RAMBlockDev
out = {}
blank = RAMBlockDev(4096, 32)
out['blank'] = storage.mount({}, blank, '/m1').formatted
again = storage.mount({}, blank, '/m1').formatted  # a second boot: mounts, no format
out['again'] = again
broken = RAMBlockDev(4096, 32)
import vfs
vfs.VfsLfs2.mkfs(broken)
for b in (0, 1):  # both superblock copies damaged after the name: no longer mounts
    for i in range(16, 64):
        broken.data[b * 4096 + i] ^= 0x5A
before = bytes(broken.data)
try:
    storage.mount({}, broken, '/m2')
    out['broken'] = 'mounted'
except storage.StorageError as e:
    out['broken'] = str(e)
out['untouched'] = bytes(broken.data) == before
print(json.dumps(out))
"""
    out = json.loads(micropython(code=code).stdout.decode().strip().splitlines()[-1])
    assert out["blank"] is True and out["again"] is False
    assert "does not mount" in out["broken"] and out["untouched"]
