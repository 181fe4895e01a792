"""Index of the clips on a badge: closed, synced, acknowledged, quarantined, missing.

An append-only log of fixed 64-byte records, each with a CRC-32 (``index.log``),
compacted by writing ``index.tmp`` and renaming it over the log (atomic on littlefs).
A power cut at any point leaves either the old or the new log; a log that fails its
CRCs is rebuilt from the clip files by the store. The chain tip (last seq, its sha256
and start time) is kept in the log and, as a second copy, in ``tip``, so a badge whose
clips were all acknowledged and deleted still chains its next clip.

Ordering rules the store follows (docs/clip-store.md): a clip's file is complete before
its CLOSE record; an ACK record is durable before the file is removed, and boot finishes
any removal an ACK record asks for; so no clip is ever deleted without an ack.
"""

import binascii
import os
import struct

from firmware import const
from firmware.clips import fmt as clipfmt

__all__ = ["ClipIndex", "IndexCorruptError", "CLOSED", "SYNCED", "ACKED", "QUARANTINED", "MISSING",
           "STATE_NAMES"]

CLOSED = const(1)
SYNCED = const(2)
ACKED = const(3)
QUARANTINED = const(4)
MISSING = const(5)
STATE_NAMES = {CLOSED: "closed", SYNCED: "synced", ACKED: "acked", QUARANTINED: "quarantined",
               MISSING: "missing"}

_R_TIP = const(6)
_R_FLOOR = const(7)
_FMT = "<BBHIIII32sII"  # type, flags, reason, seq, samples, data_len, dropped_ms, sha, epoch, 0
_REC = const(64)
_COMPACT_AT = const(256)  # records in the log before it is compacted


class IndexCorruptError(OSError):
    """The index log is unreadable or fails its checks (the store rebuilds it)."""


class Entry:
    """One clip's index state. ``sha256`` is hex; ``reason`` is a quarantine code."""

    def __init__(self, state, sha256, samples=0, data_len=0, flags=0, dropped_ms=0,
                 start_epoch=0, reason=0):
        self.state = state
        self.sha256 = sha256
        self.samples = samples
        self.data_len = data_len
        self.flags = flags
        self.dropped_ms = dropped_ms
        self.start_epoch = start_epoch
        self.reason = reason


def _pack(rtype, seq, sha=None, samples=0, data_len=0, flags=0, dropped_ms=0, epoch=0,
          reason=0):
    raw = binascii.unhexlify(sha) if sha else b"\x00" * 32
    body = struct.pack(_FMT, rtype, flags, reason, seq, samples, data_len, dropped_ms, raw,
                       epoch, 0)
    return body + struct.pack("<I", binascii.crc32(body) & 0xFFFFFFFF)


def _unpack(rec):
    body = rec[:60]
    (crc,) = struct.unpack("<I", rec[60:64])
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        raise IndexCorruptError("index record CRC mismatch")
    return struct.unpack(_FMT, body)


class ClipIndex:
    """In-memory view of the log: ``entries`` (seq -> Entry), tip, floor."""

    def __init__(self, root):
        self.root = root
        self.path = root + "/index.log"
        self.tip_path = root + "/tip"
        self._f = None
        self.reset()

    def reset(self):
        self.entries = {}
        self.tip_seq = -1  # seq of the newest clip ever closed (-1: none)
        self.tip_sha = clipfmt.ZERO_HASH
        self.tip_epoch = 0
        self.floor = -1  # every seq <= floor was acknowledged and deleted
        self.records = 0

    # ---- loading -------------------------------------------------------------------
    def load(self):
        """Read the log; return False if it is missing, raise IndexCorruptError if corrupt."""
        self.reset()
        try:
            f = open(self.path, "rb")
        except OSError:
            return False
        try:
            while True:
                rec = f.read(_REC)
                if not rec:
                    break
                if len(rec) != _REC:
                    raise IndexCorruptError("index log ends in a torn record")
                self._apply(_unpack(rec))
                self.records += 1
        finally:
            f.close()
        return True

    def load_bytes(self, data):
        """Apply a log read elsewhere (a host reading a flash dump)."""
        self.reset()
        if len(data) % _REC:
            raise IndexCorruptError("index log ends in a torn record")
        for i in range(0, len(data), _REC):
            self._apply(_unpack(data[i:i + _REC]))
            self.records += 1

    def _apply(self, r):
        rtype, flags, reason, seq, samples, dlen, dropped, sha, epoch, _z = r
        hexsha = clipfmt.hexhash(sha)
        e = self.entries.get(seq)
        if rtype == 1:  # CLOSE
            self.entries[seq] = Entry(CLOSED, hexsha, samples, dlen, flags, dropped, epoch)
            self.bump_tip(seq, hexsha, epoch)
        elif rtype in (2, 3, 5):  # SYNCED, ACK, MISSING
            state = {2: SYNCED, 3: ACKED, 5: MISSING}[rtype]
            if e is None:
                e = self.entries[seq] = Entry(state, hexsha)
            elif not (rtype == 2 and e.state in (ACKED, QUARANTINED)):
                e.state = state
        elif rtype == 4:  # QUARANTINE
            if e is None:
                e = self.entries[seq] = Entry(QUARANTINED, hexsha)
            e.state = QUARANTINED
            e.reason = reason
            if seq > self.tip_seq:  # never reuse a quarantined seq; the chain hash stays
                self.tip_seq = seq
        elif rtype == _R_TIP:
            self.bump_tip(seq, hexsha, epoch)
        elif rtype == _R_FLOOR:
            self.floor = max(self.floor, seq)
        else:
            raise IndexCorruptError("unknown index record type {}".format(rtype))

    def bump_tip(self, seq, sha, epoch):
        if seq > self.tip_seq:
            self.tip_seq, self.tip_sha, self.tip_epoch = seq, sha, epoch

    # ---- writing -------------------------------------------------------------------
    def _append(self, raw):
        if self._f is None:
            self._f = open(self.path, "ab")
        self._f.write(raw)
        self._f.flush()
        self.records += 1

    def add(self, rtype, seq, sha=None, samples=0, data_len=0, flags=0, dropped_ms=0, epoch=0,
            reason=0):
        """Append one record durably and apply it (rtype: 1 close, 2 synced, 3 ack,
        4 quarantine, 5 missing)."""
        raw = _pack(rtype, seq, sha, samples, data_len, flags, dropped_ms, epoch, reason)
        self._append(raw)
        self._apply(_unpack(raw))

    def close_handle(self):
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def needs_compaction(self):
        return self.records > _COMPACT_AT

    def compact(self):
        """Rewrite the log as tip + floor + live entries (tmp file, then atomic rename)."""
        while (self.floor + 1) in self.entries and self.entries[self.floor + 1].state == ACKED:
            self.floor += 1
            del self.entries[self.floor]
        tmp = self.root + "/index.tmp"
        out = [_pack(_R_TIP, max(self.tip_seq, 0), self.tip_sha if self.tip_seq >= 0 else None,
                     epoch=self.tip_epoch)]
        if self.tip_seq < 0:
            out = []
        if self.floor >= 0:
            out.append(_pack(_R_FLOOR, self.floor))
        for seq in sorted(self.entries):
            e = self.entries[seq]
            if e.state != QUARANTINED:
                out.append(_pack(1, seq, e.sha256, e.samples, e.data_len, e.flags,
                                 e.dropped_ms, e.start_epoch))
            if e.state != CLOSED:
                rt = {SYNCED: 2, ACKED: 3, QUARANTINED: 4, MISSING: 5}[e.state]
                out.append(_pack(rt, seq, e.sha256, reason=e.reason))
        self.close_handle()
        f = open(tmp, "wb")
        try:
            for raw in out:
                f.write(raw)
        finally:
            f.close()
        os.rename(tmp, self.path)
        self.records = len(out)

    # ---- tip copy ------------------------------------------------------------------
    def write_tip(self):
        tmp = self.tip_path + ".tmp"
        f = open(tmp, "wb")
        try:
            f.write(_pack(_R_TIP, self.tip_seq, self.tip_sha, epoch=self.tip_epoch))
        finally:
            f.close()
        os.rename(tmp, self.tip_path)

    def read_tip(self):
        """Fold the ``tip`` file into the tip (used when the log was rebuilt)."""
        try:
            f = open(self.tip_path, "rb")
        except OSError:
            return False
        try:
            r = _unpack(f.read(_REC))
        except (IndexCorruptError, ValueError, struct.error):
            return False
        finally:
            f.close()
        if r[0] == _R_TIP:
            self.bump_tip(r[3], clipfmt.hexhash(r[7]), r[8])
            return True
        return False
