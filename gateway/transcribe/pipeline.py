"""Meeting audio → timed segments: VAD cut, loudness, packing, guarded decoding, stitching.

Whole-file Whisper fails on meetings in two ways: long silences and noise invite
hallucination loops, and a 30 s window with one loud and one quiet talker swallows the
quiet turn. The pipeline avoids both and spends the model's time on speech only:

0. `denoise.wiener` lowers the stationary room noise (one noise estimate per session);
1. `vad.speech_regions` cuts every piece of audio into utterance-sized regions;
2. each region is brought to `target_dbfs` (active speech RMS), so quiet and loud talkers
   look alike to the model;
3. regions are packed, in time order, into windows of at most `window_s` with
   `join_gap_ms` of quiet background between them: one encoder pass serves several
   turns, and no window holds a long silence;
4. each window is decoded with the engine's guards (no conditioning on previous text,
   temperature fallback, no-speech gate); words are assigned to the region under their
   midpoint, so a segment never straddles two turns and every time maps exactly back to
   the recording;
5. regions that got no words, or text no turn of that length could hold (fewer than
   `min_chars_per_s` or more than `max_chars_per_s`: a swallowed turn, or a neighbour's
   turn copied onto it), are packed into a window of their own and decoded again; a
   window whose text loops (`max_repeats`) is split in halves; down to one region at a
   time, where a loop that persists keeps one copy of its unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from gateway.transcribe.denoise import DenoiseSettings, noise_spectrum, wiener
from gateway.transcribe.engine import RawSegment, RawWord, WhisperEngine
from gateway.transcribe.vad import VadSettings, speech_regions

__all__ = [
    "Piece",
    "PipelineSettings",
    "Segment",
    "Word",
    "collapse_loops",
    "has_loop",
    "transcribe_pieces",
]

_RATE = 16000


@dataclass(frozen=True)
class PipelineSettings:
    """How audio is cut, levelled, packed and checked around the model."""

    vad: VadSettings = field(default_factory=VadSettings)
    denoise: DenoiseSettings = field(default_factory=DenoiseSettings)
    target_dbfs: float = -20.0
    """Active speech RMS each region is brought to."""
    max_gain_db: float = 30.0
    """Never amplify a region more than this (noise-only regions stay quiet)."""
    window_s: float = 28.0
    """Regions are packed into windows up to this long (Whisper sees 30 s)."""
    max_regions: int = 4
    """At most this many regions share a window (fewer turns, less cross-talk of text)."""
    join_gap_ms: int = 600
    """Background placed between packed regions."""
    first_beam: int | None = None
    """Beam of the first pass (None: the engine's); a small one is fast."""
    recheck_below: float = 0.0
    """With `first_beam`, regions whose mean word probability is below this are decoded
    again with the engine's beam, and the more confident text is kept."""
    recheck_regions: int = 2
    """Regions per window when re-checking."""
    max_chars_per_s: float = 9.0
    """More characters than this per second of a region's speech: text from elsewhere."""
    min_chars_per_s: float = 1.2
    """Fewer per second of a region's speech (≥ 1 s): the turn was swallowed."""
    max_repeats: int = 5
    """A unit of text repeated this many times in a row marks a loop."""
    initial_prompt: str | None = None
    """Prompt for every window (domain vocabulary), None for none."""
    hotwords: str | None = None
    """Hotwords for every window, None for none."""


@dataclass(frozen=True)
class Piece:
    """Contiguous audio placed on a timeline (one clip, or one whole file)."""

    pcm: np.ndarray
    """int16 mono 16 kHz samples."""
    offset_s: float
    """Timeline time of the first sample."""
    source: int = 0
    """Index of the clip the audio came from."""


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of transcript on the timeline (times in seconds from timeline zero)."""

    start_s: float
    end_s: float
    text: str
    source: int
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    words: tuple[Word, ...] = ()
    redecoded: bool = False
    """True when this text came from a second decoding (lost, implausible or looping turn)."""

    @property
    def confidence(self) -> float:
        """Mean word probability (exp of the average log-probability without words)."""
        if self.words:
            return float(np.mean([w.probability for w in self.words]))
        return float(np.exp(self.avg_logprob))


@dataclass(frozen=True)
class _Region:
    source: int
    offset_s: float
    audio: np.ndarray  # float32, levelled
    floor: float  # RMS of its quietest frames (the background under the speech)


@dataclass(frozen=True)
class _Slot:
    region: _Region
    start_s: float  # where the region starts inside the window
    end_s: float


def has_loop(text: str, max_repeats: int = 5) -> bool:
    """True if a unit of 1-12 characters repeats `max_repeats` or more times in a row."""
    return bool(_loop_re(max_repeats).search(re.sub(r"\s+", "", text)))


def _loop_re(max_repeats: int) -> re.Pattern[str]:
    return re.compile(r"(.{1,12}?)\1{" + str(max(1, max_repeats - 1)) + ",}")


def collapse_loops(text: str, max_repeats: int = 5) -> str:
    """Replace every run of a looping unit by one copy of the unit."""
    return _loop_re(max_repeats).sub(r"\1", text)


def _level(pcm: np.ndarray, s: PipelineSettings) -> tuple[np.ndarray, float]:
    """The region brought to `target_dbfs` of active speech, and its background RMS."""
    x = pcm.astype(np.float32) / 32768.0
    n = len(x) // 160
    if n == 0:
        return x, 0.0
    frames = x[: n * 160].reshape(n, 160)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    active = rms[rms >= np.percentile(rms, 50)]  # the louder half: the voice, not the pauses
    level = 20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12)
    gain = 10 ** (min(s.target_dbfs - level, s.max_gain_db) / 20)
    y = x * gain
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.99:
        y, gain = y * (0.99 / peak), gain * 0.99 / peak
    return y, float(np.percentile(rms, 10)) * gain


def _regions(pieces: Sequence[Piece], s: PipelineSettings) -> list[_Region]:
    out = []
    noise = noise_spectrum([p.pcm for p in pieces], s.denoise) if s.denoise.enabled else None
    for p in pieces:
        pcm = wiener(p.pcm, s.denoise, noise) if s.denoise.enabled else p.pcm
        for r in speech_regions(pcm, _RATE, s.vad):
            audio, floor = _level(pcm[r.start:r.end], s)
            out.append(_Region(p.source, p.offset_s + r.start / _RATE, audio, floor))
    out.sort(key=lambda r: r.offset_s)
    return out


def _windows(regions: list[_Region], s: PipelineSettings) -> Iterator[list[_Region]]:
    """Group regions, in order, into windows of at most `window_s` (with the gaps)."""
    group: list[_Region] = []
    length = 0.0
    gap = s.join_gap_ms / 1000
    for r in regions:
        dur = len(r.audio) / _RATE
        if group and (length + gap + dur > s.window_s or len(group) >= s.max_regions):
            yield group
            group, length = [], 0.0
        length += dur + (gap if group else 0.0)
        group.append(r)
    if group:
        yield group


def _assemble(regions: list[_Region], s: PipelineSettings) -> tuple[np.ndarray, list[_Slot]]:
    """One window: the regions joined by gaps of their own background level.

    The gaps hold quiet noise, not digital silence: Whisper reads zeros as the padding
    after the end of the audio and tends to stop transcribing at the first one.
    """
    rng = np.random.default_rng(len(regions))
    n_gap = _RATE * s.join_gap_ms // 1000
    parts: list[np.ndarray] = []
    slots: list[_Slot] = []
    pos = 0.0
    for i, r in enumerate(regions):
        if i:
            level = min(r.floor, regions[i - 1].floor)
            parts.append((rng.standard_normal(n_gap) * level).astype(np.float32))
            pos += n_gap / _RATE
        dur = len(r.audio) / _RATE
        parts.append(r.audio)
        slots.append(_Slot(r, pos, pos + dur))
        pos += dur
    return np.concatenate(parts), slots


def _slot_of(t: float, slots: list[_Slot]) -> int:
    best, dist = 0, float("inf")
    for i, sl in enumerate(slots):
        d = 0.0 if sl.start_s <= t <= sl.end_s else min(abs(t - sl.start_s), abs(t - sl.end_s))
        if d < dist:
            best, dist = i, d
    return best


def _to_timeline(t: float, sl: _Slot) -> float:
    return sl.region.offset_s + min(max(t - sl.start_s, 0.0), sl.end_s - sl.start_s)


def _segment(raw: RawSegment, sl: _Slot, words: list[RawWord], text: str,
             redecoded: bool) -> Segment:
    tw = tuple(Word(_to_timeline(w.start_s, sl), _to_timeline(w.end_s, sl), w.text,
                    w.probability) for w in words)
    start = tw[0].start_s if tw else _to_timeline(raw.start_s, sl)
    end = tw[-1].end_s if tw else _to_timeline(raw.end_s, sl)
    return Segment(start, max(end, start), text.strip(), sl.region.source, raw.avg_logprob,
                   raw.no_speech_prob, raw.compression_ratio, raw.temperature, tw, redecoded)


def _split(raws: list[RawSegment], slots: list[_Slot], redecoded: bool) -> list[list[Segment]]:
    """Segments per slot: words go to the slot under their midpoint."""
    per: list[list[Segment]] = [[] for _ in slots]
    for raw in raws:
        if not raw.text:
            continue
        if not raw.words:
            i = _slot_of((raw.start_s + raw.end_s) / 2, slots)
            per[i].append(_segment(raw, slots[i], [], raw.text, redecoded))
            continue
        groups: dict[int, list[RawWord]] = {}
        for w in raw.words:
            groups.setdefault(_slot_of((w.start_s + w.end_s) / 2, slots), []).append(w)
        for i, ws in sorted(groups.items()):
            text = "".join(w.text for w in ws)
            if text.strip():
                per[i].append(_segment(raw, slots[i], ws, text, redecoded))
    return per


def _decode(engine: WhisperEngine, audio: np.ndarray, s: PipelineSettings,
            beam: int | None = None) -> list[RawSegment]:
    return engine.transcribe_window(audio, initial_prompt=s.initial_prompt, hotwords=s.hotwords,
                                    beam_size=beam)


def _implausible(segs: list[Segment], region: _Region, s: PipelineSettings) -> bool:
    """Text that the region's speech cannot hold: far too much (a turn copied here) or far
    too little (the turn was swallowed and a stray word of its neighbour aligned here)."""
    chars = sum(len(re.sub(r"\W", "", seg.text)) for seg in segs)
    speech_s = max(0.5, len(region.audio) / _RATE - 2 * s.vad.pad_ms / 1000)
    too_little = speech_s >= 1.0 and chars / speech_s < s.min_chars_per_s
    return too_little or chars / speech_s > s.max_chars_per_s


def _transcribe(engine: WhisperEngine, regions: list[_Region], s: PipelineSettings,
                redecoded: bool, beam: int | None = None) -> list[list[Segment]]:
    """Segments per region for one window; turns the window lost are decoded again.

    Regions that got no words are packed into a new window of their own (or, when a
    whole window failed, split in halves), down to one region at a time.
    """
    audio, slots = _assemble(regions, s)
    raws = _decode(engine, audio, s, beam)
    looped = any(has_loop(r.text, s.max_repeats) for r in raws)
    if looped and len(regions) > 1:
        per: list[list[Segment]] = [[] for _ in regions]
    else:
        per = _split(raws, slots, redecoded)
    lost = [i for i, segs in enumerate(per) if not segs or _implausible(segs, regions[i], s)]
    if lost and len(regions) > 1:
        if len(lost) == len(regions):
            half = len(regions) // 2
            groups = [lost[:half], lost[half:]]
        else:
            groups = [lost]
        for group in groups:
            redo = _transcribe(engine, [regions[i] for i in group], s, True, beam)
            for i, segs in zip(group, redo, strict=True):
                per[i] = segs
    for segs in per:
        for j, seg in enumerate(segs):
            if has_loop(seg.text, s.max_repeats):  # still looping alone: keep one copy
                segs[j] = replace(seg, text=collapse_loops(seg.text, s.max_repeats), words=())
    return per


def transcribe_pieces(pieces: Sequence[Piece], engine: WhisperEngine,
                      settings: PipelineSettings | None = None) -> Iterator[Segment]:
    """Yield timeline segments of `pieces` in time order, one window at a time.

    Work starts at the first `next()`: VAD over all pieces, then one window per step.
    """
    s = settings or PipelineSettings()
    for group in _windows(_regions(pieces, s), s):
        per = _transcribe(engine, group, s, False, s.first_beam)
        if s.first_beam is not None and s.recheck_below > 0:
            unsure = [i for i, segs in enumerate(per)
                      if segs and _confidence(segs) < s.recheck_below]
            for k in range(0, len(unsure), s.recheck_regions):
                part = unsure[k:k + s.recheck_regions]
                again = _transcribe(engine, [group[i] for i in part], s, True)
                for i, segs in zip(part, again, strict=True):
                    if segs and _confidence(segs) > _confidence(per[i]):
                        per[i] = segs
        for segs in per:
            yield from segs


def _confidence(segs: list[Segment]) -> float:
    return float(np.mean([seg.confidence for seg in segs])) if segs else 0.0
