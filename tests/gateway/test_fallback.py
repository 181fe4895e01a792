"""Temperature fallback fires for loops, not for a low log-probability (unless asked).

A spy between faster-whisper and CTranslate2 records the temperature of every decoding
pass. A log-probability threshold no real pass can reach (0.0) makes every pass "low":
the gateway decodes once with the beam and keeps it; with `fallback_on_log_prob` it
walks every temperature, as plain faster-whisper does.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from gateway.transcribe import EngineSettings, load_engine
from tests.gateway.transcribe_support import speech_pcm


class GenerateSpy:
    """Stands in for the CTranslate2 model: records each pass's temperature, passes all on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.temperatures: list[float] = []
        self.lock = threading.Lock()

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.temperatures.append(float(kwargs.get("sampling_temperature", 0.0)))
        return self.inner.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def loaded(whisper_model):
    eng = load_engine(EngineSettings(model_dir=str(whisper_model.path), workers=1,
                                     word_timestamps=False))
    spy = GenerateSpy(eng.model.model)
    eng.model.model = spy
    yield eng, spy
    eng.model.model = spy.inner


def _with(eng, **changes):
    from dataclasses import replace

    from gateway.transcribe.engine import WhisperEngine

    return WhisperEngine(eng.model, replace(eng.settings, **changes), eng.model_path,
                         eng.model_sha256, eng.workers)


def _turn(speech) -> np.ndarray:
    return speech_pcm(speech["IT0011W0001"]).astype(np.float32) / 32768.0 * 8


def test_low_log_prob_keeps_the_beam_pass(loaded, speech):
    eng, spy = loaded
    spy.temperatures.clear()
    raws = _with(eng, log_prob_threshold=0.0).transcribe_window(_turn(speech))
    assert spy.temperatures == [0.0]
    assert "首歌" in "".join(r.text for r in raws)  # kept, not gated as silence


def test_fallback_on_log_prob_walks_the_temperatures(loaded, speech):
    eng, spy = loaded
    spy.temperatures.clear()
    _with(eng, log_prob_threshold=0.0, fallback_on_log_prob=True).transcribe_window(_turn(speech))
    assert spy.temperatures == list(eng.settings.temperatures)


def test_plain_faster_whisper_on_the_same_thread_is_unchanged(loaded, speech):
    """After a gateway window, the thread's own faster-whisper calls fall back as usual."""
    eng, spy = loaded
    _with(eng, log_prob_threshold=0.0).transcribe_window(_turn(speech))
    spy.temperatures.clear()
    segs, _ = eng.model.transcribe(_turn(speech), language="zh", log_prob_threshold=0.0,
                                   temperature=[0.0, 0.5], without_timestamps=True)
    list(segs)
    assert spy.temperatures == [0.0, 0.5]


def test_description_records_the_choice(loaded):
    eng, _ = loaded
    assert eng.description["fallback_on_log_prob"] is False
