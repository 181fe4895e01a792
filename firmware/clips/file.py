"""One clip file on the badge's flash: encrypted, append-only, recoverable.

Layout (docs/clip-format.md, "On the badge"): a 48-byte plaintext file header (magic
``BKCF``, key id, CTR nonce, wrapped data key, CRC-32), then the clip stream
``clip header || ADPCM blocks || trailer [|| seal]`` (firmware.clips.fmt; the seal of a
version 2 clip, firmware.clips.mac) encrypted with AES-CTR at
its stream offset. Only whole blocks are ever written, and the file is synced every few
blocks, so after a power cut the file ends at a block boundary (littlefs commits are
atomic); ``recover`` still copes with any tail.
"""

import binascii
import hashlib
import os
import struct

from firmware import aesctr, const
from firmware.clips import fmt as clipfmt

__all__ = ["ClipFileError", "FILE_HDR_SIZE", "Writer", "Reader", "inspect", "recover",
           "Inspected", "rewrap", "decode", "close_tail"]

FILE_HDR_SIZE = const(48)
_FMT = "<4sBBH8s8s16sI"  # 44 bytes, then CRC-32 of them
_MAGIC = b"BKCF"
_ALG_AES128_CTR = const(1)
_H = clipfmt.HEADER_SIZE
_T = clipfmt.TRAILER_SIZE
_B = clipfmt.BLOCK_ALIGN


class ClipFileError(OSError):
    """A clip file that cannot be read: bad file header, unknown key, short read."""


def _file_header(kid, nonce, wrapped):
    body = struct.pack(_FMT, _MAGIC, 1, _ALG_AES128_CTR, 0, kid, nonce, wrapped, 0)
    return body + struct.pack("<I", binascii.crc32(body) & 0xFFFFFFFF)


def _parse_file_header(raw):
    if len(raw) < FILE_HDR_SIZE:
        raise ClipFileError("clip file header truncated")
    body = bytes(raw[:44])
    (crc,) = struct.unpack("<I", raw[44:48])
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        raise ClipFileError("clip file header CRC mismatch")
    magic, ver, alg, _r, kid, nonce, wrapped, _r2 = struct.unpack(_FMT, body)
    if magic != _MAGIC or ver != 1 or alg != _ALG_AES128_CTR:
        raise ClipFileError("not a badgekit clip file")
    return kid, nonce, wrapped


def _cipher(keys, kid, nonce, wrapped):
    kek = keys.get(bytes(kid))
    if kek is None:
        raise ClipFileError("clip file is encrypted under an unknown key " + clipfmt.hexhash(kid))
    return aesctr.CTR(aesctr.unwrap_key(kek, wrapped), nonce)


class Writer:
    """Create a clip file and append whole blocks; the caller decides when to sync."""

    def __init__(self, path, kek, header_raw):
        dek = aesctr.new_key(16)
        nonce = aesctr.new_key(8)
        self.ctr = aesctr.CTR(dek, nonce)
        self.path = path
        self.pos = 0  # clip stream offset
        self.hdr = None  # the store's bookkeeping for the open clip
        self.sha = None
        self.blocks = 0
        self.flush_every = 1
        self.check_every = 1
        self._done = False
        self.f = open(path, "wb")
        try:
            self.f.write(_file_header(aesctr.key_id(kek), nonce, aesctr.wrap_key(kek, dek)))
            self.write(header_raw)
            self.f.flush()
        except OSError:
            self.abandon()
            raise

    def write(self, data):
        self.f.write(self.ctr.apply(self.pos, data))
        self.pos += len(data)

    def sync(self):
        self.f.flush()  # littlefs: an atomic commit of everything written so far
        try:
            os.fsync(self.f.fileno())  # CPython hosts (the simulated badge)
        except (AttributeError, OSError):
            pass

    def finish(self, trailer_raw):
        self.write(trailer_raw)
        self._done = True
        self.f.close()

    def abandon(self):
        """Close the handle after an error; what was synced stays for boot recovery."""
        if not self._done:
            self._done = True
            try:
                self.f.close()
            except OSError:
                pass


class Reader:
    """Random access to the decrypted clip stream of a file (header, blocks, trailer)."""

    def __init__(self, path, keys):
        self.path = path
        self.hdr = None
        self.trailer = None
        self.f = open(path, "rb")
        try:
            kid, nonce, wrapped = _parse_file_header(self.f.read(FILE_HDR_SIZE))
            self.ctr = _cipher(keys, kid, nonce, wrapped)
        except (OSError, ValueError):
            self.f.close()
            raise
        self.size = os.stat(path)[6] - FILE_HDR_SIZE

    def read(self, pos, n):
        self.f.seek(FILE_HDR_SIZE + pos)
        raw = self.f.read(n)
        return self.ctr.apply(pos, raw)

    def close(self):
        self.f.close()


class Inspected:
    """What ``inspect`` found: ``kind`` is closed/open/empty/corrupt/locked."""

    def __init__(self, kind, header=None, trailer=None, blocks=0, tail=0, reason=""):
        self.kind = kind
        self.header = header
        self.trailer = trailer
        self.blocks = blocks
        self.tail = tail
        self.reason = reason


def inspect(path, keys):
    """Classify a clip file from its header and end, without reading the audio."""
    try:
        r = Reader(path, keys)
    except ClipFileError as e:
        if "unknown key" in str(e):
            return Inspected("locked", reason=str(e))
        try:
            size = os.stat(path)[6]
        except OSError:
            size = 0
        if size < FILE_HDR_SIZE:  # created, never synced: no audio was stored
            return Inspected("empty", reason="no clip header on flash")
        return Inspected("corrupt", reason=str(e))
    try:
        if r.size < _H:
            return Inspected("empty", reason="no clip header on flash")
        try:
            hdr = clipfmt.unpack_header(r.read(0, _H))
        except clipfmt.ClipFormatError as e:
            return Inspected("corrupt", reason="header: " + str(e))
        body = r.size - _H
        blocks, tail = body // _B, body % _B
        if tail == clipfmt.tail_size(hdr.version):
            try:
                t = clipfmt.unpack_trailer(r.read(_H + blocks * _B, _T))
                if t.data_len == blocks * _B and t.sealed == hdr.sealed:
                    if hdr.sealed:
                        t.seal = r.read(_H + blocks * _B + _T, clipfmt.SEAL_SIZE)
                    return Inspected("closed", hdr, t, blocks)
            except clipfmt.ClipFormatError:
                pass
        return Inspected("open", hdr, None, blocks, tail)
    finally:
        r.close()


def _hash_blocks(r, hdr, blocks):
    """Hash header + blocks; return (sha hex, first bad block index or -1)."""
    h = hashlib.sha256(hdr.raw)
    for i in range(blocks):
        b = r.read(_H + i * _B, _B)
        if len(b) != _B or not clipfmt.block_ok(b):
            return None, i
        h.update(b)
    return clipfmt.hexhash(h.digest()), -1


def close_tail(hdr, t, sealer):
    """The bytes that close a clip: trailer ``t`` packed, plus for a version 2 clip its
    seal (firmware.clips.mac.Sealer ``sealer``; an empty seal without one). Sets the
    trailer's ``sealed`` flag and ``seal``."""
    if hdr.sealed:
        t.flags |= clipfmt.FLAG_SEALED
    traw = clipfmt.pack_trailer(t)
    if not hdr.sealed:
        return traw
    if sealer is None:  # no clip key here (a host reading a flash dump): no seal
        from firmware.clips import mac as clipmac

        t.seal = clipmac.unsealed()
    else:
        t.seal = sealer.seal(hdr.raw, traw)
    return traw + t.seal


def recover(path, keys, lost_bound_ms, sealer=None):
    """Close an unfinished clip at its last whole block with a ``recovered`` trailer.

    Returns (trailer, None) or (None, reason) if a block is corrupt (the caller
    quarantines the file). ``dropped_ms`` in the trailer is an upper bound: the
    partial block found on flash plus the unsynced window (``lost_bound_ms``). A
    version 2 clip is sealed with ``sealer`` (firmware.clips.mac.Sealer, the badge's).
    """
    ins = inspect(path, keys)
    if ins.kind != "open":
        return None, "not an open clip: " + ins.kind
    hdr, blocks, tail = ins.header, ins.blocks, ins.tail
    r = Reader(path, keys)
    try:
        sha, bad = _hash_blocks(r, hdr, blocks)
        if bad >= 0:
            return None, "block {} is not IMA ADPCM".format(bad)
        rate = hdr.sample_rate
        dropped = lost_bound_ms + (tail * clipfmt.SAMPLES_PER_BLOCK * 1000) // (_B * rate)
        t = clipfmt.Trailer(blocks * clipfmt.SAMPLES_PER_BLOCK, sha, blocks * _B,
                            clipfmt.FLAG_RECOVERED, dropped)
        enc = r.ctr.apply(_H + blocks * _B, close_tail(hdr, t, sealer))
        if tail:  # a torn tail: copy the whole blocks to a new file, rename it over (atomic)
            tmp = path + ".rec"
            out = open(tmp, "wb")
            try:
                r.f.seek(0)
                out.write(r.f.read(FILE_HDR_SIZE + _H))
                for i in range(blocks):
                    out.write(r.f.read(_B))
                out.write(enc)
            finally:
                out.close()
    finally:
        r.close()
    if tail:
        os.rename(tmp, path)
        return t, None
    f = open(path, "ab")  # append the trailer: atomic on close
    try:
        f.write(enc)
    finally:
        f.close()
    return t, None


def decode(data, keys, lost_bound_ms=500):
    """Host side: decode a whole clip file held in memory (e.g. from a flash dump).

    Returns (header, trailer, audio bytes); a version 2 trailer carries its ``seal``. An
    unfinished clip gets the trailer boot recovery would write (whole blocks,
    ``recovered``), computed here, nothing written; a version 2 one an empty seal (the
    host has no clip key: it reads as unauthenticated). Raises ClipFileError /
    clipfmt.ClipFormatError for unreadable files.
    """
    kid, nonce, wrapped = _parse_file_header(data[:FILE_HDR_SIZE])
    ctr = _cipher(keys, kid, nonce, wrapped)
    stream = ctr.apply(0, data[FILE_HDR_SIZE:])
    if len(stream) < _H:
        raise ClipFileError("no clip header in the file")
    hdr = clipfmt.unpack_header(stream[:_H])
    body = len(stream) - _H
    blocks, tail = body // _B, body % _B
    if tail == clipfmt.tail_size(hdr.version):
        try:
            end = _H + blocks * _B
            t = clipfmt.unpack_trailer(stream[end:end + _T])
            if t.data_len == blocks * _B and t.sealed == hdr.sealed:
                if hdr.sealed:
                    t.seal = bytes(stream[end + _T:end + _T + clipfmt.SEAL_SIZE])
                return hdr, t, stream[_H:_H + t.data_len]
        except clipfmt.ClipFormatError:
            pass
    audio = stream[_H:_H + blocks * _B]
    sha = clipfmt.hexhash(hashlib.sha256(hdr.raw + audio).digest())
    dropped = lost_bound_ms + (tail * clipfmt.SAMPLES_PER_BLOCK * 1000) // (_B * hdr.sample_rate)
    t = clipfmt.Trailer(blocks * clipfmt.SAMPLES_PER_BLOCK, sha, blocks * _B,
                        clipfmt.FLAG_RECOVERED, dropped)
    close_tail(hdr, t, None)
    return hdr, t, audio


def rewrap(path, keys, new_kek):
    """Re-wrap a file's data key under ``new_kek`` (one 48-byte in-place rewrite)."""
    f = open(path, "r+b")
    try:
        kid, nonce, wrapped = _parse_file_header(f.read(FILE_HDR_SIZE))
        new_kid = aesctr.key_id(new_kek)
        if kid == new_kid:
            return False
        kek = keys.get(bytes(kid))
        if kek is None:
            raise ClipFileError("clip file is encrypted under an unknown key")
        dek = aesctr.unwrap_key(kek, wrapped)
        f.seek(0)
        f.write(_file_header(new_kid, nonce, aesctr.wrap_key(new_kek, dek)))
    finally:
        f.close()
    return True
