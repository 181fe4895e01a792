"""Evidence export (one meeting or one case as a zip) and its offline verification.

Layout, per meeting under `<tenant>/<branch>/<badge>/<session>/`: `clips/<clip id>.wav`
(the original clips, byte for byte), `clips/<clip id>.json` (clip record),
`clips/<clip id>.custody.json`, `audio.wav` (rendered PCM), `transcript.json`,
`transcript.vtt`, `findings.json`, `manifest.json` (the gateway's), `gaps.json`,
`meeting.json` (the inbox's state and verdicts) and `review_log.json` (the hash-chained
audit log). At the root, `manifest.json` lists every file with its SHA-256.

The zip is written canonically (stored, fixed times and attributes, manifest last), so
`verify_zip` checks every file's hash, every clip with `badgecore.clipcheck.check_clip` against
its record, each session's chain, the review log's chain, and finally that the archive is
byte for byte the canonical zip of its contents: one changed byte anywhere fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from inbox import audit
from inbox.errors import EvidenceError
from inbox.schema import clips, documents, findings, meetings
from inbox.store import AudioStore

__all__ = ["FORMAT", "Verified", "build_zip", "canonical_zip", "verify_zip"]

FORMAT = "badgekit-evidence/1"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1, default=str).encode()


def canonical_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3
            info.external_attr = 0o100600 << 16
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def _meeting_entries(conn: Connection, store: AudioStore, m: Any) -> list[tuple[str, bytes]]:
    base = f"{m.tenant}/{m.branch}/{m.badge}/{m.session}/"
    out: list[tuple[str, bytes]] = []
    for c in conn.execute(select(clips).where(clips.c.meeting_id == m.id).order_by(clips.c.seq)):
        out.append((f"{base}clips/{c.clip_id}.wav", store.read(c.wav_sha256)))
        out.append((f"{base}clips/{c.clip_id}.json", _dump({
            "clip_id": c.clip_id, "seq": c.seq, "sha256": c.sha256, "prev_sha256": c.prev_sha256,
            "session_offset_s": c.offset_s, "seconds": c.seconds, "start_time": c.start_time,
            "recovered": c.recovered, "dropped_ms": c.dropped_ms})))
        out.append((f"{base}clips/{c.clip_id}.custody.json", c.custody.encode()))
    if m.audio_sha256:
        out.append((f"{base}audio.wav", store.read(m.audio_sha256)))
    for d in conn.execute(select(documents).where(documents.c.meeting_id == m.id).order_by(documents.c.kind)):
        out.append((base + d.kind, d.body.encode()))
    items = [dict(r) for r in conn.execute(select(findings).where(findings.c.meeting_id == m.id)
                                           .order_by(findings.c.id)).mappings()]
    row = {k: v for k, v in dict(m._mapping).items() if k not in ("digest",)}
    out.append((f"{base}meeting.json", _dump({**row, "verdicts": [
        {k: f[k] for k in ("item_id", "kind", "severity", "status", "start_s", "review", "review_reason")}
        for f in items]})))
    out.append((f"{base}review_log.json", _dump(audit.entries(conn, m.id))))
    return out


def build_zip(conn: Connection, store: AudioStore, meeting_ids: list[int], by: str) -> tuple[bytes, str]:
    """(zip bytes, sha256 of its manifest) for these meetings (already scope-checked)."""
    entries: list[tuple[str, bytes]] = []
    listed = []
    for mid in meeting_ids:
        m = conn.execute(select(meetings).where(meetings.c.id == mid)).one()
        entries += _meeting_entries(conn, store, m)
        listed.append({"path": f"{m.tenant}/{m.branch}/{m.badge}/{m.session}/", "case_id": m.case_id,
                       "agent": m.agent, "started_at": m.started_at.isoformat()})
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "created_by": by, "meetings": listed,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in entries}}
    body = _dump(manifest)
    return canonical_zip([*entries, ("manifest.json", body)]), hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Verified:
    files: int
    clips: int
    meetings: int
    manifest_sha256: str


def _check_meeting(base: str, files: dict[str, bytes]) -> int:
    from badgecore.clipcheck import chain_gaps, check_clip

    checks = []
    for name in sorted(n for n in files if n.startswith(base + "clips/") and n.endswith(".wav")):
        record = json.loads(files[name[:-4] + ".json"])
        c = check_clip(io.BytesIO(files[name]), expect_sha256=record["sha256"])
        if not c.ok:
            raise EvidenceError(f"{name}: the clip does not verify ({c.reason})")
        checks.append(c)
    recorded = json.loads(files.get(base + "gaps.json", b"[]"))
    found = [g for g in chain_gaps(base.split("/")[2], checks) if g.after_clip]
    if len(found) > len([g for g in recorded if g.get("after_clip")]):
        raise EvidenceError(f"{base}: the clips' hash chain has a break the export does not declare")
    problem = audit.verify_chain(json.loads(files[base + "review_log.json"]))
    if problem:
        raise EvidenceError(f"{base}review_log.json: {problem}")
    return len(checks)


def verify_zip(path: Path) -> Verified:
    """Check an evidence zip offline; raise EvidenceError with one line naming the first fault."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            names = z.namelist()
            files = {n: z.read(n) for n in names}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise EvidenceError(f"{path}: not a readable zip ({exc})") from None
    if "manifest.json" not in files:
        raise EvidenceError(f"{path}: no manifest.json")
    try:
        manifest = json.loads(files["manifest.json"])
        listed: dict[str, str] = manifest["files"]
        if manifest.get("format") != FORMAT:
            raise EvidenceError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise EvidenceError(f"{path}: manifest.json is damaged ({exc})") from None
    for name in names:
        if name == "manifest.json":
            continue
        if name not in listed:
            raise EvidenceError(f"{path}: {name} is not in the manifest")
        if hashlib.sha256(files[name]).hexdigest() != listed[name]:
            raise EvidenceError(f"{path}: {name}: sha256 differs from the manifest (changed)")
    for name in listed:
        if name not in files:
            raise EvidenceError(f"{path}: {name} is listed in the manifest but missing")
    n_clips = 0
    try:
        for m in manifest["meetings"]:
            n_clips += _check_meeting(m["path"], files)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"{path}: a meeting's files are incomplete ({exc})") from None
    order = [n for n in names if n != "manifest.json"] + ["manifest.json"]
    if canonical_zip([(n, files[n]) for n in order]) != raw:
        raise EvidenceError(f"{path}: the archive differs from the canonical zip of its files "
                            "(a header byte was changed)")
    return Verified(len(listed), n_clips, len(manifest["meetings"]),
                    hashlib.sha256(files["manifest.json"]).hexdigest())
