"""Compliance as a transcript hook: the findings published beside every new transcript.

`FindingsHook(rules, cases, sidecars)` is the first hook a `Gateway` registers
(`Gateway.on_transcript`); it checks the session transcript with the rule pack and
returns `[("findings", payload)]`, or nothing when the transcript cannot be checked.
`sidecars(badge, session)` gives the session's clip sidecars, which carry the case id
the agent set on the badge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["COMMON_KEYS", "FindingsHook"]

COMMON_KEYS = ("tenant", "branch", "gateway", "badge", "session", "revision", "generated_at")
"""The fields the gateway puts on every session document, in their order."""


class FindingsHook:
    """`hook(transcript_message) -> [("findings", payload)]`, for `Gateway.on_transcript`."""

    def __init__(self, rules: Any, cases_dir: Path,
                 sidecars: Callable[[str, str], list[dict[str, Any]]]) -> None:
        self.rules = rules
        """A compliance RulePack, or None for the bundled one."""
        self.cases_dir = Path(cases_dir)
        self.sidecars = sidecars

    def __call__(self, transcript: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        from gateway.compliance.casebook import (
            CaseBook,  # the compliance package loads on first use
        )
        from gateway.compliance.publish import findings_document

        common = {k: transcript[k] for k in COMMON_KEYS}
        findings = findings_document(transcript["transcript"], common,
                                     self.sidecars(transcript["badge"], transcript["session"]),
                                     rules=self.rules, cases=CaseBook(self.cases_dir))
        return [] if findings is None else [("findings", findings)]
