"""Rule packs: check items in TOML that a compliance officer reads and edits.

A rule pack has a `[pack]` table (name, title), optional `[matching]` settings, the
`[context]` word lists that decide whether a hit is negated or part of a risk
disclosure, and one `[[item]]` table per check item:

    [[item]]
    id = "guaranteed_capital"
    kind = "prohibited"          # required | prohibited | event
    severity = "严重"            # 提示 | 一般 | 严重
    title = "承诺保本"
    phrases = ["保本", "保证本金"]
    near = [["本金", "不会少"]]  # the second within `near_gap_chars` after the first
                                 # (a third element: that pair's own gap, ["交", "年", 3])
    also = []                    # one of these must be near the hit (e.g. a length)
    unless = ["保本型"]          # near-misses: a hit overlapping one of these is dropped

    [[item.pair]]                # word classes: any `first`, then any `then` within `gap`
    first = ["本金", "本钱", "交进去的钱"]
    then = ["少不了", "不会少", "一分不少"]
    gap = 10
    clause = false               # true: no comma between the two

Loading checks every key, so a typo or a wrong type gives one clear line naming the
item and the key instead of a rule that silently never fires.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.compliance.errors import RulesError

__all__ = [
    "KINDS",
    "SEVERITIES",
    "ContextLists",
    "Item",
    "Pair",
    "MatchSettings",
    "RulePack",
    "default_rules_path",
    "load_rules",
    "parse_rules",
]

KINDS = ("required", "prohibited", "event")
SEVERITIES = ("提示", "一般", "严重")


@dataclass(frozen=True)
class MatchSettings:
    """How phrases are matched against a transcript (all lengths in characters)."""

    pinyin: bool = True
    """Match on toneless pinyin as well as characters, so homophones match (经理 ↔ 经历)."""
    fuzzy_pinyin: bool = True
    """Also treat zh/z, ch/c, sh/s and -ng/-n as equal for phrases of 3+ characters."""
    edits: bool = True
    """Allow one dropped or extra character in phrases of 4+ characters, two in 6+."""
    lenient_required: bool = True
    """Required items also survive one dropped character from 3 characters on (犹豫期 heard
    as 犹期): a recogniser's deletion then costs no false "missing", at the price of a
    slightly higher chance of a false "said"."""
    context_chars: int = 20
    """Characters of transcript shown on each side of a hit."""
    negation_window_chars: int = 8
    """How far before a hit a negation or disclosure word cancels it."""
    negation_after_chars: int = 8
    """How far after a hit a trailing negation ("…是不可能的") cancels it."""
    near_gap_chars: int = 12
    """Largest gap between the two words of a `near` pair."""
    also_window_chars: int = 30
    """How far from a hit one of the item's `also` phrases must be."""
    unless_window_chars: int = 4
    """How far around a hit an `unless` near-miss phrase still cancels it."""
    speaker_window_chars: int = 10
    """How far around a hit of a customer-only item an agent cue marks the agent as the speaker."""


@dataclass(frozen=True)
class ContextLists:
    """Word lists that decide whether a hit is negated or quoted in a disclosure."""

    negation_before: tuple[str, ...] = ()
    """Words before a hit that negate it (不能保证 保本)."""
    negation_chars: tuple[str, ...] = ("不", "没", "无", "非", "未")
    """Single characters that negate only right before a hit (不保本) or inside a pair's gap."""
    negation_after: tuple[str, ...] = ()
    """Words after a hit that negate it (保本 是不可能的)."""
    disclosure: tuple[str, ...] = ()
    """Words before a hit that make it a risk disclosure or a quoted claim (如果有人跟您说)."""
    not_negation: tuple[str, ...] = ()
    """Words that contain a negation character but do not negate (不管, 不少于)."""
    barriers: tuple[str, ...] = ()
    """Words that end the look-back for negation (但是, 不过)."""
    question_after: tuple[str, ...] = ("吗",)
    """Words right after a hit that make it a question, not a claim (保本吗)."""
    agent_cues: tuple[str, ...] = ()
    """Agent phrasing (我再讲, 随时问我): near a hit of an item said by the customer
    (`speaker = "customer"`), in the same segment, it shows the agent said it (不明白的地方我再讲)."""


@dataclass(frozen=True)
class Pair:
    """Any of `first`, followed closely by any of `then`."""

    first: tuple[str, ...]
    then: tuple[str, ...]
    gap_chars: int | None = None
    """Largest gap between them; None: the pack's `near_gap_chars`."""
    clause: bool = False
    """Both in one clause (no comma or full stop between them)."""


@dataclass(frozen=True)
class Item:
    """One check item."""

    id: str
    kind: str
    severity: str
    title: str
    phrases: tuple[str, ...] = ()
    near: tuple[Pair, ...] = ()
    """`near` entries and `[[item.pair]]` tables alike."""
    also: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    negatable: bool = True
    """Whether negation and disclosure context cancels a hit (default: not for required)."""
    note: str = ""
    speaker: str | None = None
    """"customer": only the customer says this (the pack's `agent_cues` near a hit drop it)."""


@dataclass(frozen=True)
class RulePack:
    """A loaded, validated rule pack."""

    name: str
    title: str
    items: tuple[Item, ...]
    matching: MatchSettings = field(default_factory=MatchSettings)
    context: ContextLists = field(default_factory=ContextLists)
    source: str = ""

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


def default_rules_path() -> Path:
    """The bundled rule pack for life and savings products."""
    return Path(str(resources.files("gateway.compliance") / "rules" / "life_savings.toml"))


_ITEM_KEYS = {"id", "kind", "severity", "title", "phrases", "near", "pair", "also", "unless",
              "negatable", "note", "speaker"}
_PAIR_KEYS = {"first", "then", "gap", "clause"}
_TOP_KEYS = {"pack", "matching", "context", "item"}


def _strs(value: Any, where: str, src: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{where} must be a list of non-empty strings", src)
    return tuple(v.strip() for v in value)


def _item(raw: Any, n: int, src: str) -> Item:
    if not isinstance(raw, dict):
        raise RulesError(f"[[item]] #{n} must be a table", src)
    where = f"[[item]] #{n} ({raw.get('id', 'no id')})"
    unknown = set(raw) - _ITEM_KEYS
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(_ITEM_KEYS))}", src)
    for key in ("id", "kind", "severity"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RulesError(f"{where}: '{key}' is required and must be a string", src)
    kind, severity = raw["kind"].strip(), raw["severity"].strip()
    if kind not in KINDS:
        raise RulesError(f"{where}: kind '{kind}' is not one of {', '.join(KINDS)}", src)
    if severity not in SEVERITIES:
        raise RulesError(f"{where}: severity '{severity}' is not one of {', '.join(SEVERITIES)}", src)
    phrases = _strs(raw.get("phrases", []), f"{where}: 'phrases'", src)
    near_raw = raw.get("near", [])
    if not isinstance(near_raw, list):
        raise RulesError(f"{where}: 'near' must be a list of [word, word] pairs", src)
    near: list[Pair] = []
    for pair in near_raw:
        gap = None
        if isinstance(pair, list) and len(pair) == 3 and isinstance(pair[2], int):
            gap = pair[2]
            if isinstance(gap, bool) or gap < 0:
                raise RulesError(f"{where}: the gap in 'near' entry {pair} must be a whole number >= 0", src)
            pair = pair[:2]
        words = _strs(pair, f"{where}: each 'near' entry", src)
        if len(words) != 2:
            raise RulesError(f"{where}: each 'near' entry must be [word, word] or [word, word, gap], "
                             f"got {pair}", src)
        near.append(Pair((words[0],), (words[1],), gap))
    pairs_raw = raw.get("pair", [])
    if not isinstance(pairs_raw, list):
        raise RulesError(f"{where}: 'pair' must be [[item.pair]] tables", src)
    for k, tbl in enumerate(pairs_raw, 1):
        pw = f"{where}: [[item.pair]] #{k}"
        if not isinstance(tbl, dict):
            raise RulesError(f"{pw} must be a table with 'first', 'then' and optional 'gap'", src)
        unknown = set(tbl) - _PAIR_KEYS
        if unknown or "first" not in tbl or "then" not in tbl:
            raise RulesError(f"{pw} needs 'first' and 'then' word lists (and optional 'gap'); "
                             f"got keys {', '.join(sorted(tbl)) or 'none'}", src)
        gap = tbl.get("gap")
        if gap is not None and (not isinstance(gap, int) or isinstance(gap, bool) or gap < 0):
            raise RulesError(f"{pw}: 'gap' must be a whole number >= 0", src)
        clause = tbl.get("clause", False)
        if not isinstance(clause, bool):
            raise RulesError(f"{pw}: 'clause' must be true or false", src)
        near.append(Pair(_strs(tbl["first"], f"{pw}: 'first'", src),
                         _strs(tbl["then"], f"{pw}: 'then'", src), gap, clause))
    if not phrases and not near:
        raise RulesError(f"{where}: needs at least one entry in 'phrases', 'near' or 'pair'", src)
    negatable = raw.get("negatable", kind != "required")
    if not isinstance(negatable, bool):
        raise RulesError(f"{where}: 'negatable' must be true or false", src)
    title = raw.get("title", raw["id"])
    note = raw.get("note", "")
    if not isinstance(title, str) or not isinstance(note, str):
        raise RulesError(f"{where}: 'title' and 'note' must be strings", src)
    speaker = raw.get("speaker")
    if speaker not in (None, "customer"):
        raise RulesError(f"{where}: 'speaker' must be \"customer\" (or left out)", src)
    return Item(
        id=raw["id"].strip(), kind=kind, severity=severity, title=title, phrases=phrases,
        near=tuple(near), also=_strs(raw.get("also", []), f"{where}: 'also'", src),
        unless=_strs(raw.get("unless", []), f"{where}: 'unless'", src),
        negatable=negatable, note=note, speaker=speaker,
    )


def _section(data: dict[str, Any], name: str, cls: type, src: str) -> Any:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise RulesError(f"[{name}] must be a table", src)
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise RulesError(f"[{name}]: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(names))}", src)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            out[key] = _strs(value, f"[{name}] {key}", src)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise RulesError(f"[{name}] {key} must be true or false", src)
            out[key] = value
        else:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RulesError(f"[{name}] {key} must be a whole number >= 0", src)
            out[key] = value
    return cls(**out)


def parse_rules(text: str, source: str = "<rules>") -> RulePack:
    """Parse and validate a rule pack from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"not valid TOML: {exc}", source) from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise RulesError(f"unknown table(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(_TOP_KEYS))}", source)
    pack = data.get("pack", {})
    if not isinstance(pack, dict):
        raise RulesError("[pack] must be a table", source)
    raw_items = data.get("item")
    if not isinstance(raw_items, list) or not raw_items:
        raise RulesError("no check items: add at least one [[item]] table", source)
    items = [_item(raw, n, source) for n, raw in enumerate(raw_items, 1)]
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise RulesError(f"item id '{it.id}' appears twice", source)
        seen.add(it.id)
    return RulePack(
        name=str(pack.get("name", Path(source).stem)),
        title=str(pack.get("title", "")),
        items=tuple(items),
        matching=_section(data, "matching", MatchSettings, source),
        context=_section(data, "context", ContextLists, source),
        source=source,
    )


def load_rules(path: Path | str | None = None) -> RulePack:
    """Load a rule pack from a TOML file (the bundled life and savings pack by default)."""
    p = Path(path) if path is not None else default_rules_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError("rule pack not found", p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read rule pack: {exc}", p) from None
    return parse_rules(text, str(p))
