"""The companion's errors, one root: `CompanionError`, carrying the exit code the CLI ends with.

Every message is one clear line for branch staff; the CLI prints it as ``error: ...`` and
exits with ``exit_code`` (1: the badge or a file said no; 2: the input was wrong).
The sync path (transports, protocol client, key store, spool) raises ``SyncError``
subclasses; the other parts their own subclasses (``OpsError``, ``SettingsError``, ...).
"""

from __future__ import annotations

__all__ = [
    "CompanionError",
    "UsageError",
    "OpsError",
    "SyncError",
    "LinkError",
    "ProtocolError",
    "BadgeReplyError",
    "AuthError",
    "NotEnrolledError",
    "UnknownBadgeError",
    "WrongBranchError",
    "KeyStoreError",
    "SpoolError",
    "VerifyError",
]


class CompanionError(Exception):
    """Root of every companion error; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CompanionError):
    """The command line names something impossible (both --port and --ble, no badge)."""

    exit_code = 2


class OpsError(CompanionError, RuntimeError):
    """A badge operation failed; the message is one line for staff."""


class SyncError(CompanionError):
    """Base of every error of the sync path."""


class LinkError(SyncError):
    """The link to the badge could not be opened, dropped, or timed out."""


class ProtocolError(SyncError):
    """The other end is not a badge, or spoke out of turn (bad MAC, unexpected reply)."""


class BadgeReplyError(SyncError):
    """The badge answered a request with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"badge refused: {message} ({code})")
        self.code = code
        self.badge_message = message


class AuthError(SyncError):
    """Mutual authentication failed: the key store's key does not match the badge."""


class NotEnrolledError(SyncError):
    """The badge is not enrolled; run `badgekit companion enroll` first."""


class UnknownBadgeError(SyncError):
    """The badge is enrolled, but its key is not in this key store."""

    def __init__(self, badge: str, branch: str | None) -> None:
        where = f"branch {branch}" if branch else "another branch"
        super().__init__(
            f"badge {badge} is enrolled at {where} and its key is not in this key store; "
            "sync it at its own branch"
        )
        self.badge = badge
        self.branch = branch


class WrongBranchError(SyncError):
    def __init__(self, badge: str, badge_branch: str | None, ours: str) -> None:
        super().__init__(
            f"badge {badge} belongs to branch {badge_branch}, not {ours}; nothing was read "
            "or acknowledged"
        )
        self.badge = badge
        self.badge_branch = badge_branch
        self.branch = ours


class KeyStoreError(SyncError):
    """The branch key store cannot be read or written."""


class SpoolError(SyncError):
    """The spool cannot be written (full disk, permissions): nothing was acknowledged."""


class VerifyError(SyncError):
    """A received clip failed verification (hash or chain); it stays on the badge."""

    def __init__(self, clip_id: str, reason: str) -> None:
        super().__init__(f"clip {clip_id}: {reason}; the clip stays on the badge")
        self.clip_id = clip_id
        self.reason = reason
