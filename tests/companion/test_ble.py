"""Badges over BLE: the firmware's radio on the bumble `bluetooth` shim, bleak on bumble."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator


def _json(res):
    assert res.exit_code == 0, (res.exit_code, res.stdout, res.stderr)
    return json.loads(res.stdout)


def test_ble_badges_scan_enroll_sync_and_staff_commands(tray, companion):
    one, two = tray("air-one", 3, ble=True), tray("air-two", 2, ble=True)
    scan = ["scan", "--no-serial", "--ble-timeout-s", "1", "--hci", one.hci, "--hci", two.hci]
    rep = _json(companion(*scan, "--json"))
    assert sorted(b["badge_id"] for b in rep["badges"]) == ["air-one", "air-two"]
    assert all(b["transport"] == "ble" and b["enrolled"] is False for b in rep["badges"])
    # the badge with more audio waiting comes first among equals
    assert [b["badge_id"] for b in rep["badges"]] == ["air-one", "air-two"]

    ble = ["--ble", one.ble_address, "--hci", one.hci]
    assert companion("enroll", *ble, "--agent", "Sun Mei").exit_code == 0
    assert _json(companion("set-time", *ble, "--json"))["badge_id"] == "air-one"
    cfg = _json(companion("config", "set", "max_clip_s=90", *ble, "--json"))["config"]
    assert cfg["max_clip_s"] == 90
    assert "enrolled" in [e["event"] for e in _json(companion("logs", *ble, "--json"))["events"]]
    res = companion("sync", *ble, "--spool", str(companion.spool))
    assert res.exit_code == 0, res.stderr
    assert len(list((companion.spool / "air-one").glob("*/*.custody.json"))) == 3

    rep = _json(companion(*scan, "--json"))
    by = {b["badge_id"]: b for b in rep["badges"]}
    assert [b["badge_id"] for b in rep["badges"]] == ["air-two", "air-one"]  # unenrolled first
    assert by["air-one"]["agent"] == "Sun Mei" and by["air-one"]["issues"] == []
    assert by["air-one"]["unsynced_clips"] == 0 and by["air-one"]["last_sync_epoch"]
    table = companion(*scan)
    assert table.exit_code == 0 and "air-two" in table.stdout and "Sun Mei" in table.stdout


@contextlib.contextmanager
def _ble_tray(tmp_path, names: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Badges ``names`` (with 1, 2, ... clips) on one bumble link behind one HCI port:
    yields the HCI spec and {badge: address}."""
    from tests.companion.simbadge import make_clips

    folders = []
    for i, name in enumerate(names):
        make_clips(tmp_path / name, name, i + 1)
        folders.append(str(tmp_path / name))
    log = tmp_path / "tray.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.companion.ble_tray", *folders],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("ble: ") < len(names):
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        lines = log.read_text().splitlines()
        hci = lines[0].split()[1]
        yield hci, {ln.split()[2]: ln.split()[1] for ln in lines if ln.startswith("ble: ")}
    finally:
        proc.kill()
        proc.wait(10)


def test_one_radio_hears_a_tray_of_ble_badges(tmp_path, companion):
    """Four badges on one link, one companion radio: scan finds and reads them all at once."""
    with _ble_tray(tmp_path, ["bt-a", "bt-b", "bt-c", "bt-d"]) as (hci, addr):
        scan = ["scan", "--no-serial", "--ble-timeout-s", "1", "--hci", hci]
        assert companion("enroll", "--ble", addr["bt-b"], "--hci", hci,
                         "--agent", "Zhou Yu").exit_code == 0
        rep = _json(companion(*scan, "--json"))
        ids = [b["badge_id"] for b in rep["badges"]]
        # unenrolled badges (warnings) first, most audio waiting first; then the enrolled one
        assert ids == ["bt-d", "bt-c", "bt-a", "bt-b"], ids
        assert {b["address"] for b in rep["badges"]} == set(addr.values())
        b = rep["badges"][-1]
        assert b["agent"] == "Zhou Yu" and b["authenticated"] and b["unsynced_clips"] == 2


def test_sync_shares_one_radio_between_ble_badges(tmp_path, companion):
    """Three badges behind one --hci sync in one command over one bumble radio."""
    names = ["tr-a", "tr-b", "tr-c"]
    with _ble_tray(tmp_path, names) as (hci, addr):
        for n in names:
            res = companion("enroll", "--ble", addr[n], "--hci", hci, "--agent", f"Agent {n}")
            assert res.exit_code == 0, res.stderr
        ble = [a for n in names for a in ("--ble", addr[n])]
        res = companion("sync", *ble, "--hci", hci, "--spool", str(companion.spool), "--json")
        assert res.exit_code == 0, (res.stdout, res.stderr)
        rep = {r["badge"]: r for r in json.loads(res.stdout)}
        assert {n: rep[n]["synced"] for n in names} == {"tr-a": 1, "tr-b": 2, "tr-c": 3}
        for i, n in enumerate(names):
            assert len(list((companion.spool / n).glob("*/*.custody.json"))) == i + 1
        # the same radio named once per badge is the same radio; all acked, nothing left
        again = [a for n in names for a in ("--ble", addr[n], "--hci", hci)]
        res = companion("sync", *again, "--spool", str(companion.spool), "--json")
        assert res.exit_code == 0, (res.stdout, res.stderr)
        assert [r["synced"] for r in json.loads(res.stdout)] == [0, 0, 0]
        res = companion("sync", *ble, "--hci", hci, "--hci", "tcp-client:127.0.0.1:1",
                        "--spool", str(companion.spool))
        assert res.exit_code == 2 and "one per --ble" in res.stderr, res.stderr
