"""Firmware updates over the pty: the badge (boot loader + badge application of the chosen
slot) under the real MicroPython unix port, the real companion, real signed bundles.

A good update with clips on the badge; every bad bundle refused by the badge itself with
one line and the badge unchanged; a power cut mid-transfer resumed; a firmware that fails
its self-test and one that cannot start, both rolled back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from badgekit.cli import app
from companion.errors import BadgeReplyError
from companion.keystore import KeyStore
from companion.link import Target, connect
from companion.settings import load
from companion.sync import enroll_badge, sync_badge
from companion.transport.serial import SerialTransport
from companion.update import read_bundle, update_one
from firmware.sync import fwsync
from tests.badge.test_badge import _check_chain
from tests.update.helpers import FwBadge

BRANCH = "b-up-01"


def _enroll(b: FwBadge, ks: Path) -> None:
    async def go() -> None:
        async with SerialTransport(b.port) as t:
            await enroll_badge(t, KeyStore(ks), branch=BRANCH, agent="agent-li")

    asyncio.run(go())


def _cli(args: list[str], settings: Path, ks: Path):
    return CliRunner().invoke(app, ["companion", "update", *args, "--settings", str(settings),
                                    "--keystore", str(ks)])


async def _push_raw(b: FwBadge, settings: Path, ks: Path, data: bytes, upto: int | None = None,
                    sha: str | None = None) -> dict:
    """Push bytes as a bundle with no companion-side check (what an attacker on the link
    with the branch's key store could send); returns the commit reply or raises."""
    s = load(settings)
    async with connect(Target("serial", b.port, None, str(ks)), s) as sess:
        c = sess.client
        r = await c.request(fwsync.FW_BEGIN, {"size": len(data), "sha256": sha or hashlib.sha256(
            data).hexdigest(), "version": "9.9.9"})
        off = r["offset"]
        end = len(data) if upto is None else upto
        while off < end:
            chunk = data[off:min(end, off + 508)]
            off = (await c.request_bytes(fwsync.FW_DATA, struct.pack("<I", off) + chunk))["offset"]
        return await c.request(fwsync.FW_COMMIT, {}, timeout_s=60)


def _clips(st: dict) -> int:
    return st["store"]["clips"]["closed"]


def test_update_over_serial_keeps_clips_and_refuses_every_bad_bundle(
        tmp_path, releases, update_meeting, companion_settings):
    ks = tmp_path / "keys.json"
    good = releases.bundle("0.2.0")
    with FwBadge(tmp_path / "badge", releases.public, wav=update_meeting) as b:
        first = b.wait_boots(1)
        assert first["firmware"] == {"version": "0.1.0", "slot": "factory", "state": "confirmed",
                                     "last": None}
        _enroll(b, ks)
        b.press(100)  # a meeting starts: an update must wait for its end
        while b.status()["recording"]["state"] != "recording":
            pass
        r = _cli(["--bundle", str(good), "--port", b.port], companion_settings, ks)
        assert r.exit_code == 1 and "recording a meeting" in r.output, r.output
        b.press(900)
        st = b.record() if not _clips(b.status()) else b.status()
        before = st["store"]["clips"]["closed"]
        assert before >= 1
        keys = {p.name: p.read_bytes() for p in (tmp_path / "badge" / "state").glob("*.json")
                if p.name in ("keys.json", "session.json")}

        r = _cli(["--bundle", str(good), "--port", b.port, "--pubkey", str(releases.pub_path),
                  "--json"], companion_settings, ks)
        assert r.exit_code == 0, r.output
        res = json.loads(r.stdout)["badges"][0]
        assert res["outcome"] == "updated" and res["before"] == "0.1.0" and res["after"] == "0.2.0"
        assert res["state"] == "confirmed" and res["verify_ms"] is not None
        assert len(b.boots) == 2 and b.boots[1]["slot"] == "a"
        st = b.status()
        assert st["firmware"]["version"] == "0.2.0" and st["firmware"]["state"] == "confirmed"
        assert _clips(st) == before  # recording, clips and keys untouched by the update
        assert keys and all((tmp_path / "badge" / "state" / n).read_bytes() == v
                            for n, v in keys.items())
        events = [e["event"] for e in st["events"]]
        assert {"fw_update_start", "fw_updated", "fw_trial", "fw_confirmed"} <= set(events)

        # the badge refuses each of these itself; nothing changes, no reboot
        record = (b.root / "fw" / "boot.json").read_bytes()
        few = releases.few_files()  # refused before anything is installed: a short bundle
        tampered = bytearray(releases.bundle("0.3.0", files=few).read_bytes())
        tampered[len(tampered) - 300] ^= 0x01  # one byte in the last file
        cases = [
            (bytes(tampered), "does not match its hash"),
            (releases.bundle("0.3.0", key=releases.other_key, files=few).read_bytes(),
             "signature does not verify"),
            (releases.bundle("0.1.9", files=few).read_bytes(), "not newer than the running 0.2.0"),
            (releases.bundle("0.2.0", files=few).read_bytes(), "not newer than the running 0.2.0"),
            (releases.bundle("0.3.0", hw=["C"], files=few).read_bytes(), "hardware revision C"),
            (releases.bundle("0.3.0", arch="xtensawin", files=few).read_bytes(),
             "built for xtensawin"),
            (releases.bundle("0.3.0", min_version="0.2.1", files=few).read_bytes(),
             "needs at least"),
            (os.urandom(3000), "not a firmware bundle"),
        ]
        for payload, why in cases:
            with pytest.raises(BadgeReplyError) as e:
                asyncio.run(_push_raw(b, companion_settings, ks, payload))
            assert why in e.value.badge_message, e.value.badge_message
        with pytest.raises(BadgeReplyError) as e:  # a transfer that stops half way
            asyncio.run(_push_raw(b, companion_settings, ks, cases[1][0], upto=2000))
        assert "incomplete" in e.value.badge_message
        with pytest.raises(BadgeReplyError) as e:  # bytes changed on the way
            asyncio.run(_push_raw(b, companion_settings, ks, cases[1][0], sha="0" * 64))
        assert "differs from the one announced" in e.value.badge_message
        assert (b.root / "fw" / "boot.json").read_bytes() == record
        assert len(b.boots) == 2 and b.status()["firmware"]["version"] == "0.2.0"
        assert not (b.root / "fw" / "b").exists()

        # the companion refuses an older bundle before sending anything
        r = _cli(["--bundle", str(releases.bundle("0.1.9")), "--port", b.port],
                 companion_settings, ks)
        assert r.exit_code == 1 and "downgrade refused" in r.output
        r = _cli(["--bundle", str(tmp_path / "nope.bkfw"), "--port", b.port], companion_settings, ks)
        assert r.exit_code == 2 and r.output.count("error:") == 1  # a missing file: bad input

        # a good newer release pushed with no companion around to confirm it: the badge
        # reboots into it on trial, and the first sync confirms it
        asyncio.run(_push_raw(b, companion_settings, ks, releases.bundle("0.3.0").read_bytes()))
        b.wait_boots(3)
        fw = b.status()["firmware"]
        assert (fw["version"], fw["state"], fw["boots_left"]) == ("0.3.0", "trial", 2)

        async def sync() -> object:
            async with SerialTransport(b.port) as t:
                return await sync_badge(t, __import__("companion.spool").spool.Spool(
                    tmp_path / "spool"), KeyStore(ks), branch=BRANCH)

        rep = asyncio.run(sync())
        assert rep.ok and rep.synced == before  # no clip lost, every one verifies
        _check_chain(tmp_path / "spool", "BK-UPD01")
        fw = b.status()["firmware"]
        assert (fw["version"], fw["state"]) == ("0.3.0", "confirmed")


def test_power_cut_mid_transfer_resumes_from_the_badges_offset(tmp_path, releases,
                                                                companion_settings):
    ks = tmp_path / "keys.json"
    b_file = read_bundle(releases.bundle("0.2.0"))
    with FwBadge(tmp_path / "badge", releases.public) as b:
        b.wait_boots(1)
        _enroll(b, ks)
        cut = {"done": False}

        def progress(key: str, done: int, total: int, phase: str) -> None:
            if not cut["done"] and done > total // 2:
                cut["done"] = True
                b.power_cut()  # mid-transfer, the badge loses power
                b.power_on()

        s = load(companion_settings)
        res = asyncio.run(update_one(s, Target("serial", b.port, None, str(ks)), b_file, progress))
        assert res.outcome == "updated", res.message
        assert res.reconnects >= 1 and res.events, res.events
        assert 0 < res.sent_bytes < 1.6 * len(b_file.data)  # resumed, not sent again whole
        assert b.status()["firmware"]["version"] == "0.2.0"


def test_firmware_failing_its_selftest_or_not_starting_is_rolled_back(tmp_path, releases,
                                                                       companion_settings):
    ks = tmp_path / "keys.json"
    broken = releases.bundle("0.2.0", files=releases.broken_files(
        "broken.py", 'raise ImportError("a module of this release is broken")\n'),
        name="broken-selftest.bkfw")
    dead = releases.bundle("0.2.1", files=releases.broken_files(
        "badge.py", 'raise RuntimeError("this release cannot start")\n'), name="dead.bkfw")
    s = load(companion_settings)
    with FwBadge(tmp_path / "badge", releases.public) as b:
        b.wait_boots(1)
        _enroll(b, ks)
        t = Target("serial", b.port, None, str(ks))
        res = asyncio.run(update_one(s, t, read_bundle(broken)))
        assert res.outcome == "rolled_back", res
        assert "self-test failed: modules" in res.message and "broken" in res.message
        st = b.status()
        assert st["firmware"]["version"] == "0.1.0" and st["firmware"]["slot"] == "factory"
        assert st["firmware"]["last"]["event"] == "rolled_back"
        assert "fw_selftest_failed" in [e["event"] for e in st["events"]]
        r = CliRunner().invoke(app, ["companion", "status", "--port", b.port, "--keystore",
                                     str(ks), "--branch", BRANCH, "--json"])
        fw = json.loads(r.stdout)["firmware"]  # what staff see in `status`
        assert fw["last"]["from"] == "0.2.0" and fw["last"]["why"].startswith("self-test failed")

        boots = len(b.boots)
        res = asyncio.run(update_one(s, t, read_bundle(dead)))
        assert res.outcome == "rolled_back", res
        assert "not confirmed within 3 boots" in res.message
        assert b.resets >= 5 and len(b.boots) == boots + 1  # the dead slot never came up
        assert b.status()["firmware"]["version"] == "0.1.0"


def test_update_all_badges_of_a_tray_in_parallel(tmp_path, releases, companion_settings):
    ks = tmp_path / "keys.json"
    good = releases.bundle("0.2.0")
    badges = [FwBadge(tmp_path / f"badge{i}", releases.public, badge=f"BK-TRAY0{i}")
              for i in range(3)]
    try:
        for b in badges:
            b.wait_boots(1)
            _enroll(b, ks)
        ports = [a for b in badges for a in ("--port", b.port)]
        r = _cli(["--bundle", str(good), "--all", *ports, "--json"], companion_settings, ks)
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert sorted(x["badge"] for x in out["badges"]) == ["BK-TRAY00", "BK-TRAY01", "BK-TRAY02"]
        assert all(x["outcome"] == "updated" and x["after"] == "0.2.0" for x in out["badges"])
        # run again: every badge is up to date, nothing is sent
        r = _cli(["--bundle", str(good), "--all", *ports, "--json"], companion_settings, ks)
        out = json.loads(r.stdout)
        assert r.exit_code == 0 and {x["outcome"] for x in out["badges"]} == {"up_to_date"}
        assert all(x["sent_bytes"] == 0 and x["state"] == "confirmed" for x in out["badges"])
        r = CliRunner().invoke(app, ["companion", "scan", *ports, "--no-ble", "--no-serial",
                                     "--keystore", str(ks), "--branch", BRANCH, "--json"])
        assert r.exit_code == 0, r.output
        assert [b["firmware"] for b in json.loads(r.stdout)["badges"]] == ["0.2.0"] * 3
    finally:
        for b in badges:
            b.close()
