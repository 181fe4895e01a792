"""Two badges in one meeting, with ground truth: the agent wears badge A, a colleague
sitting beside the agent wears badge B, a customer sits across the table.

Every turn is rendered once per badge, as `near_far_meeting` renders a turn: the
wearer's own voice dry at `near_dbfs` +/- 2 dB; the neighbour (agent on B, colleague on
A) through sox reverb `neighbour_drop_db` lower; the customer through reverb
`across_drop_db` lower on each badge (drawn per badge: the customer is nearer one of
them). Sound reaches the neighbour's badge from `neighbour_m` away and each badge from
the customer's `across_m` (at 343 m/s), so no one lag fits every talker to the sample.
A quarter of the turns cut into the previous one. Each badge adds its own pink noise
`snr_db` under the wearer. Badge B starts recording `lag_s` after A, and its clock
is `clock_error_s` off, so its stated start is `a_start + lag_s + clock_error_s`;
its microphone is `b_gain_db` more sensitive than A's (MEMS parts differ by a dB or so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from badgekit.meeting import (
    RATE_HZ,
    Meeting,
    Turn,
    active_rms_dbfs,
    load_utterances,
    pink_noise,
    reverberant,
)

__all__ = ["TALKERS", "PairMeeting", "pair_meeting"]

TALKERS = ("agent", "colleague", "customer")


@dataclass
class PairMeeting:
    a: Meeting
    """Badge A's recording; turns on A's timeline, `speaker` from A's point of view."""
    b: Meeting
    """Badge B's recording; turns on B's timeline, `speaker` from B's point of view."""
    talkers: list[str]
    """Who said each turn (the same index in `a.turns` and `b.turns`): one of `TALKERS`."""
    a_start: float
    b_start: float
    """Starts as each badge's clock stated them, wall-clock seconds."""
    lag_s: float
    """Where B's first sample truly falls on A's recording, seconds."""


_SOUND_M_PER_S = 343.0


def _render(x: np.ndarray, wet: np.ndarray, level: float, near: bool, ref: float,
            distance_m: float) -> np.ndarray:
    y = x if near else wet
    delay = np.zeros(int(round(distance_m / _SOUND_M_PER_S * RATE_HZ)), np.float32)
    return np.concatenate([delay, y * 10 ** ((level - ref) / 20)]).astype(np.float32)


def pair_meeting(utterances: Sequence[Path], references: dict[str, str], seed: int, *,
                 lag_s: float = 2.35, clock_error_s: float = -1.2, a_start: float = 1.79e9,
                 near_dbfs: float = -20.0, neighbour_drop_db: tuple[float, float] = (6.0, 10.0),
                 across_drop_db: tuple[float, float] = (10.0, 16.0), neighbour_m: float = 0.6,
                 across_m: tuple[float, float] = (1.2, 2.0),
                 pause_s: tuple[float, float] = (0.5, 3.0), overlap_share: float = 0.25,
                 overlap_s: tuple[float, float] = (0.3, 1.2), min_seconds: float = 60.0,
                 snr_db: float = 30.0, b_gain_db: float = 0.0) -> PairMeeting:
    """A two-badge meeting of at least `min_seconds` from `utterances` in shuffled rounds."""
    rng = np.random.default_rng(seed)
    clips = load_utterances(utterances)
    wet_cache: dict[str, np.ndarray] = {}
    pos = prev_end = RATE_HZ
    placed: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    spans: list[tuple[str, int, int, float, str]] = []
    while pos / RATE_HZ < min_seconds:
        for i in rng.permutation(len(clips)):
            name, x, m = clips[i]
            who = TALKERS[int(rng.integers(3))]
            if name not in wet_cache:
                wet_cache[name] = reverberant(x)
            wet = wet_cache[name]
            ref = active_rms_dbfs(x, m)
            base = near_dbfs + rng.uniform(-2, 2)
            if who == "customer":
                la = base - rng.uniform(*across_drop_db)
                lb = base - rng.uniform(*across_drop_db)
                da, db = rng.uniform(*across_m), rng.uniform(*across_m)
            elif who == "agent":
                la, lb = base, base - rng.uniform(*neighbour_drop_db)
                da, db = 0.0, neighbour_m
            else:
                la, lb = base - rng.uniform(*neighbour_drop_db), base
                da, db = neighbour_m, 0.0
            ya = _render(x, wet, la, who == "agent", ref, da)
            yb = _render(x, wet, lb, who == "colleague", ref, db)
            ym = np.concatenate([m, np.zeros(len(wet) - len(m), bool)])
            start = pos
            if spans and rng.random() < overlap_share:
                start = max(spans[-1][1] + RATE_HZ // 2,
                            prev_end - int(rng.uniform(*overlap_s) * RATE_HZ))
            placed.append((start, ya, yb, ym))
            spans.append((name, start, start + len(x), max(la, lb), who))
            prev_end = start + len(x)
            pos = prev_end + int(rng.uniform(*pause_s) * RATE_HZ)
    n = pos + RATE_HZ
    shift = int(round(lag_s * RATE_HZ))
    rooms = [np.zeros(n + max(0, shift), np.float32) for _ in range(2)]
    mask = np.zeros(n + max(0, shift), bool)
    for start, ya, yb, ym in placed:
        for room, y in zip(rooms, (ya, yb), strict=True):
            k = min(len(y), len(room) - start)
            room[start:start + k] += y[:k]
        k = min(len(ym), len(mask) - start)
        mask[start:start + k] |= ym[:k]
    noise_rms = 10 ** ((near_dbfs - snr_db) / 20)
    # one gain for both badges (the same hardware): each brought under clipping on its
    # own would make one badge quieter than the other for every talker
    peak = max(float(np.max(np.abs(r))) for r in rooms) + 2 * noise_rms
    gain = min(1.0, 0.99 / peak)
    badges = []
    for view, (room, b0) in enumerate(((rooms[0], 0), (rooms[1], shift))):
        # B records as long as A, from `shift` on: it misses A's first seconds (or, with
        # a negative lag, has seconds of its own before A's start)
        seg = room[max(0, b0):max(0, b0) + n]
        if b0 < 0:
            seg = np.concatenate([np.zeros(-b0, np.float32), room[: n + b0]])
        mix = (seg + pink_noise(len(seg), rng) * noise_rms) * gain
        if view == 1:
            mix = np.clip(mix * 10 ** (b_gain_db / 20), -1.0, 1.0)
        own = "agent" if view == 0 else "colleague"
        turns = [Turn(name, (a - b0) / RATE_HZ, (e - b0) / RATE_HZ, references.get(name),
                      lvl, "wearer" if who == own else "other")
                 for name, a, e, lvl, who in spans]
        m = mask[max(0, b0):max(0, b0) + n]
        m = np.concatenate([m, np.zeros(len(mix) - len(m), bool)])[: len(mix)]
        pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
        badges.append(Meeting(pcm=pcm, rate=RATE_HZ, speech_mask=m, turns=turns,
                              noise="pink", snr_db=snr_db))
    return PairMeeting(badges[0], badges[1], [w for *_, w in spans], a_start,
                       a_start + lag_s + clock_error_s, lag_s)
