"""Guards against text the recording does not hold: loops, repeats, invented words.

Whisper, even with its own guards (temperature fallback on a compression ratio over 2.4),
writes text no talker said in three ways, each caught here on a turn's segments after
decoding and marked in the segment's `flags` (the removed text is kept in `cuts`, so no
word of the model's output vanishes unrecorded):

- a unit of text repeated in a row inside a segment, too short a loop for the
  compression ratio to see ("咱们上传们上传们上传们的业"): `repeat_cut`, one copy kept
  (the pipeline first decodes such a turn again with a wider beam, and keeps that
  reading, flagged `repeat_redecoded`, where it no longer repeats);
- a segment repeating its predecessor in the same turn over less than half the gate
  speech the words took there: `repeat_cut`, the repeat removed (said again, they take
  as long);
- words where the gate heard no speech (more than `gate_margin_s` from every frame the
  gateway's webrtcvad gate took for speech, e.g. text written into the padding after
  the audio): `no_gate_speech`, the words removed;
- more characters than a talker can say in the gate's speech time of the turn
  (`max_chars_per_s`): `too_fast`, the text kept (which part is invented is not known).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

import numpy as np

from gateway.transcribe.segment import Segment

__all__ = [
    "GuardSettings",
    "guard_turn",
    "repeat_span",
]

REPEAT_CUT = "repeat_cut"
REPEAT_REDECODED = "repeat_redecoded"
NO_GATE_SPEECH = "no_gate_speech"
TOO_FAST = "too_fast"


@dataclass(frozen=True)
class GuardSettings:
    enabled: bool = True
    unit_repeats: int = 3
    """A unit of 2-12 characters this many times in a row is a loop (real speech repeats
    a word twice, 不是不是, and a syllable four times, 对对对对, but seldom more)."""
    char_repeats: int = 5
    """One character this many times in a row is a loop."""
    neighbour_min_chars: int = 4
    """A segment repeating at least this many characters of its predecessor in the same
    turn, and at least half of its own text, is a repeat."""
    gate_margin_s: float = 0.25
    """A word more than this far from every frame the gate heard speech in is invented
    (word times from cross-attention are off by up to about 0.2 s)."""
    max_chars_per_s: float = 12.0
    """More characters than this per second of gate speech (plus `spare_chars`) is more
    than a talker says, with room above the fastest talker of the tuning half."""
    spare_chars: int = 3
    """Characters allowed beyond the rate, so a short back-channel is never too fast."""


def _repeat_re(s: GuardSettings) -> re.Pattern[str]:
    return re.compile(r"(\w{2,12}?)\1{" + str(max(1, s.unit_repeats - 1)) + r",}"
                      r"|(\w)\2{" + str(max(1, s.char_repeats - 1)) + ",}")


def repeat_span(text: str, settings: GuardSettings | None = None) -> tuple[int, int] | None:
    """(start, end) of the repeats after the first copy of a looping unit in `text`."""
    m = _repeat_re(settings or GuardSettings()).search(text)
    if m is None:
        return None
    unit = m.group(1) or m.group(2)
    return m.start() + len(unit), m.end()


def _cut(seg: Segment, a: int, b: int, flag: str) -> Segment:
    """`seg` with characters [a, b) of its text removed (with the words whose middle falls
    there, when it has words), the removed text in `cuts` and `flag` in `flags`."""
    if not seg.words:
        flags = seg.flags if flag in seg.flags else (*seg.flags, flag)
        return replace(seg, text=(seg.text[:a] + seg.text[b:]).strip(), flags=flags,
                       cuts=(*seg.cuts, (flag, seg.text[a:b])))
    drop, pos = set(), 0
    for i, w in enumerate(seg.words):
        if a <= pos + len(w.text) / 2 < b:
            drop.add(i)
        pos += len(w.text)
    return _drop_words(seg, drop, flag)


def _drop_words(seg: Segment, drop: set[int], flag: str) -> Segment:
    if not drop:
        return seg
    flags = seg.flags if flag in seg.flags else (*seg.flags, flag)
    words = tuple(w for i, w in enumerate(seg.words) if i not in drop)
    removed = "".join(w.text for i, w in enumerate(seg.words) if i in drop).strip()
    start = words[0].start_s if words else seg.start_s
    end = words[-1].end_s if words else seg.start_s
    return replace(seg, text="".join(w.text for w in words).strip(), words=words,
                   start_s=start, end_s=max(start, end), flags=flags,
                   cuts=(*seg.cuts, (flag, removed)))


def _own_text(seg: Segment) -> str:
    """The string character offsets refer to: the words joined, or the text."""
    return "".join(w.text for w in seg.words) if seg.words else seg.text


def _cut_repeats(seg: Segment, s: GuardSettings) -> Segment:
    for _ in range(20):  # each pass removes a run; a text holds only a few
        span = repeat_span(_own_text(seg), s)
        if span is None:
            break
        seg = _cut(seg, *span, REPEAT_CUT)
    return seg


@dataclass(frozen=True)
class _Gate:
    frames: np.ndarray
    t0: float
    frame_s: float

    def speech_s(self, t0: float, t1: float) -> float:
        """Seconds of gate speech between timeline times t0 and t1 (t1 - t0 without a gate)."""
        if not len(self.frames):
            return max(0.0, t1 - t0)
        a = max(0, int(np.floor((t0 - self.t0) / self.frame_s)))
        b = min(len(self.frames), int(np.ceil((t1 - self.t0) / self.frame_s)))
        return float(self.frames[a:b].sum()) * self.frame_s if b > a else 0.0


def _span_s(seg: Segment, a: int, b: int, gate: _Gate) -> float:
    """Seconds of speech under the words holding characters [a, b) of `seg`."""
    if not seg.words:
        return gate.speech_s(seg.start_s, seg.end_s)
    pos, t0, t1 = 0, None, None
    for w in seg.words:
        if a <= pos + len(w.text) / 2 < b:
            t0 = w.start_s if t0 is None else t0
            t1 = w.end_s
        pos += len(w.text)
    return 0.0 if t0 is None or t1 is None else gate.speech_s(t0, t1)


def _cut_neighbour(prev: Segment, seg: Segment, gate: _Gate, s: GuardSettings) -> Segment:
    """A repeat of the previous segment's text over less than half the speech it took
    there (the model's copy, its words crammed together or over the room's noise) is cut;
    a talker saying the same words again speaks as long again, and is kept."""
    a, b = _own_text(prev), _own_text(seg)
    m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    letters = len(re.sub(r"\W", "", b))
    if m.size < s.neighbour_min_chars or m.size * 2 < letters:
        return seg
    if _span_s(seg, m.b, m.b + m.size, gate) >= 0.5 * _span_s(prev, m.a, m.a + m.size, gate):
        return seg
    return _cut(seg, m.b, m.b + m.size, REPEAT_CUT)


def _near_speech(t0: float, t1: float, gate: np.ndarray, gate_t0: float, frame_s: float,
                 margin: float) -> bool:
    a = int(np.floor((t0 - margin - gate_t0) / frame_s))
    b = int(np.ceil((t1 + margin - gate_t0) / frame_s))
    a, b = max(a, 0), min(b, len(gate))
    return b > a and bool(gate[a:b].any())


def _cut_ungated(seg: Segment, gate: np.ndarray, gate_t0: float, frame_s: float,
                 s: GuardSettings) -> Segment:
    drop = {i for i, w in enumerate(seg.words)
            if not _near_speech(w.start_s, w.end_s, gate, gate_t0, frame_s, s.gate_margin_s)}
    return _drop_words(seg, drop, NO_GATE_SPEECH)


def guard_turn(segs: Sequence[Segment], gate: np.ndarray, gate_t0: float, frame_s: float,
               settings: GuardSettings | None = None) -> list[Segment]:
    """One turn's segments with loops, repeats and invented words cut and flagged.

    `gate`: the gate's speech decision per `frame_s` frame from timeline time `gate_t0`
    (empty: unknown, the gate guards are skipped).
    """
    s = settings or GuardSettings()
    if not s.enabled:
        return list(segs)
    out: list[Segment] = []
    for seg in segs:
        seg = _cut_repeats(seg, s)
        if out and out[-1].text:
            seg = _cut_neighbour(out[-1], seg, _Gate(gate, gate_t0, frame_s), s)
        if len(gate) and seg.words:
            seg = _cut_ungated(seg, gate, gate_t0, frame_s, s)
        out.append(seg)
    if len(gate):
        chars = sum(len(re.sub(r"\W", "", seg.text)) for seg in out)
        speech_s = float(gate.sum()) * frame_s
        if chars > s.max_chars_per_s * speech_s + s.spare_chars:
            out = [replace(seg, flags=(*seg.flags, TOO_FAST)) for seg in out]
    return out
