"""The hard interface: `sim badge` + `companion enroll | sync | status` over a real pty."""

from __future__ import annotations

import hashlib
import json
import stat

from firmware.clips import fmt as clipfmt
from tests.sync.helpers import SerialBadge, cli, make_clips, spool_clips


def test_enroll_sync_status_cli(tmp_path, micropython):
    sides = make_clips(tmp_path / "clips", "bk-0007", 3, blocks_each=30)
    ks = tmp_path / "keys.json"
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    spool = tmp_path / "spool"
    with SerialBadge(tmp_path / "clips") as badge:
        assert badge.ready["differ"] == []
        r = cli("companion", "status", "--port", badge.port, "--json", "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["enrolled"] is False and st["storage"]["clips"]["closed"] == 3

        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--keystore",
                str(ks), env=env)
        assert r.returncode == 1 and "not enrolled" in r.stderr and "Traceback" not in r.stderr

        r = cli("companion", "enroll", "--port", badge.port, "--agent", "Li Wei", "--branch",
                "b-sh-01", "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(ks.stat().st_mode) == 0o600
        assert "secret" not in r.stdout and json.loads(ks.read_text())["badges"]["bk-0007"]

        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--keystore",
                str(ks), "--branch", "b-sh-01", "--json", env=env)
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)[0]
        assert rep["synced"] == 3 and all(c["acked"] for c in rep["clips"])

        got = spool_clips(spool)
        assert sorted(got) == [s["clip_id"] for s in sides]
        prev = clipfmt.ZERO_HASH
        for side in sides:
            custody = json.loads(got[side["clip_id"]].read_text())
            assert custody["sha256"] == side["sha256"] and custody["agent"] == "Li Wei"
            assert custody["branch"] == "b-sh-01" and custody["operator"]
            wav = got[side["clip_id"]].with_name(side["clip_id"] + ".wav")
            assert custody["wav_sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
            with open(wav, "rb") as f:
                clipfmt.verify_wav(f, prev_sha256=prev, expect_sha256=side["sha256"])
            prev = side["sha256"]
        assert not list(spool.rglob("*.partial"))

        r = cli("companion", "status", "--port", badge.port, "--json", "--keystore", str(ks),
                "--branch", "b-sh-01", env=env)
        st = json.loads(r.stdout)
        assert r.returncode == 0 and st["enrolled"] and st["agent"] == "Li Wei"
        assert st["storage"]["clips"]["closed"] == 0 and st["clips_unsynced"] == []

        # a second sync finds nothing and duplicates nothing
        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--keystore",
                str(ks), "--branch", "b-sh-01", "--json", env=env)
        assert r.returncode == 0 and json.loads(r.stdout)[0]["clips"] == []
        assert len(spool_clips(spool)) == 3


async def test_badge_asyncio_serving_path(tmp_path, micropython):
    """The asyncio loop the badge runs (firmware.badgetasks) syncs like the plain loop."""
    from companion.keystore import KeyStore
    from companion.spool import Spool
    from companion.sync import enroll_badge, sync_badge
    from companion.transport.serial import SerialTransport
    from tests.sync.helpers import check_spool

    sides = make_clips(tmp_path / "clips", "bk-a5c", 3, blocks_each=80)
    ks = KeyStore(tmp_path / "k.json")
    with SerialBadge(tmp_path / "clips", extra_args=("--async",)) as badge:
        async with SerialTransport(badge.port) as t:
            await enroll_badge(t, ks, branch="b1", agent="A")
        async with SerialTransport(badge.port) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        assert rep.ok and rep.synced == 3
    check_spool(tmp_path / "spool", sides)
