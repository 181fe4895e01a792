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


@pytest.mark.parametrize("name", ["0478_00017"])  # TEST_NET: the session-folder test below
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


def _spool_session(wav: Path, folder: Path, badge: str, session: str, case_id: str) -> list[str]:
    """Write real speech as badge clips (two clips, the badge's ADPCM) into a spool session."""
    import wave
    from array import array

    from firmware import adpcm
    from firmware.clips.sink import FolderSink

    with wave.open(str(wav)) as w:
        pcm = array("h", w.readframes(w.getnframes()))
    n = adpcm.BLOCK_SAMPLES
    blocks_pcm = [pcm[i:i + n] for i in range(0, len(pcm) - n + 1, n)]
    half = len(blocks_pcm) // 2
    sink = FolderSink(str(folder), None)
    ids, offset = [], 0
    for seq, part in enumerate((blocks_pcm[:half], blocks_pcm[half:]), 1):
        enc = adpcm.Encoder()
        sink.open_clip({"badge": badge, "session": session, "seq": seq,
                        "start_epoch": 1_790_000_000 + offset // 16000,
                        "session_offset_samples": offset, "offset_samples": offset})
        for block in part:
            sink.write_block(bytes(enc.encode_block(block, bytearray(adpcm.BLOCK_BYTES))))
        side = sink.close_clip(len(part) * n)
        side_path = folder / f"{side['clip_id']}.json"
        doc = json.loads(side_path.read_text())
        doc["case_id"] = case_id  # the case id the agent set for this meeting
        side_path.write_text(json.dumps(doc))
        ids.append(side["clip_id"])
        offset += len(part) * n
    return ids


def test_session_folder_of_badge_clips_is_transcribed_and_checked(speech, whisper_model,
                                                                   tmp_path: Path):
    folder = tmp_path / "B0009" / "S0042"
    ids = _spool_session(speech["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"], folder, "B0009",
                         "S0042", "CASE-1")
    chk = subprocess.run([sys.executable, "-m", "badgekit", "gateway", "check", str(folder), "--json"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert chk.returncode in (0, 1), chk.stderr
    assert "transcribing" in chk.stderr
    found = json.loads(chk.stdout)
    assert (found["session"], found["agent"], found["case_id"]) == ("S0042", "B0009", "CASE-1")
    assert [i["id"] for i in found["items"] if i["status"] != "missing"] == []
    assert len(ids) == 2
