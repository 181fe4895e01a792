"""The companion's spool as the gateway sees it: complete clips, strays, quarantine.

Layout and names: `badgecore.spoollayout` (docs/contracts.md). A clip is complete
when its custody record exists. `scan()` yields complete clips and *strays* (files that
cannot be part of a clip, or folders whose names are not safe spool names); dot-names
and `*.partial` are never touched. A session folder whose modification time has not
changed since the last scan is not listed again.

`quarantine_files()` moves a bad clip's files (or a stray) to
`<state>/quarantine/<badge>/<session>/` beside a `<name>.reason.txt`: nothing is deleted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from badgecore.privatefs import private_dir, write_private
from badgecore.spoollayout import CLIP_SUFFIXES, CUSTODY, SIDECAR, WAV, name_error, untouched

__all__ = ["SpoolClip", "SpoolScanner", "Stray", "quarantine_files"]


@dataclass(frozen=True)
class SpoolClip:
    badge: str
    session: str
    clip_id: str
    folder: Path

    @property
    def wav(self) -> Path:
        return self.folder / f"{self.clip_id}{WAV}"

    @property
    def sidecar(self) -> Path:
        return self.folder / f"{self.clip_id}{SIDECAR}"

    @property
    def custody(self) -> Path:
        return self.folder / f"{self.clip_id}{CUSTODY}"

    def files(self) -> list[Path]:
        return [p for p in (self.wav, self.sidecar, self.custody) if p.exists()]


@dataclass(frozen=True)
class Stray:
    """A file in the spool that is not part of any clip."""

    path: Path
    badge: str
    session: str
    reason: str


class SpoolScanner:
    """Yield what is new in the spool; remembers folder mtimes between scans."""

    def __init__(self, spool: Path) -> None:
        self.spool = Path(spool)
        self._seen: dict[Path, int] = {}

    def scan(self, full: bool = False) -> Iterator[SpoolClip | Stray]:
        if not self.spool.is_dir():
            return
        for badge_dir in sorted(self.spool.iterdir()):
            if untouched(badge_dir.name):
                continue
            if not badge_dir.is_dir():
                yield Stray(badge_dir, "", "", "a file at the top of the spool (expected <badge>/<session>/)")
                continue
            for sess in sorted(badge_dir.iterdir()):
                if untouched(sess.name):
                    continue
                if not sess.is_dir():
                    yield Stray(sess, badge_dir.name, "", "a file directly in a badge folder "
                                "(expected <badge>/<session>/<clip id>.wav)")
                    continue
                yield from self._session(badge_dir.name, sess, full)

    def _session(self, badge: str, folder: Path, full: bool) -> Iterator[SpoolClip | Stray]:
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return
        if not full and self._seen.get(folder) == mtime:
            return
        self._seen[folder] = mtime
        for f in sorted(folder.iterdir()):
            name = f.name
            if untouched(name):
                continue
            if f.is_dir():
                yield Stray(f, badge, folder.name, "a folder inside a session folder")
            elif name.endswith(CUSTODY):
                yield SpoolClip(badge, folder.name, name[: -len(CUSTODY)], folder)
            elif not name.endswith(CLIP_SUFFIXES):
                yield Stray(f, badge, folder.name,
                            "not a clip file (expected <clip id>.wav, .json, .custody.json)")

    def forget(self, folder: Path) -> None:
        """Scan `folder` again next time (e.g. after a failure)."""
        self._seen.pop(folder, None)


def quarantine_files(state_dir: Path, files: list[Path], badge: str, session: str, reason: str) -> Path:
    """Move `files` to the quarantine folder with a reason file; returns the folder."""
    badge = "" if name_error(badge, "badge") else badge  # never a path outside the quarantine
    session = "" if name_error(session, "session") else session
    dest = Path(state_dir) / "quarantine" / (badge or "_spool") / (session or "_badge")
    private_dir(dest, root=Path(state_dir))
    for f in files:
        target = dest / f.name
        if target.exists():
            target = dest / f"{f.name}.{os.getpid()}.{target.stat().st_mtime_ns}"
        try:
            shutil.move(str(f), str(target))
        except FileNotFoundError:
            continue
        write_private(dest / f"{target.name}.reason.txt", (reason + "\n").encode())
    return dest
