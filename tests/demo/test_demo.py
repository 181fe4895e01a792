"""`badgekit demo --json`: the whole chain, end to end, leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _running_under(folder) -> list[str]:
    """Processes whose command line names the demo's work folder (badges, broker, gateway)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()[1:] if str(folder) in line]


def test_demo_runs_whole_chain(tmp_path, speech):
    proc = subprocess.run([sys.executable, "-m", "badgekit", "demo", "--json", "--keep", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    for key in ("recorded", "synced", "transcribed", "published", "received", "verified", "authenticated"):
        assert isinstance(summary[key], int)
    n = summary["recorded"]
    assert n >= 4
    assert summary["synced"] == summary["transcribed"] == summary["published"] == n
    assert summary["received"] == summary["verified"] == n
    # the badges are enrolled before they record: every clip is sealed (format 2) and its
    # seal verified by the companion, the gateway, the receiver and the demo
    assert summary["authenticated"] == n
    for links in ("clips-serial", "clips-ble"):
        sides = [json.loads(p.read_text()) for p in (tmp_path / "d" / links).glob("*.json")]
        assert sides and {s["format_version"] for s in sides} == {2}
    # the badges' state folders hold their enrollment secrets: 0600 files in 0700 folders
    state = tmp_path / "d" / "badge-state"
    loose = [f"{p} {p.stat().st_mode & 0o777:o}" for p in state.rglob("*")
             if p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)]
    assert len(list(state.rglob("sync.json"))) == 2 and loose == []
    assert summary["links"]["serial"] > 0 and summary["links"]["ble"] > 0
    assert summary["gaps"] == []
    text = "".join(s["text"] for s in summary["transcript"])
    assert "语音识别" in text and "交易" in text
    assert _running_under(tmp_path / "d") == [], "the demo left processes running"


def test_demo_bad_input_is_one_line_error(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav at all")
    proc = subprocess.run([sys.executable, "-m", "badgekit", "demo", "--input", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "demo failed" in proc.stdout + proc.stderr


def test_demo_without_a_speech_model_says_so_and_fails(tmp_path):
    env = {**os.environ, "BADGEKIT_MODEL": str(tmp_path / "no-model")}
    proc = subprocess.run([sys.executable, "-m", "badgekit", "demo", "--json"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 2  # a missing model is bad input, not a finding
    said = proc.stdout + proc.stderr
    assert "no speech model" in said and "--no-transcribe" in said and "Traceback" not in said
    assert "transcribed" not in proc.stdout  # no summary claiming a run


def test_demo_no_transcribe_skips_on_purpose(tmp_path):
    env = {**os.environ, "BADGEKIT_MODEL": str(tmp_path / "no-model")}  # not needed when skipping
    proc = subprocess.run([sys.executable, "-m", "badgekit", "demo", "--json", "--no-transcribe", "--keep",
                           str(tmp_path / "d")], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["transcribed"] == 0 and summary["transcript"] == []
    assert summary["received"] == summary["verified"] == summary["recorded"] >= 4
    assert summary["authenticated"] == summary["recorded"]
    assert _running_under(tmp_path / "d") == [], "the demo left processes running"
