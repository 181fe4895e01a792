"""Tag a meeting already in the spool with its customer/case id.

For a meeting recorded without a case id on the badge (or with a wrong one), branch
staff name the case afterwards: `tag_session(<spool>/<badge>/<session>, case_id)` writes
`case_id` into the sidecar of every complete clip of that meeting and records the change
in its custody record (`case_id`, `case_source: "companion"`, and one `case_history`
entry per change: the id, the previous one, when, who, on which host). The audio and
every hash stay exactly as they were; each file is replaced atomically (a `.partial`
copy under a dot-name, fsynced, renamed: badgecore.atomicfile), the custody record first, so a crash leaves the old or the new
tag and running it again completes it. The gateway sees the changed sidecars and
publishes a new revision of the meeting's documents with the case id.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from badgecore.atomicfile import fsync_dir, write_atomic
from companion.sync_errors import SpoolError

__all__ = ["TagReport", "tag_session"]


@dataclass(frozen=True)
class TagReport:
    session: Path
    case_id: str
    tagged: tuple[str, ...]
    """Clip ids whose sidecar and custody record now carry the case id."""
    unchanged: tuple[str, ...]
    """Clip ids that already carried it."""

    def as_dict(self) -> dict[str, Any]:
        return {"session": str(self.session), "case_id": self.case_id, "tagged": list(self.tagged),
                "unchanged": list(self.unchanged)}


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpoolError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise SpoolError(f"{path} is not a JSON object")
    return doc


def tag_session(folder: Path | str, case_id: str, operator: str) -> TagReport:
    """Set `case_id` on every complete clip of the spool session `folder`; raises
    `SpoolError` (one line) for a bad id, a folder without clips or an unwritable file."""
    from firmware.sync.state import case_error

    err = case_error(case_id)
    if err or not case_id:
        raise SpoolError(err or "give a case id")
    folder = Path(folder)
    custodies = sorted(folder.glob("*.custody.json")) if folder.is_dir() else []
    if not custodies:
        raise SpoolError(f"{folder} holds no synced clips (expected <spool>/<badge>/<session>)")
    tagged, unchanged = [], []
    for custody_path in custodies:
        clip_id = custody_path.name.removesuffix(".custody.json")
        side_path = folder / f"{clip_id}.json"
        side, custody = _read(side_path), _read(custody_path)
        if side.get("case_id") == case_id and custody.get("case_id") == case_id:
            unchanged.append(clip_id)
            continue
        entry = {"case_id": case_id, "previous": side.get("case_id"), "operator": operator,
                 "host": socket.gethostname(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        custody = {**custody, "case_id": case_id, "case_source": "companion",
                   "case_history": [*custody.get("case_history", []), entry]}
        try:
            write_atomic(custody_path, json.dumps(custody, indent=2, sort_keys=True))
            write_atomic(side_path, json.dumps({**side, "case_id": case_id}, indent=2, sort_keys=True))
        except OSError as exc:
            raise SpoolError(f"cannot write {folder}: {exc.strerror}") from None
        tagged.append(clip_id)
    try:
        fsync_dir(folder)
    except OSError as exc:
        raise SpoolError(f"cannot write {folder}: {exc.strerror}") from None
    return TagReport(folder, case_id, tuple(tagged), tuple(unchanged))
