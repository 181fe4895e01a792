"""Check one session against a rule pack, and carry required items across a related group.

`check_session(transcript, rules)` gives `Findings`: every item of the pack with its
status (`said`, `missing` or `violated`), the transcript segment that decided it, its
time and the clip to play, plus the hits that were dropped and why (negated, a risk
disclosure, a near-miss), so a reviewer sees "这个产品不保本" was heard and accepted.

Status by kind: a required item is `said` or `missing`; a prohibited claim is
`violated` or `missing` (not made); an event is `said` (it happened) or `missing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.compliance.context import ContextJudge
from gateway.compliance.findings import Evidence, Findings, ItemResult
from gateway.compliance.match import PhraseFinder, Span
from gateway.compliance.rules import Item, MatchSettings, RulePack, load_rules
from gateway.compliance.text import STRONG, WEAK, Doc
from gateway.compliance.transcript import Transcript, load_transcript, parse_transcript

__all__ = ["check_group", "check_session", "check_text"]


@dataclass(frozen=True)
class _Hit:
    span: Span
    reason: str | None


def _near_spans(finder: PhraseFinder, a: str, b: str, gap_max: int,
                clause: bool) -> list[tuple[Span, tuple[int, int] | None]]:
    text = finder.doc.text
    out: list[tuple[Span, tuple[int, int] | None]] = []
    for sa in finder.find(a):
        for sb in finder.find(b):
            gap = text[sa.end:sb.start]
            if sb.start < sa.end or len(gap) > gap_max or STRONG in gap or (clause and WEAK in gap):
                continue
            out.append((Span(sa.start, sb.end, f"{a}…{b}", sa.cost + sb.cost), (sa.end, sb.start)))
    return out


def _hits(item: Item, finder: PhraseFinder, judge: ContextJudge, pack: RulePack,
          speakers: tuple[str | None, ...] = ()) -> list[_Hit]:
    ms = pack.matching
    lenient = item.kind == "required" and ms.lenient_required
    cands: list[tuple[Span, tuple[int, int] | None]] = [
        (s, None) for p in item.phrases for s in finder.find(p, lenient=lenient)]
    for pair in item.near:
        gap_max = ms.near_gap_chars if pair.gap_chars is None else pair.gap_chars
        for a in pair.first:
            for b in pair.then:
                cands.extend(_near_spans(finder, a, b, gap_max, pair.clause))
    cands.sort(key=lambda c: (c[0].start, c[0].cost, c[0].end))
    # overlapping candidates: the leftmost, then the closest, then the shortest decides
    # ("零风险的产品是不存在的" is the negated 零风险, not the pair 风险…不存在)
    chosen: list[tuple[Span, tuple[int, int] | None]] = []
    for span, gap in cands:
        if not chosen or span.start >= chosen[-1][0].end:
            chosen.append((span, gap))
    return [_Hit(span, _speaker_reason(item, span, finder, speakers)
                 or _reason(item, span, gap, finder, judge, ms)) for span, gap in chosen]


def _speaker_reason(item: Item, span: Span, finder: PhraseFinder,
                    speakers: tuple[str | None, ...]) -> str | None:
    """Why a hit does not count, from who the transcript says spoke its segment: a
    promise (a prohibited claim) does not count against the agent when the other party
    said it (我朋友说这个稳赚不赔), nor what only a customer says (confusion) when the
    wearer, the agent, said it. An `unknown` speaker, or a transcript without labels,
    changes nothing: the hit counts as before."""
    seg = finder.doc.seg
    if not speakers or not seg:
        return None
    i = seg[span.start]
    who = speakers[i] if i < len(speakers) else None
    if item.speaker == "customer" and who == "wearer":
        return "speaker: wearer"
    if item.speaker is None and item.kind == "prohibited" and who == "other":
        return "speaker: other party"
    return None


def _agent_said(span: Span, finder: PhraseFinder, cues: tuple[str, ...], window: int) -> str | None:
    """An agent cue near the hit in the same segment (the customer-only item was the agent's)."""
    seg = finder.doc.seg
    here = seg[span.start] if seg else 0
    for cue in cues:
        for sc in finder.find(cue, edits=False):
            if (sc.start <= span.end + window and sc.end >= span.start - window
                    and (not seg or seg[sc.start] == here)):
                return cue
    return None


def _reason(item: Item, span: Span, gap: tuple[int, int] | None, finder: PhraseFinder,
            judge: ContextJudge, ms: MatchSettings) -> str | None:
    """Why a hit does not count (near-miss, agent speaking, negated, disclosure,
    incomplete), or None."""
    w = ms.unless_window_chars
    for u in item.unless:
        if any(su.start <= span.end + w and su.end >= span.start - w
               for su in finder.find(u, edits=False)):
            return f"near-miss: {u}"
    if item.speaker == "customer":
        cue = _agent_said(span, finder, judge.lists.agent_cues, ms.speaker_window_chars)
        if cue:
            return f"speaker: agent ({cue})"
    if item.negatable:
        reason = judge.reason(span.start, span.end, gap, claim=item.kind == "prohibited")
        if reason:
            return reason
    elif gap is not None:
        # a negation between the two words of a pair turns it around for every kind:
        # "重疾是不赔的" is an exclusion, not coverage
        cue = judge.negated_gap(*gap, adjacent=True)
        if cue:
            return f"negated: {cue}"
    if item.also:
        aw = ms.also_window_chars
        if not any(sa.start < span.end + aw and sa.end > span.start - aw
                   for a in item.also for sa in finder.find(a)):
            return "incomplete: no " + " / ".join(item.also[:3])
    return None


def _evidence(hit: _Hit, doc: Doc, tr: Transcript, ctx: int) -> Evidence:
    seg_i = doc.seg[hit.span.start] if doc.seg else 0
    seg = tr.segments[seg_i]
    return Evidence(
        session=tr.session, text=seg.text, start=seg.start, end=seg.end, clip=seg.clip,
        clip_start=seg.clip_start, match=doc.text[hit.span.start:hit.span.end],
        phrase=hit.span.phrase,
        context=doc.text[max(0, hit.span.start - ctx):hit.span.end + ctx], reason=hit.reason,
    )


def _transcript(value: Any) -> Transcript:
    if isinstance(value, Transcript):
        return value
    if isinstance(value, str | Path):
        return load_transcript(value)
    return parse_transcript(value)


def _pack(rules: RulePack | str | Path | None) -> RulePack:
    return rules if isinstance(rules, RulePack) else load_rules(rules)


def check_session(transcript_json: Any, rules: RulePack | str | Path | None = None) -> Findings:
    """Check one session: `transcript_json` is the parsed transcript JSON, a path to a
    transcript file or session folder, or a `Transcript`; `rules` a `RulePack`, a TOML
    path, or None for the bundled life and savings pack."""
    tr = _transcript(transcript_json)
    pack = _pack(rules)
    doc = Doc.from_segments([s.text for s in tr.segments])
    finder = PhraseFinder(doc, pack.matching, pack.context.negation_chars)
    judge = ContextJudge(doc.text, pack.context, pack.matching)
    results = []
    for item in pack.items:
        hits = _hits(item, finder, judge, pack, tuple(s.speaker for s in tr.segments))
        counted = [h for h in hits if h.reason is None]
        if counted:
            status = "violated" if item.kind == "prohibited" else "said"
        else:
            status = "missing"
        ctx = pack.matching.context_chars
        results.append(ItemResult(
            id=item.id, kind=item.kind, severity=item.severity, title=item.title,
            status=status,
            evidence=tuple(_evidence(h, doc, tr, ctx) for h in counted),
            dropped=tuple(_evidence(h, doc, tr, ctx) for h in hits if h.reason is not None),
        ))
    return Findings(session=tr.session, agent=tr.agent, case_id=tr.case_id, rules=pack.name,
                    items=tuple(results), source=tr.source, started=tr.started)


def check_text(text: str, rules: RulePack | str | Path | None = None) -> Findings:
    """Check a plain text as one segment (for quick trials and benchmarks)."""
    return check_session({"session": "text", "segments": [{"start": 0.0, "end": 0.0, "text": text}]},
                         rules)


def check_group(sessions: Iterable[Findings]) -> list[Findings]:
    """Related-group check: within one case id, a required item said in an earlier meeting
    counts as said in the later ones (`credited_from`). Meetings are taken in the order of
    their start times when every one has one, else in the order given; the result keeps
    the order given."""
    given = list(sessions)
    order = list(range(len(given)))
    if given and all(f.started for f in given):
        order.sort(key=lambda i: str(given[i].started))
    done: dict[int, Findings] = {}
    said: dict[tuple[str, str], Evidence] = {}
    for i in order:
        f = given[i]
        if f.case_id is None:
            done[i] = f
            continue
        items = []
        for r in f.items:
            key = (f.case_id, r.id)
            if r.kind == "required" and r.status == "missing" and key in said:
                r = r.credited(said[key])
            elif r.kind == "required" and r.status == "said" and r.evidence and key not in said:
                said[key] = r.evidence[0]
            items.append(r)
        done[i] = f.with_items(tuple(items))
    return [done[i] for i in range(len(given))]

