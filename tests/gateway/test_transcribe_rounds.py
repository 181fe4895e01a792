"""How windows are packed, decoded at once and decoded again when they lose a turn.

The control flow is checked with a scripted decoder (which window loops, which turn is
swallowed is then known exactly); a meeting with the real model checks the same path
end to end: every turn transcribed, in order, at its own time, with windows in parallel.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from badgekit.meeting import build_meeting, half_utterances
from gateway.transcribe import EngineSettings, load_engine
from gateway.transcribe.engine import RawSegment, RawWord
from gateway.transcribe.metrics import cer
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.vad import VadSettings

RATE = 16000
PACKED = PipelineSettings(max_regions=4, window_s=28.0)
"""Several turns to a window: the packing and re-decoding path (the default is one turn to
a window, where nothing is re-decoded)."""


def _tone_meeting(turns: int, pause_s: float = 2.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Turns of a 2.5 s voiced buzz with `pause_s` of faint noise between them."""
    rng = np.random.default_rng(7)
    t = np.arange(int(2.5 * RATE)) / RATE
    buzz = (np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t)
            + 0.3 * np.sin(2 * np.pi * 1100 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    gap = np.zeros(int(pause_s * RATE))
    parts, bounds, pos = [np.zeros(2 * RATE)], [], 2.0
    for _ in range(turns):
        parts += [buzz * 6000, gap]
        bounds.append((pos, pos + 2.5))
        pos += 2.5 + pause_s
    pcm = np.concatenate(parts) + rng.normal(0, 30, sum(len(p) for p in parts))
    return np.clip(pcm, -32768, 32767).astype(np.int16), bounds


class ScriptedEngine:
    """Writes one 10-character word per speech stretch it hears (where the audio is loud);
    a window of more than `loop_over` stretches comes back as a loop; records each call."""

    def __init__(self, loop_over: int = 99, swallow_first: bool = False, workers: int = 2,
                 word: str = "甲乙丙丁戊己庚辛壬癸", first_only: bool = False,
                 silent_below_s: float = 0.0):
        self.loop_over, self.swallow_first, self.workers = loop_over, swallow_first, workers
        self.word, self.first_only, self.silent_below_s = word, first_only, silent_below_s
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def transcribe_window(self, audio: np.ndarray, **_: object) -> list[RawSegment]:
        env = np.abs(audio[: len(audio) // 1600 * 1600]).reshape(-1, 1600).max(axis=1)
        loud = env > 0.05
        starts = [i for i in range(len(loud)) if loud[i] and (i == 0 or not loud[i - 1])]
        ends = [i + 1 for i in range(len(loud)) if loud[i] and (i + 1 == len(loud) or not loud[i + 1])]
        with self.lock:
            self.calls.append(len(starts))
            self.threads.add(threading.current_thread().name)
        time.sleep(0.05)  # long enough for a second window to start meanwhile
        if len(audio) < self.silent_below_s * RATE:
            return []
        if len(starts) > self.loop_over:
            return [RawSegment(0.0, len(audio) / RATE, "好的" * 10, -0.3, 0.1, 3.0, 0.0)]
        words = [RawWord(s / 10, e / 10, self.word, 0.9) for s, e in zip(starts, ends, strict=True)]
        if self.swallow_first and len(starts) > 1:
            words = words[1:]
        if self.first_only:  # Whisper's habit: the first utterance, nothing after the pause
            words = words[:1]
        return [RawSegment(w.start_s, w.end_s, w.text, -0.2, 0.05, 1.2, 0.0, (w,)) for w in words]


def test_every_turn_once_in_order_with_windows_at_once():
    pcm, bounds = _tone_meeting(8)
    engine = ScriptedEngine(workers=2)
    segs = list(transcribe_pieces([Piece(pcm, 10.0)], engine, PACKED))  # type: ignore[arg-type]
    assert len(segs) == 8 and engine.calls == [4, 4]
    assert len(engine.threads) == 2  # the two windows were decoded on two workers
    for seg, (a, b) in zip(segs, bounds, strict=True):
        assert 10.0 + a - 0.5 <= seg.start_s < seg.end_s <= 10.0 + b + 0.5
        assert not seg.redecoded


def test_by_default_every_turn_has_a_window_of_its_own():
    pcm, bounds = _tone_meeting(8)
    engine = ScriptedEngine(workers=2)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine))  # type: ignore[arg-type]
    assert engine.calls == [1] * 8 and len(engine.threads) == 2
    assert len(segs) == 8 and not any(s.redecoded for s in segs)
    for seg, (a, b) in zip(segs, bounds, strict=True):
        assert a - 0.5 <= seg.start_s < seg.end_s <= b + 0.5


def test_looping_windows_are_decoded_again_half_as_many_per_window():
    pcm, _ = _tone_meeting(8)
    engine = ScriptedEngine(loop_over=1)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine, PACKED))  # type: ignore[arg-type]
    # round 1: two windows of 4 loop; round 2: four windows of 2 loop; round 3: one each
    assert engine.calls == [4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert len(segs) == 8 and all(s.redecoded and s.text == "甲乙丙丁戊己庚辛壬癸" for s in segs)
    assert [s.start_s for s in segs] == sorted(s.start_s for s in segs)


@pytest.mark.parametrize(("workers", "calls"), [(1, [4, 4, 2, 1]), (2, [4, 4, 1, 1])])
def test_swallowed_turns_of_all_windows_are_decoded_again_together(workers, calls):
    pcm, _ = _tone_meeting(8)
    engine = ScriptedEngine(swallow_first=True, workers=workers)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine, PACKED))  # type: ignore[arg-type]
    # each window of 4 loses its first turn; one worker: both lost turns share a window,
    # which loses its first again, decoded alone next; two workers: one window each
    assert engine.calls == calls
    assert len(segs) == 8
    assert [s.redecoded for s in segs] == [True, False, False, False, True, False, False, False]


@pytest.mark.parametrize(("workers", "calls"), [(1, [4, 4, 4]), (2, [3, 3, 3, 3]), (3, [4, 4, 4])])
def test_windows_keep_every_worker_busy(workers, calls):
    pcm, _ = _tone_meeting(12)
    engine = ScriptedEngine(workers=workers)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine, PACKED))  # type: ignore[arg-type]
    assert sorted(engine.calls) == calls and len(segs) == 12


def test_a_turn_swallowed_after_a_pause_is_split_there_and_decoded_in_parts():
    pcm, bounds = _tone_meeting(2, pause_s=0.7)  # the VAD joins the two turns into one region
    engine = ScriptedEngine(word="你好", first_only=True)
    segs = list(transcribe_pieces([Piece(pcm, 5.0)], engine))  # type: ignore[arg-type]
    # the joined turn got 2 characters for 5.7 s of speech: split at the pause, each part
    # alone; a part holds no pause of its own, so it is not split again
    assert engine.calls == [2, 1, 1]
    assert [s.text for s in segs] == ["你好", "你好"] and all(s.redecoded for s in segs)
    for seg, (a, b) in zip(segs, bounds, strict=True):
        assert 5.0 + a - 0.5 <= seg.start_s < seg.end_s <= 5.0 + b + 0.5


def test_a_pause_the_noise_flickers_in_is_still_a_pause():
    """In a real pause the denoised room noise rises 6 dB or more over its background for
    a frame or a few: such blips (here 60 ms, 20 dB over the room) cut no pause short."""
    pcm, bounds = _tone_meeting(2, pause_s=0.7)
    rng = np.random.default_rng(3)
    pause_end = bounds[1][0]
    for at in (pause_end - 0.5, pause_end - 0.26):  # quiet stretches between: < 0.3 s each
        i = int(at * RATE)
        pcm[i:i + int(0.06 * RATE)] += rng.normal(0, 300, int(0.06 * RATE)).astype(np.int16)
    engine = ScriptedEngine(word="你好", first_only=True)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine))  # type: ignore[arg-type]
    assert engine.calls == [2, 1, 1]
    assert [s.text for s in segs] == ["你好", "你好"]


def test_a_split_is_kept_only_where_its_parts_hold_more_text():
    pcm, _ = _tone_meeting(2, pause_s=0.7)
    engine = ScriptedEngine(word="你好", first_only=True)
    joined = PipelineSettings(split_pause_ms=0)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine, joined))  # type: ignore[arg-type]
    assert engine.calls == [2] and [s.text for s in segs] == ["你好"]  # splitting off
    engine = ScriptedEngine(word="你好", first_only=True, silent_below_s=4.0)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine))  # type: ignore[arg-type]
    # split, but the parts came back empty: the joined turn's own reading stays
    assert engine.calls == [2, 1, 1] and [s.text for s in segs] == ["你好"]
    assert not segs[0].redecoded
    pcm, _ = _tone_meeting(1)  # one turn, nothing to split it at: decoded once, kept
    engine = ScriptedEngine(word="好")
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine))  # type: ignore[arg-type]
    assert engine.calls == [1] and [s.text for s in segs] == ["好"] and not segs[0].redecoded


class SkipsAfterPause:
    """The real engine, but a window of more than 4.5 s keeps only the words it heard in
    its first 2.5 s: what Whisper base does on some windows holding two utterances and a
    pause (meetings at 20 dB, bench/transcribe_meeting.py seed 20)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.windows: list[float] = []

    def transcribe_window(self, audio: np.ndarray, **kwargs: object) -> list[RawSegment]:
        self.windows.append(len(audio) / RATE)
        raws = self.inner.transcribe_window(audio, **kwargs)  # type: ignore[attr-defined]
        if len(audio) <= 4.5 * RATE:
            return raws
        out = []
        for r in raws:
            kept = tuple(w for w in r.words if w.start_s < 2.5)
            if kept:
                out.append(replace(r, end_s=kept[-1].end_s, text="".join(w.text for w in kept), words=kept))
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_real_speech_swallowed_after_a_pause_is_recovered(whisper_model, speech):
    utts, refs = half_utterances(Path(speech["asr_example_zh"]).parent, "old4")
    two = [u for u in utts if u.stem.startswith(("IT0011", "TEST_NET"))]
    m = build_meeting(two, references=refs, seed=3, level_spread_db=0, pause_s=(0.8, 0.9),
                      min_seconds=0, snr_db=25)
    joins = PipelineSettings(vad=VadSettings(merge_gap_ms=1500))  # the two turns: one region
    engine = SkipsAfterPause(load_engine(EngineSettings(model_dir=str(whisper_model.path))))
    segs = list(transcribe_pieces([Piece(m.pcm, 0.0)], engine, joins))  # type: ignore[arg-type]
    assert len(m.turns) == 2 and engine.windows[0] > 4.5
    assert len(engine.windows) == 3 and max(engine.windows[1:]) <= 4.5  # then its two parts
    assert all(s.redecoded for s in segs)
    assert cer("".join(s.text for s in segs), m.reference_text) < 0.2
    for turn in m.turns:
        inside = [s for s in segs if turn.start_s - 0.6 <= s.start_s and s.end_s <= turn.end_s + 0.6]
        assert inside, f"no text for {turn.name} at {turn.start_s:.1f}-{turn.end_s:.1f} s"


def test_a_loop_that_persists_alone_keeps_one_copy():
    pcm, _ = _tone_meeting(1)
    engine = ScriptedEngine(loop_over=0)
    segs = list(transcribe_pieces([Piece(pcm, 0.0)], engine, PACKED))  # type: ignore[arg-type]
    # decoded once more with a wider beam (guards: a repeating turn), then one copy kept
    assert engine.calls == [1, 1] and [s.text for s in segs] == ["好的"]


@pytest.mark.parametrize("workers", [1, 2])
def test_real_meeting_every_turn_at_its_time(whisper_model, speech, workers):
    utts, refs = half_utterances(Path(speech["asr_example_zh"]).parent, "old4")
    m = build_meeting(utts, references=refs, seed=1, level_spread_db=6, pause_s=(1.0, 3.0),
                      min_seconds=25, snr_db=20)
    engine = load_engine(EngineSettings(model_dir=str(whisper_model.path), workers=workers))
    assert engine.workers == workers
    segs = list(transcribe_pieces([Piece(m.pcm, 0.0)], engine))
    assert cer("".join(s.text for s in segs), m.reference_text) < 0.2
    for turn in m.turns:  # every turn got text that lies inside it
        inside = [s for s in segs if turn.start_s - 0.6 <= s.start_s and s.end_s <= turn.end_s + 0.6]
        assert inside, f"no text for {turn.name} at {turn.start_s:.1f}-{turn.end_s:.1f} s"
