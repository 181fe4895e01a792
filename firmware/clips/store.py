"""ClipStore: the badge's clip store on a vfs (littlefs2 on flash, or an SD card).

It is a clip sink (``open_clip`` / ``write_block`` / ``close_clip``, as FolderSink) and
the store the sync server serves from (``list_clips``, ``read``, ``ack``, ``status``,
``set_key``). Layout under ``root``: ``clips/<clip id>.bkc`` (firmware.clips.file),
``q/`` (quarantined files + a ``.json`` reason each), ``index.log`` + ``tip``
(firmware.clips.index). Boot (the constructor) finishes interrupted acks, recovers clips a
power cut left open, quarantines corrupt ones and rebuilds a lost or corrupt index
(firmware.clips.boot). Nothing is deleted except after an ack. Details: docs/clip-store.md.
"""

import hashlib
import os

from firmware import aesctr, const
from firmware.clips import boot as clipboot, file as clipfile, fmt as clipfmt
from firmware.clips.index import (ACKED, CLOSED, MISSING, QUARANTINED, STATE_NAMES, SYNCED,
                                   ClipIndex)

__all__ = ["ClipStore", "StoreError", "StoreFullError", "StoreReadOnlyError", "StoreIOError",
           "StoreBusyError", "ClipNotFoundError", "AckMismatchError"]

_EPOCH_2020 = 1577836800
_ENOSPC = const(28)
_EROFS = const(30)


class StoreError(OSError):
    """Base of the clip store's errors."""


class StoreFullError(StoreError):
    """No room for audio: the store refuses to record (it never overwrites a clip)."""


class StoreReadOnlyError(StoreError):
    """The filesystem is read-only: clips can be listed and read, not written or acked."""


class StoreIOError(StoreError):
    """The flash or card failed a write; recording stopped, synced audio is safe."""


class StoreBusyError(StoreError):
    """A clip is open (or none is, for write_block/close_clip)."""


class ClipNotFoundError(StoreError):
    """No clip of that id is held (never recorded, or acknowledged and deleted)."""

    def __init__(self, clip_id):
        super().__init__("no clip " + str(clip_id))
        self.clip_id = clip_id


class AckMismatchError(StoreError):
    """The companion acknowledged a hash the badge did not store: nothing is deleted."""


def _bytes_per_s(rate):
    return (rate * clipfmt.BLOCK_ALIGN) // clipfmt.SAMPLES_PER_BLOCK + 1


def _seq_of(clip_id):
    try:
        return int(clip_id[clip_id.rfind("-") + 1:])
    except ValueError:
        raise ClipNotFoundError(clip_id)


class ClipStore:
    """Clip store rooted at ``root`` (a folder on a mounted vfs).

    ``key``: the badge's key-encryption key (16/32 bytes: the enrolled key, or the device
    key an unenrolled badge generated at first boot, firmware.clips.keys). ``old_keys``:
    keys whose files are still being re-wrapped. ``flush_ms``: the most audio a power cut
    may lose. ``warn_pct``: used-space warning. ``reserve_bytes``: free space kept for
    trailers, index and littlefs (recording stops cleanly below it). ``start_s``: audio
    room (seconds) a new clip needs above the reserve, or recording is refused.
    ``clip_key``: the badge's clip key (firmware.clips.mac.clip_key_of its enrollment
    secret): clips are then version 2, sealed at close; None (unenrolled): version 1.
    """

    def __init__(self, root, key, old_keys=(), flush_ms=500, warn_pct=80, reserve_bytes=None,
                 badge=None, scrub=False, start_s=10, clip_key=None):
        self.root = root.rstrip("/")
        self.cdir = self.root + "/clips"
        self.qdir = self.root + "/q"
        self.kek = bytes(key)
        self.keys = {aesctr.key_id(self.kek): self.kek}
        for k in old_keys:
            self.keys[aesctr.key_id(k)] = bytes(k)
        self.flush_ms = flush_ms
        self.warn_pct = warn_pct
        self.start_s = start_s
        self.badge = badge
        self.index = ClipIndex(self.root)
        self.names = {}  # seq -> file name (in clips/ or q/)
        self.events = []  # this boot: recoveries, quarantines, repairs (dicts)
        self.pending = []  # clip ids that could not be recovered yet (read-only, no space)
        self.locked = []  # clip ids under a key this badge no longer has
        self.readonly = False
        self.full = False
        self.fault = None
        self.clock_warning = None
        self._w = None
        self._reader = None
        self.sealer = None
        if clip_key is not None:
            self.set_clip_key(clip_key)  # before boot: recovery seals the clips it closes
        clipboot.boot(self)
        self.bsize = self._statvfs()[0]
        self.reserve = reserve_bytes if reserve_bytes is not None else max(16 * self.bsize, 65536)
        if old_keys and not self.readonly:  # an enrollment was cut short: finish re-wrapping
            self.set_key(self.kek)
        if scrub:
            self.scrub()

    def _statvfs(self):
        try:
            st = os.statvfs(self.root)
        except OSError:  # no store folder (read-only, never booted): its parent
            st = os.statvfs(self.root[:self.root.rfind("/")] or "/")
        return st[0], st[0] * st[2], st[0] * st[3]

    def event(self, kind, clip_id=None, **fields):
        fields["event"], fields["clip_id"] = kind, clip_id
        self.events.append(fields)
        return fields

    def clip_id(self, seq):
        name = self.names.get(seq)
        if name:
            return name[:-4]
        return clipfmt.clip_id(self.badge or "badge", seq)

    def _path(self, seq):
        e = self.index.entries.get(seq)
        name = self.names.get(seq)
        if e is None or name is None:
            raise ClipNotFoundError(self.clip_id(seq))
        return (self.qdir if e.state == QUARANTINED else self.cdir) + "/" + name

    def _oserror(self, exc):
        """Classify a write failure: full, read-only or a flash fault."""
        code = exc.args[0] if exc.args else 0
        if code == _ENOSPC:
            self.full = True
            return StoreFullError("store full: recording stopped")
        if code == _EROFS:
            self.readonly = True
            return StoreReadOnlyError("filesystem is read-only")
        self.fault = "flash write error: " + str(exc)
        return StoreIOError(self.fault)

    def _writable(self):
        if self.readonly:
            raise StoreReadOnlyError("filesystem is read-only")
        if self.fault:
            raise StoreIOError(self.fault + " (reboot to recover)")

    # ---- sink ----------------------------------------------------------------------
    def next_seq(self):
        return self.index.tip_seq + 1

    def continue_chain(self, prev_seq, prev_sha256):
        """Importers/simulators: the next clip follows ``prev_seq`` with that hash (only
        forward; persisted with the next clip's CLOSE record)."""
        idx = self.index
        if self._w is not None or prev_seq < idx.tip_seq or (
                prev_seq == idx.tip_seq >= 0 and prev_sha256 != idx.tip_sha):
            raise StoreBusyError("the chain only moves forward, between clips")
        self.index.tip_seq = prev_seq
        self.index.tip_sha = prev_sha256

    @property
    def recording(self):
        return self._w is not None

    def open_clip(self, meta):
        """Start a clip. The store assigns seq and prev_sha256 (it owns the chain)."""
        if self._w is not None:
            raise StoreBusyError("a clip is already open")
        self._writable()
        _bs, _total, free = self._statvfs()
        if free < self.reserve + self.start_s * _bytes_per_s(meta.get("sample_rate", 16000)):
            self.full = True
            raise StoreFullError("store full: {} bytes free; sync the badge".format(free))
        meta = dict(meta)
        meta["seq"] = self.next_seq()
        meta["prev_sha256"] = self.index.tip_sha
        flags = meta.get("clock_flags", 0)
        epoch = meta.get("start_epoch", 0)
        if epoch < _EPOCH_2020:
            flags |= clipfmt.HFLAG_CLOCK_UNSET
        elif epoch < self.index.tip_epoch:
            flags |= clipfmt.HFLAG_CLOCK_BACKWARDS
            self.clock_warning = "clock went backwards: {} < {}".format(epoch, self.index.tip_epoch)
        meta["clock_flags"] = flags
        ver = clipfmt.VERSION_SEALED if self.sealer is not None else clipfmt.VERSION
        hdr = clipfmt.Header.from_meta(meta, None, ver)
        raw = clipfmt.pack_header(hdr)
        self.badge = hdr.badge
        name = hdr.clip_id + ".bkc"
        try:
            w = clipfile.Writer(self.cdir + "/" + name, self.kek, raw)
        except OSError as e:
            raise self._oserror(e)
        self.names[hdr.seq] = name
        w.hdr = hdr
        w.sha = hashlib.sha256(raw)
        w.blocks = 0
        rate = hdr.sample_rate
        w.flush_every = max(1, (rate * self.flush_ms) // (clipfmt.SAMPLES_PER_BLOCK * 1000))
        w.check_every = max(w.flush_every, self.reserve // (4 * clipfmt.BLOCK_ALIGN))
        self._w = w

    def write_block(self, block):
        w = self._w
        if w is None:
            raise StoreBusyError("write_block without an open clip")
        if len(block) != clipfmt.BLOCK_ALIGN:
            raise ValueError("ADPCM blocks are 256 bytes")
        try:
            w.write(block)
            w.sha.update(block)
            w.blocks += 1
            if w.blocks % w.flush_every == 0:
                w.sync()
        except OSError as e:
            err = self._oserror(e)
            self._abandon()
            raise err
        if w.blocks % w.check_every == 0 and self._statvfs()[2] < self.reserve:
            self.full = True
            self.close_clip()
            raise StoreFullError("store full: clip closed, recording stopped")

    def close_clip(self, samples=None, dropped_ms=0, flags=0):
        """Finish the open clip; return its sidecar dict."""
        w = self._w
        if w is None:
            raise StoreBusyError("close_clip without an open clip")
        dlen = w.blocks * clipfmt.BLOCK_ALIGN
        if samples is None:
            samples = w.blocks * clipfmt.SAMPLES_PER_BLOCK
        samples = min(samples, w.blocks * clipfmt.SAMPLES_PER_BLOCK)
        hdr = w.hdr
        t = clipfmt.Trailer(samples, clipfmt.hexhash(w.sha.digest()), dlen, flags, dropped_ms)
        traw = clipfile.close_tail(hdr, t, self.sealer)  # the trailer, sealed if version 2
        try:
            w.finish(traw)
            self._w = None
            self.index.add(1, hdr.seq, t.sha256, samples, dlen, t.flags, dropped_ms,
                           hdr.start_epoch)
            self.index.write_tip()
            if self.index.needs_compaction():
                self.index.compact()
        except OSError as e:
            err = self._oserror(e)
            self._abandon()
            raise err
        return clipfmt.sidecar(hdr, t)

    def _abandon(self):
        """After a write error: close the handle; try to close the clip as recovered."""
        w, self._w = self._w, None
        if w is None:
            return
        w.abandon()
        if not self.readonly:
            clipboot.recover_one(self, w.hdr.seq, self.names[w.hdr.seq])

    # ---- store API for the sync server ---------------------------------------------
    def list_clips(self):
        """Yield one dict per clip held: clip_id, seq, size (WAV bytes), sha256, state,
        samples, recovered. state: closed | synced | quarantined | missing."""
        for seq in sorted(self.index.entries):
            e = self.index.entries[seq]
            if e.state == ACKED:
                continue
            size = 0
            if e.state in (CLOSED, SYNCED):
                size = clipfmt.wav_prefix_size(e.flags & clipfmt.FLAG_SEALED) + e.data_len
            elif e.state == QUARANTINED:
                size = clipboot.quarantine_read(self, seq)
            yield {"clip_id": self.clip_id(seq), "seq": seq, "size": size, "sha256": e.sha256,
                   "state": STATE_NAMES[e.state], "samples": e.samples,
                   "recovered": bool(e.flags & clipfmt.FLAG_RECOVERED)}

    def _open_reader(self, seq):
        if self._reader is not None and self._reader[0] == seq:
            return self._reader
        self._drop_reader()
        e = self.index.entries.get(seq)
        if e is None or e.state not in (CLOSED, SYNCED, QUARANTINED):
            raise ClipNotFoundError(self.clip_id(seq))
        path = self._path(seq)
        if e.state == QUARANTINED:
            self._reader = (seq, None, path)
            return self._reader
        r = clipfile.Reader(path, self.keys)
        hdr = clipfmt.unpack_header(r.read(0, clipfmt.HEADER_SIZE))
        traw = r.read(clipfmt.HEADER_SIZE + e.data_len, clipfmt.TRAILER_SIZE)
        t = clipfmt.unpack_trailer(traw)
        if hdr.sealed:
            t.seal = r.read(clipfmt.HEADER_SIZE + e.data_len + clipfmt.TRAILER_SIZE,
                            clipfmt.SEAL_SIZE)
        prefix = clipfmt.wav_prefix(hdr.raw, traw, t.data_len, t.samples, hdr.sample_rate,
                                    t.seal)
        r.hdr, r.trailer = hdr, t
        self._reader = (seq, r, prefix)
        return self._reader

    def _drop_reader(self):
        r, self._reader = self._reader, None
        if r is not None and r[1] is not None:
            r[1].close()

    def info(self, clip_id):
        """Sidecar dict of a closed clip."""
        _seq, r, _p = self._open_reader(_seq_of(clip_id))
        if r is None:
            raise ClipNotFoundError(clip_id)
        return clipfmt.sidecar(r.hdr, r.trailer)

    def read(self, clip_id, offset, length):
        """Bytes ``[offset, offset+length)`` of the clip's exported WAV (plaintext);
        ``b""`` at the end. A quarantined clip reads as its decrypted clip stream as found
        (header, blocks, trailer; raw file bytes if even its file header is broken)."""
        seq, r, prefix = self._open_reader(_seq_of(clip_id))
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        if r is None:
            return clipboot.quarantine_read(self, seq, offset, length)
        size = len(prefix) + r.trailer.data_len
        end = min(size, offset + length)
        out = b""
        if offset < len(prefix):
            out = prefix[offset:min(end, len(prefix))]
            offset = len(prefix)
        if offset < end:
            out += r.read(clipfmt.HEADER_SIZE + offset - len(prefix), end - offset)
        return out

    def mark_synced(self, clip_id):
        seq = _seq_of(clip_id)
        e = self.index.entries.get(seq)
        if e is None or e.state not in (CLOSED, SYNCED):
            raise ClipNotFoundError(clip_id)
        if e.state == CLOSED and not self.readonly:
            self.index.add(2, seq, e.sha256)

    def ack(self, clip_id, sha256=None):
        """The companion holds the clip durably: record the ack, then delete the file.

        ``sha256`` (recommended) must equal the stored hash. Returns True if deleted now,
        False if it was already acknowledged."""
        seq = _seq_of(clip_id)
        e = self.index.entries.get(seq)
        if e is None:
            raise ClipNotFoundError(clip_id)
        if e.state == ACKED:
            return False
        if sha256 is not None and sha256 != e.sha256:
            raise AckMismatchError("ack hash differs from the stored hash of " + clip_id)
        self._writable()
        path = self._path(seq) if e.state != MISSING else None
        self._drop_reader()
        try:
            self.index.add(3, seq, e.sha256)
            if path:
                clipboot.delete_files(self, seq, path)
            if self.index.needs_compaction():
                self.index.compact()
        except OSError as exc:
            raise self._oserror(exc)
        self.full = False
        return True

    def verify(self, clip_id):
        """Re-hash a closed clip; quarantine it if it does not match. True if intact."""
        return clipboot.verify_one(self, _seq_of(clip_id))

    def scrub(self):
        """Verify every closed clip; return the ids quarantined."""
        return clipboot.scrub(self)

    def set_key(self, new_key):
        """Enrollment: re-wrap every clip's data key under ``new_key``; new clips use it.

        The caller persists ``new_key`` first (firmware.clips.keys) and forgets the old
        key after this returns. Returns the number of files re-wrapped."""
        if self._w is not None:
            raise StoreBusyError("cannot change the key while recording")
        self._writable()
        self._drop_reader()
        try:
            return clipboot.rewrap_all(self, bytes(new_key))
        except OSError as e:
            raise self._oserror(e)

    def set_clip_key(self, clip_key):
        """Enrollment: clips opened from now on are sealed with ``clip_key`` (version 2).
        The key is kept in RAM only; the badge derives it from its secret at boot."""
        if self._w is not None:
            raise StoreBusyError("cannot change the clip key while recording")
        from firmware.clips import mac as clipmac

        self.sealer = clipmac.Sealer(clip_key)

    def status(self):
        return clipboot.status(self)
