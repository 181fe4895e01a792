"""Named errors of the compliance check (one base, subclasses that carry data)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ComplianceError", "RulesError", "TranscriptError"]


class ComplianceError(Exception):
    """Base of every error the compliance check raises."""


class RulesError(ComplianceError):
    """A rule pack is missing, is not valid TOML, or breaks the rule-pack schema."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path = path


class TranscriptError(ComplianceError):
    """A transcript file or session folder cannot be read as a transcript."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path = path
