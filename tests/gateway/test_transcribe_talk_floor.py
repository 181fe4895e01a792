"""The speech gate over a floor of talk: real speech in babble made of real recordings.

Babble is voices, so webrtcvad hears speech in most of it and its syllables rise over its
own floor; at the steady-noise margin (`floor_margin_db`) regions stay open between turns
and join the murmur to the talk. Over a floor of talk the gate asks for
`talk_floor_margin_db` instead (`vad.floor_margin`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from badgekit.meeting import build_meeting, half_utterances
from gateway.transcribe.vad import (
    VadSettings,
    _frame_db,
    floor_margin,
    speech_frames,
    speech_regions,
)
from tests.gateway.transcribe_support import speech_pcm

RATE = 16000
TALKER = "asr_example_zh"
"""The foreground talker; the babble is made of the other recordings of the tuning half."""
STEADY_MARGIN = VadSettings(talk_floor_margin_db=VadSettings().floor_margin_db)
"""The gate as it was before the talk floor: one margin over every floor."""


def _active(x: np.ndarray) -> np.ndarray:
    """Per sample: inside a 30 ms frame within 30 dB of the recording's loudest."""
    f = x[: len(x) // 480 * 480].astype(np.float64).reshape(-1, 480) / 32768.0
    e = (f**2).mean(axis=1)
    on = np.repeat(e > e.max() * 1e-3, 480)
    return np.r_[on, np.zeros(len(x) - len(on), bool)]


def _at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    """`x` scaled so its RMS over its active frames is `dbfs`."""
    y = x.astype(np.float64) / 32768.0
    return y * 10 ** (dbfs / 20) / np.sqrt((y[_active(x)] ** 2).mean())


def _babble(speech: dict[str, Path], n: int, dbfs: float, seed: int = 3) -> np.ndarray:
    """`n` samples of murmur at `dbfs` RMS: the tuning half's other talkers all at once,
    each looped from a random point."""
    utts, _ = half_utterances(speech[TALKER].parent, "tune")
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for u in utts:
        if u.stem == TALKER:
            continue
        v = speech_pcm(u).astype(np.float64)
        y += np.roll(np.tile(v, n // len(v) + 1)[:n], int(rng.integers(n)))
    return y / np.sqrt((y**2).mean()) * 10 ** (dbfs / 20)


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def _covered(pcm: np.ndarray, settings: VadSettings | None = None) -> np.ndarray:
    cov = np.zeros(len(pcm), bool)
    for r in speech_regions(pcm, RATE, settings):
        cov[r.start:r.end] = True
    return cov


def test_pure_babble_is_not_speech(speech) -> None:
    pcm = _int16(_babble(speech, 30 * RATE, -36.0))
    db = _frame_db(pcm, RATE * 30 // 1000)
    assert floor_margin(db, speech_frames(pcm, RATE, over_floor=False)) == 8.0
    assert speech_regions(pcm, RATE) == []
    # one margin over every floor takes most of it for talk
    assert _covered(pcm, STEADY_MARGIN).mean() > 0.5


def test_quiet_talker_in_babble_is_kept_and_the_murmur_around_it_is_not(speech) -> None:
    clean = speech_pcm(speech[TALKER])
    talk = _at_dbfs(clean, -32.0)  # 6 dB under the meeting's talkers
    lead = 8 * RATE
    n = lead + len(talk) + lead
    mix = _babble(speech, n, -36.0)  # babble 10 dB under -26 dBFS talkers: 4 dB under this one
    mix[lead:lead + len(talk)] += talk
    pcm = _int16(mix)
    cov = _covered(pcm)
    assert cov[lead:lead + len(talk)][_active(clean)].mean() > 0.95
    murmur = np.r_[cov[:lead], cov[lead + len(talk):]]
    assert murmur.sum() / RATE < 1.5, murmur.sum() / RATE  # little beyond the padding
    assert _covered(pcm, STEADY_MARGIN)[:lead].sum() / RATE > 4.0  # opened in the murmur


@pytest.mark.parametrize("snr", [10.0, 20.0])
def test_meeting_in_babble_keeps_the_turns_and_leaves_the_pauses(speech, snr) -> None:
    utts, refs = half_utterances(speech[TALKER].parent, "tune")
    m = build_meeting(utts, references=refs, seed=2, level_spread_db=6, pause_s=(2, 10),
                      min_seconds=60, noise="babble", snr_db=snr)
    cov = _covered(m.pcm)
    assert cov[m.speech_mask].mean() > 0.95
    quiet = min(m.turns, key=lambda t: t.level_dbfs)
    a, b = int(quiet.start_s * RATE), int(quiet.end_s * RATE)
    assert cov[a:b][m.speech_mask[a:b]].mean() > 0.95, quiet
    assert cov[~m.speech_mask].mean() < 0.2
    assert _covered(m.pcm, STEADY_MARGIN)[~m.speech_mask].mean() > 0.4


@pytest.mark.parametrize("noise", ["pink", "hum"])
def test_steady_noise_keeps_the_steady_margin(speech, noise) -> None:
    utts, refs = half_utterances(speech[TALKER].parent, "tune")
    m = build_meeting(utts, references=refs, seed=2, level_spread_db=6, pause_s=(2, 10),
                      min_seconds=60, noise=noise, snr_db=10.0)
    db = _frame_db(m.pcm, RATE * 30 // 1000)
    assert floor_margin(db, speech_frames(m.pcm, RATE, over_floor=False)) == 4.0
    assert speech_regions(m.pcm, RATE) == speech_regions(m.pcm, RATE, STEADY_MARGIN)


def test_a_clip_of_nothing_but_speech_keeps_the_steady_margin(speech) -> None:
    # TEST_NET is 1.8 s of talk whose quietest frames webrtcvad all hears as speech: its
    # floor is the talker, not a background, and at the talk margin it would be lost.
    pcm = speech_pcm(speech["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"])
    db = _frame_db(pcm, RATE * 30 // 1000)
    voiced = speech_frames(pcm, RATE, over_floor=False)
    assert floor_margin(db, voiced) == 4.0
    assert floor_margin(db, voiced, VadSettings(talk_floor_min_s=0.0)) == 8.0
    assert speech_regions(pcm, RATE, VadSettings(talk_floor_min_s=0.0)) == []
    assert speech_regions(pcm, RATE) == speech_regions(pcm, RATE, STEADY_MARGIN) != []
