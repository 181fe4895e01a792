"""`sim record --mic`: the firmware path on a live PortAudio microphone (ALSA file PCM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.companion.alsa_mic import make_mic


def test_live_microphone_records_clips(tmp_path, speech):
    mic = make_mic(tmp_path, speech["asr_example_zh"], pad_s=2.0)
    out = tmp_path / "clips"
    seconds = 1.0 + 5.55 + 2.0
    proc = subprocess.run(
        [sys.executable, "-m", "badgekit", "sim", "record", "--mic", "--device", mic.name,
         "--duration-s", str(seconds), "--out", str(out), "--badge", "LIVE1", "--json",
         "--start-time", "1795600800"],
        capture_output=True, text=True, timeout=120, env=mic.env(dict(os.environ)))
    assert proc.returncode == 0, proc.stderr
    clips = json.loads(proc.stdout)
    assert clips and clips[0]["badge"] == "LIVE1"
    assert sum(c["samples"] for c in clips) >= 5 * 16000  # the utterance is in the clips
    for c in clips:
        assert (out / f"{c['clip_id']}.wav").stat().st_size > 1000


def test_missing_device_is_one_line_exit_2(tmp_path, speech):
    mic = make_mic(tmp_path, speech["IT0011W0001"])
    proc = subprocess.run(
        [sys.executable, "-m", "badgekit", "sim", "record", "--mic", "--device", "no-such-mic",
         "--duration-s", "1", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60, env=mic.env(dict(os.environ)))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
