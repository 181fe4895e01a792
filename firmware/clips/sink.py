"""FolderSink: the recorder's clip sink that writes finished WAV + JSON sidecar files.

The sink contract (docs/contracts.md, "Recording -> store"):

- ``open_clip(meta)``: start a clip; ``meta`` holds badge, session, seq, start_epoch,
  start_ms, session_offset_samples, offset_samples, sample_rate (optional:
  prev_sha256, clock_flags);
- ``write_block(block)``: append one 256-byte IMA ADPCM block;
- ``close_clip(samples)``: finish; returns the sidecar dict (incl. sha256).

FolderSink writes ``DIR/<clip id>.wav`` (the exported WAV of firmware.clips.fmt) and
``DIR/<clip id>.json``, each first under a ``.partial`` name and renamed when complete,
and chains ``prev_sha256`` from one clip to the next (first clip: 64 zeros unless the
caller seeds it). Given a ``clip_key`` it writes version 2 clips, sealed at close
(firmware.clips.mac); without one, version 1. ``firmware.clips.store.ClipStore`` is the
badge's on-flash sink with the same interface. Runs on MicroPython and CPython alike.
"""

import hashlib
import json
import os

from firmware.clips import fmt as clipfmt

__all__ = ["FolderSink", "SinkError", "write_json", "makedirs"]


class SinkError(OSError):
    """The sink was used out of order or could not write."""


def _sync(f):
    f.flush()
    try:
        os.fsync(f.fileno())
    except (AttributeError, OSError):
        pass  # MicroPython files have no fileno; flush() reaches the vfs


def makedirs(path):
    """``os.makedirs(path, exist_ok=True)`` that also works on MicroPython."""
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if (not cur or cur.endswith("/")) else cur + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            try:
                os.stat(cur)
            except OSError:
                raise SinkError("cannot create folder " + cur)


def write_json(path, obj):
    """Write ``obj`` as JSON to ``path`` atomically (``.partial`` + rename)."""
    text = json.dumps(obj)
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        f.write(text)
        f.write("\n")
        _sync(f)
    try:
        os.remove(path)
    except OSError:
        pass
    os.rename(tmp, path)


class _Open:
    """The clip being written: file, header, running hash, block count."""

    def __init__(self, f, hdr, tmp):
        self.f = f
        self.hdr = hdr
        self.tmp = tmp
        self.hash = hashlib.sha256(hdr.raw)
        self.blocks = 0


class FolderSink:
    """Write each clip as ``<dir>/<clip id>.wav`` + ``.json``; chain the hashes."""

    def __init__(self, folder, prev_sha256=None, clip_key=None):
        self.folder = folder.rstrip("/") or "/"
        self.sealer = None
        if clip_key is not None:
            from firmware.clips import mac as clipmac

            self.sealer = clipmac.Sealer(clip_key)
        self.prev_sha256 = prev_sha256 or clipfmt.ZERO_HASH
        self.last = None  # sidecar dict of the last closed clip
        self._cur = None
        makedirs(self.folder)

    def _path(self, cid, ext):
        return self.folder + "/" + cid + ext

    @property
    def is_open(self):
        return self._cur is not None

    def open_clip(self, meta):
        if self._cur is not None:
            raise SinkError("open_clip while clip {} is open".format(self._cur.hdr.clip_id))
        ver = clipfmt.VERSION_SEALED if self.sealer is not None else clipfmt.VERSION
        hdr = clipfmt.Header.from_meta(meta, self.prev_sha256, ver)
        clipfmt.pack_header(hdr)
        tmp = self._path(hdr.clip_id, ".wav.partial")
        f = open(tmp, "wb")
        # placeholder prefix of the final size; rewritten with the real trailer at close
        f.write(b"\x00" * clipfmt.wav_prefix_size(hdr.sealed))
        self._cur = _Open(f, hdr, tmp)

    def write_block(self, block):
        cur = self._cur
        if cur is None:
            raise SinkError("write_block without an open clip")
        if len(block) != clipfmt.BLOCK_ALIGN:
            raise SinkError("ADPCM blocks are {} bytes, got {}".format(clipfmt.BLOCK_ALIGN, len(block)))
        cur.f.write(block)
        cur.hash.update(block)
        cur.blocks += 1

    def close_clip(self, samples=None, dropped_ms=0, flags=0):
        """Finish the open clip; return its sidecar dict (also written as ``.json``)."""
        cur = self._cur
        if cur is None:
            raise SinkError("close_clip without an open clip")
        data_len = cur.blocks * clipfmt.BLOCK_ALIGN
        if samples is None:
            samples = cur.blocks * clipfmt.SAMPLES_PER_BLOCK
        sha = clipfmt.hexhash(cur.hash.digest())
        hdr = cur.hdr
        if hdr.sealed:
            flags |= clipfmt.FLAG_SEALED
        trl = clipfmt.Trailer(samples, sha, data_len, flags, dropped_ms)
        try:
            traw = clipfmt.pack_trailer(trl)
        except clipfmt.ClipFormatError:
            self.abort_clip()
            raise
        sealer = self.sealer
        seal = sealer.seal(hdr.raw, traw) if sealer is not None and hdr.sealed else None
        cur.f.seek(0)
        cur.f.write(clipfmt.wav_prefix(hdr.raw, traw, data_len, samples, hdr.sample_rate, seal))
        _sync(cur.f)
        cur.f.close()
        self._cur = None
        wav = self._path(hdr.clip_id, ".wav")
        try:
            os.remove(wav)
        except OSError:
            pass
        os.rename(cur.tmp, wav)
        side = clipfmt.sidecar(hdr, trl)
        write_json(self._path(hdr.clip_id, ".json"), side)
        self.prev_sha256 = sha
        self.last = side
        return side

    def abort_clip(self):
        """Drop the open clip (its ``.partial`` file is removed); the chain is unchanged."""
        cur, self._cur = self._cur, None
        if cur is None:
            return
        try:
            cur.f.close()
        finally:
            try:
                os.remove(cur.tmp)
            except OSError:
                pass
