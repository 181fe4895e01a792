"""The `badgekit` command line: groups exist, doctor reports every part."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from badgekit.cli import app


def test_top_level_groups():
    out = CliRunner().invoke(app, ["--help"]).output
    for name in ("doctor", "demo", "model"):
        assert name in out


def test_doctor_all_green():
    proc = subprocess.run([sys.executable, "-m", "badgekit", "doctor", "--json"],
                          capture_output=True, text=True, timeout=120)
    checks = json.loads(proc.stdout)
    names = {c["name"] for c in checks}
    assert {"python", "micropython", "mpy-cross", "mosquitto", "sox", "portaudio",
            "speech model", "free disk"} <= names
    bad = [c for c in checks if not c["ok"]]
    assert not bad, bad
    assert proc.returncode == 0


def test_doctor_reports_missing_part_with_fix(monkeypatch):
    from badgekit import doctor

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(doctor, "find_tool", lambda name: None)
    c = doctor.check_sox()
    assert not c.ok and "apt-get install -y sox" in c.fix
