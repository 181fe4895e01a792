"""The transcript's records: a `Segment` of text on the session timeline and its `Word`s.

The pipeline makes them, the guards and speaker attribution edit them (as new frozen
copies), `transcript` turns them into the session document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Segment", "Word"]


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
    flags: tuple[str, ...] = ()
    """What the guards found and did (`guards.py`): repeat_cut, repeat_redecoded,
    no_gate_speech, too_fast."""
    cuts: tuple[tuple[str, str], ...] = ()
    """(flag, text) for every piece of the model's text a guard removed."""
    speaker: str = "unknown"
    """"wearer", "other" or "unknown" (`speaker.py`)."""
    speaker_confidence: float = 0.0
    """How sure `speaker` is, 0-1."""

    @property
    def confidence(self) -> float:
        """Mean word probability (exp of the average log-probability without words)."""
        if self.words:
            return float(np.mean([w.probability for w in self.words]))
        return float(np.exp(self.avg_logprob))
