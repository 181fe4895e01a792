"""The one way badgekit replaces a file: whole or not at all, even across a power cut.

A file is written under a temporary name beside it, fsynced, renamed over the target and
the folder fsynced, so a reader sees the old content or the new one, never a torn mix.
The temporary name is a dot-name ending in ``.partial`` (``.<name>.<pid>.<thread>.partial``):
spool readers skip both dot-names and ``*.partial``, and two writers (processes or
threads) never share one. On any failure the temporary file is removed and the error
re-raised.

    write_atomic(path, b"...")                    # 0600 unless mode= says otherwise
    with atomic_writer(path, "w") as f:            # stream into it; replaced on success
        json.dump(doc, f)
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_writer", "fsync_dir", "temp_name", "write_atomic"]

PRIVATE = 0o600


def temp_name(path: Path) -> Path:
    """The temporary name `path` is written under before the rename."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new name in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, how: str = "wb", mode: int = PRIVATE) -> Iterator[IO[Any]]:
    """Open a temporary file for `path` (`how` is "wb" or "w"); on leaving the block
    without an error it is fsynced and renamed over `path`, else removed."""
    if how not in ("wb", "w"):
        raise ValueError(f"atomic_writer opens for writing only, not {how!r}")
    path = Path(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # exact, whatever the umask took away
        f = os.fdopen(fd, how, encoding="utf-8" if how == "w" else None)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str, mode: int = PRIVATE) -> None:
    """Replace `path` with `data` (str is written as UTF-8) atomically and durably."""
    raw = data.encode() if isinstance(data, str) else data
    with atomic_writer(Path(path), "wb", mode=mode) as f:
        f.write(raw)
