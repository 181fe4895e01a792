"""Faults a branch meets: re-enrolment, a badge that vanishes mid-sync, two companions on
one badge, a full spool disk. Nothing half-written in the spool, nothing acked that is
not durable, one clear line instead of a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.clips import fmt as clipfmt
from tests.companion.conftest import Companion


def _json(res) -> dict | list:
    assert res.exit_code == 0, (res.exit_code, res.stdout, res.stderr)
    return json.loads(res.stdout)


def _verify_spool(spool: Path, badge: str) -> list[dict]:
    """Every complete clip (custody record present) verifies; nothing half-written is visible."""
    out = []
    for custody in sorted((spool / badge).glob("*/*.custody.json")):
        rec = json.loads(custody.read_text())
        wav = custody.with_name(custody.name.replace(".custody.json", ".wav"))
        with open(wav, "rb") as f:
            info = clipfmt.verify_wav(f, expect_sha256=rec["sha256"])
        assert info.header.badge == badge
        out.append(rec)
    # (the badge folder's own dot-folders hold resumable downloads, never seen by the gateway)
    visible = [p for p in (spool / badge).glob("[!.]*/*") if p.name.endswith(".partial")]
    assert not visible, visible
    return out


def _unsynced(companion: Companion, port: str) -> int:
    rep = _json(companion("scan", "--no-ble", "--port", port, "--json"))
    (b,) = rep["badges"]
    return b["unsynced_clips"]


def _sync_proc(companion: Companion, port: str, spool: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "badgekit", "companion", "sync", "--port", port,
                             "--spool", str(spool)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=companion.subprocess_env())


def test_enroll_sets_the_badge_config_from_the_settings(tray, companion):
    b = tray("cfg-1", clips=1)
    settings = companion.home / "cfg" / "companion.toml"
    settings.write_text("[branch]\nid = 'branch-01'\n\n[badge]\ngain_db = 12\n"
                        "vad_sensitivity = 0\nmax_clip_s = 45\nmax_session_min = 90\n"
                        "storage_warn_pct = 70\n")
    want = {"gain_db": 12, "vad_sensitivity": 0, "max_clip_s": 45, "max_session_min": 90,
            "storage_warn_pct": 70}
    res = companion("enroll", "--port", b.port, "--agent", "Agent A", "--json")
    assert _json(res)["config"] == want
    assert _json(companion("config", "get", "--port", b.port, "--json"))["config"] == want
    # a changed [badge] table reaches the badge at the next (re-)enrollment
    settings.write_text("[branch]\nid = 'branch-01'\n\n[badge]\nmax_clip_s = 600\n")
    assert companion("enroll", "--port", b.port, "--agent", "Agent B").exit_code == 0
    got = _json(companion("config", "get", "--port", b.port, "--json"))["config"]
    assert got == {"gain_db": 0, "vad_sensitivity": 2, "max_clip_s": 600,
                   "max_session_min": 240, "storage_warn_pct": 80}
    kinds = [e["event"] for e in _json(companion("logs", "--port", b.port, "--json"))["events"]]
    assert kinds.count("config_set") == 2


def test_reenrol_moves_a_badge_to_another_agent_keeping_its_clips(tray, companion):
    b = tray("move-1", clips=4)
    assert companion("enroll", "--port", b.port, "--agent", "Agent A").exit_code == 0
    assert _unsynced(companion, b.port) == 4
    res = companion("enroll", "--port", b.port, "--agent", "Agent B")
    assert res.exit_code == 0, res.stderr
    rep = _json(companion("scan", "--no-ble", "--port", b.port, "--json"))["badges"][0]
    assert rep["agent"] == "Agent B" and rep["unsynced_clips"] == 4 and rep["issues"][0]["code"] != "unreadable"
    kinds = [e["event"] for e in _json(companion("logs", "--port", b.port, "--json"))["events"]]
    assert kinds.count("enrolled") == 2
    assert companion("sync", "--port", b.port, "--spool", str(companion.spool)).exit_code == 0
    recs = _verify_spool(companion.spool, "move-1")
    assert sorted(r["seq"] for r in recs) == [1, 2, 3, 4]
    assert {r["agent"] for r in recs} == {"Agent B"}
    assert _unsynced(companion, b.port) == 0


def test_badge_vanishing_mid_sync(tray, companion):
    b = tray("gone-1", clips=12, blocks_each=400)  # 1.2 MB
    assert companion("enroll", "--port", b.port, "--agent", "Agent A").exit_code == 0
    proc = _sync_proc(companion, b.port, companion.spool)
    deadline = time.monotonic() + 30
    while not list((companion.spool / "gone-1").glob("*/*.custody.json")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    b.pull_battery()  # the badge dies between one clip and the rest
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and "error:" in err and b.port in err, err
    recs = _verify_spool(companion.spool, "gone-1")
    assert 1 <= len(recs) < 12
    # the dead port: one clear line
    res = companion("set-time", "--port", b.port, "--connect-timeout-s", "1")
    assert res.exit_code == 1 and "Traceback" not in res.stderr and "error:" in res.stderr


def test_two_companions_sync_the_same_badge(tray, companion, tmp_path):
    # long enough a sync (about 2 s) that the two overlap even when one process starts a
    # second later than the other on a loaded machine
    b = tray("both-1", clips=12, blocks_each=1600)
    assert companion("enroll", "--port", b.port, "--agent", "Agent A").exit_code == 0
    # a second PC of the same branch: a copy of the key store, its own spool
    pc2 = Companion(tmp_path / "pc2")
    Path(pc2.env["BADGEKIT_KEYSTORE"]).write_bytes(Path(companion.env["BADGEKIT_KEYSTORE"]).read_bytes())
    Path(pc2.env["BADGEKIT_KEYSTORE"]).chmod(0o600)
    p1 = _sync_proc(companion, b.port, companion.spool)
    p2 = _sync_proc(pc2, b.port, pc2.spool)
    r1, r2 = p1.communicate(timeout=60), p2.communicate(timeout=60)
    codes = sorted([p1.returncode, p2.returncode])
    assert codes == [0, 1], (r1, r2)
    loser = r1 if p1.returncode else r2
    assert "Traceback" not in loser[1] and ("busy" in loser[1] or "another" in loser[1]), loser
    got = _verify_spool(companion.spool, "both-1") + _verify_spool(pc2.spool, "both-1")
    assert sorted(r["seq"] for r in got) == list(range(1, 13))  # each clip exactly once
    assert _unsynced(companion, b.port) == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB filesystem (tmpfs; needs root or CAP_SYS_ADMIN, as on CI and here)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs for the full-disk test: {res.stderr.strip()} "
                    "(run the suite as root, or in a container with CAP_SYS_ADMIN)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_spool_disk_stops_before_acking(tray, companion, small_disk):
    b = tray("full-1", clips=12, blocks_each=400)  # 1.2 MB of clips
    assert companion("enroll", "--port", b.port, "--agent", "Agent A").exit_code == 0
    filler = small_disk / "other-data"
    filler.write_bytes(b"\0" * (1600 * 1024))  # leave about 400 KiB
    spool = small_disk / "spool"
    res = companion("sync", "--port", b.port, "--spool", str(spool))
    assert res.exit_code == 1, res.stdout
    assert "Traceback" not in res.stderr and "error:" in res.stderr
    assert "space" in res.stderr.lower() or "full" in res.stderr.lower(), res.stderr
    recs = _verify_spool(spool, "full-1")
    # a write cut short by the full disk leaves no temporary file behind; the only
    # .partial allowed is the resumable download in .incoming (with its durable .offset)
    stray = [p for p in spool.rglob("*.partial")
             if p.parent.name != ".incoming" or not p.name.endswith(".wav.partial")]
    assert not stray, stray
    assert len(recs) < 12
    # exactly the durable clips were acked: the rest wait on the badge
    assert _unsynced(companion, b.port) == 12 - len(recs)
    filler.unlink()  # room again: the next sync finishes the job
    assert companion("sync", "--port", b.port, "--spool", str(spool)).exit_code == 0
    assert sorted(r["seq"] for r in _verify_spool(spool, "full-1")) == list(range(1, 13))
    assert not list(spool.rglob("*.partial")), list(spool.rglob("*.partial"))
    assert _unsynced(companion, b.port) == 0


def test_listen_on_a_full_spool_disk_stops_cleanly(tmp_path, speech, small_disk):
    from tests.companion.alsa_mic import make_mic
    from tests.companion.test_listen import _listen

    mic = make_mic(tmp_path, speech["BAC009S0764W0121"])
    (small_disk / "other-data").write_bytes(b"\0" * (2048 * 1024 - 6 * 1024))
    spool = small_disk / "spool"
    res = _listen(mic, tmp_path, "--mic", "--device", mic.name, "--duration-s", "4",
                  "--spool", str(spool), "--badge-id", "mic-full")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "full" in res.stderr and "warning: the spool disk is 100% full" in res.stderr
    assert not list(spool.rglob("*.partial"))
