"""Two badges in one meeting: align their recordings in time, then tell who spoke by
comparing how loud each turn reached each badge.

One badge alone must guess the wearer from level and room sound (`speaker.py`), and a
colleague sitting beside the agent sounds nearly as near as the agent. Two badges settle
it: a talker is loudest on their own badge. For a turn of badge A, the level difference
A minus B over the same stretch of the meeting says

- much louder on A: A's wearer (`wearer`);
- much louder on B: B's wearer, the colleague (`other` from A, and known to be B's);
- about as loud on both: a third party, the customer (`other`).

Badge clocks drift, so the stated starts only bound the search: `align()` finds the lag
between the recordings by correlating their 10 ms level envelopes (dB) within
`max_clock_error_s` of what the clocks claim, then refines it on the waveforms (phase
correlation) to a sample. It refuses, with a `PairingError`, recordings that do not
overlap or whose envelopes do not correlate clearly at one lag: a wrong lag would
relabel every turn with confidence.

The pair's verdict and the single badge's label are combined as independent evidence
(log-odds): agreement raises the confidence, disagreement goes to the larger margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from gateway.transcribe.errors import TranscribeError
from gateway.transcribe.speaker import OTHER, UNKNOWN, WEARER

__all__ = [
    "Alignment",
    "NoOverlapError",
    "NotCorrelatedError",
    "PairSettings",
    "PairedLabel",
    "PairingError",
    "PairingInputError",
    "align",
    "level_difference",
    "pair_label",
    "pair_sessions",
    "timeline_audio",
]

_PEAK_GUARD_S = 0.3
"""Lags this near the best one belong to the same peak, not to a rival."""


class PairingError(TranscribeError):
    """Two recordings that cannot be paired (base of the pairing errors)."""


class PairingInputError(PairingError):
    """Audio that is not a usable recording: empty, not 1-D, not finite, rates differ."""


class NoOverlapError(PairingError):
    """The recordings share too little time, even allowing for the clocks' error."""


class NotCorrelatedError(PairingError):
    """No lag makes the two recordings' levels move together clearly: not one meeting."""


@dataclass(frozen=True)
class PairSettings:
    frame_ms: int = 10
    """Envelope frame for the coarse search and for the level comparison."""
    max_clock_error_s: float = 5.0
    """How far the true lag may lie from what the two clocks claim."""
    min_overlap_s: float = 10.0
    """Shortest stretch both badges must have recorded."""
    min_correlation: float = 0.5
    """Envelope correlation (Pearson) at the best lag below which pairing is refused."""
    min_peak_margin: float = 0.15
    """The best lag's correlation must beat the best rival lag's (over 0.3 s away) by this."""
    refine_ms: float = 25.0
    """Half-width of the waveform search around the envelope's lag."""
    refine_max_s: float = 120.0
    """Longest stretch of the overlap used for the waveform refinement."""
    b_gain_db: float = 0.0
    """How much more sensitive B's microphone is than A's, dB (measured per badge, e.g. at
    enrolment): added back to every A-minus-B level difference."""
    wearer_db: float = 5.0
    """A turn louder on A than on B by more than this is A's wearer's."""
    scale_db: float = 0.25
    """Distance from `wearer_db` that gives the pair's verdict a confidence of 0.73."""
    pair_weight: float = 1.0
    """Weight of the pair's log-odds beside the single badge's."""
    min_confidence: float = 0.6
    """A combined label with less confidence than this is unknown."""


@dataclass(frozen=True)
class Alignment:
    lag_s: float
    """Where B's first sample falls on A's recording, seconds (negative: B started first)."""
    clock_error_s: float
    """`lag_s` minus the lag the two clocks claimed."""
    correlation: float
    """Envelope correlation at the lag, -1..1."""
    confidence: float
    """How far the lag's correlation stands above the best rival's, 0-1."""
    overlap_s: float
    """Time both badges recorded."""


@dataclass(frozen=True)
class PairedLabel:
    speaker: str
    """"wearer", "other" or "unknown", from A's point of view."""
    confidence: float
    level_diff_db: float | None
    """A minus B over the turn, dB (None where B did not record the stretch)."""
    loudest_on: str
    """"a" (A's wearer), "b" (B's wearer: the colleague), "both" (a third party) or ""."""


def _checked(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise PairingInputError(f"{name}: audio must be mono (1-D), not shape {x.shape}")
    if len(x) == 0:
        raise PairingInputError(f"{name}: no audio")
    if x.dtype == np.int16:
        return x.astype(np.float64) / 32768.0
    if not np.issubdtype(x.dtype, np.number):
        raise PairingInputError(f"{name}: audio samples must be numbers, not {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise PairingInputError(f"{name}: audio holds NaN or infinite samples")
    return x


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    f = x[: n * frame].reshape(n, frame)
    return 10 * np.log10((f**2).mean(axis=1) + 1e-10)


def _envelope(x: np.ndarray, frame: int) -> np.ndarray:
    """Frame dB, floored at the recording's own noise (its 10th percentile) so that the
    noise between turns, which differs badge to badge, does not count as a match."""
    db = _frame_db(x, frame)
    return np.maximum(db, np.percentile(db, 10)) if len(db) else db


def _corr_at(ea: np.ndarray, eb: np.ndarray, lag: int, min_n: int) -> float:
    """Pearson of A's frames against B's frames shifted by `lag` frames, over the overlap."""
    a0, b0 = max(0, lag), max(0, -lag)
    n = min(len(ea) - a0, len(eb) - b0)
    if n < min_n:
        return np.nan
    x, y = ea[a0:a0 + n], eb[b0:b0 + n]
    sx, sy = x.std(), y.std()
    if sx < 1e-9 or sy < 1e-9:
        return 0.0
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def _refine(a: np.ndarray, b: np.ndarray, lag: int, rate: int, s: PairSettings) -> int:
    """The sample lag near `lag` at which the waveforms match best (phase correlation)."""
    w = int(s.refine_ms * rate / 1000)
    a0, b0 = max(0, lag), max(0, -lag)
    n = min(len(a) - a0, len(b) - b0, int(s.refine_max_s * rate))
    if n <= 4 * w:
        return lag
    x, y = a[a0:a0 + n], b[b0:b0 + n]
    size = 1 << int(np.ceil(np.log2(n + w)))
    cross = np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size))
    r = np.fft.irfft(cross / (np.abs(cross) + 1e-12), size)
    near = np.concatenate([r[-w:], r[:w + 1]])  # residual lags -w..w
    return lag + int(np.argmax(near)) - w


def align(a: np.ndarray, a_start: float, b: np.ndarray, b_start: float, rate: int = 16000,
          b_rate: int | None = None, settings: PairSettings | None = None) -> Alignment:
    """The lag between two badges' recordings of one meeting (starts: wall-clock seconds
    as each badge's clock stated them). Raises `PairingError` rather than guess."""
    s = settings or PairSettings()
    if b_rate is not None and b_rate != rate:
        raise PairingInputError(f"sample rates differ ({rate} Hz and {b_rate} Hz): resample "
                                "one recording first")
    if rate <= 0:
        raise PairingInputError(f"sample rate must be positive, not {rate}")
    for name, t in (("A", a_start), ("B", b_start)):
        if not np.isfinite(t):
            raise PairingInputError(f"badge {name}: start time is not a number ({t})")
    xa, xb = _checked(a, "badge A"), _checked(b, "badge B")
    frame = max(1, rate * s.frame_ms // 1000)
    fs = rate / frame
    min_n = int(s.min_overlap_s * fs)
    for name, x in (("A", xa), ("B", xb)):
        if len(x) < min_n * frame:
            raise PairingInputError(f"badge {name}: {len(x) / rate:.1f} s of audio, shorter "
                                    f"than the {s.min_overlap_s:.0f} s pairing needs")
    ea, eb = _envelope(xa, frame), _envelope(xb, frame)
    claimed = round((b_start - a_start) * fs)
    spread = round(s.max_clock_error_s * fs)
    lags = np.arange(claimed - spread, claimed + spread + 1)
    corr = np.array([_corr_at(ea, eb, int(k), min_n) for k in lags])
    if np.all(np.isnan(corr)):
        raise NoOverlapError(
            f"the recordings overlap by less than {s.min_overlap_s:.0f} s at any lag within "
            f"{s.max_clock_error_s:.0f} s of the clocks' ({(b_start - a_start):+.1f} s)")
    corr = np.nan_to_num(corr, nan=-1.0)
    best = int(np.argmax(corr))
    rivals = corr[np.abs(lags - lags[best]) > _PEAK_GUARD_S * fs]
    rival = float(rivals.max()) if len(rivals) else 0.0
    r = float(corr[best])
    if r < s.min_correlation or r - rival < s.min_peak_margin:
        raise NotCorrelatedError(
            f"the recordings do not line up: best envelope correlation {r:.2f} (needs "
            f"{s.min_correlation:.2f}), best rival lag {rival:.2f} (needs a margin of "
            f"{s.min_peak_margin:.2f}); not the same meeting, or clocks off by more than "
            f"{s.max_clock_error_s:.0f} s")
    lag = _refine(xa, xb, int(lags[best]) * frame, rate, s)
    overlap = min(len(xa) - max(0, lag), len(xb) - max(0, -lag)) / rate
    lag_s = lag / rate
    return Alignment(lag_s, lag_s - (b_start - a_start), r,
                     float((r - rival) / max(1e-9, 1 - rival)), overlap)


def level_difference(a: np.ndarray, b: np.ndarray, alignment: Alignment, start_s: float,
                     end_s: float, rate: int = 16000, frame_ms: int = 10) -> float | None:
    """A's level minus B's over A's stretch `start_s`..`end_s`, dB: the median difference
    over the frames where either badge is loud (the talker, not the pauses between words).
    None where B did not record enough of the stretch."""
    frame = max(1, rate * frame_ms // 1000)
    lag = int(round(alignment.lag_s * rate))
    i0 = max(0, int(start_s * rate), lag)
    i1 = min(len(a), int(end_s * rate), len(b) + lag)
    n = (i1 - i0) // frame
    if n < 3:
        return None
    xa = np.asarray(a[i0:i0 + n * frame], np.float64)
    xb = np.asarray(b[i0 - lag:i0 - lag + n * frame], np.float64)
    da, db = _frame_db(xa, frame), _frame_db(xb, frame)
    top = np.maximum(da, db)
    loud = top >= np.percentile(top, 50)
    return float(np.median((da - db)[loud]))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def pair_label(diff_db: float | None, single: tuple[str, float],
               settings: PairSettings | None = None) -> PairedLabel:
    """A's label for a turn from the level difference and the single badge's (label,
    confidence)."""
    s = settings or PairSettings()
    label, conf = single
    evidence = {WEARER: _logit(conf), OTHER: -_logit(conf)}.get(label, 0.0)
    loudest = ""
    if diff_db is not None:
        margin = (diff_db - s.wearer_db) / s.scale_db
        evidence += s.pair_weight * float(np.clip(margin, -30, 30))
        loudest = "a" if diff_db > s.wearer_db else "b" if diff_db < -s.wearer_db else "both"
    if evidence == 0.0:
        return PairedLabel(UNKNOWN, 0.0, diff_db, loudest)
    combined = float(1 / (1 + np.exp(-abs(evidence))))
    speaker = WEARER if evidence > 0 else OTHER
    return PairedLabel(speaker if combined >= s.min_confidence else UNKNOWN, combined,
                       diff_db, loudest)


class _Labelled(Protocol):
    """A dataclass segment (`pipeline.Segment`): what `pair_sessions` reads and replaces."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    start_s: float
    end_s: float
    speaker: str
    speaker_confidence: float


S = TypeVar("S", bound=_Labelled)


def _relabel(a: np.ndarray, b: np.ndarray, al: Alignment, segments: Sequence[S], rate: int,
             s: PairSettings, gain_db: float) -> list[S]:
    out = []
    for seg in segments:
        diff = level_difference(a, b, al, seg.start_s, seg.end_s, rate, s.frame_ms)
        if diff is not None:
            diff += gain_db
        p = pair_label(diff, (seg.speaker, seg.speaker_confidence), s)
        out.append(replace(seg, speaker=p.speaker, speaker_confidence=p.confidence))
    return out


class _Placed(Protocol):
    """A clip's audio at its session offset (`pipeline.Piece`); read only."""

    @property
    def pcm(self) -> np.ndarray: ...

    @property
    def offset_s(self) -> float: ...


def timeline_audio(pieces: Sequence[_Placed], rate: int = 16000) -> np.ndarray:
    """A session's pieces (`pipeline.Piece`: clips at their session offsets) laid on one
    float array from timeline zero, silence where no clip recorded: `pair_sessions`' audio."""
    if not pieces:
        return np.zeros(0)
    n = max(int(round(p.offset_s * rate)) + len(p.pcm) for p in pieces)
    out = np.zeros(max(0, n))
    for p in pieces:
        x = _checked(p.pcm, f"piece at {p.offset_s:.1f} s")
        a = int(round(p.offset_s * rate))
        out[max(0, a):a + len(x)] = x[max(0, -a):]
    return out


def pair_sessions(a_audio: np.ndarray, a_start: float, a_segments: Sequence[S],
                  b_audio: np.ndarray, b_start: float, b_segments: Sequence[S],
                  rate: int = 16000, settings: PairSettings | None = None
                  ) -> tuple[list[S], list[S]]:
    """Both badges' segments relabelled with what the other badge heard.

    Audio: each session's samples from its timeline zero (the stated start, wall-clock
    seconds); segments: dataclasses with `start_s`/`end_s` on that timeline and the single
    badge's `speaker`/`speaker_confidence` (`pipeline.Segment`). Raises `PairingError`
    when the two cannot be aligned; the caller then keeps the single-badge labels.
    """
    s = settings or PairSettings()
    al = align(a_audio, a_start, b_audio, b_start, rate, settings=s)
    xa, xb = _checked(a_audio, "badge A"), _checked(b_audio, "badge B")
    back = Alignment(-al.lag_s, -al.clock_error_s, al.correlation, al.confidence, al.overlap_s)
    return (_relabel(xa, xb, al, a_segments, rate, s, s.b_gain_db),
            _relabel(xb, xa, back, b_segments, rate, s, -s.b_gain_db))
