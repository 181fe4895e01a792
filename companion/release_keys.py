"""The release public key on the companion side (to check a bundle before sending it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["public_or_none"]


def public_or_none(path: Path | None) -> bytes | None:
    """The key in ``path`` (hex or PEM), None without a path; ValueError with one line."""
    if path is None:
        return None
    from badgecore.release import ReleaseError, load_public

    try:
        return load_public(path)
    except ReleaseError as exc:
        raise ValueError(str(exc)) from None
