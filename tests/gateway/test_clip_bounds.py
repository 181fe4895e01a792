"""Trailer fields outside the hash never hide speech; a duplicated clip is heard once.

`badgekit gateway transcribe` as a process, the real model, real speech in real badge clips.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

from gateway.transcribe.bounds import trusted_samples
from tests.gateway.transcribe_support import speech_pcm, write_session


def _lower(wav: Path, samples: int) -> None:
    """Lower the trailer's sample count and the fact chunk (neither is under the clip hash)."""
    raw = bytearray(wav.read_bytes())
    struct.pack_into("<I", raw, raw.index(b"bktr") + 12, samples)
    struct.pack_into("<I", raw, raw.index(b"fact") + 8, samples)
    wav.write_bytes(bytes(raw))


def _transcribe(folder: Path, model) -> dict:
    proc = subprocess.run([sys.executable, "-m", "badgekit", "gateway", "transcribe", str(folder), "--json",
                           "--model", str(model.path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_bounds_of_the_sample_count(tmp_path, speech):
    (side,) = write_session(tmp_path, [(speech_pcm(speech["IT0011W0001"]), 0.0)])
    wav = tmp_path / f"{side['clip_id']}.wav"
    assert trusted_samples(wav, side) == (side["samples"], [])
    _lower(wav, 505)
    count, problems = trusted_samples(wav, side)
    blocks = (side["samples"] + 504) // 505
    assert count == blocks * 505  # every block present is decoded
    assert any(p.startswith("trailer says 505 samples") for p in problems)
    assert any(p.startswith(f"sidecar says {side['samples']}") for p in problems)


def test_lowered_samples_and_fact_are_reported_and_all_speech_is_transcribed(tmp_path, speech, whisper_model):
    (side,) = write_session(tmp_path, [(speech_pcm(speech["asr_example_zh"]), 0.0)])
    _lower(tmp_path / f"{side['clip_id']}.wav", 505)  # 0.03 s of 5.55 s
    doc = _transcribe(tmp_path, whisper_model)
    assert "语音识别" in doc["text"], doc["text"]  # said at the end of the clip
    assert any("trailer says 505 samples" in p for p in doc["problems"]), doc["problems"]
    (clip,) = doc["clips"]
    assert clip["problems"] and clip["seconds"] >= 5.5


def test_a_clip_copied_under_a_second_sequence_number_is_transcribed_once(tmp_path, speech, whisper_model):
    a, b = speech_pcm(speech["IT0011W0001"]), speech_pcm(speech["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"])
    write_session(tmp_path, [(a, 0.0), (b, 3.0), (a, 6.0)])  # the third is the first again, seq 3
    doc = _transcribe(tmp_path, whisper_model)
    status = {c["clip_id"]: c["status"] for c in doc["clips"]}
    assert status == {"B0001-00000001": "ok", "B0001-00000002": "ok", "B0001-00000003": "duplicate"}
    assert [s for s in doc["segments"] if s["clip_id"] == "B0001-00000003"] == []
    assert doc["text"].count("首歌") == 1, doc["text"]
    assert any("same audio as B0001-00000001" in p for p in doc["problems"])
