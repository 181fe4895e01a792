"""The customer/case id of a meeting, end to end: set with `badgekit companion case` on the
badge application under the real MicroPython unix port, stamped on the meeting it is for,
used up when that meeting ends, and written by the real companion sync into each clip's
sidecar and custody record, with the audio and its hashes untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.client import BadgeClient
from companion.errors import BadgeReplyError
from companion.keystore import KeyStore
from companion.link import authenticate
from companion.spool import Spool
from companion.sync import enroll_badge, sync_badge
from companion.transport.serial import SerialTransport
from firmware.sync.state import BadgeState, case_error
from tests.badge.helpers import BadgeProc, meeting_wav, wait_for
from tests.badge.test_badge import _check_chain

BRANCH = "b-sh-01"
BADGE = "BK-TEST01"


def _companion(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    env.pop("BADGEKIT_COMPANION_SETTINGS", None)
    return subprocess.run([sys.executable, "-m", "badgekit", "companion", *args], capture_output=True,
                          text=True, timeout=60, env=env)


async def _set_case(port: str, ks: KeyStore, case_id: str) -> dict:
    async with SerialTransport(port) as t, BadgeClient(t) as c:
        await authenticate(c, ks, BRANCH)
        return await c.set_config({"case_id": case_id})


async def _get_config(port: str, ks: KeyStore) -> dict:
    async with SerialTransport(port) as t, BadgeClient(t) as c:
        await authenticate(c, ks, BRANCH)
        return await c.get_config()


def _meeting(b: BadgeProc) -> str:
    """Start a meeting and wait until a clip of it is being written; return its session id
    (stopping the meeting closes that clip)."""
    b.press(100)
    st = wait_for(lambda: (s := b.status())["recording"]["state"] == "recording"
                  and s["store_open_clip"] and s, what="a clip being recorded")
    return str(st["recording"]["session"])


def _stop(b: BadgeProc) -> dict:
    b.press(1000)
    st = wait_for(lambda: (s := b.status())["recording"]["state"] == "idle" and s, what="stopped")
    time.sleep(1.0)  # the meeting stops at 600 ms of the 1 s hold: let the hold end and settle
    return st


@pytest.fixture(scope="module")
def meeting(speech, tmp_path_factory) -> Path:
    return meeting_wav(speech, tmp_path_factory.mktemp("meeting") / "meeting.wav")


async def test_case_id_reaches_the_sidecars_of_its_meeting_only(tmp_path, meeting, micropython):
    ks_path = tmp_path / "keys.json"
    ks = KeyStore(ks_path)
    spool_dir = tmp_path / "spool"
    with BadgeProc(tmp_path / "badge", wav=meeting) as b:
        async with SerialTransport(b.port) as t:
            await enroll_badge(t, ks, branch=BRANCH, agent="agent-zhao")
        # the agent names the customer before the meeting, with the companion command
        r = _companion(tmp_path, "case", "--case", "K-2026.0017", "--port", b.port, "--keystore",
                       str(ks_path), "--branch", BRANCH, "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"badge_id": BADGE, "case_id": "K-2026.0017"}
        assert b.status()["recording"]["case_pending"] == "K-2026.0017"
        r = _companion(tmp_path, "case", "--port", b.port, "--keystore", str(ks_path), "--branch", BRANCH)
        assert r.returncode == 0 and "K-2026.0017 is set" in r.stdout, r.stderr

        first = _meeting(b)
        assert b.status()["recording"]["case_id"] == "K-2026.0017"
        st = _stop(b)
        assert st["recording"]["case_pending"] is None  # used up by its meeting
        assert "case_id" not in await _get_config(b.port, ks)

        # the next meeting is not grouped with that customer; a case id set while it
        # records applies to it
        second = _meeting(b)
        assert b.status()["recording"]["case_id"] is None
        assert (await _set_case(b.port, ks, "C77"))["case_id"] == "C77"
        wait_for(lambda: b.status()["recording"]["case_id"] == "C77", what="the meeting tagged")
        _stop(b)
        with pytest.raises(BadgeReplyError, match="case_id may hold only"):
            await _set_case(b.port, ks, "K 1; drop")  # the badge checks it too
        # an id set by mistake is dropped before any meeting takes it
        await _set_case(b.port, ks, "WRONG-1")
        r = _companion(tmp_path, "case", "--clear", "--port", b.port, "--keystore", str(ks_path),
                       "--branch", BRANCH, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["case_id"] is None, r.stderr
        assert b.status()["recording"]["case_pending"] is None

        async with SerialTransport(b.port) as t:
            rep = await sync_badge(t, Spool(spool_dir), ks, branch=BRANCH)
        assert rep.ok and rep.synced >= 2, rep

    sides = _check_chain(spool_dir, BADGE)  # every clip verifies against its hash
    by_session = {s["session"]: {x.get("case_id") for x in sides if x["session"] == s["session"]}
                  for s in sides}
    assert by_session == {first: {"K-2026.0017"}, second: {"C77"}}
    for s in sides:
        custody = json.loads(next(spool_dir.glob(f"{BADGE}/*/{s['clip_id']}.custody.json")).read_text())
        assert custody["case_id"] == s["case_id"] and custody["case_source"] == "badge"
        assert custody["sha256"] == s["sha256"]


def test_bad_case_ids_are_refused_before_any_badge_is_asked(tmp_path):
    for bad in ("K 1", "-K1", "x" * 33, "客户一"):
        r = _companion(tmp_path, "case", "--case", bad, "--port", "/dev/null-none")
        assert r.returncode == 2 and r.stderr.startswith("error: case_id"), r.stderr
        assert "Traceback" not in r.stderr
    r = _companion(tmp_path, "config", "set", "case_id=bad/id", "--port", "/dev/null-none")
    assert r.returncode == 2 and "case_id may hold only" in r.stderr
    assert case_error("A-1.b_2") is None and case_error("") is None


def test_the_badge_keeps_the_last_eight_tagged_meetings(tmp_path):
    st = BadgeState(str(tmp_path / "state.json"), BADGE)
    for n in range(10):
        st.set_case(f"K{n}")
        assert st.take_case(f"S{n}") == f"K{n}"
        assert st.take_case(None) is None and st.case_id == ""
    again = BadgeState(str(tmp_path / "state.json"), BADGE)  # survives a reset
    assert again.cases == [[f"S{n}", f"K{n}"] for n in range(2, 10)]
    assert again.case_of("S9") == "K9" and again.case_of("S1") is None
