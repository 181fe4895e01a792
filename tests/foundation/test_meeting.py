"""Meeting-like recordings: levels, SNR and ground truth are what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from badgekit.meeting import active_rms_dbfs, build_meeting, manifest_references


def test_levels_and_snr(speech):
    utts = [speech["asr_example_zh"], speech["BAC009S0764W0121"], speech["IT0011W0001"]]
    clean = build_meeting(utts, seed=3, noise=None, level_spread_db=0, pause_s=(1, 2))
    noisy = build_meeting(utts, seed=3, noise="pink", snr_db=10, level_spread_db=0, pause_s=(1, 2))
    assert len(clean.pcm) == len(noisy.pcm)
    for t in clean.turns:
        a, b = int(t.start_s * 16000), int(t.end_s * 16000)
        seg = clean.pcm[a:b].astype(np.float32) / 32768
        assert active_rms_dbfs(seg, clean.speech_mask[a:b]) == pytest.approx(-26, abs=0.5)
    noise = (noisy.pcm.astype(np.float64) - clean.pcm) / 32768
    snr = -26 - 20 * np.log10(np.sqrt(np.mean(noise**2)))
    assert snr == pytest.approx(10, abs=0.5)
    assert 0.3 < clean.speech_fraction < 0.9


def test_references_and_length(speech):
    refs = manifest_references(speech["asr_example_zh"].parent)
    m = build_meeting(list(speech.values()), references=refs, min_seconds=60, noise="bursts", snr_db=5)
    assert m.seconds >= 60
    assert "欢迎大家来体验达摩院推出的语音识别模型" in m.reference_text
    assert m.pcm.dtype == np.int16 and len(m.speech_mask) == len(m.pcm)


def test_unknown_noise_is_refused(speech):
    with pytest.raises(ValueError, match="noise must be"):
        build_meeting([speech["IT0011W0001"]], noise="thunder")


def test_shared_speech_dir_honours_badgekit_shared(tmp_path, monkeypatch):
    from badgekit.meeting import shared_speech_dir

    monkeypatch.setenv("BADGEKIT_SHARED", str(tmp_path / "elsewhere"))
    assert shared_speech_dir() is None  # named but absent: no fallback to ../shared
    (tmp_path / "elsewhere" / "data" / "speech").mkdir(parents=True)
    assert shared_speech_dir() == tmp_path / "elsewhere" / "data" / "speech"
