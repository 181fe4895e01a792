"""The model's compute type through the delivery side: the transcriber loads what it is
asked for, and `gateway run` reports a type this CPU does not run and delivers the rest."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gateway.service.transcription import TranscriptionStep, TranscriptionStepError
from gateway.transcribe import decode_wav
from tests.delivery.spoolmaker import make_session
from tests.delivery.test_e2e_model import _adpcm_blocks
from tests.delivery.test_gateway import _finish, _receiver


def test_session_transcriber_loads_the_compute_type_asked_for(whisper_model, speech, tmp_path):
    blocks = [_adpcm_blocks(decode_wav(speech["IT0011W0001"]).samples)]
    make_session(tmp_path, clips=1, blocks=blocks)
    clips = sorted(tmp_path.rglob("*.wav"))
    doc = TranscriptionStep(whisper_model.path, compute_type="int8").session(clips).document
    assert doc["model"]["compute_type"] == "int8"
    assert "首歌" in doc["text"]
    with pytest.raises(TranscriptionStepError, match="'int3' does not run on this CPU; it runs .*float32"):
        TranscriptionStep(whisper_model.path, compute_type="int3").check()


def test_gateway_run_reports_a_compute_type_this_cpu_lacks(broker_factory, whisper_model, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=2, blocks_per_clip=10)
    rx = _receiver(broker, out)
    r = subprocess.run(
        [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--mqtt", broker.url,
         "--tenant", "acme", "--branch", "sh01", "--model", str(whisper_model.path),
         "--compute-type", "int3", "--once", "-q"],
        capture_output=True, text=True, timeout=120)
    summary = _finish(rx)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert any(line.startswith("error:") and "'int3'" in line for line in r.stderr.splitlines()), r.stderr
    assert summary.clips_verified == 2
    manifest = json.loads((out / "acme/sh01/B0001/S0001/manifest.json").read_text())
    assert manifest["transcript"]["revision"] is None and "'int3'" in manifest["transcript"]["error"]
