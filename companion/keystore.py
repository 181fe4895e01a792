"""The branch key store: one secret per enrolled badge, in a file only its owner can read.

A JSON file (``<config dir>/keystore.json`` unless given), created with mode 0600 in a
0700 folder and replaced atomically (write a temporary file, fsync, rename), so a crash
never leaves half a key store. Secrets never appear in logs, reprs or errors.
"""

from __future__ import annotations

import json
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from badgecore.atomicfile import atomic_writer
from companion.errors import KeyStoreError

__all__ = ["BadgeKey", "KeyStore", "default_keystore_path"]


def default_keystore_path() -> Path:
    from badgecore.paths import config_dir

    return config_dir() / "keystore.json"


@dataclass(frozen=True)
class BadgeKey:
    """One badge's entry; ``secret`` is hidden from repr."""

    badge: str
    branch: str
    agent: str
    enrolled_at: float
    secret: bytes = field(repr=False)
    #: the key before an enrollment that is not confirmed yet (the link may have dropped
    #: before the badge stored the new key); dropped once the badge proves the new one
    previous: bytes | None = field(default=None, repr=False)
    #: clip keys (firmware.clips.mac) of earlier enrollments: clips the badge sealed before
    #: it was re-enrolled still verify
    old_clip_keys: tuple[bytes, ...] = field(default=(), repr=False)


class KeyStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_keystore_path()

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise KeyStoreError(f"key store {self.path}: {exc.strerror}") from None
        if st.st_mode & 0o077:
            raise KeyStoreError(
                f"key store {self.path} is readable by others (mode {stat.filemode(st.st_mode)}); "
                f"fix: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text())
            badges = data["badges"]
            if not isinstance(badges, dict):
                raise TypeError
            return badges
        except (OSError, ValueError, KeyError, TypeError):
            raise KeyStoreError(f"key store {self.path} is unreadable or corrupt") from None

    def _save(self, badges: dict[str, dict[str, object]]) -> None:
        d = self.path.parent
        try:
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            with atomic_writer(self.path, "w") as f:
                json.dump({"version": 1, "badges": badges}, f, indent=1, sort_keys=True)
        except OSError as exc:
            raise KeyStoreError(f"cannot write key store {self.path}: {exc.strerror}") from None

    def get(self, badge: str) -> BadgeKey | None:
        e = self._load().get(badge)
        if e is None:
            return None
        try:
            prev = e.get("previous")
            olds = e.get("old_clip_keys") or []
            return BadgeKey(badge, str(e["branch"]), str(e["agent"]), float(e["enrolled_at"]),  # type: ignore[arg-type]
                            bytes.fromhex(str(e["secret"])),
                            bytes.fromhex(str(prev)) if prev else None,
                            tuple(bytes.fromhex(str(k)) for k in olds))  # type: ignore[attr-defined]
        except (KeyError, ValueError, TypeError):
            raise KeyStoreError(f"key store entry for {badge} is corrupt") from None

    def put(self, badge: str, secret: bytes, branch: str, agent: str,
            previous: bytes | None = None) -> BadgeKey:
        from firmware.clips.mac import clip_key_of

        badges = self._load()
        had = badges.get(badge) or {}
        olds = [str(k) for k in had.get("old_clip_keys") or []]  # type: ignore[attr-defined]
        for s in (had.get("secret"), had.get("previous")):
            ck = clip_key_of(bytes.fromhex(str(s))).hex() if s else None
            if ck and s != bytes(secret).hex() and ck not in olds:
                olds.append(ck)  # clips sealed under an earlier secret must still verify
        key = BadgeKey(badge, branch, agent, time.time(), bytes(secret), previous,
                       tuple(bytes.fromhex(k) for k in olds))
        badges[badge] = {"branch": branch, "agent": agent, "enrolled_at": key.enrolled_at,
                         "secret": key.secret.hex()}
        if olds:
            badges[badge]["old_clip_keys"] = olds
        if previous:
            badges[badge]["previous"] = bytes(previous).hex()
        self._save(badges)
        return key

    def remove(self, badge: str) -> None:
        badges = self._load()
        if badges.pop(badge, None) is not None:
            self._save(badges)

    def badges(self) -> list[BadgeKey]:
        return [k for b in sorted(self._load()) if (k := self.get(b)) is not None]
