"""Transcription with the real Whisper model on real speech (one model load for the file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.transcribe import (
    AudioError,
    EngineSettings,
    ModelUnavailableError,
    TranscribeError,
    Transcriber,
    TranscribeSettings,
    load_engine,
)
from tests.gateway.transcribe_support import EPOCH, speech_pcm, write_session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def transcriber(whisper_model) -> Transcriber:
    engine = load_engine(EngineSettings(model_dir=str(whisper_model.path)))
    return Transcriber(TranscribeSettings(), engine=engine)


def test_real_speech_in_simplified_characters(transcriber, speech):
    t = transcriber.transcribe(speech["asr_example_zh"])
    assert "语音识别" in t.text
    assert "語" not in t.text and "識" not in t.text
    seg = t.segments[0]
    assert 0.0 <= seg.start_s < seg.end_s <= 5.6
    assert seg.words and all(w.start_s <= w.end_s for w in seg.words)
    assert 0.0 < seg.confidence <= 1.0


def test_session_is_stitched_onto_its_timeline(transcriber, speech, tmp_path):
    session = tmp_path / "B0001" / "S0001"
    welcome = speech_pcm(speech["asr_example_zh"])
    song = speech_pcm(speech["IT0011W0001"])
    quiet = np.zeros(16000, np.int16)
    # clip 1 at 0 s, clip 2 lost, clip 3 at 40 s, clip 4 at 60 s altered after recording
    sides = write_session(session, [(welcome, 0.0), (quiet, 20.0), (song, 40.0), (song, 60.0)])
    (session / f"{sides[1]['clip_id']}.wav").unlink()
    altered = session / f"{sides[3]['clip_id']}.wav"
    raw = bytearray(altered.read_bytes())
    raw[-50] ^= 0x10
    altered.write_bytes(bytes(raw))
    (session / "notes.txt.partial").write_text("half-copied")
    for i, case in ((0, "bad id!"), (2, "K-2026.0017")):  # the case id the agent set
        side = session / f"{sides[i]['clip_id']}.json"
        side.write_text(json.dumps(dict(json.loads(side.read_text()), case_id=case)))

    t = transcriber.transcribe(session)
    js = t.to_json()
    assert js["badge"] == "B0001" and js["session"] == "S0001"
    assert js["case_id"] == "K-2026.0017"  # the invalid one is passed over
    assert js["session_start"] == "2026-09-21T14:13:20.000Z"
    texts = [(s["start"], s["text"], s["wall_start"], s["clip_id"]) for s in js["segments"]]
    first = [x for x in texts if "语音识别" in x[1]]
    song_at = [x for x in texts if "首歌" in x[1]]
    assert first and first[0][0] < 5.6 and first[0][3] == "B0001-00000001"
    assert len(song_at) == 1, texts  # the altered clip at 60 s is not transcribed
    start, _, wall, clip = song_at[0]
    assert 40.0 <= start < 42.0 and clip == "B0001-00000003"
    assert wall.startswith("2026-09-21T14:14:0")  # EPOCH + 40 s
    statuses = {c["clip_id"]: c["status"] for c in js["clips"]}
    assert statuses == {"B0001-00000001": "ok", "B0001-00000003": "ok",
                        "B0001-00000004": "hash_mismatch"}
    assert [g["missing_seqs"] for g in js["gaps"] if g["missing_seqs"]] == [[2]]
    assert js["model"]["language"] == "zh" and js["options"]["vocabulary"]["enabled"] is False
    assert all(c["sha256"] and len(c["sha256"]) == 64 for c in js["clips"])
    vtt = t.to_vtt()
    assert "00:00:4" in vtt and vtt.startswith("WEBVTT")
    assert EPOCH  # the clock the clips were stamped with


def test_session_without_usable_clips_says_why(transcriber, tmp_path):
    (tmp_path / "a.wav").write_text("not audio")
    with pytest.raises(AudioError, match="no usable clip.*not_audio|not a RIFF"):
        transcriber.transcribe(tmp_path)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "badgekit", "gateway", "transcribe", *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_cli_json_shape_and_vtt(speech, whisper_model, tmp_path):
    vtt = tmp_path / "out.vtt"
    proc = _cli(str(speech["IT0011W0001"]), "--json", "--vtt", str(vtt),
                "--model", str(whisper_model.path))
    assert proc.returncode == 0, proc.stderr
    js = json.loads(proc.stdout)
    assert "首歌" in js["text"]
    assert js["segments"] and {"start", "end", "text"} <= set(js["segments"][0])
    assert vtt.read_text().startswith("WEBVTT")


def test_cli_compute_type(speech, whisper_model):
    """--compute-type picks the weights' precision, the transcript records it, and a type
    this CPU does not run ends in one line that lists the ones it does."""
    proc = _cli(str(speech["IT0011W0001"]), "--json", "--compute-type", "int8",
                "--model", str(whisper_model.path))
    assert proc.returncode == 0, proc.stderr
    js = json.loads(proc.stdout)
    assert js["model"]["compute_type"] == "int8"
    assert "首歌" in js["text"]
    proc = _cli(str(speech["IT0011W0001"]), "--compute-type", "int3",
                "--model", str(whisper_model.path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'int3' does not run on this CPU; it runs" in proc.stderr and "float32" in proc.stderr


def test_cli_bad_input_is_one_line(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00")
    proc = _cli(str(junk), "--json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "junk.wav" in proc.stderr
    proc = _cli(str(junk), "--model", str(tmp_path / "no-model"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_or_wrong_model_is_named(tmp_path, whisper_model):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_engine(EngineSettings(model_dir=str(tmp_path / "nowhere")))
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "model.bin").write_bytes(b"\x00" * 64)
    (wrong / "config.json").write_text("{}")
    (wrong / "vocabulary.txt").write_text("a\n")
    with pytest.raises(ModelUnavailableError, match="tokenizer.json"):
        load_engine(EngineSettings(model_dir=str(wrong)))
    (wrong / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelUnavailableError, match="cannot load"):
        load_engine(EngineSettings(model_dir=str(wrong)))
    with pytest.raises(TranscribeError, match="language 'xx'"):
        load_engine(EngineSettings(model_dir=str(whisper_model.path), language="xx"))


def test_compute_type_this_cpu_lacks(whisper_model, speech, monkeypatch):
    """int16 (the default) needs CTranslate2's Intel MKL, used on Intel CPUs only;
    elsewhere the model loads in float32, and says so in every transcript. Any other
    missing type is refused."""
    import ctranslate2

    with pytest.raises(ModelUnavailableError, match="'bfloat16' does not run on this CPU; it runs .*float32"):
        load_engine(EngineSettings(model_dir=str(whisper_model.path), compute_type="bfloat16"))
    here = set(ctranslate2.get_supported_compute_types("cpu"))
    monkeypatch.setattr(ctranslate2, "get_supported_compute_types",
                        lambda device: here - {"int16"})  # a CPU without int16 (AMD, ARM)
    engine = load_engine(EngineSettings(model_dir=str(whisper_model.path), workers=1))
    assert engine.description["compute_type"] == "float32"
    assert engine.model.model.compute_type == "float32"
    audio = speech_pcm(speech["IT0011W0001"]).astype(np.float32) / 32768.0
    text = "".join(s.text for s in engine.transcribe_window(audio))
    assert "首歌" in text, text
