"""`denoise_gentle.suppress`: lowers steady noise a little, keeps speech, keeps shape."""

from __future__ import annotations

import numpy as np
import pytest

from badgekit.meeting import build_meeting, manifest_references, shared_speech_dir
from gateway.transcribe.denoise_gentle import GentleSettings, suppress


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def test_noise_lowered_by_about_the_floor_and_speech_kept() -> None:
    speech = shared_speech_dir()
    if speech is None:
        pytest.fail("../shared/data/speech is missing")
    refs = manifest_references(speech)
    utts = [speech / f"{name}.wav" for name in sorted(refs)]
    m = build_meeting(utts, references=refs, seed=1, level_spread_db=6, pause_s=(1, 4),
                      min_seconds=20, snr_db=10)
    y = suppress(m.pcm, 16000)
    assert y.dtype == np.int16 and y.shape == m.pcm.shape
    # pauses (noise only, away from turn edges): lowered, but by no more than the mix
    # allows: a gain of (1 + 10^(-12/20)) / 2 = -4.1 dB
    pause = ~np.convolve(m.speech_mask, np.ones(8000), mode="same").astype(bool)
    drop = _db(m.pcm[pause]) - _db(y[pause])
    assert 1.0 < drop < 4.2, drop
    # turns: speech dominates, so they lose far less
    speech_drop = _db(m.pcm[m.speech_mask]) - _db(y[m.speech_mask])
    assert 0.0 <= speech_drop < 1.0, speech_drop
    full = suppress(m.pcm, 16000, GentleSettings(wet=1.0))
    assert _db(full[pause]) < _db(y[pause]) - 2.0  # the whole Wiener filter lowers more
    assert np.array_equal(suppress(m.pcm, 16000, GentleSettings(wet=0.0)), m.pcm)


def test_other_rates_and_short_input() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=8000 * 3) * 1000).astype(np.int16)
    y = suppress(x, 8000)
    assert y.dtype == np.int16 and len(y) == len(x)
    assert _db(y) < _db(x)
    short = x[:300]
    assert np.array_equal(suppress(short), short)


@pytest.mark.parametrize("bad, rate", [
    (np.zeros(16000, np.float32), 16000),
    (np.zeros((2, 16000), np.int16), 16000),
    (np.zeros(16000, np.int16), 0),
])
def test_bad_input_is_a_clear_value_error(bad: np.ndarray, rate: int) -> None:
    with pytest.raises(ValueError, match="int16|rate"):
        suppress(bad, rate)


def test_wet_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="wet"):
        suppress(np.zeros(16000, np.int16), 16000, GentleSettings(wet=1.5))
