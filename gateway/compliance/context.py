"""Decide whether a hit counts: negation, risk-disclosure and question context.

"这个产品不保本" is a proper risk disclosure, "不能保证收益" a correct statement and
"如果有人跟您说稳赚，那是误导" a warning: none of them is a promise. A hit of a
negatable item is cancelled by
- a negation word in the same clause before it (不能保证, 并不是, 没有, …), or a single
  negation character right before it (不保本);
- a disclosure word in the same sentence before it (如果有人跟您说, 风险提示, …);
- a negation after it in the same sentence (…是不可能的, …做不到);
- a question mark word right after it (保本吗);
- for a `near` pair, a negation inside the gap between its two words (收益是不保证的).
Words that contain a negation character without negating (不管, 不少于, 不用担心) are
masked first; barrier words (但是, 不过) end the look-back.
"""

from __future__ import annotations

from gateway.compliance.rules import ContextLists, MatchSettings
from gateway.compliance.text import STRONG, WEAK

__all__ = ["ContextJudge"]

_QUESTION_AFTER_CHARS = 3


class ContextJudge:
    """Context checks over one normalised transcript text."""

    def __init__(self, text: str, lists: ContextLists, settings: MatchSettings) -> None:
        self.text = text
        self.lists = lists
        self.settings = settings
        self._multi = tuple(w for w in lists.negation_before if len(w) > 1)
        self._single = set(lists.negation_chars) | {w for w in lists.negation_before if len(w) == 1}

    def _mask(self, s: str) -> str:
        for w in self.lists.not_negation:
            s = s.replace(w, "#" * len(w))
        return s

    def _before(self, start: int, width: int, stop: str) -> str:
        s = self.text[max(0, start - width):start]
        for b in stop:
            s = s[s.rfind(b) + 1:]
        s = self._mask(s)
        for w in self.lists.barriers:
            k = s.rfind(w)
            if k >= 0:
                s = s[k + len(w):]
        return s

    def _after(self, end: int, width: int) -> str:
        s = self.text[end:end + width]
        k = s.find(STRONG)
        return self._mask(s if k < 0 else s[:k])

    def negated_gap(self, gap: str) -> str | None:
        g = self._mask(gap)
        for w in self._multi:
            if w in g:
                return w
        for c in g:
            if c in self._single:
                return c
        return None

    def reason(self, start: int, end: int, gap: str = "") -> str | None:
        """Why a hit at `text[start:end]` does not count, or None when it does."""
        w = self.settings.negation_window_chars
        clause = self._before(start, w, WEAK + STRONG)
        for cue in self._multi:
            if cue in clause:
                return f"negated: {cue}"
        for c in clause[-2:]:
            if c in self._single:
                return f"negated: {c}"
        sentence = self._before(start, 2 * w, STRONG)
        for cue in self.lists.disclosure:
            if cue in sentence:
                return f"disclosure: {cue}"
        after = self._after(end, self.settings.negation_after_chars)
        for cue in self.lists.negation_after:
            if cue in after:
                return f"negated after: {cue}"
        near_after = after[:_QUESTION_AFTER_CHARS]
        for cue in self.lists.question_after:
            if cue in near_after:
                return f"question: {cue}"
        if gap:
            cue_gap = self.negated_gap(gap)
            if cue_gap:
                return f"negated: {cue_gap}"
        return None
