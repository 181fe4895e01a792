"""Named errors of the inbox; each message is one line a user can act on."""

from __future__ import annotations

__all__ = ["EvidenceError", "ImportRefused", "InboxError"]


class InboxError(Exception):
    """Base of the inbox's errors."""


class ImportRefused(InboxError):
    """A session folder that cannot be filed as it is (nothing of it was written)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class EvidenceError(InboxError):
    """An evidence zip that does not verify."""
