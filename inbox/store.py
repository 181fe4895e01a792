"""Content-addressed audio store: every file is named by its SHA-256.

    store = AudioStore(Path("/srv/inbox/store"))
    sha = store.put(data)              # idempotent; <root>/ab/cd/<sha256>, 0600 in 0700 folders
    path = store.path(sha)             # only ever built from 64 hex digits

A name comes from the bytes, never from a request, so no URL can reach outside the
store; a file is written to a temporary name, fsynced and renamed, so a crash leaves
either nothing or the whole file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from badgecore.atomicfile import write_atomic
from inbox.errors import InboxError

__all__ = ["AudioStore"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


class AudioStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def path(self, sha256: str) -> Path:
        if not _HEX64.fullmatch(sha256 or ""):
            raise InboxError(f"not a sha256 name: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        dest = self.path(sha)
        if dest.is_file() and dest.stat().st_size == len(data):
            return sha
        for d in (dest.parent.parent, dest.parent):
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        write_atomic(dest, data)
        return sha

    def read(self, sha256: str) -> bytes:
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise InboxError(f"store file {sha256[:12]}… no longer matches its hash")
        return data
