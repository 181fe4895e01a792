"""The gateway's per-clip and per-session steps, each one durable transaction.

`GatewayState` keeps what the gateway has done in `gateway.db` (the outbox's file):
`gw_clips` (each clip id once: published or quarantined, with the reason) and
`gw_sessions` (last clip time, whether a new manifest/transcript is due, revision) and
`gw_transcripts` (each transcribed session's single-badge transcript, for `pairing_step`).
`ingest()` verifies a spool clip and enqueues its clip record, audio and custody record;
`finish_session()` transcribes a settled session and enqueues transcript, what the transcript
hooks make of it (compliance findings first: `findings.FindingsHook`) and manifest
(`documents`); paired with another badge's session of the same meeting (`pairing_step`),
that session's new revision too.
Marking the step done and enqueuing its messages commit together, so after a SIGKILL
a step is either complete (and not redone) or absent (and redone from the spool).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from badgecore.clipcheck import ClipCheck, chain_gaps, check_clip, sidecar_case_id
from badgecore.spoollayout import name_error
from gateway.delivery.outbox import Message, Outbox
from gateway.delivery.publisher import Publisher
from gateway.delivery.topics import TopicError, check_level
from gateway.service.documents import manifest_document, transcript_document
from gateway.service.pairing_step import SCHEMA as PAIRING_SCHEMA
from gateway.service.pairing_step import Paired, Partner, find_partner, pair_transcript, remember
from gateway.service.spool import SpoolClip, Stray, quarantine_files
from gateway.service.transcription import TranscriptionStep, TranscriptionStepError

__all__ = ["GatewayState"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gw_clips (
  clip_id TEXT PRIMARY KEY, badge TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER,
  sha256 TEXT, prev_sha256 TEXT, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  audio_s REAL NOT NULL DEFAULT 0, sidecar TEXT NOT NULL DEFAULT '{}', wav TEXT NOT NULL DEFAULT '',
  at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS gw_sessions (
  badge TEXT NOT NULL, session TEXT NOT NULL, last_clip REAL NOT NULL, dirty INTEGER NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (badge, session));
CREATE TABLE IF NOT EXISTS gw_strays (path TEXT PRIMARY KEY, reason TEXT NOT NULL, at REAL NOT NULL);
"""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Bad(Exception):
    """A clip that must be quarantined; the message is the reason."""


def _levels_ok(*values: str) -> bool:
    try:
        for v in values:
            check_level(v, "topic level")
    except TopicError:
        return False
    return True


def _case_id(good: list[dict[str, Any]]) -> str | None:
    """Set by the agent on the badge or the companion; the same rule as the transcript's."""
    return next((c for c in map(sidecar_case_id, (json.loads(c["sidecar"]) for c in good)) if c), None)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Bad(f"{what} {path.name} is missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Bad(f"{what} {path.name} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _Bad(f"{what} {path.name} is not a JSON object")
    return doc


class GatewayState:
    """Durable gateway bookkeeping plus the steps that use it."""

    def __init__(self, outbox: Outbox, publisher: Publisher, state_dir: Path) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.state_dir = Path(state_dir)
        self.topics = publisher.topics
        s = publisher.settings
        self.ident = {"tenant": s.tenant, "branch": s.branch, "gateway": s.gateway_id}
        with outbox.lock:
            outbox.db.executescript(_SCHEMA + PAIRING_SCHEMA)
        self.counters: dict[str, float] = dict.fromkeys(
            ("clips_in", "quarantined", "sessions_transcribed", "seconds_transcribed", "errors"), 0)
        self.errors: list[str] = []
        self.transcript_hooks: list[Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]] = []
        """Called with each new transcript document; the (kind, payload) pairs they return are
        published on `…/{badge}/{session}/{kind}` in the same transaction (`FindingsHook` first)."""
        self.badge_keys: Any = None
        """Badge clip keys (firmware.clips.mac.BadgeKeys) to check clip seals with; None: a
        sealed clip is `no_key` (delivered, reported as not authenticated here)."""

    def error(self, text: str) -> None:
        log.error("%s", text)
        self.counters["errors"] += 1
        self.errors = (self.errors + [text])[-20:]

    def handled(self, clip: SpoolClip) -> bool:
        """True if this clip needs no work: delivered already, or a copy handled here.

        A clip id that was quarantined before and shows up again (a fresh re-sync) is
        worked on again; a clip id delivered before that reappears elsewhere with a
        different hash is quarantined (same hash: a harmless second copy)."""
        with self.outbox.lock:
            row = self.outbox.db.execute("SELECT wav, sha256, status, session, sidecar FROM gw_clips "
                                         "WHERE clip_id=?", (clip.clip_id,)).fetchone()
        if row is None:
            return False
        wav, sha, status, session, stored = row
        if status == "quarantined":
            with self.outbox.transaction() as db:
                db.execute("DELETE FROM gw_clips WHERE clip_id=?", (clip.clip_id,))
            return False
        if wav == str(clip.wav):
            self._recase(clip, stored, sha)
            return True
        try:
            copy_sha = _read_json(clip.sidecar, "sidecar").get("sha256")
        except _Bad:
            copy_sha = None
        if copy_sha == sha:
            log.info("clip %s in %s is a copy of the one delivered from %s; ignored", clip.clip_id,
                     clip.session, session)
            return True
        self._quarantine_clip(clip, f"clip id {clip.clip_id} was already delivered from session {session} "
                                    f"with sha256 {sha[:12]}…; this copy differs", record=False)
        return True

    def _recase(self, clip: SpoolClip, stored: str, sha: str) -> None:
        """A case id set on a delivered clip afterwards (`badgekit companion case --session`):
        keep the new sidecar and make its session due again (a new revision with the id)."""
        try:
            side = _read_json(clip.sidecar, "sidecar")
            old = json.loads(stored or "{}")
        except (_Bad, OSError, ValueError):
            return
        if side.get("case_id") == old.get("case_id") or side.get("sha256") != sha:
            return
        side.update({k: old[k] for k in ("auth", "format_version", "clip_key_id") if k in old})  # this gateway's finding
        with self.outbox.transaction() as db:
            db.execute("UPDATE gw_clips SET sidecar=? WHERE clip_id=?", (json.dumps(side), clip.clip_id))
            self._touch(db, clip.badge, clip.session, time.time())
        log.info("clip %s: case id now %s; session %s/%s is due again", clip.clip_id,
                 side.get("case_id"), clip.badge, clip.session)

    # -- clips -----------------------------------------------------------------------------

    def _check(self, clip: SpoolClip) -> tuple[dict[str, Any], dict[str, Any], bytes, ClipCheck]:
        for value, what in ((clip.badge, "badge folder"), (clip.session, "session folder"),
                            (clip.clip_id, "clip id")):
            try:
                check_level(value, what)
            except TopicError as exc:
                raise _Bad(str(exc)) from None
            unsafe = name_error(value, what)  # the spool's own rule, should the topic rule ever widen
            if unsafe is not None:
                raise _Bad(str(unsafe))
        side = _read_json(clip.sidecar, "sidecar")
        custody = _read_json(clip.custody, "custody record")
        if not clip.wav.is_file():
            raise _Bad(f"custody record without its audio file {clip.wav.name}")
        data = clip.wav.read_bytes()
        check = check_clip(io.BytesIO(data), expect_sha256=str(side.get("sha256", "")) or None)
        if not check.ok:
            raise _Bad(f"{clip.wav.name}: {check.reason}")
        if check.clip_id != clip.clip_id:
            raise _Bad(f"{clip.wav.name} holds clip {check.clip_id}, not {clip.clip_id}")
        if (check.badge, check.session) != (clip.badge, clip.session):  # moved to another badge's folder
            raise _Bad(f"{clip.wav.name} was recorded by {check.badge} in session {check.session}, "
                       f"but lies in {clip.badge}/{clip.session}")
        if side.get("badge") not in (None, clip.badge) or side.get("session") not in (None, clip.session):
            raise _Bad(f"sidecar names badge/session {side.get('badge')}/{side.get('session')}, "
                       f"but the clip is in {clip.badge}/{clip.session}")
        if "sha256" not in side:
            raise _Bad(f"sidecar {clip.sidecar.name} lacks sha256")
        if custody.get("sha256") not in (None, check.sha256):
            raise _Bad(f"custody record names sha256 {str(custody.get('sha256'))[:12]}…, "
                       f"the clip's is {(check.sha256 or '')[:12]}…")
        side = {**side, **self._seal(clip, data, check)}
        return side, custody, data, check

    def _seal(self, clip: SpoolClip, data: bytes, check: ClipCheck) -> dict[str, Any]:
        """The clip's seal (clip format 2, firmware.clips.mac) as this gateway finds it, with
        the badge clip keys it was given (`badge_keys`); the spool's own claim is not taken."""
        from firmware.clips import mac as clipmac

        sealed = clipmac.verify_wav(io.BytesIO(data), self.badge_keys)
        if sealed.status == clipmac.BAD_MAC:
            raise _Bad(f"bad_mac: {sealed.reason}")
        if sealed.status == clipmac.UNAUTHENTICATED:  # as the companion rules (companion.spool)
            with self.outbox.lock:
                earlier = self.outbox.db.execute(
                    "SELECT sidecar FROM gw_clips WHERE badge=? AND status='published' AND seq < ?",
                    (clip.badge, check.seq)).fetchall()
            if sealed.info.header.version > 1 or any(
                    json.loads(r[0] or "{}").get("format_version", 1) > 1 for r in earlier):
                raise _Bad("bad_mac: an unsealed clip (empty seal, or format 1 after sealed clips of this "
                           "badge): its seal was removed")
        return {"auth": sealed.status, "format_version": sealed.info.header.version,
                **({"clip_key_id": sealed.key_id} if sealed.key_id else {})}

    def ingest(self, clip: SpoolClip) -> str:
        """Verify one complete spool clip and enqueue it, or quarantine it.

        Returns "queued", "quarantined" or "retry" (the files could not be read now)."""
        try:
            side, custody, data, check = self._check(clip)
        except _Bad as exc:
            self._quarantine_clip(clip, str(exc))
            return "quarantined"
        except OSError as exc:
            self.error(f"cannot read {clip.clip_id} now, will retry: {exc}")
            return "retry"
        from gateway.transcribe.bounds import trusted_samples  # the transcriber's own rule

        rate = int(side.get("sample_rate", 16000) or 16000)
        samples, problems = trusted_samples(clip.wav, side)
        for p in problems:  # the audio is intact (hashed) and delivered whole; the numbers are not
            self.error(f"clip {clip.badge}/{clip.session}/{clip.clip_id}: {p}")
        audio_s = float(samples if samples is not None else side.get("samples", 0)) / rate
        base = f"{clip.badge}/{clip.session}"
        record = {
            "kind": "clip", **self.ident, "badge": clip.badge, "session": clip.session,
            "clip_id": clip.clip_id, "seq": check.seq, "sha256": check.sha256,
            "prev_sha256": check.prev_sha256, "recovered": check.recovered, "audio_s": audio_s,
            "wav_bytes": len(data), "sidecar": side, "problems": problems, "auth": side["auth"],
        }
        custody_doc = {"kind": "custody", **self.ident, "badge": clip.badge, "session": clip.session,
                       "clip_id": clip.clip_id, "sha256": check.sha256, "record": custody}
        msgs: list[Message] = []
        msgs += self.publisher.messages(f"{base}/clip/{clip.clip_id}", record, kind="clip")
        msgs += self.publisher.messages(f"{base}/audio/{clip.clip_id}", data, kind="audio",
                                        content_type="audio/wav", props={"clip_id": clip.clip_id})
        msgs += self.publisher.messages(f"{base}/custody/{clip.clip_id}", custody_doc, kind="custody")
        now = time.time()
        with self.outbox.transaction() as db:
            db.execute(
                "INSERT INTO gw_clips(clip_id, badge, session, seq, sha256, prev_sha256, status, reason, "
                "audio_s, sidecar, wav, at) VALUES(?,?,?,?,?,?,'published',?,?,?,?,?)",
                (clip.clip_id, clip.badge, clip.session, check.seq, check.sha256, check.prev_sha256,
                 "\n".join(problems), audio_s, json.dumps(side), str(clip.wav), now))
            self._touch(db, clip.badge, clip.session, now)
            self.outbox.put(msgs)
        self.publisher.wake()
        self.counters["clips_in"] += 1
        log.info("clip %s queued (%d messages, %.1f s)", clip.clip_id, len(msgs), audio_s)
        return "queued"

    def _touch(self, db: Any, badge: str, session: str, now: float) -> None:
        db.execute(
            "INSERT INTO gw_sessions(badge, session, last_clip, dirty) VALUES(?,?,?,1) "
            "ON CONFLICT(badge, session) DO UPDATE SET last_clip=excluded.last_clip, dirty=1",
            (badge, session, now))

    def _quarantine_clip(self, clip: SpoolClip, reason: str, record: bool = True) -> None:
        """Move the clip's files aside with `reason`; `record` marks the clip id as quarantined."""
        quarantine_files(self.state_dir, clip.files(), clip.badge, clip.session, reason)
        now = time.time()
        with self.outbox.transaction() as db:
            if record:
                db.execute(
                    "INSERT OR REPLACE INTO gw_clips(clip_id, badge, session, status, reason, at) "
                    "VALUES(?,?,?,'quarantined',?,?)", (clip.clip_id, clip.badge, clip.session, reason, now))
                if _levels_ok(clip.badge, clip.session):  # its session's manifest will list it
                    self._touch(db, clip.badge, clip.session, now)
            else:
                db.execute("INSERT OR REPLACE INTO gw_strays(path, reason, at) VALUES(?,?,?)",
                           (str(clip.wav), reason, now))
        self.counters["quarantined"] += 1
        self.error(f"quarantined {clip.badge}/{clip.session}/{clip.clip_id}: {reason}")

    def quarantine_stray(self, stray: Stray) -> None:
        quarantine_files(self.state_dir, [stray.path], stray.badge, stray.session, stray.reason)
        with self.outbox.transaction() as db:
            db.execute("INSERT OR REPLACE INTO gw_strays(path, reason, at) VALUES(?,?,?)",
                       (str(stray.path), stray.reason, time.time()))
        self.counters["quarantined"] += 1
        self.error(f"quarantined {stray.path}: {stray.reason}")

    # -- sessions --------------------------------------------------------------------------

    def settled_sessions(self, settle_s: float) -> list[tuple[str, str]]:
        with self.outbox.lock:
            rows = self.outbox.db.execute(
                "SELECT badge, session FROM gw_sessions WHERE dirty=1 AND last_clip <= ? ORDER BY last_clip",
                (time.time() - settle_s,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def _clips(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        cols = ["clip_id", "badge", "session", "seq", "sha256", "prev_sha256", "status", "reason",
                "audio_s", "sidecar", "wav"]
        with self.outbox.lock:
            rows = self.outbox.db.execute(
                f"SELECT {', '.join(cols)} FROM gw_clips WHERE {where} ORDER BY seq, clip_id", args).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def session_sidecars(self, badge: str, session: str) -> list[dict[str, Any]]:
        """The sidecars of a session's delivered clips, in sequence order."""
        return [json.loads(c["sidecar"]) for c in self._clips("badge=? AND session=? AND status='published'",
                                                             (badge, session))]

    def _transcribe(self, badge: str, session: str, good: list[dict[str, Any]],
                    transcriber: TranscriptionStep) -> tuple[dict[str, Any] | None, str | None, str]:
        """(document, WebVTT, "") of a session, or (None, None, why not)."""
        try:
            text = transcriber.session([Path(c["wav"]) for c in good])
            return text.document, text.vtt, ""
        except TranscriptionStepError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"session audio unreadable: {exc}"
        except Exception as exc:  # noqa: BLE001 - the speech stack must not stop delivery
            error = f"transcription failed: {type(exc).__name__}: {exc}"
            log.exception("session %s/%s", badge, session)
        self.error(f"session {badge}/{session} not transcribed: {error}")
        return None, None, error

    def _revision(self, badge: str, session: str) -> int:
        """Above the last one and the clock's milliseconds: receivers keep the highest."""
        with self.outbox.lock:
            row = self.outbox.db.execute("SELECT revision FROM gw_sessions WHERE badge=? AND session=?",
                                         (badge, session)).fetchone()
        return max(int(row[0]) + 1 if row else 1, int(time.time() * 1000))

    def _hook_messages(self, base: str, transcript: dict[str, Any]) -> list[Message]:
        """What the transcript hooks add, each (kind, payload) on `…/{badge}/{session}/{kind}`."""
        msgs: list[Message] = []
        for hook in self.transcript_hooks:
            try:
                for kind, payload in hook(transcript):
                    msgs += self.publisher.messages(f"{base}/{kind}", payload, kind=kind)
            except Exception as exc:  # noqa: BLE001 - a failing add-on must not stop delivery
                self.error(f"session {base}: transcript hook failed: {type(exc).__name__}: {exc}")
        return msgs

    def _documents(self, badge: str, session: str, clips: list[dict[str, Any]], good: list[dict[str, Any]],
                   doc: dict[str, Any] | None, vtt: str | None, error: str) -> tuple[int, list[Message]]:
        """(revision, messages) of a session's new revision: transcript (if any), what the
        hooks make of it, and manifest."""
        chain = self._clips("badge=? AND status='published'", (badge,))
        gaps = chain_gaps(badge, [ClipCheck.link(c["clip_id"], c["seq"], c["sha256"], c["prev_sha256"])
                                  for c in chain])
        revision = self._revision(badge, session)
        base = f"{badge}/{session}"
        common = {**self.ident, "badge": badge, "session": session, "revision": revision,
                  "generated_at": _now_iso()}
        msgs: list[Message] = []
        if doc is not None:
            transcript = transcript_document(common, _case_id(good), good, doc, vtt)
            msgs += self.publisher.messages(f"{base}/transcript", transcript, kind="transcript")
            msgs += self._hook_messages(base, transcript)
        manifest = manifest_document(common, clips, gaps, revision, doc, error)
        msgs += self.publisher.messages(f"{base}/manifest", manifest, kind="manifest")
        return revision, msgs

    def _delivered_wavs(self, badge: str, session: str) -> list[Path]:
        return [Path(c["wav"]) for c in self._clips("badge=? AND session=? AND status='published'",
                                                   (badge, session))]

    def _stored_partner(self, badge: str, case_id: str, span: tuple[float, float]) -> Partner | None:
        with self.outbox.lock:
            return find_partner(self.outbox.db, badge, case_id, span)

    def _partner_documents(self, paired: Paired) -> tuple[int, list[Message]]:
        """The new revision of the session this one was paired with (`pairing_step`)."""
        b, s = paired.partner_badge, paired.partner_session
        clips = self._clips("badge=? AND session=?", (b, s))
        return self._documents(b, s, clips, [c for c in clips if c["status"] == "published"],
                               paired.partner_doc, paired.partner_vtt, "")

    def finish_session(self, badge: str, session: str, transcriber: TranscriptionStep | None) -> None:
        """Transcribe a settled session; enqueue its transcript (if any), what the hooks
        make of it, and its manifest, in one transaction; with a new revision of the other
        badge's session of the same meeting when the two are paired (`pairing_step`)."""
        clips = self._clips("badge=? AND session=?", (badge, session))
        good = [c for c in clips if c["status"] == "published"]
        doc = vtt = None
        error = ""
        if transcriber is not None and good:
            doc, vtt, error = self._transcribe(badge, session, good, transcriber)
        single = doc
        paired = None
        if doc is not None:
            paired = pair_transcript(badge, session, _case_id(good), doc, [Path(c["wav"]) for c in good],
                                     self._stored_partner, self._delivered_wavs)
            doc = paired.doc if paired is not None else doc
        revision, msgs = self._documents(badge, session, clips, good, doc, vtt, error)
        p_revision, p_msgs = self._partner_documents(paired) if paired is not None else (0, [])
        with self.outbox.transaction() as db:
            db.execute("UPDATE gw_sessions SET dirty=0, revision=? WHERE badge=? AND session=?",
                       (revision, badge, session))
            if single is not None:
                remember(db, badge, session, _case_id(good), single, vtt or "")
            if paired is not None:
                db.execute("UPDATE gw_sessions SET revision=? WHERE badge=? AND session=?",
                           (p_revision, paired.partner_badge, paired.partner_session))
            self.outbox.put(msgs + p_msgs)
        self.publisher.wake()
        if doc is not None:
            self.counters["sessions_transcribed"] += 1
            self.counters["seconds_transcribed"] += sum(float(c["audio_s"]) for c in good)
        log.info("session %s/%s: manifest rev %d, %d clips, transcript %s", badge, session, revision,
                 len(good), "yes" if doc is not None else f"no ({error or 'disabled'})")
        if paired is not None:
            log.info("session %s/%s: manifest rev %d, speaker labels paired with %s/%s",
                     paired.partner_badge, paired.partner_session, p_revision, badge, session)
