"""Meeting audio → timed segments: VAD cut, loudness, packing, guarded decoding, stitching.

Whole-file Whisper fails on meetings in two ways: long silences and noise invite
hallucination loops, and a 30 s window with one loud and one quiet talker swallows the
quiet turn. The pipeline avoids both and spends the model's time on speech only:

0. `denoise.wiener` lowers the stationary room noise (one noise estimate per session);
1. `vad.speech_regions` cuts every piece of audio into utterance-sized regions;
2. each region is brought to `target_dbfs` (active speech RMS), so quiet and loud talkers
   look alike to the model, and its padding fades in and out (`edge_fade_db`);
2b. a region whose speech stands little over its background (`feature_floor_below_db`)
   is decoded with each mel band raised to a percentile of itself and its lowest bands
   smoothed over time (`engine.noisy_features`): the noise's flicker, misread as
   syllables, is gone;
3. each region gets a window of its own (`max_regions` = 1), and the engine's encoder
   sees that window plus a few seconds of padding rather than Whisper's full 30 s, so a
   short turn costs a short pass; with `max_regions` > 1, regions are packed, in time
   order, into windows of at most `window_s` with `join_gap_ms` of quiet background
   between them (one encoder pass for several turns, at some cost in accuracy);
4. windows are decoded `engine.workers` at a time (one thread per core each: faster than
   every core on one window), with the engine's guards (no conditioning on previous
   text, temperature fallback, no-speech gate); words are assigned to the region under
   their midpoint, so a segment never straddles two turns and every time maps exactly
   back to the recording;
5. regions that got no words, or text no turn of that length could hold (fewer than
   `min_chars_per_s` or more than `max_chars_per_s`: a swallowed turn, or a neighbour's
   turn copied onto it), and every region of a window whose text loops (`max_repeats`),
   are decoded again in a next round, packed half as many to a window, down to one
   region at a time, where a loop that persists keeps one copy of its unit. The lost
   turns of all windows share the next round's windows: fewer encoder passes;
6. a region decoded alone whose text is too little, or leaves loud audio far from every
   word, is split at its longest pause and the parts decoded alone (two turns the VAD
   joined, of which Whisper wrote only the first); the parts' text is kept where it
   holds more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from gateway.transcribe.denoise import DenoiseSettings, noise_spectrum, wiener
from gateway.transcribe.engine import FeatureFloor, RawSegment, RawWord, WhisperEngine
from gateway.transcribe.guards import REPEAT_REDECODED, GuardSettings, guard_turn, repeat_span
from gateway.transcribe.segment import Segment, Word
from gateway.transcribe.speaker import SpeakerSettings, attribute, turn_sound
from gateway.transcribe.vad import Region, VadSettings, speech_frames, speech_regions

__all__ = [
    "Piece",
    "PipelineSettings",
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
    edge_fade_db: float = -20.0
    """The VAD padding of each region fades in from (and out to) this gain, and the
    background between packed regions sits this far below the room's level: Whisper
    misreads turns framed by stretches of noise (bench/transcribe_cuts.py), while the
    padding still keeps a word the VAD started late. 0 turns the fade off."""
    feature_floor_below_db: float | None = 21.0
    """A window whose turns all stand less than this over their background (speech RMS
    over the quietest 10 % of frames, after denoising) is decoded with its mel bands
    floored at `feature_floor_percentile` and smoothed (`engine.noisy_features`); None
    turns both off. Noisy turns read better floored; clean turns read worse, so only the
    noisy ones are (docs/transcription.md, "Measurements behind the defaults")."""
    feature_floor_percentile: float = 40.0
    """Percentile of each mel band over the window that its lower values are raised to."""
    feature_smooth_weight: float = 0.25
    """After the floor, the lowest `feature_smooth_bands` mel bands of those windows are
    smoothed over time with [w, 1 - 2w, w] (`engine.smoothed`); 0 turns it off."""
    feature_smooth_bands: int = 20
    """How many of the lowest mel bands are smoothed (of Whisper's 80)."""
    window_s: float = 28.0
    """Regions are packed into windows up to this long (Whisper sees 30 s)."""
    max_regions: int = 1
    """At most this many regions share a window. One: every turn has a window of its own
    (no text of one turn bleeds into the next), which the short encoder makes cheap
    (`EngineSettings.encoder_min_s`); more turns to a window read worse (2 to a 12 s
    window, bench/transcribe_meeting.py --max-regions)."""
    join_gap_ms: int = 600
    """Background placed between packed regions."""
    max_chars_per_s: float = 9.0
    """More characters than this per second of a region's speech: text from elsewhere."""
    min_chars_per_s: float = 1.2
    """Fewer per second of a region's speech (≥ 1 s): the turn was swallowed."""
    max_repeats: int = 5
    """A unit of text repeated this many times in a row marks a loop."""
    split_pause_ms: int = 400
    """A turn decoded alone that got too little text (`min_chars_per_s`), or whose words
    leave `split_unheard_s` of its loud audio unheard, is split at its longest pause of
    at least this long, and each part decoded alone: Whisper sometimes transcribes only
    the first of two utterances the VAD joined and skips the rest after the pause. The
    parts' text is kept where it holds more. 0 turns splitting off."""
    split_unheard_s: float = 0.8
    """Loud audio (6 dB or more over the turn's background, in stretches of 100 ms or
    more) this long, more than 0.3 s from every word the model wrote, marks a turn whose
    speech was partly skipped."""
    initial_prompt: str | None = None
    """Prompt for every window (domain vocabulary), None for none."""
    hotwords: str | None = None
    """Hotwords for every window, None for none."""
    guards: GuardSettings = field(default_factory=GuardSettings)
    """Loops, repeats and invented words cut and flagged on every turn (`guards.py`)."""
    background_below_db: float | None = 10.0
    """A region whose speech stands less than this over its own background (`snr_db`)
    and whose level dips less than `background_dips_db` between syllables holds no
    foreground talker, only talk in the background (the murmur of several voices, which
    webrtcvad takes for speech, levelled up to a talker's loudness): it is not decoded.
    Whisper writes that murmur's words where plain Whisper, hearing it 20 dB under the
    talkers, writes nothing (docs/transcription.md, "Measurements behind the defaults").
    None turns it off."""
    background_dips_db: float = 8.0
    """See `background_below_db`: a talker's speech dips deeper between syllables than a
    murmur of voices does, even in heavy noise (docs/transcription.md, "Measurements behind
    the defaults")."""
    background_segment_below_db: float | None = 15.0
    """A segment whose recording lies this far under the session's loud segments (their
    90th percentile level) and dips less than `background_segment_dips_db` is murmur the
    VAD joined to a turn: its text is cut (kept in `cuts`, flag `background_speech`).
    A far talker is as quiet but dips as a single voice does. None turns it off."""
    background_segment_dips_db: float = 9.0
    speaker: SpeakerSettings = field(default_factory=SpeakerSettings)
    """How each turn is told to be the wearer's or another talker's (`speaker.py`)."""
    repeat_beam: int = 5
    """A turn decoded alone whose text repeats a unit (`guards.repeat_span`) is decoded
    once more with this beam; that reading is kept where it no longer repeats."""

    @property
    def feature_floor(self) -> FeatureFloor:
        """What the engine does to the features of a noisy window."""
        return FeatureFloor(self.feature_floor_percentile, self.feature_smooth_weight,
                            self.feature_smooth_bands)


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
class _Region:
    source: int
    offset_s: float
    audio: np.ndarray  # float32, levelled
    floor: float  # RMS of its quietest frames (the background under the speech)
    snr_db: float = float("inf")  # its speech over that background
    gate: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """The gate's speech decision per VAD frame, from timeline time `gate_t0`."""
    gate_t0: float = 0.0
    raw: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """The region as recorded (before denoising and levelling), float32: who spoke is
    told from its level and sound."""


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


def _level(pcm: np.ndarray, s: PipelineSettings) -> tuple[np.ndarray, float, float]:
    """The region brought to `target_dbfs` of active speech, its background RMS, and how
    far (dB) its speech stands over that background."""
    x = pcm.astype(np.float32) / 32768.0
    n = len(x) // 160
    if n == 0:
        return x, 0.0, float("inf")
    frames = x[: n * 160].reshape(n, 160)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    active = rms[rms >= np.percentile(rms, 50)]  # the louder half: the voice, not the pauses
    level = 20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12)
    gain = 10 ** (min(s.target_dbfs - level, s.max_gain_db) / 20)
    y = x * gain
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.99:
        y, gain = y * (0.99 / peak), gain * 0.99 / peak
    background = float(np.percentile(rms, 10))
    snr_db = level - 20 * np.log10(background + 1e-12)
    return y, background * gain, float(snr_db)


def _background(pcm: np.ndarray, snr_db: float, s: PipelineSettings) -> bool:
    """True for a region of background talk only (`PipelineSettings.background_below_db`)."""
    if s.background_below_db is None or snr_db >= s.background_below_db:
        return False
    return turn_sound(pcm.astype(np.float32) / 32768.0).dips_db < s.background_dips_db


def _fade_edges(audio: np.ndarray, floor: float, region: Region, s: PipelineSettings
                ) -> tuple[np.ndarray, float]:
    """Ramp the padding at each end of a region from `edge_fade_db` up to full level.

    Only padding is faded: an end where the region was cut (the start or end of a clip,
    a split of a long turn) may hold speech and stays as it is.
    """
    if s.edge_fade_db >= 0:
        return audio, floor
    low = 10 ** (s.edge_fade_db / 20)
    out = audio.copy()
    lead, tail = min(region.lead, len(out) // 2), min(region.tail, len(out) // 2)
    if lead:
        out[:lead] *= np.linspace(low, 1.0, lead, dtype=np.float32)
    if tail:
        out[-tail:] *= np.linspace(1.0, low, tail, dtype=np.float32)
    return out, floor * low


def _regions(pieces: Sequence[Piece], s: PipelineSettings) -> list[_Region]:
    out = []
    noise = noise_spectrum([p.pcm for p in pieces], s.denoise) if s.denoise.enabled else None
    n = _RATE * s.vad.frame_ms // 1000
    for p in pieces:
        pcm = wiener(p.pcm, s.denoise, noise) if s.denoise.enabled else p.pcm
        # the guards' gate errs towards speech: a word is cut only where webrtcvad
        # itself heard none
        gate = speech_frames(pcm, _RATE, s.vad, over_floor=False)
        for r in speech_regions(pcm, _RATE, s.vad):
            levelled, floor, snr_db = _level(pcm[r.start:r.end], s)
            if _background(p.pcm[r.start:r.end], snr_db, s):
                continue
            audio, floor = _fade_edges(levelled, floor, r, s)
            f0, f1 = r.start // n, -(-r.end // n)
            out.append(_Region(p.source, p.offset_s + r.start / _RATE, audio, floor, snr_db,
                               gate[f0:f1], p.offset_s + f0 * n / _RATE,
                               p.pcm[r.start:r.end].astype(np.float32) / 32768.0))
    out.sort(key=lambda r: r.offset_s)
    return out


def _windows(regions: list[_Region], s: PipelineSettings, indices: Sequence[int],
             max_regions: int) -> Iterator[list[int]]:
    """Group `indices` of regions, in order, into windows of at most `window_s` (with the
    gaps) and `max_regions` regions."""
    group: list[int] = []
    length = 0.0
    gap = s.join_gap_ms / 1000
    for i in indices:
        dur = len(regions[i].audio) / _RATE
        if group and (length + gap + dur > s.window_s or len(group) >= max_regions):
            yield group
            group, length = [], 0.0
        length += dur + (gap if group else 0.0)
        group.append(i)
    if group:
        yield group


def _balanced(regions: list[_Region], s: PipelineSettings, indices: Sequence[int],
              max_regions: int, workers: int) -> list[list[int]]:
    """`_windows`, but as many windows as keep every worker busy to the end of the round.

    Twelve turns on two workers make four windows of three, not three of four: the same
    two rounds of wall time, and fewer turns to a window (less of one turn's text bleeding
    into the next).
    """
    windows = list(_windows(regions, s, indices, max_regions))
    want = min(len(indices), -(-len(windows) // workers) * workers)
    if want <= len(windows):
        return windows
    chunks = np.array_split(np.asarray(indices, dtype=np.int64), want)
    return [w for c in chunks for w in _windows(regions, s, c.tolist(), max_regions)]


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


def _decode(engine: WhisperEngine, audio: np.ndarray, regions: list[_Region],
            s: PipelineSettings, beam_size: int | None = None) -> list[RawSegment]:
    below = s.feature_floor_below_db
    noisy = below is not None and all(r.snr_db < below for r in regions)
    return engine.transcribe_window(audio, initial_prompt=s.initial_prompt, hotwords=s.hotwords,
                                    feature_floor=s.feature_floor if noisy else None,
                                    beam_size=beam_size)


def _repeats(segs: Sequence[Segment], s: PipelineSettings) -> bool:
    return s.guards.enabled and any(repeat_span("".join(w.text for w in seg.words) or seg.text,
                                                s.guards) for seg in segs)


def _implausible(segs: list[Segment], region: _Region, s: PipelineSettings) -> bool:
    """Text that the region's speech cannot hold: far too much (a turn copied here) or far
    too little (the turn was swallowed and a stray word of its neighbour aligned here)."""
    return _too_little(segs, region, s) or _chars(segs) / _speech_s(region, s) > s.max_chars_per_s


def _chars(segs: Sequence[Segment]) -> int:
    return sum(len(re.sub(r"\W", "", seg.text)) for seg in segs)


def _speech_s(region: _Region, s: PipelineSettings) -> float:
    """Seconds of the region that are speech, not VAD padding (at least 0.5)."""
    return max(0.5, len(region.audio) / _RATE - 2 * s.vad.pad_ms / 1000)


def _too_little(segs: list[Segment], region: _Region, s: PipelineSettings) -> bool:
    speech_s = _speech_s(region, s)
    return speech_s >= 1.0 and _chars(segs) / speech_s < s.min_chars_per_s


_FRAME = _RATE // 50
"""20 ms: the frames pauses and unheard speech are looked for in."""


_MIN_LOUD_FRAMES = 5
"""100 ms: a louder stretch shorter than this is the noise flickering, not a syllable."""


def _loud(region: _Region) -> np.ndarray:
    """Per 20 ms frame of the region: in a stretch of at least 100 ms louder than 6 dB
    over its background (the quietest 10 % of its frames, the faded padding of its first
    and last 0.5 s left out). Shorter stretches are left out: in a pause, the denoised
    room noise still rises that far for a frame or a few, and would cut the pause up."""
    frames = len(region.audio) // _FRAME
    if frames == 0:
        return np.zeros(0, bool)
    x = region.audio[: frames * _FRAME].astype(np.float64).reshape(frames, _FRAME)
    rms = np.sqrt((x**2).mean(axis=1))
    edge = _RATE // 2 // _FRAME
    inner = rms[edge:frames - edge] if frames > 3 * edge else rms
    loud = rms >= np.percentile(inner, 10) * 2.0
    for a, b in _runs(loud):
        if b - a < _MIN_LOUD_FRAMES:
            loud[a:b] = False
    return loud


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every stretch of True in `mask`, in order."""
    change = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(change[::2], change[1::2], strict=True)]


def _partly_heard(segs: list[Segment], region: _Region, s: PipelineSettings) -> bool:
    """Too little text for the turn's speech, or loud audio far from every word."""
    if _too_little(segs, region, s):
        return True
    words = [w for seg in segs for w in seg.words]
    if not words:
        return False
    loud = _loud(region)
    t = region.offset_s + (np.arange(len(loud)) + 0.5) * _FRAME / _RATE
    heard = np.zeros(len(loud), bool)
    for w in words:
        heard |= (t >= w.start_s - 0.3) & (t <= w.end_s + 0.3)
    return float((loud & ~heard).sum()) * _FRAME / _RATE >= s.split_unheard_s


def _split_at_pause(region: _Region, s: PipelineSettings) -> list[_Region]:
    """The region cut in two in the middle of its longest pause (`split_pause_ms` or
    longer, at least 0.5 s from either end), each part's share of the pause faded as VAD
    padding is; [] when it holds no such pause."""
    if s.split_pause_ms <= 0:
        return []
    n = _FRAME
    edge = _RATE // 2 // n
    loud = _loud(region)
    if len(loud) <= 2 * edge:
        return []
    pauses = _runs(~loud[edge:len(loud) - edge])
    if not pauses:
        return []
    best, end = max(pauses, key=lambda r: r[1] - r[0])  # the first of the longest
    best_len = end - best
    if best_len * n < _RATE * s.split_pause_ms // 1000:
        return []
    cut = (edge + best + best_len // 2) * n
    fade = min(best_len * n // 2, _RATE * s.vad.pad_ms // 1000)
    parts = []
    for a, b, lead, tail in ((0, cut, 0, fade), (cut, len(region.audio), fade, 0)):
        audio, _ = _fade_edges(region.audio[a:b], region.floor, Region(0, b - a, lead, tail), s)
        parts.append(_Region(region.source, region.offset_s + a / _RATE, audio,
                             region.floor, region.snr_db, region.gate, region.gate_t0,
                             region.raw[a:b]))
    return parts


def _decode_window(engine: WhisperEngine, regions: list[_Region], s: PipelineSettings,
                  redecoded: bool) -> list[list[Segment] | None]:
    """Segments per region of one window; None for a turn the window lost.

    A region is lost when it got no words or implausible text, or when the window looped;
    a region decoded alone is never lost (a loop that persists keeps one copy of its unit).
    """
    audio, slots = _assemble(regions, s)
    raws = _decode(engine, audio, regions, s)
    if len(regions) > 1 and any(has_loop(r.text, s.max_repeats) for r in raws):
        return [None for _ in regions]
    if len(regions) == 1 and s.repeat_beam and _repeats(_split(raws, slots, redecoded)[0], s):
        again = _split(_decode(engine, audio, regions, s, beam_size=s.repeat_beam), slots, True)[0]
        if again and not _repeats(again, s):
            return [[replace(seg, flags=(REPEAT_REDECODED,)) for seg in again]]
    out: list[list[Segment] | None] = []
    for region, segs in zip(regions, _split(raws, slots, redecoded), strict=True):
        if len(regions) > 1 and (not segs or _implausible(segs, region, s)):
            out.append(None)
            continue
        out.append([replace(seg, text=collapse_loops(seg.text, s.max_repeats), words=())
                    if has_loop(seg.text, s.max_repeats) else seg for seg in segs])
    return out


def transcribe_pieces(pieces: Sequence[Piece], engine: WhisperEngine,
                      settings: PipelineSettings | None = None) -> Iterator[Segment]:
    """Yield timeline segments of `pieces` in time order.

    Work starts at the first `next()`: VAD over all pieces, then rounds of windows, each
    round's windows decoded `engine.workers` at a time. The turns a round lost are packed
    again, half as many to a window, for the next round, down to one turn at a time.
    """
    s = settings or PipelineSettings()
    regions = _regions(pieces, s)
    per: list[list[Segment]] = [[] for _ in regions]
    parts: dict[int, list[int]] = {}  # a swallowed turn -> the regions it was split into
    todo, size, redecoded = list(range(len(regions))), s.max_regions, False
    with ThreadPoolExecutor(max_workers=max(1, engine.workers),
                            thread_name_prefix="whisper-window") as pool:
        while todo:
            windows = _balanced(regions, s, todo, size, engine.workers)
            results = pool.map(_decode_window, [engine] * len(windows),
                               [[regions[i] for i in w] for w in windows],
                               [s] * len(windows), [redecoded] * len(windows))
            todo = []
            for window, result in zip(windows, results, strict=True):
                for i, segs in zip(window, result, strict=True):
                    if segs is None:
                        todo.append(i)
                        continue
                    per[i] = segs
                    if len(window) == 1 and _partly_heard(segs, regions[i], s):
                        halves = _split_at_pause(regions[i], s)
                        if halves:
                            parts[i] = list(range(len(regions), len(regions) + len(halves)))
                            regions.extend(halves)
                            per.extend([] for _ in halves)
                            todo.extend(parts[i])
            size, redecoded = max(1, size // 2), True
    # A part has a higher index than the turn it was cut from, so the deepest cuts are
    # settled first: the parts' text replaces the turn's only where it holds more.
    for i in sorted(parts, reverse=True):
        found = [seg for k in parts[i] for seg in per[k]]
        if _chars(found) > _chars(per[i]):
            per[i] = found
        for k in parts[i]:
            per[k] = []
    out = [(seg, region) for region, segs in zip(regions, per, strict=True)
           for seg in guard_turn(segs, region.gate, region.gate_t0, s.vad.frame_ms / 1000,
                                 s.guards)]
    spoken = [k for k, (seg, _) in enumerate(out) if seg.text]
    sounds = {k: turn_sound(_sound_of(*out[k])) for k in spoken}
    if s.background_segment_below_db is not None and len(spoken) > 2:
        loud = float(np.percentile([sounds[k].level_db for k in spoken], 90))
        for k in list(spoken):
            t = sounds[k]
            if (t.level_db < loud - s.background_segment_below_db
                    and t.dips_db < s.background_segment_dips_db):
                seg, region = out[k]
                out[k] = (replace(seg, text="", words=(), flags=(*seg.flags, BACKGROUND),
                                  cuts=(*seg.cuts, (BACKGROUND, seg.text))), region)
                spoken.remove(k)
    who = dict(zip(spoken, attribute([sounds[k] for k in spoken], s.speaker), strict=True))
    for k, (seg, _) in enumerate(out):
        label, confidence = who.get(k, ("unknown", 0.0))
        yield replace(seg, speaker=label, speaker_confidence=confidence)


BACKGROUND = "background_speech"


def _sound_of(seg: Segment, region: _Region) -> np.ndarray:
    """The recording under a segment (its turn's, where the segment is shorter than 0.5 s):
    where two talkers overlap, one region holds both, and its segments tell them apart."""
    a = int((seg.start_s - region.offset_s) * _RATE)
    b = int((seg.end_s - region.offset_s) * _RATE)
    a, b = max(0, a), min(len(region.raw), b)
    return region.raw[a:b] if b - a >= _RATE // 2 else region.raw
