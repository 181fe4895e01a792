"""Character error rate for Mandarin transcripts, as the benchmarks and tests score them.

Both sides are converted to simplified characters, then everything that is not a
letter or digit (punctuation, spaces) is removed; CER = edit distance / reference length.
"""

from __future__ import annotations

import unicodedata

from gateway.transcribe.engine import to_simplified

__all__ = ["cer", "edit_distance", "normalise_for_cer"]


def normalise_for_cer(text: str) -> str:
    """Simplified characters, lower case, no punctuation or whitespace."""
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (insert, delete, substitute cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate of `hypothesis` against `reference` after normalisation."""
    ref = normalise_for_cer(reference)
    hyp = normalise_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(hyp, ref) / len(ref)
