"""Turns that stand little over the room's noise are decoded with their mel bands floored.

`floored` raises each mel band of the audio's frames to a percentile of itself (the
padding after the audio is left alone), `smoothed` then averages the lowest bands over
time; the pipeline asks for both (`noisy_features`) only for windows whose
turns all stand less than `feature_floor_below_db` over their background, so a turn in a
quiet room is decoded exactly as before. The real model reads the floored noisy turn.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from badgekit.meeting import build_meeting, referenced_utterances
from gateway.transcribe import EngineSettings, load_engine
from gateway.transcribe.engine import FeatureFloor, floored, noisy_features, smoothed
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces


def test_floored_raises_dips_only_in_the_audio_frames():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(80, 100)).astype(np.float32)
    f[:, 60:] = -1.5  # padding after the audio
    out = floored(f, 40.0, 60)
    low = np.percentile(f[:, :60], 40.0, axis=-1, keepdims=True)
    assert np.all(out[:, :60] >= low - 1e-6)
    keep = f[:, :60] >= low
    assert np.array_equal(out[:, :60][keep], f[:, :60][keep])  # above the floor: untouched
    assert np.array_equal(out[:, 60:], f[:, 60:])
    assert out is not f and f[:, :60].min() < low.min()  # the input is not modified
    assert floored(f, 40.0, 0) is f


def test_smoothed_averages_only_the_low_bands_of_the_audio_frames():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(80, 50)).astype(np.float32)
    out = smoothed(f, 0.25, 20, 40)
    want = 0.25 * f[:20, :38] + 0.5 * f[:20, 1:39] + 0.25 * f[:20, 2:40]
    assert np.allclose(out[:20, 1:39], want, atol=1e-6)
    assert np.array_equal(out[:20, [0, 39]], f[:20, [0, 39]])  # the ends have one neighbour
    assert np.array_equal(out[20:], f[20:])  # the wider bands: untouched
    assert np.array_equal(out[:, 40:], f[:, 40:])  # the padding: untouched
    assert out[:20, 1:39].std() < f[:20, 1:39].std()  # the flicker is smaller
    assert smoothed(f, 0.0, 20, 40) is f and smoothed(f, 0.25, 0, 40) is f


def test_noisy_features_floor_first_then_smooth():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(80, 60)).astype(np.float32)
    how = FeatureFloor(40.0, 0.25, 20)
    assert np.array_equal(noisy_features(f, how, 50), smoothed(floored(f, 40.0, 50), 0.25, 20, 50))
    assert np.array_equal(noisy_features(f, FeatureFloor(40.0), 50), floored(f, 40.0, 50))


class WindowSpy:
    """The engine, recording the feature floor each window was decoded with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.floors: list[FeatureFloor | None] = []
        self.lock = threading.Lock()

    def transcribe_window(self, audio: np.ndarray, **kwargs: Any) -> Any:
        with self.lock:
            self.floors.append(kwargs.get("feature_floor"))
        return self.inner.transcribe_window(audio, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def engine(whisper_model):
    return load_engine(EngineSettings(model_dir=str(whisper_model.path)))


def _meeting(speech_dir, snr_db: float):
    utts, refs = referenced_utterances(speech_dir)
    return build_meeting(utts[:2], references=refs, seed=5, level_spread_db=0.0,
                         pause_s=(1.0, 1.5), min_seconds=8.0, snr_db=snr_db)


def test_noisy_turns_are_floored_and_quiet_room_turns_are_not(engine, speech):
    speech_dir = next(iter(speech.values())).parent
    settings = PipelineSettings()
    for snr, want in ((8.0, settings.feature_floor), (35.0, None)):
        m = _meeting(speech_dir, snr)
        spy = WindowSpy(engine)
        segs = list(transcribe_pieces([Piece(m.pcm, 0.0)], spy, settings))  # type: ignore[arg-type]
        assert spy.floors and set(spy.floors) == {want}, (snr, spy.floors)
        text = "".join(s.text for s in segs)
        assert "情况" in text or "首歌" in text, (snr, text)


def test_the_floor_can_be_turned_off(engine, speech):
    m = _meeting(next(iter(speech.values())).parent, 8.0)
    spy = WindowSpy(engine)
    list(transcribe_pieces([Piece(m.pcm, 0.0)], spy,  # type: ignore[arg-type]
                           PipelineSettings(feature_floor_below_db=None)))
    assert set(spy.floors) == {None}
