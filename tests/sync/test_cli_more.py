"""The CLI over BLE (`sim badge --ble` in one process, the companion in another, through the
bumble stack) and several serial badges synced at once with the live progress table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sync.helpers import SerialBadge, check_spool, cli, make_clips


def _first_line(proc: subprocess.Popen, timeout_s: float = 30) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = proc.stdout.readline()
    assert time.monotonic() < deadline and line, "sim badge --ble printed nothing"
    return line.strip()


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def test_cli_over_ble_hci_link(tmp_path):
    sides = make_clips(tmp_path / "clips", "bk-0b1e", 2, blocks_each=40)
    proc = subprocess.Popen([sys.executable, "-m", "badgekit", "sim", "badge", "--clips",
                             str(tmp_path / "clips"), "--ble"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        first = _first_line(proc)
        assert first.startswith("ble: ") and " hci: tcp-client:127.0.0.1:" in first
        _, addr, _, hci = first.split()
        env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
        common = ["--ble", addr, "--hci", hci, "--keystore", str(tmp_path / "k.json")]
        r = cli("companion", "enroll", *common, "--agent", "Wang Fang", env=env)
        assert r.returncode == 0, r.stderr
        r = cli("companion", "sync", *common, "--spool", str(tmp_path / "spool"), "--json", env=env)
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)[0]
        assert rep["synced"] == 2 and rep["clip_bytes"] / rep["wire_bytes_in"] > 0.9
        check_spool(tmp_path / "spool", sides)
        r = cli("companion", "status", *common, "--json", env=env)
        assert r.returncode == 0 and json.loads(r.stdout)["agent"] == "Wang Fang"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cli_syncs_four_serial_badges_at_once(tmp_path, micropython):
    badges, sides = [], []
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    ks = str(tmp_path / "k.json")
    try:
        for i in range(4):
            sides += make_clips(tmp_path / f"c{i}", f"bk-40{i}", 2, blocks_each=30)
            badges.append(SerialBadge(tmp_path / f"c{i}"))
        for b in badges:
            r = cli("companion", "enroll", "--port", b.port, "--agent", "A", "--keystore", ks,
                    env=env)
            assert r.returncode == 0, r.stderr
        ports = [x for b in badges for x in ("--port", b.port)]
        r = cli("companion", "sync", *ports, "--spool", str(tmp_path / "spool"), "--keystore", ks,
                env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("2 clip(s) synced") == 4 and "badgekit sync" in r.stdout
        check_spool(tmp_path / "spool", sides)
    finally:
        for b in badges:
            b.close()


def test_sim_badge_command_prints_its_pty_first_and_stops_cleanly(tmp_path):
    make_clips(tmp_path / "clips", "bk-5e1", 1)
    proc = subprocess.Popen([sys.executable, "-m", "badgekit", "sim", "badge", "--clips",
                             str(tmp_path / "clips")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        first = _first_line(proc)
        assert first.startswith("serial: /dev/pts/"), first
        port = first.split(": ", 1)[1]
        r = cli("companion", "status", "--port", port, "--json", "--keystore",
                str(tmp_path / "k.json"), env={"BADGEKIT_CONFIG": str(tmp_path / "cfg")})
        assert r.returncode == 0 and json.loads(r.stdout)["badge"] == "bk-5e1"
        kids = _children(proc.pid)
        assert kids  # the MicroPython badge
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    time.sleep(0.2)
    assert not [k for k in kids if os.path.exists(f"/proc/{k}")]  # it went with the command

    r = cli("sim", "badge", "--clips", str(tmp_path / "nope"))
    assert r.returncode == 2 and "not a folder of clips" in r.stderr
    r = cli("companion", "status", "--port", "/dev/null-not-a-port", "--json")
    assert r.returncode == 1 and "cannot open serial port" in r.stderr
    assert "Traceback" not in r.stderr
