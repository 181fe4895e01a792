"""Files that hold customer audio or keys: 0600 files in 0700 folders, whatever the umask.

The spool, the gateway's state and outbox, custody ledgers and the receiver's output all
hold recorded speech; key files hold secrets. Everything here creates with the private
mode from the start (`os.open(..., 0o600)`, `mkdir(0o700)`) and also tightens what an
older release left behind, so nobody else on the host can read a clip.

    private_dir(root / "acme" / "sh01", root=root)   # every folder from root down: 0700
    write_private(path, data)                        # badgecore.atomicfile, 0600
    private_file(db_path)                            # create empty 0600 (before SQLite opens it)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from badgecore.atomicfile import write_atomic

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "tighten", "write_private"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, root: Path | None = None) -> Path:
    """Create `path` (and its parents) as 0700; folders from `root` down to `path` are
    tightened to 0700 too (folders above `root` are the operator's and left alone)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(d, DIR_MODE)
        os.chmod(d, DIR_MODE)  # the umask may have taken bits away; make it exact
    if root is not None:
        root = Path(root)
        p = path
        chain = [p]
        while p != root and p.parent != p:
            p = p.parent
            chain.append(p)
        if p == root:
            for d in chain:
                _chmod(d, DIR_MODE)
    else:
        _chmod(path, DIR_MODE)
    return path


def _chmod(path: Path, mode: int) -> None:
    try:
        if (os.stat(path).st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except PermissionError:  # a folder owned by someone else: not ours to change
        pass


def tighten(path: Path) -> None:
    """Make an existing file 0600 (e.g. one SQLite or an older release created)."""
    with contextlib.suppress(FileNotFoundError):
        _chmod(Path(path), FILE_MODE)


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist, else tighten it to 0600."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    tighten(path)
    return path


def write_private(path: Path, data: bytes, root: Path | None = None) -> None:
    """Write `data` to `path` as 0600 atomically (badgecore.atomicfile)."""
    path = Path(path)
    private_dir(path.parent, root=root)
    write_atomic(path, data, mode=FILE_MODE)
