"""Real speech through the gateway: transcribed, then checked; nothing may fire falsely.

0478_00017 is 25 s of spontaneous financial commentary (投资者, 市场, 退市公司): the
nearest thing in the shared recordings to a sales pitch, so a careless rule would fire
on it; TEST_NET says 说不清楚, a near-miss for the confused-customer event.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["0478_00017", "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"])
def test_real_transcript_raises_no_false_finding(name, speech, whisper_model, tmp_path: Path):
    out = tmp_path / f"{name}.json"
    run = [sys.executable, "-m", "badgekit", "gateway"]
    tr = subprocess.run([*run, "transcribe", str(speech[name]), "--out", str(out)],
                        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert tr.returncode == 0, tr.stderr
    text = json.loads(out.read_text(encoding="utf-8"))["text"]
    assert len(text) >= 5, text  # real speech was transcribed
    chk = subprocess.run([*run, "check", str(out), "--json"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    found = json.loads(chk.stdout)
    fired = [i["id"] for i in found["items"] if i["status"] != "missing"]
    assert fired == [], (text, fired)
    assert found["session"] == name
