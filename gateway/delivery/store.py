"""The receiver's store: reassemble parts, drop duplicates, verify clips, write files.

`ReceiverStore.handle(topic, props, payload)` is called once per MQTT message, before
the message is acknowledged. In one SQLite transaction (WAL, fsync) it records the
`msg_id` (a second copy is counted as a duplicate and dropped), keeps the part, and
when a blob is complete checks its size and sha256 and files it:

    <out>/<tenant>/<branch>/<badge>/<session>/clips/<clip id>.wav   verified audio
                                              clips/<clip id>.json  clip record
                                              clips/<clip id>.custody.json
                                              transcript.json, transcript.vtt, manifest.json
    <out>/<tenant>/<branch>/_gateway/<gateway id>.status.json
    <out>/quarantine/<clip id>.wav + .reason.txt  audio that failed verification

Files are written to a temporary name, fsynced and renamed, before the transaction
commits, so a crash at any point leaves either nothing or the same files again. Several
receiver processes (an MQTT 5 shared subscription) can share one store on one host.
Clip audio is checked with `firmware.clipfmt.verify_wav` (trailer hash, then the hash in
the clip record); `chain()` reports gaps in each badge's hash chain.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from gateway.delivery.outbox import connect_db
from gateway.delivery.topics import TopicError, TopicInfo, parse
from gateway.delivery.verify import ClipCheck, Gap, chain_gaps, check_clip

__all__ = ["ReceiverStore"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (msg_id TEXT PRIMARY KEY, topic TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
  topic TEXT NOT NULL, blob_sha256 TEXT NOT NULL, part INTEGER NOT NULL, parts INTEGER NOT NULL,
  data BLOB NOT NULL, PRIMARY KEY (topic, blob_sha256, part));
CREATE TABLE IF NOT EXISTS clips (
  tenant TEXT NOT NULL, branch TEXT NOT NULL, badge TEXT NOT NULL, session TEXT NOT NULL,
  clip_id TEXT PRIMARY KEY, seq INTEGER, sha256 TEXT, prev_sha256 TEXT,
  record_sha256 TEXT, custody INTEGER NOT NULL DEFAULT 0, audio INTEGER NOT NULL DEFAULT 0,
  verified INTEGER NOT NULL DEFAULT 0, recovered INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS docs (
  topic TEXT PRIMARY KEY, kind TEXT NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary name + fsync + rename (+ directory fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReceiverStore:
    """One output folder plus its `receiver.db` index."""

    def __init__(self, out_dir: Path) -> None:
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.db = connect_db(self.out / "receiver.db")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _bump(self, name: str, by: int = 1) -> None:
        self.db.execute(
            "INSERT INTO counters(name, value) VALUES(?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, by))

    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.db.execute("SELECT name, value FROM counters")}

    # -- one message -----------------------------------------------------------------------

    def handle(self, topic: str, props: dict[str, str], payload: bytes) -> str:
        """File one message; returns what happened: stored (a part), complete (a whole blob
        filed), rejected (a whole blob whose content is unusable, kept under rejected/),
        duplicate, status, ignored or invalid."""
        try:
            info = parse(topic)
        except TopicError as exc:
            log.warning("ignored: %s", exc)
            return "ignored"
        msg_id = props.get("msg_id", "")
        if info.kind == "receipts":
            return "ignored"
        if info.kind == "status" and not msg_id:
            self._status(info, payload)
            return "status"
        try:
            part, parts = int(props["part"]), int(props["parts"])
            blob_sha, blob_bytes = props["blob_sha256"], int(props["blob_bytes"])
        except (KeyError, ValueError):
            log.error("invalid message on %s: missing badgekit user properties", topic)
            self._count_once("invalid")
            return "invalid"
        if not msg_id or not 0 <= part < parts:
            self._count_once("invalid")
            return "invalid"
        if props.get("part_sha256") and hashlib.sha256(payload).hexdigest() != props["part_sha256"]:
            log.error("part %d of %s is corrupt (sha256 differs); dropped", part, topic)
            self._count_once("corrupt_parts")
            return "invalid"
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("SELECT 1 FROM seen WHERE msg_id=?", (msg_id,)).fetchone():
                self._bump("duplicates")
                self.db.execute("COMMIT")
                return "duplicate"
            self.db.execute("INSERT INTO seen(msg_id, topic) VALUES(?, ?)", (msg_id, topic))
            self._bump("messages")
            self.db.execute(
                "INSERT OR REPLACE INTO parts(topic, blob_sha256, part, parts, data) VALUES(?,?,?,?,?)",
                (topic, blob_sha, part, parts, payload))
            have = self.db.execute(
                "SELECT COUNT(*) FROM parts WHERE topic=? AND blob_sha256=?", (topic, blob_sha)
            ).fetchone()[0]
            result = "stored"
            if have == parts:
                rows = self.db.execute(
                    "SELECT data FROM parts WHERE topic=? AND blob_sha256=? ORDER BY part",
                    (topic, blob_sha)).fetchall()
                data = b"".join(bytes(r[0]) for r in rows)
                self.db.execute("DELETE FROM parts WHERE topic=? AND blob_sha256=?", (topic, blob_sha))
                if len(data) != blob_bytes or hashlib.sha256(data).hexdigest() != blob_sha:
                    log.error("reassembled %s does not match its sha256; dropped", topic)
                    self._bump("corrupt_blobs")
                else:
                    try:
                        self._file(info, props, data)
                        result = "complete"
                    except (ValueError, TypeError, AttributeError) as exc:  # bad content, not a crash
                        self._unreadable(info, data, f"{type(exc).__name__}: {exc}")
                        result = "rejected"
            self.db.execute("COMMIT")
            return result
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _count_once(self, name: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self._bump(name)
        self.db.execute("COMMIT")

    def session_dir(self, info: TopicInfo) -> Path:
        return self.out / info.tenant / info.branch / info.badge / info.session

    def _file(self, info: TopicInfo, props: dict[str, str], data: bytes) -> None:
        if info.kind == "audio":
            self._audio(info, data)
        elif info.kind == "clip":
            self._record(info, data)
        elif info.kind == "custody":
            self._custody(info, data)
        elif info.kind == "status":
            self._status(info, data)
        else:
            self._document(info, data)

    def _clip_row(self, info: TopicInfo) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO clips(tenant, branch, badge, session, clip_id) VALUES(?,?,?,?,?)",
            (info.tenant, info.branch, info.badge, info.session, info.clip_id))

    def _audio(self, info: TopicInfo, data: bytes) -> None:
        self._clip_row(info)
        self._bump("clips_received")
        check = check_clip(io.BytesIO(data))
        if not check.ok:
            self._quarantine(info, data, check.reason)
            return
        write_atomic(self.session_dir(info) / "clips" / f"{info.clip_id}.wav", data)
        self.db.execute(
            "UPDATE clips SET audio=1, seq=?, sha256=?, prev_sha256=?, recovered=? WHERE clip_id=?",
            (check.seq, check.sha256, check.prev_sha256, int(check.recovered), info.clip_id))
        self._settle(info.clip_id)

    def _record(self, info: TopicInfo, data: bytes) -> None:
        self._clip_row(info)
        record = json.loads(data)
        write_atomic(self.session_dir(info) / "clips" / f"{info.clip_id}.json", data)
        sidecar = record.get("sidecar", record)
        self.db.execute("UPDATE clips SET record_sha256=? WHERE clip_id=?",
                        (str(sidecar.get("sha256", "")), info.clip_id))
        self._settle(info.clip_id)

    def _custody(self, info: TopicInfo, data: bytes) -> None:
        self._clip_row(info)
        write_atomic(self.session_dir(info) / "clips" / f"{info.clip_id}.custody.json", data)
        self.db.execute("UPDATE clips SET custody=1 WHERE clip_id=?", (info.clip_id,))

    def _settle(self, clip_id: str) -> None:
        """A clip is verified when its audio passed clipfmt and matches its record's sha256."""
        row = self.db.execute(
            "SELECT audio, sha256, record_sha256, verified, error FROM clips WHERE clip_id=?", (clip_id,)
        ).fetchone()
        audio, sha, record_sha, verified, error = row
        if not audio or not record_sha or verified or error:
            return
        if sha == record_sha:
            self.db.execute("UPDATE clips SET verified=1 WHERE clip_id=?", (clip_id,))
            self._bump("clips_verified")
        else:
            reason = f"audio sha256 {sha[:12]}… differs from the clip record's {record_sha[:12]}…"
            log.error("clip %s: %s", clip_id, reason)
            self.db.execute("UPDATE clips SET error=? WHERE clip_id=?", (reason, clip_id))

    def _quarantine(self, info: TopicInfo, data: bytes, reason: str) -> None:
        log.error("clip %s failed verification: %s", info.clip_id, reason)
        q = self.out / "quarantine"
        write_atomic(q / f"{info.clip_id}.wav", data)
        write_atomic(q / f"{info.clip_id}.reason.txt", (reason + "\n").encode())
        self.db.execute("UPDATE clips SET error=? WHERE clip_id=?", (reason, info.clip_id))
        self._bump("clips_failed")

    def _document(self, info: TopicInfo, data: bytes) -> None:
        """Session documents (transcript, manifest, findings…): keep the highest revision."""
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            write_atomic(self.session_dir(info) / f"{info.kind}.bin", data)  # an opaque document
            self._bump("binary_documents")
            return
        if not isinstance(doc, dict):
            raise ValueError(f"a {info.kind} must be a JSON object, got {type(doc).__name__}")
        rev = int(doc.get("revision", 0))
        topic = f"{info.tenant}/{info.branch}/{info.badge}/{info.session}/{info.kind}"
        old = self.db.execute("SELECT revision FROM docs WHERE topic=?", (topic,)).fetchone()
        if old and old[0] > rev:
            return
        self.db.execute("INSERT OR REPLACE INTO docs(topic, kind, revision, body) VALUES(?,?,?,?)",
                        (topic, info.kind, rev, data.decode()))
        d = self.session_dir(info)
        write_atomic(d / f"{info.kind}.json", data)
        if info.kind == "transcript" and isinstance(doc.get("vtt"), str):
            write_atomic(d / "transcript.vtt", doc["vtt"].encode())
        self._bump(f"{info.kind}s")

    def _unreadable(self, info: TopicInfo, data: bytes, reason: str) -> None:
        """A whole blob whose content cannot be filed: keep it with the reason, move on."""
        log.error("%s/%s/%s: unreadable %s (%s); kept under rejected/", info.badge, info.session,
                  info.clip_id or info.kind, info.kind, reason)
        name = f"{info.tenant}.{info.branch}.{info.badge}.{info.session}.{info.kind}.{info.clip_id or 'doc'}"
        write_atomic(self.out / "rejected" / name, data)
        write_atomic(self.out / "rejected" / f"{name}.reason.txt", (reason + "\n").encode())
        self._bump("rejected_blobs")

    def _status(self, info: TopicInfo, data: bytes) -> None:
        write_atomic(self.out / info.tenant / info.branch / "_gateway" / f"{info.gateway_id}.status.json",
                     data)

    # -- reports ---------------------------------------------------------------------------

    def clips(self) -> list[dict[str, Any]]:
        cols = ["tenant", "branch", "badge", "session", "clip_id", "seq", "sha256", "prev_sha256",
                "record_sha256", "custody", "audio", "verified", "recovered", "error"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM clips ORDER BY badge, seq").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def chain(self) -> list[Gap]:
        """Gaps in every badge's hash chain, over the clips whose audio was received."""
        checks: dict[tuple[str, str], list[ClipCheck]] = {}
        for c in self.clips():
            if c["audio"] and not c["error"]:
                checks.setdefault((c["tenant"], c["badge"]), []).append(
                    ClipCheck(True, c["clip_id"], c["seq"], c["sha256"], c["prev_sha256"]))
        gaps: list[Gap] = []
        for (_tenant, badge), items in sorted(checks.items()):
            gaps.extend(chain_gaps(badge, items))
        return gaps

    def manifests(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT body FROM docs WHERE kind='manifest' ORDER BY topic").fetchall()
        return [json.loads(r[0]) for r in rows]

    def missing(self) -> list[str]:
        """Clips listed in a session manifest whose audio has not been received."""
        have = {c["clip_id"] for c in self.clips() if c["audio"]}
        out: list[str] = []
        for m in self.manifests():
            out.extend(c["clip_id"] for c in m.get("clips", []) if c["clip_id"] not in have)
        return sorted(set(out))

