"""File received sessions into the inbox: one database transaction per meeting.

    report = import_folder(engine, store, Path("/srv/compliance"))   # `badgekit inbox import DIR`
    report.new, report.updated, report.unchanged, report.refused

Audio goes into the content-addressed store first (idempotent, so a crash leaves at most
an unreferenced file), then the meeting's rows in one transaction: a session that does
not verify, or a failure half-way, writes nothing. A session already filed with the same
files is `unchanged`; a newer revision (a re-transcribed meeting) replaces its clips,
findings and documents, keeps the reviewers' verdicts on findings that are still there,
and is noted in the audit log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import IntegrityError

from inbox import audit, stats
from inbox.errors import ImportRefused
from inbox.render import render_session
from inbox.schema import clips, documents, findings, meetings
from inbox.session_files import SessionFiles, find_sessions, parse_time, read_session
from inbox.store import AudioStore

__all__ = ["ImportReport", "SEVERITY_RANK", "file_session", "import_folder", "import_session"]

SEVERITY_RANK = {"严重": 0, "一般": 1, "提示": 2}
NONE_RANK = 9


@dataclass
class ImportReport:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"new": len(self.new), "updated": len(self.updated), "unchanged": len(self.unchanged),
                "refused": [{"session": w, "reason": r} for w, r in self.refused]}


def _finding_rows(files: SessionFiles) -> list[dict[str, Any]]:
    out = []
    for it in (files.findings or {}).get("items") or []:
        if not isinstance(it, dict) or not it.get("id"):
            continue
        start = it.get("start")
        out.append({
            "item_id": str(it["id"])[:64], "kind": str(it.get("kind", ""))[:16],
            "severity": str(it.get("severity", ""))[:8], "status": str(it.get("status", ""))[:16],
            "title": str(it.get("title") or it["id"])[:200], "text": str(it.get("text") or ""),
            "start_s": float(start) if isinstance(start, int | float) else None,
            "clip": str(it["clip"])[:160] if it.get("clip") else None,
            "credited_from": str(it["credited_from"])[:128] if it.get("credited_from") else None,
        })
    return out


def _problem(f: dict[str, Any]) -> bool:
    return f["status"] == "missing" if f["kind"] == "required" else f["status"] == "violated"


def _sync_delay(files: SessionFiles) -> tuple[datetime | None, float | None]:
    """Latest custody time, and the longest wait from a clip's end to the companion having it."""
    received, delay = None, None
    for c in files.clips:
        got = parse_time(c.custody.get("received_at"))
        start = parse_time(c.start_time)
        if got is None:
            continue
        received = got if received is None else max(received, got)
        if start is not None:
            d = max(0.0, (got - start).total_seconds() - c.seconds)
            delay = d if delay is None else max(delay, d)
    return received, delay


def _meeting_row(files: SessionFiles, items: list[dict[str, Any]], audio_sha: str) -> dict[str, Any]:
    started = files.started_at
    iso = started.isocalendar()
    received, delay = _sync_delay(files)
    problems = [f for f in items if _problem(f)]
    return {
        "tenant": files.tenant, "branch": files.branch, "badge": files.badge, "session": files.session,
        "agent": files.agent[:128], "case_id": files.case_id, "started_at": started,
        "day": started.date(), "week": f"{iso.year}-W{iso.week:02d}", "received_at": received,
        "sync_delay_s": delay, "duration_s": files.duration_s,
        "speech_s": round(sum(c.seconds for c in files.clips), 3), "clips": len(files.clips),
        "gaps": len(files.gaps), "recovered": sum(c.recovered for c in files.clips),
        "dropped_ms": sum(c.dropped_ms for c in files.clips), "problems": len(problems),
        "worst": min((SEVERITY_RANK.get(f["severity"], NONE_RANK) for f in problems), default=NONE_RANK),
        "audio_sha256": audio_sha, "revision": files.revision, "digest": files.digest,
        "imported_at": datetime.now(UTC).replace(tzinfo=None),
    }


def file_session(engine: Engine, store: AudioStore, files: SessionFiles, actor: str = "import") -> str:
    """File one verified session; returns new, updated, unchanged or older."""
    key = (meetings.c.tenant == files.tenant) & (meetings.c.branch == files.branch) & (
        meetings.c.badge == files.badge) & (meetings.c.session == files.session)
    with engine.connect() as conn:
        old = conn.execute(select(meetings.c.digest, meetings.c.revision).where(key)).first()
    if old and old.digest == files.digest:
        return "unchanged"
    if old and old.revision > files.revision:
        return "older"
    wav_shas = {c.clip_id: store.put(c.wav) for c in files.clips}
    audio_sha = store.put(render_session(files.clips, files.duration_s))
    items = _finding_rows(files)
    row = _meeting_row(files, items, audio_sha)
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                return _write(conn, key, files, row, items, wav_shas, actor)
        except IntegrityError:  # another process filed the same meeting at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write(conn: Connection, key: Any, files: SessionFiles, row: dict[str, Any], items: list[dict[str, Any]],
           wav_shas: dict[str, str], actor: str) -> str:
    q = select(meetings).where(key)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    old = conn.execute(q).first()
    verdicts: dict[str, tuple[str, str]] = {}
    if old is not None:
        if old.digest == files.digest or old.revision > files.revision:
            return "unchanged" if old.digest == files.digest else "older"
        mid = old.id
        old_items = [dict(r._mapping) for r in conn.execute(select(findings).where(findings.c.meeting_id == mid))]
        verdicts = {f["item_id"]: (f["review"], f["review_reason"]) for f in old_items}
        stats.add_meeting(conn, dict(old._mapping), old_items, -1)
        for t in (clips, findings, documents):
            conn.execute(delete(t).where(t.c.meeting_id == mid))
        conn.execute(meetings.update().where(meetings.c.id == mid).values(**row))
        outcome = "updated"
    else:
        pk = conn.execute(meetings.insert().values(
            **row, review_state="pending", reinspections=0, first_reinspection="")).inserted_primary_key
        assert pk is not None
        mid = pk[0]
        outcome = "new"
    conn.execute(clips.insert(), [{
        "meeting_id": mid, "clip_id": c.clip_id, "seq": c.seq, "sha256": c.sha256,
        "prev_sha256": c.prev_sha256, "wav_sha256": wav_shas[c.clip_id], "offset_s": c.offset_s,
        "seconds": c.seconds, "start_time": c.start_time, "recovered": c.recovered,
        "dropped_ms": c.dropped_ms, "custody": json.dumps(c.custody, ensure_ascii=False, sort_keys=True),
    } for c in files.clips])
    if items:
        conn.execute(findings.insert(), [{
            **f, "meeting_id": mid, "review": verdicts.get(f["item_id"], ("open", ""))[0],
            "review_reason": verdicts.get(f["item_id"], ("open", ""))[1]} for f in items])
    docs = dict(files.raw)
    docs["gaps.json"] = json.dumps(files.gaps, ensure_ascii=False, sort_keys=True).encode()
    conn.execute(documents.insert(), [{
        "meeting_id": mid, "kind": name, "revision": files.revision,
        "sha256": hashlib.sha256(body).hexdigest(), "body": body.decode("utf-8", "replace"),
    } for name, body in sorted(docs.items())])
    stats.add_meeting(conn, row, items, +1)
    audit.append(conn, mid, f"system:{actor}", "import" if outcome == "new" else "reimport",
                 target=files.where, after={"revision": files.revision, "digest": files.digest,
                                            "clips": len(files.clips), "problems": row["problems"]})
    return outcome


def import_session(engine: Engine, store: AudioStore, folder: Path, actor: str = "import") -> str:
    return file_session(engine, store, read_session(folder), actor)


def import_folder(engine: Engine, store: AudioStore, root: Path, actor: str = "import") -> ImportReport:
    """Import every session under a `gateway receive` output folder (idempotent)."""
    report = ImportReport()
    for folder in find_sessions(root):
        where = "/".join(folder.parts[-4:])
        try:
            outcome = import_session(engine, store, folder, actor)
        except ImportRefused as exc:
            report.refused.append((exc.where, exc.reason))
            continue
        {"new": report.new, "updated": report.updated}.get(outcome, report.unchanged).append(where)
    return report
