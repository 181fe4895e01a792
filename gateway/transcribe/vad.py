"""Find the speech in a recording with webrtcvad, as utterance-sized regions.

webrtcvad decides per 30 ms frame; a frame decision alone flickers in noise, so
`speech_regions()` smooths it the way a listener would hear turns:

1. frames quieter than the recording's noise floor plus a margin (`floor_margin()`) are
   never speech (webrtcvad alone takes loud pink noise for speech at 10 dB SNR). The
   margin is `floor_margin_db`, or `talk_floor_margin_db` where the floor itself is talk
   (babble: webrtcvad hears speech in `talk_floor_share` or more of the floor's frames),
   since murmur rises further over its floor than steady noise does;
2. a region opens when `open_ratio` of the last `window_ms` are speech and closes when
   fewer than `close_ratio` are, padded by `pad_ms` on both sides;
3. regions closer than `merge_gap_ms` merge, shorter than `min_speech_ms` are dropped,
   longer than `max_region_s` are cut at their quietest frame, so every region fits
   one Whisper window with room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Region", "VadSettings", "floor_margin", "speech_frames", "speech_regions"]


@dataclass(frozen=True)
class VadSettings:
    """How speech regions are found (all times in milliseconds unless named otherwise)."""

    aggressiveness: int = 2
    """webrtcvad mode 0..3 (3 rejects the most non-speech)."""
    frame_ms: int = 30
    """webrtcvad frame: 10, 20 or 30 ms."""
    window_ms: int = 300
    """Smoothing window over frame decisions."""
    open_ratio: float = 0.5
    """Share of speech frames in the window that opens a region."""
    close_ratio: float = 0.15
    """Share below which an open region closes."""
    pad_ms: int = 400
    """Audio kept before and after each region."""
    merge_gap_ms: int = 350
    """Regions separated by less than this become one."""
    min_speech_ms: int = 200
    """Regions shorter than this (before padding) are dropped."""
    max_region_s: float = 18.0
    """Longer regions are split at their quietest frame."""
    floor_margin_db: float = 4.0
    """Frames within this many dB of the noise floor are not speech."""
    talk_floor_margin_db: float = 8.0
    """As `floor_margin_db` where the floor is talk (babble): its syllables rise 4 dB over
    its floor often enough to hold regions open between turns, which then join the
    murmur to the talk."""
    talk_floor_share: float = 0.3
    """The floor is talk where webrtcvad hears speech in at least this share of the frames
    within `floor_margin_db` of it (pink noise and hum: up to two in ten at 10 dB SNR;
    babble: about half or more)."""
    talk_floor_min_s: float = 10.0
    """Shorter recordings are never taken for a floor of talk: in a few seconds of nothing
    but speech (a clip, a turn) the quietest frames are the talker's own, and the talk
    margin would drop them (TEST_NET: 1.8 s, all of it within 4.3 dB of its floor)."""


@dataclass(frozen=True)
class Region:
    """Speech from `start` to `end` (sample indices, end exclusive)."""

    start: int
    end: int
    lead: int = 0
    """Samples of padding before the first speech frame (0 where the region begins at a
    cut: the start of the audio, or a split of a long region)."""
    tail: int = 0
    """Samples of padding after the last speech frame (0 where it ends at a cut)."""

    @property
    def length(self) -> int:
        return self.end - self.start


def _frame_db(pcm: np.ndarray, n: int) -> np.ndarray:
    f = pcm[: len(pcm) // n * n].reshape(-1, n).astype(np.float64)
    return 10 * np.log10((f**2).mean(axis=1) + 1.0)


def _split(start: int, end: int, db: np.ndarray, n: int, max_len: int) -> list[tuple[int, int]]:
    if end - start <= max_len:
        return [(start, end)]
    lo, hi = start + max_len // 3, start + max_len
    f0, f1 = lo // n, max(lo // n + 1, min(hi // n, len(db)))
    cut = (f0 + int(np.argmin(db[f0:f1]))) * n if f1 > f0 else hi
    cut = min(max(cut, lo), hi)
    return [(start, cut), *_split(cut, end, db, n, max_len)]


def floor_margin(db: np.ndarray, voiced: np.ndarray, settings: VadSettings | None = None
                 ) -> float:
    """The dB a frame must stand over the noise floor to be speech, given every frame's
    level `db` and webrtcvad's word on it (`voiced`): `talk_floor_margin_db` where the
    floor is talk, else `floor_margin_db`. Recordings shorter than `talk_floor_min_s`
    keep `floor_margin_db`."""
    s = settings or VadSettings()
    if len(db) == 0:
        return s.floor_margin_db
    if len(db) * s.frame_ms < s.talk_floor_min_s * 1000:
        return s.floor_margin_db
    floor = float(np.percentile(db, 10))
    near = db <= floor + s.floor_margin_db
    if float(voiced[near].mean()) >= s.talk_floor_share:
        return s.talk_floor_margin_db
    return s.floor_margin_db


def speech_frames(pcm: np.ndarray, rate_hz: int = 16000,
                  settings: VadSettings | None = None, *, over_floor: bool = True) -> np.ndarray:
    """The gate's decision per `frame_ms` frame of int16 mono `pcm`: webrtcvad hears speech
    and (`over_floor`) the frame stands `floor_margin()` over the recording's noise floor
    (unsmoothed, unpadded: where speech was heard, not the regions cut around it). Without
    `over_floor` it is webrtcvad's word alone, which errs towards speech: in a short
    recording of nothing but speech the floor is the speech itself."""
    import webrtcvad  # the C extension loads only when speech is looked for

    s = settings or VadSettings()
    if pcm.dtype != np.int16:
        raise TypeError("speech_frames takes int16 samples")
    n = rate_hz * s.frame_ms // 1000
    nframes = len(pcm) // n
    if nframes == 0:
        return np.zeros(0, bool)
    vad = webrtcvad.Vad(s.aggressiveness)
    buf = pcm[: nframes * n].astype("<i2").tobytes()
    step = n * 2
    voiced = np.fromiter((vad.is_speech(buf[i * step:(i + 1) * step], rate_hz)
                          for i in range(nframes)), bool, nframes)
    if not over_floor:
        return voiced
    db = _frame_db(pcm, n)
    floor = float(np.percentile(db, 10))
    return voiced & (db > floor + floor_margin(db, voiced, s))


def speech_regions(pcm: np.ndarray, rate_hz: int = 16000,
                   settings: VadSettings | None = None) -> list[Region]:
    """Speech regions of int16 mono `pcm`, in order, padded, merged and size-bounded."""
    s = settings or VadSettings()
    if pcm.dtype != np.int16:
        raise TypeError("speech_regions takes int16 samples")
    n = rate_hz * s.frame_ms // 1000
    nframes = len(pcm) // n
    if nframes == 0:
        return []
    voiced = speech_frames(pcm, rate_hz, s)
    db = _frame_db(pcm, n)
    w = max(1, s.window_ms // s.frame_ms)
    share = np.convolve(voiced.astype(np.float64), np.ones(w) / w, "full")[:nframes]
    spans: list[tuple[int, int]] = []
    open_at = -1
    for i, r in enumerate(share):
        if open_at < 0 and r >= s.open_ratio:
            first = np.flatnonzero(voiced[max(0, i - w + 1): i + 1])
            open_at = max(0, i - w + 1) + (int(first[0]) if len(first) else 0)
        elif open_at >= 0 and r < s.close_ratio:
            last = np.flatnonzero(voiced[open_at: i + 1])
            spans.append((open_at, open_at + (int(last[-1]) + 1 if len(last) else 1)))
            open_at = -1
    if open_at >= 0:
        spans.append((open_at, nframes))
    min_frames = s.min_speech_ms / s.frame_ms
    pad = rate_hz * s.pad_ms // 1000
    gap = rate_hz * s.merge_gap_ms // 1000
    merged: list[tuple[int, int, int, int]] = []  # start, end, lead, tail
    for a, b in spans:
        if b - a < min_frames:
            continue
        pa, pb = max(0, a * n - pad), min(len(pcm), b * n + pad)
        if merged and pa - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], pb, merged[-1][2], pb - b * n)
        else:
            merged.append((pa, pb, a * n - pa, pb - b * n))
    max_len = int(s.max_region_s * rate_hz)
    out = []
    for start, end, lead, tail in merged:
        parts = _split(start, end, db, n, max_len)
        for k, (a, b) in enumerate(parts):
            out.append(Region(a, b, lead if k == 0 else 0, tail if k == len(parts) - 1 else 0))
    return out
