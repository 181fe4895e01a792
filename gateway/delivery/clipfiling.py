"""The receiver's per-clip filing: audio, clip record, custody record, settle, conflicts.

Part of `ReceiverStore` (a mixin over its database and output folder). The rules:

- a clip's WAV must verify with `clipfmt` (and its seal with `clipmac`, given the badge
  keys: a bad MAC is quarantined), and its header must name the badge, session
  and clip id of the topic it came on (a clip moved to another badge's folder is refused);
- a clip id that reappears with another hash (audio or record), or in another place,
  is a *conflict*: the new bytes go to `quarantine/` under a name of their own, the
  conflict is reported, and nothing already stored is overwritten;
- with a key ring, audio waits in `pending/` (outside every session folder) until a
  clip record that verified names its hash; audio held there is displaced by the audio
  the signed record names (the displaced bytes go to quarantine, reported);
- every settle (audio, record or manifest arrived) re-reads the stored WAV and checks
  its hash against the clip record and the newest manifest naming the clip; a clip is
  verified only while all three agree.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from badgecore.clipcheck import ClipCheck, check_clip
from gateway.delivery.integrity import BAD_MAC
from gateway.delivery.topics import TopicInfo

if TYPE_CHECKING:
    import sqlite3

    from gateway.delivery.signing import KeyRing

__all__ = ["ClipFiling"]

log = logging.getLogger(__name__)


class ClipFiling:
    out: Path
    db: sqlite3.Connection
    keys: KeyRing | None
    badge_keys: Any
    """firmware.clips.mac.BadgeKeys to check clip seals with (None: seals unchecked here)."""

    # provided by ReceiverStore
    def _bump(self, name: str, by: int = 1) -> None: ...
    def _write(self, path: Path, data: bytes) -> None: ...

    def session_dir(self, info: TopicInfo) -> Path:
        return self.out / info.tenant / info.branch / info.badge / info.session

    def _clip_row(self, info: TopicInfo) -> bool:
        """Make the clip's row; False if the clip id is already filed in another place."""
        self.db.execute(
            "INSERT OR IGNORE INTO clips(tenant, branch, badge, session, clip_id) VALUES(?,?,?,?,?)",
            (info.tenant, info.branch, info.badge, info.session, info.clip_id))
        row = self.db.execute("SELECT tenant, branch, badge, session FROM clips WHERE clip_id=?",
                              (info.clip_id,)).fetchone()
        return tuple(row) == (info.tenant, info.branch, info.badge, info.session)

    def _conflict(self, info: TopicInfo, data: bytes, suffix: str, reason: str) -> None:
        """Keep bytes that contradict what is stored, under a name of their own; report."""
        sha = hashlib.sha256(data).hexdigest()
        name = f"{info.clip_id}.{sha[:16]}{suffix}"
        self._write(self.out / "quarantine" / name, data)
        self._write(self.out / "quarantine" / f"{name}.reason.txt", (reason + "\n").encode())
        topic = f"{info.tenant}/{info.branch}/{info.badge}/{info.session}/{info.kind}/{info.clip_id}"
        self.db.execute("INSERT OR IGNORE INTO conflicts(clip_id, topic, sha256, reason, at) VALUES(?,?,?,?,?)",
                        (info.clip_id, topic, sha, reason, time.time()))
        self._bump("conflicts")
        log.error("clip %s: %s; kept as quarantine/%s, the stored clip is unchanged", info.clip_id, reason, name)

    def _where(self, info: TopicInfo) -> str:
        row = self.db.execute("SELECT tenant, branch, badge, session FROM clips WHERE clip_id=?",
                              (info.clip_id,)).fetchone()
        return "/".join(row)

    def _audio(self, info: TopicInfo, data: bytes) -> None:
        check = check_clip(io.BytesIO(data))
        if check.ok and (check.clip_id, check.badge, check.session) != (info.clip_id, info.badge, info.session):
            self._conflict(info, data, ".wav", f"the WAV holds clip {check.clip_id} of {check.badge}/"
                           f"{check.session}, not {info.clip_id} of {info.badge}/{info.session}: refused")
            return
        if not self._clip_row_or_conflict(info, data, ".wav"):
            return
        self._bump("clips_received")
        if not check.ok:
            self._quarantine(info, data, check.reason)
            return
        seal = self._seal(data)
        if seal.startswith(BAD_MAC):
            if self.db.execute("SELECT audio FROM clips WHERE clip_id=?", (info.clip_id,)).fetchone()[0]:
                self._conflict(info, data, ".wav", f"a copy of {info.clip_id} whose seal does not verify ({seal})")
                return
            self._quarantine(info, data, seal)
            self.db.execute("UPDATE clips SET auth=? WHERE clip_id=?", (BAD_MAC, info.clip_id))
            return
        row = self.db.execute("SELECT audio, sha256, record_sha256, pending FROM clips WHERE clip_id=?",
                              (info.clip_id,)).fetchone()
        audio, sha, record_sha, pending = row
        if audio and sha != check.sha256:
            if not (pending and record_sha == check.sha256):
                self._conflict(info, data, ".wav", f"clip id {info.clip_id} arrived again with sha256 "
                               f"{(check.sha256 or '')[:12]}…, the stored clip's is {sha[:12]}…")
                self._settle(info.clip_id)
                return
            # unverified audio held back is displaced by the audio its signed record names
            old = self._pending_path(info, sha)
            self._conflict(info, old.read_bytes(), ".wav", f"audio held for {info.clip_id} (sha256 {sha[:12]}…) "
                           "is not the audio its signed clip record names; replaced by that audio")
            old.unlink()
        elif audio:
            self._settle(info.clip_id)
            return
        hold = self.keys is not None and record_sha != check.sha256  # not (yet) vouched for by a signed record
        path = self._pending_path(info, check.sha256 or "") if hold else self.session_dir(info) / "clips" / f"{info.clip_id}.wav"
        self._write(path, data)
        self.db.execute(
            "UPDATE clips SET audio=1, seq=?, sha256=?, prev_sha256=?, recovered=?, pending=?, auth=?, error='' "
            "WHERE clip_id=?",
            (check.seq, check.sha256, check.prev_sha256, int(check.recovered), int(hold), seal, info.clip_id))
        self._settle(info.clip_id)

    def _seal(self, data: bytes) -> str:
        """The clip's seal status (firmware.clips.mac) with the badge keys this receiver holds;
        `bad_mac: <reason>` for a seal that does not verify."""
        from firmware.clips import fmt as clipfmt
        from firmware.clips import mac as clipmac

        try:
            sealed = clipmac.verify_wav(io.BytesIO(data), self.badge_keys)
        except clipfmt.ClipFormatError as exc:
            return f"{BAD_MAC}: {exc}"
        return f"{BAD_MAC}: {sealed.reason}" if sealed.status == BAD_MAC else str(sealed.status)

    def _pending_path(self, info: TopicInfo, sha: str) -> Path:
        """Where audio waits for its signed clip record (never inside a session folder)."""
        return self.out / "pending" / f"{info.tenant}.{info.branch}.{info.badge}.{info.session}.{info.clip_id}.{sha[:16]}.wav"

    def _clip_row_or_conflict(self, info: TopicInfo, data: bytes, suffix: str) -> bool:
        if self._clip_row(info):
            return True
        self._conflict(info, data, suffix, f"clip id {info.clip_id} is already filed under {self._where(info)}; "
                       f"this copy came for {info.tenant}/{info.branch}/{info.badge}/{info.session}")
        return False

    def _record(self, info: TopicInfo, record: dict[str, Any], data: bytes) -> None:
        if not self._clip_row_or_conflict(info, data, ".json"):
            return
        sidecar = record.get("sidecar", record)
        if not isinstance(sidecar, dict):
            raise ValueError("the clip record's sidecar is not an object")
        named = record.get("clip_id", sidecar.get("clip_id", info.clip_id))
        if named != info.clip_id:
            self._conflict(info, data, ".json", f"the clip record names clip {named}, not {info.clip_id}")
            return
        sha = str(sidecar.get("sha256", ""))
        row = self.db.execute("SELECT record_sha256 FROM clips WHERE clip_id=?", (info.clip_id,)).fetchone()
        if row[0] and row[0] != sha:
            self._conflict(info, data, ".json", f"clip record for {info.clip_id} arrived again naming sha256 "
                           f"{sha[:12]}…, the stored record names {row[0][:12]}…")
            return
        self._write(self.session_dir(info) / "clips" / f"{info.clip_id}.json", data)
        claimed = record.get("auth", sidecar.get("auth", ""))
        self.db.execute("UPDATE clips SET record_sha256=?, record_auth=? WHERE clip_id=?",
                        (sha, str(claimed or ""), info.clip_id))
        self._settle(info.clip_id)

    def _custody(self, info: TopicInfo, doc: dict[str, Any], data: bytes) -> None:
        if not self._clip_row_or_conflict(info, data, ".custody.json"):
            return
        row = self.db.execute("SELECT record_sha256, sha256 FROM clips WHERE clip_id=?", (info.clip_id,)).fetchone()
        known = row[0] or row[1]
        named = doc.get("sha256")
        if known and named not in (None, known):
            self._conflict(info, data, ".custody.json", f"custody record for {info.clip_id} names sha256 "
                           f"{str(named)[:12]}…, the clip's is {known[:12]}…")
            return
        self._write(self.session_dir(info) / "clips" / f"{info.clip_id}.custody.json", data)
        self.db.execute("UPDATE clips SET custody=1 WHERE clip_id=?", (info.clip_id,))

    def _manifest_sha(self, tenant: str, branch: str, badge: str, session: str, clip_id: str) -> str | None:
        row = self.db.execute("SELECT body FROM docs WHERE topic=?",
                              (f"{tenant}/{branch}/{badge}/{session}/manifest",)).fetchone()
        if not row:
            return None
        for c in json.loads(row[0]).get("clips", []):
            if isinstance(c, dict) and c.get("clip_id") == clip_id:
                return str(c.get("sha256", ""))
        return None

    def _settle(self, clip_id: str) -> None:
        """Verified while the stored audio, its clip record and the newest manifest agree."""
        row = self.db.execute(
            "SELECT tenant, branch, badge, session, audio, sha256, record_sha256, verified, error, pending "
            "FROM clips WHERE clip_id=?", (clip_id,)).fetchone()
        if row is None:
            return
        tenant, branch, badge, session, audio, sha, record_sha, verified, error, pending = row
        if not audio or not record_sha:
            return
        wav = self.out / tenant / branch / badge / session / "clips" / f"{clip_id}.wav"
        if pending and sha == record_sha:  # its signed record arrived: the audio joins its session
            info = TopicInfo(tenant, branch, "audio", badge, session, clip_id)
            self._write(wav, self._pending_path(info, sha).read_bytes())
            self._pending_path(info, sha).unlink()
            self.db.execute("UPDATE clips SET pending=0 WHERE clip_id=?", (clip_id,))
        try:
            with open(wav, "rb") as f:
                on_disk = check_clip(f)
        except OSError as exc:
            on_disk = ClipCheck(status="corrupt", reason=f"stored audio unreadable: {exc.strerror}")
        manifest_sha = self._manifest_sha(tenant, branch, badge, session, clip_id)
        reason = ""
        if pending and sha != record_sha:
            reason = f"audio sha256 {sha[:12]}… is not the one its signed clip record names ({record_sha[:12]}…)"
        elif not on_disk.ok or on_disk.sha256 != sha:
            reason = f"the stored audio no longer verifies ({on_disk.reason or 'its hash changed on disk'})"
        elif sha != record_sha:
            reason = f"audio sha256 {sha[:12]}… differs from the clip record's {record_sha[:12]}…"
        elif manifest_sha is not None and manifest_sha != sha:
            reason = f"audio sha256 {sha[:12]}… differs from the session manifest's {manifest_sha[:12]}…"
        if reason:
            if reason != error:
                log.error("clip %s: %s", clip_id, reason)
            self.db.execute("UPDATE clips SET verified=0, error=? WHERE clip_id=?", (reason, clip_id))
            if verified:
                self._bump("clips_verified", -1)
            return
        if not verified:
            self.db.execute("UPDATE clips SET verified=1, error='' WHERE clip_id=?", (clip_id,))
            self._bump("clips_verified")

    def _quarantine(self, info: TopicInfo, data: bytes, reason: str) -> None:
        log.error("clip %s failed verification: %s", info.clip_id, reason)
        q = self.out / "quarantine"
        name = f"{info.clip_id}.wav"
        if (q / name).exists():  # never overwrite an earlier quarantined copy
            name = f"{info.clip_id}.{hashlib.sha256(data).hexdigest()[:16]}.wav"
        self._write(q / name, data)
        self._write(q / f"{name[:-4]}.reason.txt", (reason + "\n").encode())
        row = self.db.execute("SELECT audio FROM clips WHERE clip_id=?", (info.clip_id,)).fetchone()
        if row and not row[0]:  # a verified clip stays; only a clip without good audio carries the error
            self.db.execute("UPDATE clips SET error=? WHERE clip_id=?", (reason, info.clip_id))
        self._bump("clips_failed")
