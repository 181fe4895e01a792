"""The transcripts of each case's meetings, kept by the gateway for related-group checks.

`CaseBook(root)` keeps one JSON file per meeting under `<root>/<case>/<badge>__<session>.json`
(`badgecore.privatefs.write_private`: temporary name, fsync, rename), so the earlier meetings of a customer
survive a gateway restart: when the second meeting of case C arrives, the first one's
transcript is read back and checked with it (`gateway.compliance.check_group`). A later
revision of a meeting replaces its file. Folder and file names are the ids themselves
when they are plain (letters, digits, `-`, `_`, `.`), else a hash of them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from badgecore.privatefs import write_private

__all__ = ["CaseBook"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEEP = ("schema", "badge", "session", "agent", "case_id", "session_start", "language", "text",
         "segments", "clips", "source")


def _name(value: str) -> str:
    if _PLAIN.fullmatch(value) and ".." not in value:
        return value
    return "h-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]


class CaseBook:
    """Meeting transcripts grouped by case id, on disk."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _file(self, case_id: str, badge: str, session: str) -> Path:
        return self.root / _name(case_id) / f"{_name(badge)}__{_name(session)}.json"

    def put(self, case_id: str, badge: str, session: str, transcript: dict[str, Any]) -> None:
        """Keep (or replace) the transcript of one meeting of `case_id`; raises OSError."""
        doc = {k: transcript[k] for k in _KEEP if k in transcript}
        doc.update(case_id=case_id, badge=badge, session=session)
        write_private(self._file(case_id, badge, session),
                     json.dumps(doc, ensure_ascii=False).encode("utf-8"))

    def meetings(self, case_id: str) -> list[dict[str, Any]]:
        """Every kept transcript of `case_id` (unreadable files are skipped), by file name."""
        out = []
        for p in sorted((self.root / _name(case_id)).glob("*.json")):
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(doc, dict) and doc.get("case_id") == case_id:
                out.append(doc)
        return out
