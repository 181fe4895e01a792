"""The spool: where synced clips land for the gateway, with proof of custody.

Layout (docs/contracts.md, "Spool")::

    <spool>/<badge>/<session>/<clip id>.wav            the clip as exported by the badge
    <spool>/<badge>/<session>/<clip id>.json           sidecar (firmware.clips.fmt.sidecar)
    <spool>/<badge>/<session>/<clip id>.custody.json   custody record, written last
    <spool>/<badge>/.incoming/<clip id>.wav.partial    a clip being received (+ .offset)
    <spool>/<badge>/.ledger.jsonl                      every clip ever committed (seq, sha)
    <spool>/<badge>/.rejected/                         clips that failed verification

A clip is received into ``.incoming`` and fsynced; ``.offset`` records the durable
length, so a dropped link resumes there. When complete it is verified with
firmware.clips.fmt (SHA-256 over header and audio, the trailer, the badge's listed hash,
and the chain link to the previous clip of the badge) and its seal with
firmware.clips.mac (format version 2: the badge's MAC over header, trailer, audio hash and
chain link, under the clip key derived from the badge's enrollment secret; a seal that
fails or a key this branch does not hold is rejected, so the clip stays on the badge; a
version 1 clip is taken and marked ``auth: unauthenticated``), then sidecar, WAV and custody
record are renamed into place in that order, the ledger gets a line, and only then may
the badge be acknowledged. Re-running after any crash never duplicates a clip.
Every file is created 0600 and every folder 0700 (customer speech; docs/spool.md).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from badgecore.atomicfile import fsync_dir, write_atomic
from badgecore.privatefs import FILE_MODE, private_dir
from badgecore.spoollayout import (
    CUSTODY,
    LEDGER,
    REJECTED,
    WAV,
    SpoolNameError,
    check_name,
    clip_file,
    incoming_file,
    name_error,
    offset_file,
)
from companion.errors import SpoolError, VerifyError

__all__ = ["Spool", "Incoming", "Committed", "FSYNC_EVERY_BYTES"]

FSYNC_EVERY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Committed:
    """A clip that is durably in the spool with its custody record."""

    clip_id: str
    seq: int
    session: str
    sha256: str
    wav: Path
    chain: str


class Incoming:
    """A clip being received: append bytes at the durable offset, fsync now and then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_path = offset_file(path)
        durable = 0
        try:
            durable = int(self.offset_path.read_text())
        except (OSError, ValueError):
            durable = 0
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        self.offset = min(durable, size)
        self._f = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE), "r+b")
        os.fchmod(self._f.fileno(), FILE_MODE)
        self._f.truncate(self.offset)
        self._f.seek(self.offset)
        self._unsynced = 0

    def write(self, offset: int, data: bytes) -> None:
        if offset != self.offset:
            raise SpoolError(f"{self.path.name}: data at {offset}, expected {self.offset}")
        try:
            self._f.write(data)
        except OSError as exc:
            raise SpoolError(f"cannot write {self.path}: {exc.strerror}") from None
        self.offset += len(data)
        self._unsynced += len(data)
        if self._unsynced >= FSYNC_EVERY_BYTES:
            self.sync()

    def sync(self) -> None:
        """Make everything written so far durable and record that offset."""
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            write_atomic(self.offset_path, str(self.offset))
        except OSError as exc:
            raise SpoolError(f"cannot write {self.path}: {exc.strerror}") from None
        self._unsynced = 0

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()

    def discard(self) -> None:
        if not self._f.closed:
            self._f.close()
        for p in (self.path, self.offset_path):
            p.unlink(missing_ok=True)


class Spool:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def badge_dir(self, badge: str) -> Path:
        """The badge's folder; a badge name that is not a plain folder name is refused."""
        try:
            return self.root / check_name(badge, "badge")
        except SpoolNameError as exc:
            raise SpoolError(f"{exc}; nothing was written to the spool") from None

    # ---- ledger -------------------------------------------------------------------
    def ledger(self, badge: str) -> dict[int, dict[str, Any]]:
        """seq -> committed entry for every clip of ``badge`` this spool ever took."""
        out: dict[int, dict[str, Any]] = {}
        p = self.badge_dir(badge) / LEDGER
        try:
            lines = p.read_text().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                e = json.loads(line)
                out[int(e["seq"])] = e
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a crash; the clip is re-checked below
        return out

    def _append_ledger(self, badge: str, entry: dict[str, Any]) -> None:
        p = self.badge_dir(badge) / LEDGER
        with os.fdopen(os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # ---- receiving ----------------------------------------------------------------
    def incoming(self, badge: str, clip_id: str) -> Incoming:
        """The clip's partial file; a clip id that is not a plain file name: VerifyError."""
        self.badge_dir(badge)  # a badge name that is not a folder name: SpoolError
        try:
            path = incoming_file(self.root, badge, clip_id)
        except SpoolNameError as exc:
            raise VerifyError(clip_id, str(exc)) from None
        try:
            private_dir(path.parent, root=self.root)
            return Incoming(path)
        except OSError as exc:
            raise SpoolError(f"cannot write to spool {self.root}: {exc.strerror}") from None

    def commit(self, badge: str, inc: Incoming, *, clip_id: str, seq: int, expect_sha256: str,
               custody: dict[str, Any], cases: dict[str, str] | None = None,
               clip_keys: Sequence[bytes] = ()) -> Committed:
        """Verify a complete incoming clip and move it into place with its custody record.

        ``cases`` maps a session to the case id the agent set on the badge for it; the
        clip's sidecar and custody record then carry ``case_id`` (the audio and its hashes
        are untouched: the case id is not part of the clip). ``clip_keys``: the badge's
        clip keys (firmware.clips.mac.clip_key_of its secrets) to check the seal with; the
        seal status goes into sidecar and custody record as ``auth``.

        Raises VerifyError (the partial file is moved to ``.rejected``) or SpoolError."""
        from firmware.clips import fmt as clipfmt
        from firmware.clips import mac as clipmac

        inc.close()
        ledger = self.ledger(badge)
        had = ledger.get(seq)
        if had is not None and had.get("sha256") != expect_sha256:
            reason = (f"a different clip with seq {seq} is already in the spool (hash "
                      f"{str(had.get('sha256'))[:12]}…); the badge reused a sequence number")
            self._reject(badge, inc, clip_id, reason)
            raise VerifyError(clip_id, reason)
        prev = ledger.get(seq - 1)
        want_prev = prev["sha256"] if prev is not None else None
        try:
            with open(inc.path, "rb") as f:
                sealed = clipmac.verify_wav(f, list(clip_keys), prev_sha256=want_prev,
                                            expect_sha256=expect_sha256)
        except clipfmt.ClipFormatError as exc:
            self._reject(badge, inc, clip_id, str(exc))
            raise VerifyError(clip_id, str(exc)) from None
        info = sealed.info
        if sealed.status in (clipmac.BAD_MAC, clipmac.NO_KEY):  # never acknowledged
            reason = f"{sealed.status}: {sealed.reason}"
            self._reject(badge, inc, clip_id, reason)
            raise VerifyError(clip_id, reason)
        h = info.header
        if sealed.status == clipmac.UNAUTHENTICATED and (h.version > clipfmt.VERSION or any(
                e.get("format_version", 1) > 1 for q, e in ledger.items() if q < seq)):
            # a badge seals every version 2 clip it closes and, once enrolled, never goes
            # back to version 1: an empty seal or a late version 1 clip had its seal removed
            reason = ("bad_mac: an unsealed clip from a badge that seals its clips: its seal "
                      "was removed")
            self._reject(badge, inc, clip_id, reason)
            raise VerifyError(clip_id, reason)
        if prev is not None:
            chain = "linked"  # the previous clip is in this spool and the link matches
        elif h.prev_sha256 == clipfmt.ZERO_HASH:
            chain = "first"  # the badge's first clip
        else:
            chain = "gap"  # the previous clip never reached this spool (see the badge's list)
        if h.clip_id != clip_id or h.badge != badge:
            reason = f"the data names clip {h.clip_id} of badge {h.badge}"
            self._reject(badge, inc, clip_id, reason)
            raise VerifyError(clip_id, reason)
        unsafe = name_error(h.session, "session")
        if unsafe is not None:  # e.g. "../../x" from a hostile badge: would land outside the spool
            reason = f"{unsafe}: not a spool folder name"
            self._reject(badge, inc, clip_id, reason)
            raise VerifyError(clip_id, reason)
        import hashlib

        wav_sha = hashlib.sha256(inc.path.read_bytes()).hexdigest()
        sdir = self.badge_dir(badge) / h.session
        wav = clip_file(sdir, clip_id, WAV)
        record = {
            "clip_id": clip_id, "badge": badge, "session": h.session, "seq": seq,
            "sha256": info.sha256, "prev_sha256": h.prev_sha256, "chain": chain,
            "wav_sha256": wav_sha, "bytes": inc.path.stat().st_size, "auth": sealed.status,
            "format_version": h.version,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "received_epoch": time.time(), "host": socket.gethostname(),
            **custody,
        }
        side = info.sidecar()
        side["auth"] = sealed.status
        if sealed.key_id:
            side["clip_key_id"] = record["clip_key_id"] = sealed.key_id
        case_id = (cases or {}).get(h.session)
        if case_id:
            side["case_id"] = record["case_id"] = case_id
            record["case_source"] = "badge"
        try:
            private_dir(sdir, root=self.root)
            write_atomic(sdir / f"{clip_id}.json", json.dumps(side, indent=2, sort_keys=True))
            os.replace(inc.path, wav)
            fsync_dir(sdir)
            write_atomic(sdir / f"{clip_id}.custody.json", json.dumps(record, indent=2, sort_keys=True))
            fsync_dir(sdir)
            self._append_ledger(badge, {"seq": seq, "clip_id": clip_id, "sha256": info.sha256,
                                        "session": h.session, "format_version": h.version})
            inc.offset_path.unlink(missing_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot write to spool {self.root}: {exc.strerror}; nothing was "
                             "acknowledged") from None
        return Committed(clip_id, seq, h.session, info.sha256, wav, chain)

    def _reject(self, badge: str, inc: Incoming, clip_id: str, reason: str) -> None:
        d = self.badge_dir(badge) / REJECTED
        private_dir(d, root=self.root)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        n = 1
        while (d / f"{clip_id}.{stamp}.wav").exists():  # a second rejection in the same second: keep both
            n += 1
            stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{n}"
        os.replace(inc.path, d / f"{clip_id}.{stamp}.wav")
        write_atomic(d / f"{clip_id}.{stamp}.reason.json",
                      json.dumps({"clip_id": clip_id, "reason": reason}))
        inc.offset_path.unlink(missing_ok=True)

    def committed(self, badge: str, seq: int, sha256: str) -> bool:
        """True if this exact clip is already durably in the spool (then just ack it)."""
        e = self.ledger(badge).get(seq)
        return e is not None and e.get("sha256") == sha256

    def clips(self, badge: str | None = None) -> Iterator[Path]:
        """Every committed clip WAV (those with a custody record)."""
        pattern = f"{badge}/*/*{CUSTODY}" if badge else f"*/*/*{CUSTODY}"
        for p in sorted(self.root.glob(pattern)):
            yield p.with_name(p.name.replace(CUSTODY, WAV))
