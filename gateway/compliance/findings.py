"""Results of a check: `Findings` per session, one `ItemResult` per item, `Evidence` per hit.

`Findings.to_dict()` is the interface others rely on (`badgekit gateway check --json`
and the MQTT findings payload): `{"items": [{"id", "kind", "severity", "status",
"text", "start", …}]}`, with `status` one of `said`, `missing`, `violated`; `text` and
`start` are the transcript segment that decided the item and its time in seconds
(empty and null for a missing item).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["FINDINGS_VERSION", "Evidence", "Findings", "ItemResult"]

FINDINGS_VERSION = 1


@dataclass(frozen=True)
class Evidence:
    """One hit: the segment it is in, where to listen, and what matched."""

    session: str
    text: str
    """The whole transcript segment."""
    start: float
    """Segment start, seconds from the start of the session."""
    end: float
    clip: str | None
    """Clip id (or audio file) to play."""
    clip_start: float | None
    """Seconds into that clip."""
    match: str
    """The transcript words that matched (normalised)."""
    phrase: str
    """The rule phrase (or `word…word` pair) that found them."""
    context: str
    """The window of transcript around the hit."""
    reason: str | None = None
    """Why the hit did not count (negated, disclosure, near-miss, incomplete), or None."""

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if d["reason"] is None:
            del d["reason"]
        return d


@dataclass(frozen=True)
class ItemResult:
    """One check item in one session."""

    id: str
    kind: str
    severity: str
    title: str
    status: str
    """`said`, `missing` or `violated`."""
    evidence: tuple[Evidence, ...] = ()
    """Hits that counted, in order."""
    dropped: tuple[Evidence, ...] = ()
    """Hits that did not count, each with its reason."""
    credited_from: str | None = None
    """Session of the same case in which a required item was said (related group)."""

    @property
    def ok(self) -> bool:
        """False for a violation or a missing required item."""
        if self.kind == "required":
            return self.status == "said"
        return self.status != "violated"

    def credited(self, ev: Evidence) -> ItemResult:
        return replace(self, status="said", evidence=(ev,), credited_from=ev.session)

    def to_dict(self) -> dict[str, Any]:
        first = self.evidence[0] if self.evidence else None
        return {
            "id": self.id, "kind": self.kind, "severity": self.severity,
            "status": self.status,
            "text": first.text if first else "",
            "start": first.start if first else None,
            "end": first.end if first else None,
            "clip": first.clip if first else None,
            "clip_start": first.clip_start if first else None,
            "title": self.title,
            "ok": self.ok,
            "credited_from": self.credited_from,
            "hits": [e.to_dict() for e in self.evidence],
            "dropped": [e.to_dict() for e in self.dropped],
        }


@dataclass(frozen=True)
class Findings:
    """Every item of a rule pack checked against one session."""

    session: str
    agent: str | None
    case_id: str | None
    rules: str
    items: tuple[ItemResult, ...]
    source: str = ""
    started: str | None = None
    """When the meeting started (ISO 8601 UTC), if the transcript says."""
    integrity: dict[str, Any] | None = None
    """The session's integrity status (gateway.delivery.integrity): verified clips, gaps,
    recovered and unauthenticated clips; findings on missing audio are not the whole story."""

    def item(self, item_id: str) -> ItemResult:
        for r in self.items:
            if r.id == item_id:
                return r
        raise KeyError(item_id)

    @property
    def status(self) -> dict[str, str]:
        """Item id → status."""
        return {r.id: r.status for r in self.items}

    @property
    def problems(self) -> list[ItemResult]:
        """Violations and missing required items, most severe first."""
        order = {"严重": 0, "一般": 1, "提示": 2}
        return sorted((r for r in self.items if not r.ok), key=lambda r: order.get(r.severity, 3))

    def with_items(self, items: tuple[ItemResult, ...]) -> Findings:
        return replace(self, items=items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FINDINGS_VERSION,
            "session": self.session,
            "agent": self.agent,
            "case_id": self.case_id,
            "started": self.started,
            "rules": self.rules,
            "ok": not self.problems,
            "summary": {s: sum(r.status == s for r in self.items)
                        for s in ("said", "missing", "violated")},
            "items": [r.to_dict() for r in self.items],
            **({"integrity": self.integrity} if self.integrity is not None else {}),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
