"""Transcript text for matching: simplified characters, boundaries, pinyin keys.

Whisper writes traditional characters at times, full-width digits, spaces and
punctuation of either width. `Doc` turns a list of segment texts into one string of
simplified characters in which every clause boundary is `，` (weak: comma, space, a new
segment) or `。` (strong: end of a sentence), and remembers which segment each character
came from. Pinyin keys give each character the set of its toneless readings, so a
phrase matches its homophones (经理 ↔ 经历); fuzzy keys also merge zh/z, ch/c, sh/s
and -ng/-n, the confusions a recogniser makes on accented speech.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["STRONG", "WEAK", "Doc", "is_han", "normalise", "pinyin_keys"]

WEAK = "，"
STRONG = "。"
_STRONG_PUNCT = set("。.!！?？;；…")
_WEAK_PUNCT = set(",，、:：") | {" ", "\t", "\n", "\u3000"}


def is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


@lru_cache(maxsize=1)
def _to_simplified():  # type: ignore[no-untyped-def]
    import zhconv

    return lambda s: zhconv.convert(s, "zh-cn")


def normalise(text: str) -> str:
    """Simplified characters, half-width letters and digits, lower case; punctuation and
    spaces become `，` or `。`, repeated boundaries collapse, other symbols are dropped."""
    text = _to_simplified()(unicodedata.normalize("NFKC", text)).lower()
    out: list[str] = []
    for ch in text:
        if ch in _STRONG_PUNCT:
            b = STRONG
        elif ch in _WEAK_PUNCT:
            b = WEAK
        elif ch.isalnum() or ch == "%":
            out.append(ch)
            continue
        else:
            continue
        if out and out[-1] in (WEAK, STRONG):
            if b == STRONG:
                out[-1] = STRONG
        elif out:
            out.append(b)
    while out and out[-1] in (WEAK, STRONG):
        out.pop()
    return "".join(out)


@dataclass(frozen=True)
class Doc:
    """Normalised text of a whole transcript and, per character, its segment index."""

    text: str
    seg: tuple[int, ...]

    @classmethod
    def from_segments(cls, texts: Sequence[str]) -> Doc:
        chars: list[str] = []
        seg: list[int] = []
        for i, t in enumerate(texts):
            n = normalise(t)
            if not n:
                continue
            if chars:
                chars.append(WEAK)
                seg.append(i)
            chars.extend(n)
            seg.extend([i] * len(n))
        return cls("".join(chars), tuple(seg))


def _fuzz(syllable: str) -> str:
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(a):
            syllable = b + syllable[2:]
            break
    if syllable.endswith("ng") and len(syllable) > 2:
        syllable = syllable[:-1]
    return syllable


@lru_cache(maxsize=20000)
def pinyin_keys(ch: str, fuzzy: bool = False) -> frozenset[str]:
    """Toneless common reading of one character (itself for anything that is not Han)."""
    if not is_han(ch):
        return frozenset((ch,))
    from pypinyin import Style, pinyin

    # the common reading only: rare readings of polyphones (的 dí, 提 dī) would make
    # unrelated characters "homophones"
    readings = pinyin(ch, style=Style.NORMAL, heteronym=False, errors="ignore")
    keys = {r.replace("ü", "v") for r in (readings[0] if readings else [])}
    if not keys:
        return frozenset((ch,))
    if fuzzy:
        keys = {_fuzz(k) for k in keys}
    return frozenset(keys)
