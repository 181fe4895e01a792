"""Execution rates across sessions (开口率): how often each agent says each item.

For a required item the rate is the share of sessions in which it was said; for a
prohibited claim the share in which it was violated; for an event the share in which
it happened. Rates are given per item over all sessions and per agent and item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.compliance.findings import Findings

__all__ = ["Rate", "RateTable", "execution_rates"]

UNKNOWN_AGENT = "(unknown)"


@dataclass(frozen=True)
class Rate:
    item: str
    kind: str
    agent: str | None
    """None for the rate over all agents."""
    hits: int
    """Sessions where a required item was said, a claim violated, an event happened."""
    sessions: int

    @property
    def rate(self) -> float:
        return self.hits / self.sessions if self.sessions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "kind": self.kind, "agent": self.agent, "hits": self.hits,
                "sessions": self.sessions, "rate": round(self.rate, 4)}


@dataclass(frozen=True)
class RateTable:
    per_item: tuple[Rate, ...]
    per_agent: tuple[Rate, ...]
    sessions: int

    def to_dict(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "per_item": [r.to_dict() for r in self.per_item],
                "per_agent": [r.to_dict() for r in self.per_agent]}


def _hit(kind: str, status: str) -> bool:
    return status == ("violated" if kind == "prohibited" else "said")


def execution_rates(findings: Iterable[Findings]) -> RateTable:
    """Rates over many sessions' findings (each session counts once per item)."""
    items: dict[str, str] = {}
    total: dict[str, list[int]] = {}
    agent: dict[tuple[str, str], list[int]] = {}
    n = 0
    for f in findings:
        n += 1
        who = f.agent or UNKNOWN_AGENT
        for r in f.items:
            items.setdefault(r.id, r.kind)
            h = int(_hit(r.kind, r.status))
            t = total.setdefault(r.id, [0, 0])
            t[0] += h
            t[1] += 1
            a = agent.setdefault((who, r.id), [0, 0])
            a[0] += h
            a[1] += 1
    per_item = tuple(Rate(i, items[i], None, *total[i]) for i in items)
    per_agent = tuple(Rate(i, items[i], who, *agent[(who, i)])
                      for who in sorted({w for w, _ in agent}) for i in items if (who, i) in agent)
    return RateTable(per_item, per_agent, n)
