"""Who spoke a turn: the badge's wearer, or another talker in the room.

The badge is worn by the agent, a hand's breadth from the mouth: the wearer's voice
reaches the microphone 10-20 dB louder than the customer's across the table, and drier
(less room sound between syllables). Each turn (a VAD region) is described, from the
recording as it came from the badge (before denoising and levelling), by

- `level_db`: the RMS of its louder half of 10 ms frames, dBFS;
- `dips_db`: how deep the level falls between syllables (90th minus 20th percentile of
  the frames' dB): room sound fills the dips of a far talker's speech;
- `tilt_db`: energy over 2 kHz against 100 Hz-1 kHz: the air and the room take the
  highs off a far voice.

Within one session the turns are split in two by 1-D two-means on a score that is mostly
the level (`score`), and labelled `wearer` (the louder group) or `other`, with a
confidence that grows with the distance from the boundary. A session whose louder and
quieter turns lie less than `min_separation_db` apart (one talker, or talkers at one
distance), and a turn too near the boundary, are `unknown`: the label never guesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SpeakerSettings", "TurnSound", "attribute", "turn_sound"]

WEARER, OTHER, UNKNOWN = "wearer", "other", "unknown"
_FRAME = 160


@dataclass(frozen=True)
class SpeakerSettings:
    enabled: bool = True
    dips_weight: float = 0.5
    """dB of score per dB of `dips_db` (beside 1 per dB of level)."""
    tilt_weight: float = 0.0
    """dB of score per dB of `tilt_db`."""
    min_separation_db: float = 6.0
    """The two groups' mean scores must lie this far apart, or every turn is unknown."""
    min_confidence: float = 0.6
    """A turn labelled with less confidence than this is unknown."""
    scale_db: float = 3.0
    """Score distance from the boundary that gives a confidence of 0.73 (logistic)."""


@dataclass(frozen=True)
class TurnSound:
    level_db: float
    dips_db: float
    tilt_db: float
    seconds: float


def turn_sound(x: np.ndarray, rate: int = 16000) -> TurnSound:
    """What tells the wearer from others in float32 samples `x` of one turn."""
    n = len(x) // _FRAME
    if n < 3:
        return TurnSound(-120.0, 0.0, 0.0, len(x) / rate)
    frames = x[: n * _FRAME].astype(np.float64).reshape(n, _FRAME)
    db = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    loud = db[db >= np.percentile(db, 50)]
    level = float(10 * np.log10(np.mean(10 ** (loud / 10)) + 1e-12))
    dips = float(np.percentile(db, 90) - np.percentile(db, 20))
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    high = spec[(f >= 2000) & (f < 7000)].sum()
    low = spec[(f >= 100) & (f < 1000)].sum()
    tilt = float(10 * np.log10((high + 1e-12) / (low + 1e-12)))
    return TurnSound(level, dips, tilt, len(x) / rate)


def score(t: TurnSound, s: SpeakerSettings) -> float:
    return t.level_db + s.dips_weight * t.dips_db + s.tilt_weight * t.tilt_db


def _two_means(v: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Means of the lower and upper group of `v` (weights `w`) at 1-D two-means."""
    order = np.sort(v)
    best, split = -1.0, (float(order[0]), float(order[-1]))
    for cut in (order[:-1] + order[1:]) / 2:  # every boundary between two values
        lo, hi = v <= cut, v > cut
        if not lo.any() or not hi.any():
            continue
        m0 = float(np.average(v[lo], weights=w[lo]))
        m1 = float(np.average(v[hi], weights=w[hi]))
        between = w[lo].sum() * w[hi].sum() * (m1 - m0) ** 2
        if between > best:
            best, split = between, (m0, m1)
    return split


def attribute(turns: Sequence[TurnSound], settings: SpeakerSettings | None = None
              ) -> list[tuple[str, float]]:
    """(speaker, confidence) for every turn of one session."""
    s = settings or SpeakerSettings()
    if not s.enabled or len(turns) < 2:
        return [(UNKNOWN, 0.0) for _ in turns]
    v = np.array([score(t, s) for t in turns])
    w = np.array([max(t.seconds, 0.1) for t in turns])
    m0, m1 = _two_means(v, w)
    if m1 - m0 < s.min_separation_db:
        return [(UNKNOWN, 0.0) for _ in turns]
    boundary = (m0 + m1) / 2
    out = []
    for x in v:
        conf = float(1 / (1 + np.exp(-abs(x - boundary) / s.scale_db)))
        label = WEARER if x > boundary else OTHER
        out.append((label if conf >= s.min_confidence else UNKNOWN, conf))
    return out
