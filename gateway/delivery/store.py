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
    <out>/quarantine/<clip id>.<sha16>.wav|.json + .reason.txt  a clip id re-sent with other content
    <out>/refused/…  documents whose signature or revision did not verify, with the reason
    <out>/pending/…  (with a key ring) audio no signed clip record has named yet

Every topic level is checked (`topics.parse`) and every path is resolved and must stay
under `<out>`; a topic that fails is refused and reported (`refused()`), never written.
With a key ring (`ReceiverStore(out, keys=KeyRing(dir))`), every JSON document (clip
record, custody record, manifest, transcript, findings…) must carry a valid Ed25519
signature of the branch's enrolled gateway (`gateway.delivery.signing`), and revisions
more than `MAX_REVISION_SKEW_S` ahead are refused. Without one, documents are filed
unchecked and counted as `documents_unchecked`. All files are 0600 in 0700 folders.

Files are written to a temporary name, fsynced and renamed, before the transaction
commits, so a crash at any point leaves either nothing or the same files again. Several
receiver processes (an MQTT 5 shared subscription) can share one store on one host.
Clip audio is checked with `firmware.clips.fmt.verify_wav` (trailer hash, then the hash in
the clip record and the manifest, at every settle: `clipfiling`); `chain()` reports gaps
in each badge's hash chain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from badgecore.clipcheck import ClipCheck, Gap, chain_gaps
from badgecore.privatefs import private_dir, write_private
from gateway.delivery.clipfiling import ClipFiling
from gateway.delivery.outbox import connect_db
from gateway.delivery.signing import DocumentRefused, KeyRing, check_revision
from gateway.delivery.topics import TopicError, TopicInfo, parse

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
CREATE TABLE IF NOT EXISTS refused (
  id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts (
  clip_id TEXT NOT NULL, topic TEXT NOT NULL, sha256 TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY (clip_id, topic, sha256));
"""
_CLIP_COLUMNS = {"auth": "TEXT NOT NULL DEFAULT ''", "pending": "INTEGER NOT NULL DEFAULT 0",
                 "record_auth": "TEXT NOT NULL DEFAULT ''"}
"""Columns added after the first release (an older receiver.db gets them on open)."""


class ReceiverStore(ClipFiling):
    """One output folder plus its `receiver.db` index."""

    def __init__(self, out_dir: Path, keys: KeyRing | None = None, badge_keys: Any = None) -> None:
        self.out = Path(out_dir)
        self.badge_keys = badge_keys
        private_dir(self.out, root=self.out)
        self.root = self.out.resolve()
        self.keys = keys
        self.db = connect_db(self.out / "receiver.db")
        self.db.executescript(_SCHEMA)
        have = {r[1] for r in self.db.execute("PRAGMA table_info(clips)")}
        for col, decl in _CLIP_COLUMNS.items():
            if col not in have:
                self.db.execute(f"ALTER TABLE clips ADD COLUMN {col} {decl}")

    def _write(self, path: Path, data: bytes) -> None:
        """Write under `<out>` only: the resolved path must stay inside it."""
        resolved = path.parent.resolve() / path.name
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise TopicError(f"{path} resolves outside the output folder {self.root}")
        write_private(resolved, data, root=self.root)

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
            self._inside(info)
        except TopicError as exc:
            if topic.startswith("badgekit/"):  # ours but malformed or hostile: say so
                self._refuse(topic, str(exc), count="refused_topics")
                return "rejected"
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
                    except DocumentRefused as exc:
                        self._refused_blob(info, topic, data, str(exc))
                        result = "rejected"
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

    def _inside(self, info: TopicInfo) -> None:
        """Defence in depth behind `parse`: the session folder must resolve under `<out>`."""
        d = (self.out / info.tenant / info.branch / (info.badge or "_gateway") / (info.session or "_")).resolve()
        if not d.is_relative_to(self.root):
            raise TopicError(f"topic levels resolve outside the output folder: {d}")

    def _refuse(self, topic: str, reason: str, count: str) -> None:
        log.error("refused %s: %s", topic[:200], reason)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO refused(topic, reason, at) VALUES(?,?,?)", (topic[:500], reason, time.time()))
        self._bump(count)
        self.db.execute("COMMIT")

    def _refused_blob(self, info: TopicInfo, topic: str, data: bytes, reason: str) -> None:
        """A document that does not verify: kept aside under refused/ with the reason, reported."""
        log.error("refused %s: %s", topic[:200], reason)
        name = f"{info.tenant}.{info.branch}.{info.badge}.{info.session}.{info.kind}.{info.clip_id or 'doc'}"
        name += f".{hashlib.sha256(data).hexdigest()[:16]}"
        self._write(self.out / "refused" / name, data)
        self._write(self.out / "refused" / f"{name}.reason.txt", (reason + "\n").encode())
        self.db.execute("INSERT INTO refused(topic, reason, at) VALUES(?,?,?)", (topic[:500], reason, time.time()))
        self._bump("refused_documents")

    def _json(self, info: TopicInfo, data: bytes) -> dict[str, Any]:
        """A JSON document of this topic, its signature verified when a key ring is set."""
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError(f"a {info.kind} must be a JSON object, got {type(doc).__name__}")
        if self.keys is not None:
            topic = "/".join(("badgekit", "v1", info.tenant, info.branch, info.badge, info.session, info.kind)
                             + ((info.clip_id,) if info.clip_id else ()))
            self.keys.verify(info.tenant, info.branch, topic, doc)
        else:
            self._bump("documents_unchecked")
        return doc

    def _file(self, info: TopicInfo, props: dict[str, str], data: bytes) -> None:
        if info.kind == "audio":
            self._audio(info, data)
        elif info.kind == "clip":
            self._record(info, self._json(info, data), data)
        elif info.kind == "custody":
            self._custody(info, self._json(info, data), data)
        elif info.kind == "status":
            self._status(info, data)
        else:
            self._document(info, data)

    def _document(self, info: TopicInfo, data: bytes) -> None:
        """Session documents (transcript, manifest, findings…): keep the highest revision."""
        try:
            doc = self._json(info, data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            if self.keys is not None:
                raise DocumentRefused("an unsigned binary document") from None
            self._write(self.session_dir(info) / f"{info.kind}.bin", data)  # an opaque document
            self._bump("binary_documents")
            return
        rev = check_revision(doc)
        topic = f"{info.tenant}/{info.branch}/{info.badge}/{info.session}/{info.kind}"
        old = self.db.execute("SELECT revision FROM docs WHERE topic=?", (topic,)).fetchone()
        if old and old[0] > rev:
            return
        self.db.execute("INSERT OR REPLACE INTO docs(topic, kind, revision, body) VALUES(?,?,?,?)",
                        (topic, info.kind, rev, data.decode()))
        d = self.session_dir(info)
        self._write(d / f"{info.kind}.json", data)
        if info.kind == "transcript" and isinstance(doc.get("vtt"), str):
            self._write(d / "transcript.vtt", doc["vtt"].encode())
        self._bump(f"{info.kind}s")
        if info.kind == "manifest":  # every settle checks the audio against the manifest too
            for c in doc.get("clips", []):
                if isinstance(c, dict) and isinstance(c.get("clip_id"), str):
                    self._settle(c["clip_id"])

    def _unreadable(self, info: TopicInfo, data: bytes, reason: str) -> None:
        """A whole blob whose content cannot be filed: keep it with the reason, move on."""
        log.error("%s/%s/%s: unreadable %s (%s); kept under rejected/", info.badge, info.session,
                  info.clip_id or info.kind, info.kind, reason)
        name = f"{info.tenant}.{info.branch}.{info.badge}.{info.session}.{info.kind}.{info.clip_id or 'doc'}"
        self._write(self.out / "rejected" / name, data)
        self._write(self.out / "rejected" / f"{name}.reason.txt", (reason + "\n").encode())
        self._bump("rejected_blobs")

    def _status(self, info: TopicInfo, data: bytes) -> None:
        self._write(self.out / info.tenant / info.branch / "_gateway" / f"{info.gateway_id}.status.json", data)

    # -- reports ---------------------------------------------------------------------------

    def clips(self) -> list[dict[str, Any]]:
        cols = ["tenant", "branch", "badge", "session", "clip_id", "seq", "sha256", "prev_sha256",
                "record_sha256", "custody", "audio", "verified", "recovered", "error", "auth", "record_auth"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM clips ORDER BY badge, seq").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def chain(self) -> list[Gap]:
        """Gaps in every badge's hash chain, over the clips whose audio was received."""
        checks: dict[tuple[str, str], list[ClipCheck]] = {}
        for c in self.clips():
            if c["audio"] and not c["error"]:
                checks.setdefault((c["tenant"], c["badge"]), []).append(
                    ClipCheck.link(c["clip_id"], c["seq"], c["sha256"], c["prev_sha256"]))
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


    def refused(self) -> list[dict[str, str]]:
        """Messages refused: hostile topics, documents that did not verify, future revisions."""
        rows = self.db.execute("SELECT topic, reason FROM refused ORDER BY id").fetchall()
        return [{"topic": t, "reason": r} for t, r in rows]

    def conflicts(self) -> list[dict[str, str]]:
        """Clip ids that came again with other content (kept in quarantine, never filed)."""
        rows = self.db.execute("SELECT clip_id, topic, sha256, reason FROM conflicts ORDER BY at").fetchall()
        return [{"clip_id": c, "topic": t, "sha256": s, "reason": r} for c, t, s, r in rows]
