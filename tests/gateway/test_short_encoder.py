"""The encoder sees a window's audio plus padding, not always Whisper's full 30 s.

A spy between faster-whisper and CTranslate2 records the feature frames each encoder
pass really got; the real model on real speech shows nothing of the window is cut off.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from gateway.transcribe import EngineSettings, load_engine
from gateway.transcribe.engine import decoding_window, encoder_frames
from tests.gateway.transcribe_support import speech_pcm

RATE = 16000


class EncoderSpy:
    """Stands in for the CTranslate2 model: records encoder input widths, passes all on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frames: list[int] = []
        self.lock = threading.Lock()

    def encode(self, features: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.frames.append(int(features.shape[-1]))
        return self.inner.encode(features, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def engine(whisper_model):
    eng = load_engine(EngineSettings(model_dir=str(whisper_model.path), workers=1))
    spy = EncoderSpy(eng.model.model)
    eng.model.model = spy
    yield eng, spy
    eng.model.model = spy.inner


def test_encoder_frames_follow_the_window():
    s = EngineSettings()
    assert encoder_frames(3 * RATE, s) == 1000  # short turn: the 10 s floor
    assert encoder_frames(12 * RATE, s) == 1800  # 12 s of audio + 6 s of padding
    assert encoder_frames(28 * RATE, s) == 3000  # never more than Whisper's window
    assert encoder_frames(3 * RATE, EngineSettings(encoder_min_s=30)) == 3000


def _float(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float32) / 32768.0


def test_short_turn_is_encoded_short_and_transcribed(engine, speech):
    eng, spy = engine
    spy.frames.clear()
    audio = _float(speech_pcm(speech["asr_example_zh"]))
    raws = eng.transcribe_window(audio)
    assert "语音识别" in "".join(r.text for r in raws)
    assert spy.frames and set(spy.frames) == {eng.encoder_frames(len(audio))}
    assert spy.frames[0] == 1155  # 5.55 s of speech and 6 s of padding, not 30 s
    assert all(w.end_s <= 5.6 for r in raws for w in r.words)


def test_long_window_keeps_its_last_words(engine, speech):
    """28 s: the utterance at the very end is still transcribed (nothing cut off)."""
    eng, spy = engine
    welcome = _float(speech_pcm(speech["asr_example_zh"]))
    net = _float(speech_pcm(speech["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"]))
    trade = _float(speech_pcm(speech["BAC009S0764W0121"])) * 8  # the quiet recordings: lifted
    song = _float(speech_pcm(speech["IT0011W0001"])) * 8
    rng = np.random.default_rng(3)
    gap = (rng.standard_normal(RATE * 6 // 10) * 1e-3).astype(np.float32)
    window = np.concatenate([welcome, gap, net, gap, trade, gap, welcome, gap, trade, gap, song])
    assert 25 * RATE < len(window) <= 28 * RATE
    spy.frames.clear()
    text = "".join(r.text for r in eng.transcribe_window(window))
    assert "欢迎大家来体验" in text and "首歌" in text
    assert set(spy.frames) == {3000}


def test_the_thread_gets_the_full_window_back(engine, speech):
    """A plain faster-whisper call after a window on the same thread sees all 30 s."""
    eng, spy = engine
    eng.transcribe_window(_float(speech_pcm(speech["IT0011W0001"])))
    spy.frames.clear()
    segs, _ = eng.model.transcribe(_float(speech_pcm(speech["IT0011W0001"])), language="zh")
    list(segs)
    assert set(spy.frames) == {3000}
    with decoding_window(object(), encoder_frames=10):  # a model without the options: left alone
        pass


def test_window_over_30_s_is_refused(engine):
    eng, _ = engine
    with pytest.raises(ValueError, match="at most 30 s"):
        eng.transcribe_window(np.zeros(31 * RATE, np.float32))
