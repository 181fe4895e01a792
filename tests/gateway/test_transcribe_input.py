"""Transcription input side: decoding, clip verification, bad files, vocabulary, guards.

No speech model here: real clips are written with the firmware's ADPCM encoder and
FolderSink, decoded with ours, and compared with sox's decode.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.transcribe import (
    CorruptAudioError,
    NotAudioError,
    TruncatedAudioError,
    check_session_clips,
    decode_wav,
    speech_regions,
    to_simplified,
)
from gateway.transcribe.decode import decode_ima_adpcm
from gateway.transcribe.metrics import cer
from gateway.transcribe.pipeline import collapse_loops, has_loop
from gateway.transcribe.segment import Segment
from gateway.transcribe.transcript import SessionTranscript
from gateway.transcribe.verify import ClipCheck
from gateway.transcribe.vocabulary import VocabularyError, load_vocabulary
from tests.gateway.transcribe_support import speech_pcm, write_session

SOX = shutil.which("sox")


def sox_decode(path: Path) -> np.ndarray:
    assert SOX, "sox missing; fix: sudo apt-get install -y sox"
    raw = subprocess.run([SOX, str(path), "-t", "raw", "-e", "signed", "-b", "16", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2")


def test_badge_clip_decodes_like_sox(tmp_path, speech):
    pcm = speech_pcm(speech["asr_example_zh"])
    side = write_session(tmp_path, [(pcm, 0.0)])[0]
    ours = decode_wav(tmp_path / f"{side['clip_id']}.wav")
    ref = sox_decode(tmp_path / f"{side['clip_id']}.wav")
    assert ours.encoding == "ima_adpcm" and ours.rate_hz == 16000
    assert len(ours.samples) == len(pcm) == side["samples"]
    assert np.array_equal(ours.samples, ref[: len(pcm)])
    raw = (tmp_path / f"{side['clip_id']}.wav").read_bytes()
    data = raw[raw.index(b"data") + 8:]
    assert np.array_equal(decode_ima_adpcm(data), ref)  # every block, padding included
    assert np.corrcoef(ours.samples.astype(float), pcm.astype(float))[0, 1] > 0.99


def test_sox_made_adpcm_and_resampled_pcm(tmp_path, speech):
    src = speech["IT0011W0001"]
    ima = tmp_path / "ima.wav"
    subprocess.run([SOX, str(src), "-e", "ima-adpcm", str(ima)], check=True)
    ours = decode_wav(ima)
    assert np.array_equal(ours.samples, sox_decode(ima)[: len(ours.samples)])
    stereo = tmp_path / "stereo44k.wav"
    subprocess.run([SOX, str(src), "-r", "44100", "-c", "2", "-b", "24", str(stereo)], check=True)
    d = decode_wav(stereo)
    assert (d.encoding, d.source_rate_hz, d.channels, d.rate_hz) == ("pcm24", 44100, 2, 16000)
    assert abs(d.seconds - 1.99) < 0.02


def test_bad_files_get_named_errors(tmp_path, speech):
    text = tmp_path / "notes.wav"
    text.write_text("customer notes, not audio\n")
    with pytest.raises(NotAudioError, match="not a RIFF/WAVE"):
        decode_wav(text)
    side = write_session(tmp_path / "s", [(speech_pcm(speech["IT0011W0001"]), 0.0)])[0]
    clip = tmp_path / "s" / f"{side['clip_id']}.wav"
    cut = tmp_path / "cut.wav"
    cut.write_bytes(clip.read_bytes()[:-3000])
    with pytest.raises(TruncatedAudioError, match="truncated"):
        decode_wav(cut)
    bad = bytearray(clip.read_bytes())
    data_at = bad.index(b"data") + 8
    bad[data_at + 2] = 200  # step index of the first block out of range
    broken = tmp_path / "broken.wav"
    broken.write_bytes(bytes(bad))
    with pytest.raises(CorruptAudioError, match="step index 200"):
        decode_wav(broken)


def test_chain_tamper_gap_and_bad_files_are_reported(tmp_path, speech):
    pcm = speech_pcm(speech["IT0011W0001"])
    sides = write_session(tmp_path, [(pcm, 0.0), (pcm, 3.0), (pcm, 6.0), (pcm, 9.0)])
    files = {s["seq"]: tmp_path / f"{s['clip_id']}.wav" for s in sides}
    files.pop(2).unlink()  # a clip lost on the way
    raw = bytearray(files[3].read_bytes())
    raw[-100] ^= 0x01  # one flipped bit of audio
    files[3].write_bytes(bytes(raw))
    junk = tmp_path / "B0001-99999999.wav"
    junk.write_bytes(b"\x00" * 64)
    short = tmp_path / "short.wav"
    short.write_bytes(files[4].read_bytes()[:200])
    check = check_session_clips(sorted(tmp_path.glob("*.wav")))
    status = {c.path.name: c.status for c in check.clips}
    assert status["B0001-00000001.wav"] == "ok"
    assert status["B0001-00000003.wav"] == "hash_mismatch"
    assert status["B0001-00000004.wav"] == "ok"
    assert status["B0001-99999999.wav"] == "not_audio"
    assert status["short.wav"] == "truncated"
    assert [c.clip_id for c in check.usable] == ["B0001-00000001", "B0001-00000004"]
    missing = [g for g in check.gaps if g.missing_seqs]
    assert missing and missing[0].missing_seqs == (2,)
    # clip 4 names the original clip 3, not the altered one on disk
    assert any("chain broken between B0001-00000003 and B0001-00000004" in g.reason
               for g in check.gaps)
    assert any("hash mismatch" in p for p in check.problems)


def test_recovered_clip_is_used_and_reported(tmp_path, speech):
    from firmware.clips import fmt as clipfmt
    from firmware.clips.sink import FolderSink

    sink = FolderSink(str(tmp_path))
    sink.open_clip({"badge": "B7", "session": "S1", "seq": 1, "start_epoch": 1_790_000_000,
                    "session_offset_samples": 0, "offset_samples": 0, "sample_rate": 16000})
    sink.write_block(bytes([0, 0, 0, 0]) + bytes(252))
    sink.close_clip(505, dropped_ms=120, flags=clipfmt.FLAG_RECOVERED)
    check = check_session_clips(sorted(tmp_path.glob("*.wav")))
    assert check.clips[0].ok and check.clips[0].recovered
    assert any("recovered after a power cut, 120 ms dropped" in p for p in check.problems)


def test_vad_finds_the_utterance(speech):
    pcm = speech_pcm(speech["asr_example_zh"])
    padded = np.concatenate([np.zeros(3 * 16000, np.int16), pcm, np.zeros(4 * 16000, np.int16)])
    rng = np.random.default_rng(0)
    padded = (padded + rng.normal(0, 30, len(padded))).astype(np.int16)
    regions = speech_regions(padded)
    assert regions, "no speech found"
    assert regions[0].start >= 2.5 * 16000 and regions[-1].end <= (3 + 5.6 + 0.6) * 16000
    covered = sum(r.length for r in regions) / 16000
    assert 3.5 < covered < 6.5


def test_only_padding_is_faded_never_a_cut_edge(speech):
    from gateway.transcribe.pipeline import PipelineSettings, _fade_edges
    from gateway.transcribe.vad import VadSettings

    pcm = speech_pcm(speech["asr_example_zh"])
    rng = np.random.default_rng(0)
    quiet = np.zeros(3 * 16000, np.int16)
    # a clip that starts mid-sentence (the continuation after a seamless split) and a
    # long turn split at its quietest frame: no padding at those edges
    mid = np.concatenate([pcm[16000:], quiet])
    mid = (mid + rng.normal(0, 30, len(mid))).astype(np.int16)
    first = speech_regions(mid)[0]
    assert first.start == 0 and first.lead == 0 and first.tail > 0
    turn = np.concatenate([quiet, pcm, quiet])
    turn = (turn + rng.normal(0, 30, len(turn))).astype(np.int16)
    parts = speech_regions(turn, settings=VadSettings(max_region_s=2.5))
    assert parts[0].lead == 6400 and parts[-1].tail == 6400  # 400 ms of padding
    splits = [(a, b) for a, b in zip(parts, parts[1:], strict=False) if a.end == b.start]
    assert splits, parts  # the long turn was split somewhere
    assert all(a.tail == 0 and b.lead == 0 for a, b in splits)
    audio = np.ones(32000, np.float32)
    s = PipelineSettings()
    faded, _ = _fade_edges(audio, 0.01, first, s)
    assert faded[0] == 1.0 and faded[-1] < 0.11  # the cut start kept, the padded end faded
    assert np.array_equal(_fade_edges(audio, 0.01, splits[0][1], s)[0][:100], audio[:100])


def test_traditional_becomes_simplified():
    assert to_simplified("每一天都要快樂喔，說不清楚") == "每一天都要快乐喔，说不清楚"
    assert cer("歡迎大家來體驗", "欢迎大家来体验") == 0.0


def test_loop_guard():
    assert has_loop("谢谢谢谢谢谢谢谢谢谢")
    assert has_loop("好的，好的，好的，好的，好的，好的")
    assert not has_loop("欢迎大家来体验达摩院推出的语音识别模型")
    assert collapse_loops("我们说我们说我们说我们说我们说我们说") == "我们说"


def test_vocabulary_file(tmp_path):
    vocab = load_vocabulary()
    assert "犹豫期" in vocab.terms and "现金价值" in vocab.terms
    on = vocab.with_enabled(True)
    assert on.initial_prompt and "责任免除" in on.initial_prompt
    assert vocab.initial_prompt is None  # off by default: measured, it does not help
    bad = tmp_path / "v.toml"
    bad.write_text("[vocabulary\nterms = 1")
    with pytest.raises(VocabularyError, match="not valid TOML"):
        load_vocabulary(bad)


def test_json_and_vtt_rendering(tmp_path):
    clip = ClipCheck(tmp_path / "B1-00000001.wav", "ok", clip_id="B1-00000001", badge="B1",
                     session="S1", seq=1, sha256="ab" * 32, start_epoch_s=1_790_000_000.5)
    seg = Segment(61.25, 63.5, "犹豫期<十五天>", 0, -0.2, 0.01, 1.1, 0.0)
    t = SessionTranscript([seg], [clip], session_start_epoch_s=1_790_000_000.5,
                          clip_start_epoch_s={0: 1_790_000_000.5}, badge="B1", session="S1",
                          duration_s=70.0, processing_s=7.0)
    js = t.to_json()
    assert js["text"] == "犹豫期<十五天>"
    assert js["segments"][0]["start"] == 61.25 and js["segments"][0]["end"] == 63.5
    assert js["segments"][0]["wall_start"] == "2026-09-21T14:14:21.750Z"
    assert js["clips"][0]["sha256"] == "ab" * 32
    vtt = t.to_vtt()
    assert vtt.startswith("WEBVTT\n")
    assert "00:01:01.250 --> 00:01:03.500\n犹豫期&lt;十五天&gt;" in vtt


def test_plain_wav_with_wave_module(tmp_path):
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes())
    d = decode_wav(path)
    assert d.encoding == "pcm16" and len(d.samples) == 16000


def test_denoise_lowers_noise_keeps_speech(speech):
    from gateway.transcribe.denoise import DenoiseSettings, wiener

    voice = speech_pcm(speech["asr_example_zh"]).astype(np.float64)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, np.std(voice) / 5, len(voice) + 32000)  # ~14 dB below the voice
    mix = noise.copy()
    mix[16000:16000 + len(voice)] += voice
    full = DenoiseSettings(wet=1.0)  # the filter alone (the gateway mixes it with the input)
    out = wiener(np.clip(mix, -32768, 32767).astype(np.int16), full).astype(np.float64)
    assert out.shape == mix.shape
    pause_before, pause_after = np.std(mix[:15000]), np.std(out[:15000])
    assert pause_after < pause_before / 2  # the noise in the pause drops by > 6 dB
    kept = np.corrcoef(out[16000:16000 + len(voice)], voice)[0, 1]
    assert kept > np.corrcoef(mix[16000:16000 + len(voice)], voice)[0, 1]  # closer to the voice
