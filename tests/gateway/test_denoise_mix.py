"""`denoise.wiener` mixed with the recording: lowers steady noise a little, keeps speech."""

from __future__ import annotations

import numpy as np
import pytest

from badgekit.meeting import build_meeting, half_utterances
from gateway.transcribe.denoise import DenoiseSettings, wiener


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def test_noise_lowered_by_at_most_the_mix_and_speech_kept(speech) -> None:
    utts, refs = half_utterances(speech["asr_example_zh"].parent, "old4")
    m = build_meeting(utts, references=refs, seed=1, level_spread_db=6, pause_s=(1, 4),
                      min_seconds=20, snr_db=10)
    y = wiener(m.pcm)
    assert y.dtype == np.int16 and y.shape == m.pcm.shape
    # pauses (noise only, away from turn edges): lowered, but by no more than the half and
    # half mix allows: a gain of (1 + 10^(-12/20)) / 2 = -4.1 dB
    pause = ~np.convolve(m.speech_mask, np.ones(8000), mode="same").astype(bool)
    drop = _db(m.pcm[pause]) - _db(y[pause])
    assert 1.0 < drop < 4.2, drop
    speech_drop = _db(m.pcm[m.speech_mask]) - _db(y[m.speech_mask])
    assert 0.0 <= speech_drop < 1.0, speech_drop  # speech dominates its bins
    full = wiener(m.pcm, DenoiseSettings(wet=1.0))
    assert _db(full[pause]) < _db(y[pause]) - 2.0  # the whole filter lowers more
    assert np.array_equal(wiener(m.pcm, DenoiseSettings(wet=0.0)), m.pcm)


def test_wet_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="wet"):
        DenoiseSettings(wet=1.5)
