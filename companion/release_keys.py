"""The release public key on the companion side (to check a bundle before sending it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["public_or_none"]


def public_or_none(path: Path | None) -> bytes | None:
    """The key in ``path`` (hex or PEM), None without a path; ValueError with one line
    (UsageError, exit code 2, when there is no such file)."""
    if path is None:
        return None
    from badgecore.release import ReleaseError, load_public

    try:
        return load_public(path)
    except ReleaseError as exc:
        if not path.exists():
            from companion.errors import UsageError

            raise UsageError(str(exc)) from None
        raise ValueError(str(exc)) from None
