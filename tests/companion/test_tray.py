"""A tray of simulated badges on ptys (the firmware under MicroPython) and the real CLI."""

from __future__ import annotations

import json
import os
import threading

import pytest

from tests.companion.conftest import Companion


def _json(res) -> dict:
    assert res.exit_code == 0, (res.exit_code, res.stdout, res.stderr)
    return json.loads(res.stdout)


def _refused(res, *words: str) -> str:
    text = res.stdout + res.stderr
    assert res.exit_code == 1, (res.exit_code, text)
    assert "Traceback" not in text and res.exception is None or isinstance(res.exception, SystemExit)
    assert "error:" in res.stderr, text
    for w in words:
        assert w in res.stderr, (w, res.stderr)
    return res.stderr


@pytest.fixture
def garbage_port(pty_pair):
    """A serial port whose other end spews bytes that are not frames (a modem, a GPS...)."""
    master, name = pty_pair
    stop = threading.Event()

    def spew() -> None:
        junk = bytes(range(256)) * 4
        while not stop.is_set():
            try:
                os.write(master, junk)
            except OSError:
                return
            stop.wait(0.01)

    t = threading.Thread(target=spew, daemon=True)
    t.start()
    yield name
    stop.set()
    t.join(2)


def test_scan_ranks_a_tray_and_staff_commands_work(tray, companion, tmp_path, garbage_port,
                                                   pty_pair):
    fresh, waiting, healthy, foreign = (tray("tray-fresh", 3), tray("tray-full", 5),
                                        tray("tray-ok", 2), tray("tray-bj", 2))
    pc2 = Companion(tmp_path / "bj", branch="bj-02")  # another branch, its own key store
    assert pc2("enroll", "--port", foreign.port, "--agent", "Zhao Lei").exit_code == 0
    for b, agent in ((waiting, "Li Na"), (healthy, "Chen Jie")):
        res = companion("enroll", "--port", b.port, "--agent", agent)
        assert res.exit_code == 0, res.stderr
    assert companion("sync", "--port", healthy.port, "--spool", str(companion.spool)).exit_code == 0
    # the badge's own warning level is low: its storage counts as nearly full
    assert _json(companion("config", "set", "storage_warn_pct=10", "--port", waiting.port,
                           "--json"))["config"]["storage_warn_pct"] == 10
    silent_pty = pty_pair[1]  # nothing at all on the other end

    ports = [garbage_port, fresh.port, healthy.port, silent_pty, foreign.port, waiting.port]
    args = ["scan", "--no-ble", "--connect-timeout-s", "1.5"]
    for p in ports:
        args += ["--port", p]
    rep = _json(companion(*args, "--json"))
    ids = [b["badge_id"] for b in rep["badges"]]
    assert ids == ["tray-bj", "tray-full", "tray-fresh", "tray-ok"], ids
    by = {b["badge_id"]: b for b in rep["badges"]}
    assert by["tray-bj"]["attention"] == "error" and by["tray-bj"]["ours"] is False
    assert [i["code"] for i in by["tray-bj"]["issues"]] == ["other_branch"]
    # a badge names its branch only to a companion that authenticated (HELLO hides it)
    assert "another branch" in by["tray-bj"]["issues"][0]["message"]
    full = by["tray-full"]
    assert full["agent"] == "Li Na" and full["unsynced_clips"] == 5 and full["battery_pct"] == 87
    assert {"storage_nearly_full", "never_synced"} <= {i["code"] for i in full["issues"]}
    assert full["unsynced_hours"] > 0 and abs(full["clock_drift_s"]) <= 2
    assert [i["code"] for i in by["tray-fresh"]["issues"]] == ["not_enrolled", "never_synced"]
    ok = by["tray-ok"]
    assert ok["issues"] == [] and ok["unsynced_clips"] == 0 and ok["last_sync_epoch"]
    skipped = {s["address"]: s["reason"] for s in rep["skipped"]}
    assert set(skipped) == {garbage_port, silent_pty}
    assert all("not a badge" in r for r in skipped.values()), skipped

    table = companion(*args)  # the same scan for people
    assert table.exit_code == 0
    for word in ("tray-bj", "tray-full", "tray-ok", "Li Na", "87%", "not a badge", "never synced"):
        assert word in table.stdout, (word, table.stdout)
    assert table.stdout.index("tray-bj") < table.stdout.index("tray-ok")

    # set-time, config, logs on our badge
    t = _json(companion("set-time", "--port", waiting.port, "--json"))
    assert t["badge_id"] == "tray-full" and abs(t["drift_s"]) <= 2
    cfg = _json(companion("config", "set", "gain_db=6", "vad_sensitivity", "3", "--port",
                          waiting.port, "--json"))
    assert cfg["config"]["gain_db"] == 6 and cfg["config"]["vad_sensitivity"] == 3
    assert _json(companion("config", "get", "gain_db", "--port", waiting.port,
                           "--json"))["config"] == {"gain_db": 6}
    assert "must be -12..30" in companion("config", "set", "gain_db=99", "--port",
                                          waiting.port).stderr
    events = _json(companion("logs", "--port", waiting.port, "--json"))["events"]
    kinds = [e["event"] for e in events]
    assert {"enrolled", "config_set", "time_set"} <= set(kinds), kinds
    assert all(e["time"].endswith("Z") for e in events if e["raw"].get("t"))
    logs = companion("logs", "--port", waiting.port, "--tail", "2")
    assert logs.exit_code == 0 and "config_set" in logs.stdout

    # refusals: one line each, nothing changed
    _refused(companion("config", "set", "gain_db=3", "--port", foreign.port), "another branch",
             "refused")
    _refused(companion("set-time", "--port", fresh.port), "not enrolled")
    _refused(companion("sync", "--port", foreign.port, "--spool", str(companion.spool)),
             "another branch")
    _refused(companion("enroll", "--port", foreign.port, "--agent", "Thief"), "another branch")
    _refused(companion("logs", "--port", foreign.port), "another branch")
    assert not (companion.spool / "tray-bj").exists()
    for p in (garbage_port, silent_pty):
        _refused(companion("set-time", "--port", p, "--connect-timeout-s", "1"), "not a badge")
        _refused(companion("logs", "--port", p, "--connect-timeout-s", "1"), "not a badge")
    _refused(companion("config", "get", "--port", "/dev/does-not-exist"), "/dev/does-not-exist")
