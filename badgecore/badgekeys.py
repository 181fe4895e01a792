"""Badge clip keys on the branch side: the file the gateway and the receiver are given.

A badge seals each clip with its clip key (firmware.clips.mac, clip format version 2), a
key derived from the secret it shares with its branch since enrollment. The branch's
companion holds the secrets (companion.keystore) and writes the clip keys, never the
secrets, to a key file with ``badgekit companion clip-keys --out FILE``; a gateway or
receiver reads it with ``--badge-keys FILE``::

    {"format": "badgekit-clip-keys", "version": 1,
     "badges": {"BK-0A1B": ["<64 hex digits>", ...]}}

A badge may have several keys (each re-enrollment makes a new one; clips still on the
badge keep the old key's seal, found by its key id). The file is created 0600 in a
0700 folder and refused when others can read it. A clip key lets its holder check
seals and also make them (HMAC is symmetric): it is as private as the audio.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from badgecore.atomicfile import atomic_writer
from firmware.clips import mac as clipmac

__all__ = ["BadgeKeysError", "FORMAT", "load_badge_keys", "write_badge_keys", "keys_from_keystore"]

FORMAT = "badgekit-clip-keys"


class BadgeKeysError(RuntimeError):
    """The key file is missing, readable by others, or not a badgekit clip key file."""


def load_badge_keys(path: str | Path) -> clipmac.BadgeKeys:
    """Read a clip key file into firmware.clips.mac.BadgeKeys (for clipmac.verify_wav)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise BadgeKeysError(f"badge key file {p}: {exc.strerror}") from None
    if st.st_mode & 0o077:
        raise BadgeKeysError(f"badge key file {p} is readable by others (mode "
                             f"{stat.filemode(st.st_mode)}); fix: chmod 600 {p}")
    try:
        doc = json.loads(p.read_text())
        if doc.get("format") != FORMAT or not isinstance(doc.get("badges"), dict):
            raise ValueError
        out = clipmac.BadgeKeys()
        for badge, keys in doc["badges"].items():
            if not isinstance(keys, list):
                raise ValueError
            for k in keys:
                raw = bytes.fromhex(str(k))
                if len(raw) != 32:
                    raise ValueError
                out.add(str(badge), raw)
    except (OSError, ValueError, TypeError, AttributeError):
        raise BadgeKeysError(f"badge key file {p} is not a badgekit clip key file") from None
    return out


def write_badge_keys(path: str | Path, badges: Mapping[str, Iterable[bytes]]) -> int:
    """Write clip keys per badge to ``path`` (0600, its folder 0700, atomic); returns the
    number of badges written."""
    p = Path(path)
    table = {b: [bytes(k).hex() for k in ks] for b, ks in sorted(badges.items())}
    doc = {"format": FORMAT, "version": 1, "badges": table}
    try:
        if not p.parent.exists():
            p.parent.mkdir(parents=True, mode=0o700)
        with atomic_writer(p, "w") as f:
            json.dump(doc, f, indent=1)
    except OSError as exc:
        raise BadgeKeysError(f"cannot write badge key file {p}: {exc.strerror}") from None
    return len(table)


def keys_from_keystore(keystore: object, badges: Iterable[str] | None = None) -> dict[str, list[bytes]]:
    """Clip keys of the badges in a companion.keystore.KeyStore (current key first, then
    the one before an unconfirmed re-enrollment, then those of earlier enrollments)."""
    want = set(badges) if badges else None
    out: dict[str, list[bytes]] = {}
    for k in keystore.badges():  # type: ignore[attr-defined]
        if want is not None and k.badge not in want:
            continue
        out[k.badge] = [clipmac.clip_key_of(s) for s in (k.secret, k.previous) if s]
        out[k.badge] += [c for c in k.old_clip_keys if c not in out[k.badge]]
    return out
