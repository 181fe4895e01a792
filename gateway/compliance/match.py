"""Find a phrase in a transcript on characters and on pinyin, tolerating small edits.

A phrase matches where each of its characters equals the transcript's character or
shares its common toneless reading (homophones: 经理 ↔ 经历; with fuzzy pinyin also
zh/z, ch/c, sh/s, -ng/-n for phrases of 3+ characters). Longer phrases also survive a
recogniser inserting a character inside them (4+ characters), dropping one (5+) and
substituting one (6+; two edits in all for 6+). The first and last characters must
always match, edits never cross a clause boundary, and a negation character is never
skipped, dropped or substituted, so "收益不保证" can never match "收益保证". For required
items (`lenient`), 3-4 character phrases may also lose one inner character when the
rest matches character for character (犹期 for 犹豫期).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.compliance.rules import MatchSettings
from gateway.compliance.text import STRONG, WEAK, Doc, normalise, pinyin_keys

__all__ = ["PhraseFinder", "Span"]

_INF = 1 << 20


@dataclass(frozen=True)
class Span:
    """Where a phrase matched: `doc.text[start:end]`, with the number of edits it took."""

    start: int
    end: int
    phrase: str
    cost: int


class PhraseFinder:
    """Phrase search over one `Doc`; results are cached per phrase."""

    def __init__(self, doc: Doc, settings: MatchSettings, negation_chars: tuple[str, ...] = ()):
        self.doc = doc
        self.settings = settings
        self._neg = set(negation_chars)
        text = doc.text
        self._exact = [pinyin_keys(c) for c in text] if settings.pinyin else []
        self._fuzzy = [pinyin_keys(c, True) for c in text] if settings.fuzzy_pinyin else []
        self._cache: dict[str, list[Span]] = {}
        self._by_char: dict[str, list[int]] = {}
        self._by_key: dict[str, list[int]] = {}
        self._by_fuzzy: dict[str, list[int]] = {}
        for j, c in enumerate(text):
            self._by_char.setdefault(c, []).append(j)
            for k in self._exact[j] if self._exact else ():
                self._by_key.setdefault(k, []).append(j)
            for k in self._fuzzy[j] if self._fuzzy else ():
                self._by_fuzzy.setdefault(k, []).append(j)

    def _starts(self, pc: str, m: int) -> list[int]:
        """Text positions where the phrase's first character can match."""
        found = set(self._by_char.get(pc, ()))
        if self.settings.pinyin and m >= 2:
            for k in pinyin_keys(pc):
                found.update(self._by_key.get(k, ()))
            if m >= 3 and self.settings.fuzzy_pinyin:
                for k in pinyin_keys(pc, True):
                    found.update(self._by_fuzzy.get(k, ()))
        return sorted(found)

    def _budget(self, m: int) -> int:
        if not self.settings.edits or m < 4:
            return 0
        return 1 if m < 6 else 2

    def _eq(self, pc: str, j: int, m: int) -> bool:
        tc = self.doc.text[j]
        if tc == pc:
            return True
        if tc in (WEAK, STRONG) or m < 2 or not self.settings.pinyin:
            return False
        if pinyin_keys(pc) & self._exact[j]:
            return True
        return m >= 3 and self.settings.fuzzy_pinyin and bool(pinyin_keys(pc, True) & self._fuzzy[j])

    def _skippable(self, j: int) -> bool:
        tc = self.doc.text[j]
        return tc not in (WEAK, STRONG) and tc not in self._neg

    def _align(self, p: str, j: int, budget: int) -> tuple[int, int] | None:
        """Best (cost, end) aligning phrase `p` to text starting at `j` (p[0] matches t[j])."""
        m, n = len(p), len(self.doc.text)
        if m == 1:
            return (0, j + 1)
        width = min(m + budget, n - j)
        # row[k]: cost of aligning p[:i] to text[j:j+k]
        row = [_INF] * (width + 1)
        row[1] = 0
        for i in range(1, m - 1):
            new = [_INF] * (width + 1)
            can_drop = m >= 5 and p[i] not in self._neg
            for k in range(1, width + 1):
                best = _INF
                c = row[k - 1]
                if c < _INF and j + k - 1 < n:
                    if self._eq(p[i], j + k - 1, m):
                        best = c
                    elif m >= 6 and p[i] not in self._neg and self._skippable(j + k - 1):
                        best = c + 1
                if can_drop and row[k] < _INF:
                    best = min(best, row[k] + 1)  # phrase character dropped
                if new[k - 1] < _INF and self._skippable(j + k - 1):
                    best = min(best, new[k - 1] + 1)  # extra character in the text
                new[k] = best if best <= budget else _INF
            row = new
        result: tuple[int, int] | None = None
        for k in range(1, width):
            # the last phrase character must match text[j + k]; extra text before it
            extra = row[k]
            if extra <= budget and j + k < n and self._eq(p[m - 1], j + k, m):
                if result is None or extra < result[0]:
                    result = (extra, j + k + 1)
        return result

    def find(self, phrase: str, edits: bool = True, lenient: bool = False) -> list[Span]:
        """Non-overlapping matches of `phrase`, leftmost first (`edits=False`: homophones
        only, for near-miss phrases that must match closely; `lenient`: 3-4 character
        phrases may also lose one inner character if the rest matches character for
        character, for required items: 犹期 for 犹豫期, but 保险人 is not 保险责任)."""
        key = ("\0" if not edits else "\1" if lenient else "") + phrase
        if key in self._cache:
            return self._cache[key]
        p = normalise(phrase).replace(WEAK, "").replace(STRONG, "")
        text = self.doc.text
        found: list[Span] = []
        if p:
            m = len(p)
            budget = self._budget(m) if edits else 0
            if not self.settings.pinyin and budget == 0:
                j = text.find(p)
                while j >= 0:
                    found.append(Span(j, j + m, phrase, 0))
                    j = text.find(p, j + m)
            else:
                for j in self._starts(p[0], m):
                    if not self._eq(p[0], j, m):
                        continue
                    got = self._align(p, j, budget)
                    if got is not None:
                        found.append(Span(j, got[1], phrase, got[0]))
            if edits and lenient and self.settings.edits and m in (3, 4):
                for i in range(1, m - 1):
                    if p[i] in self._neg:
                        continue
                    short = p[:i] + p[i + 1:]
                    j = text.find(short)
                    while j >= 0:
                        found.append(Span(j, j + len(short), phrase, 1))
                        j = text.find(short, j + 1)
            found = _no_overlap(found)
        self._cache[key] = found
        return found


def _no_overlap(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s.start, s.cost, s.end))
    out: list[Span] = []
    for s in spans:
        if out and s.start < out[-1].end:
            if s.cost < out[-1].cost and s.start == out[-1].start:
                out[-1] = s
            continue
        out.append(s)
    return out
