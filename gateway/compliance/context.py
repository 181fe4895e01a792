"""Decide whether a hit counts: negation, risk-disclosure and question context.

"这个产品不保本" is a proper risk disclosure, "不能保证收益" a correct statement and
"如果有人跟您说稳赚，那是误导" a warning: none of them is a promise. A hit of a
negatable item is cancelled by
- a negation word in the same clause before it (不能保证, 并不是, 没有, …), or a single
  negation character right before it (不保本);
- for claims, a disclosure word in the same sentence before it (如果有人跟您说, 风险提示);
- a negation after it in the same sentence (…是不可能的, …做不到);
- for claims, a question word right after it (保本吗);
- for a `near` pair, a negation inside the gap between its two words (收益是不保证的).
Words that contain a negation character without negating (不管, 不少于, 不用担心) are
masked first; barrier words (但是, 不过) end the look-back. Context words of two or more
characters also match on pinyin, so a misrecognised cue still counts (哺能保证 = 不能保证);
single negation characters match only as written (每, 费, 为 are not negations).
"""

from __future__ import annotations

from gateway.compliance.rules import ContextLists, MatchSettings
from gateway.compliance.text import STRONG, WEAK, normalise, pinyin_keys

__all__ = ["ContextJudge"]

_QUESTION_AFTER_CHARS = 3


def _key(ch: str) -> str:
    return min(pinyin_keys(ch))


class ContextJudge:
    """Context checks over one normalised transcript text."""

    def __init__(self, text: str, lists: ContextLists, settings: MatchSettings) -> None:
        self.text = text
        self.lists = lists
        self.settings = settings
        self._keys = [_key(c) for c in text] if settings.pinyin else []
        self._single = set(lists.negation_chars) | {w for w in lists.negation_before if len(w) == 1}
        self._words: dict[str, tuple[str, tuple[str, ...]]] = {}
        for w in (*lists.negation_before, *lists.negation_after, *lists.disclosure,
                  *lists.not_negation, *lists.barriers, *lists.question_after):
            n = normalise(w)
            self._words[w] = (n, tuple(_key(c) for c in n))

    # a window is a list of text positions (masked positions removed)

    def _find(self, pos: list[int], word: str) -> int:
        """Index in `pos` where `word` starts (chars, or pinyin for 2+ chars), else -1."""
        chars, keys = self._words.get(word) or (word, ())
        m = len(chars)
        for i in range(len(pos) - m + 1):
            if all(self.text[pos[i + k]] == chars[k] for k in range(m)):
                return i
        if m >= 2 and self._keys and keys:
            for i in range(len(pos) - m + 1):
                if all(self._keys[pos[i + k]] == keys[k] for k in range(m)):
                    return i
        return -1

    def _rfind(self, pos: list[int], word: str) -> int:
        at, k = -1, self._find(pos, word)
        while k >= 0:
            at = k
            nxt = self._find(pos[k + 1:], word)
            k = -1 if nxt < 0 else k + 1 + nxt
        return at

    def _mask(self, pos: list[int]) -> list[int]:
        for w in self.lists.not_negation:
            k = self._find(pos, w)
            while k >= 0:
                m = len(self._words[w][0])
                pos = pos[:k] + pos[k + m:]
                k = self._find(pos, w)
        return pos

    def _before(self, start: int, width: int, stops: str) -> list[int]:
        lo = max(0, start - width)
        for j in range(start - 1, lo - 1, -1):
            if self.text[j] in stops:
                lo = j + 1
                break
        pos = self._mask([j for j in range(lo, start) if self.text[j] not in (WEAK, STRONG)])
        for w in self.lists.barriers:
            k = self._rfind(pos, w)
            if k >= 0:
                pos = pos[k + len(self._words[w][0]):]
        return pos

    def _after(self, end: int, width: int) -> list[int]:
        out = []
        for j in range(end, min(len(self.text), end + width)):
            if self.text[j] == STRONG:
                break
            out.append(j)
        return self._mask(out)

    def negated_gap(self, gap_start: int, gap_end: int, adjacent: bool = False) -> str | None:
        """A negation in the gap of a pair; `adjacent`: only right before the second word."""
        pos = self._mask(list(range(gap_start, gap_end)))
        if adjacent:
            pos = pos[-2:]
        for w in self.lists.negation_before:
            if len(w) > 1 and self._find(pos, w) >= 0:
                return w
        for j in pos:
            if self.text[j] in self._single:
                return self.text[j]
        return None

    def reason(self, start: int, end: int, gap: tuple[int, int] | None = None,
               claim: bool = True) -> str | None:
        """Why a hit at `text[start:end]` does not count, or None when it does.
        Disclosure and question context apply to claims only: "留个电话吗" is a request."""
        w = self.settings.negation_window_chars
        clause = self._before(start, w, WEAK + STRONG)
        for cue in self.lists.negation_before:
            if len(cue) > 1 and self._find(clause, cue) >= 0:
                return f"negated: {cue}"
        for j in clause[-2:]:
            if self.text[j] in self._single:
                return f"negated: {self.text[j]}"
        if claim:
            sentence = self._before(start, 2 * w, STRONG)
            for cue in self.lists.disclosure:
                if self._find(sentence, cue) >= 0:
                    return f"disclosure: {cue}"
        after = self._after(end, self.settings.negation_after_chars)
        for cue in self.lists.negation_after:
            if self._find(after, cue) >= 0:
                return f"negated after: {cue}"
        if claim:
            for cue in self.lists.question_after:
                if self._find(after[:_QUESTION_AFTER_CHARS], cue) >= 0:
                    return f"question: {cue}"
        if gap is not None:
            cue_gap = self.negated_gap(*gap)
            if cue_gap:
                return f"negated: {cue_gap}"
        return None
