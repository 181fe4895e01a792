"""Clip format: binary header and trailer, the clip hash, WAV export, WAV parse + verify.

One module, shared by the badge (MicroPython) and the hosts (companion, gateway on
CPython), so a clip is written and checked by the same code. Layout and rules are in
docs/clip-format.md; in short:

- header (``HEADER_SIZE`` bytes, little-endian, plaintext): magic ``BKCL``, version,
  flags, seq, start time, rate, block geometry, offsets, badge, session, prev_sha256;
- ADPCM data: whole 256-byte IMA ADPCM blocks of 505 samples (WAV format 0x11);
- trailer (``TRAILER_SIZE`` bytes): magic ``BKTR``, samples, flags (recovered),
  dropped_ms, data length, sha256;
- ``sha256 = SHA-256(header bytes || ADPCM data bytes)``;
- version 2 adds a seal after the trailer (``SEAL_SIZE`` bytes: clip key id and
  HMAC-SHA256 over header and trailer, made on the badge at close: firmware.clips.mac);
- exported WAV: ``RIFF/WAVE`` with ``fmt `` (0x11), ``fact``, ``bkcl`` (header verbatim),
  ``bktr`` (trailer verbatim), ``bkmc`` (the seal, version 2 only), then ``data`` (the
  ADPCM blocks), always last.
"""

import binascii
import hashlib
import struct

from firmware import const

__all__ = [
    "ClipFormatError", "ClipVerifyError", "Header", "Trailer", "WavInfo",
    "HEADER_SIZE", "TRAILER_SIZE", "BLOCK_ALIGN", "SAMPLES_PER_BLOCK", "ZERO_HASH",
    "VERSION", "VERSION_SEALED", "VERSIONS", "SEAL_SIZE", "FLAG_RECOVERED", "FLAG_SEALED",
    "HFLAG_CLOCK_UNSET", "HFLAG_CLOCK_BACKWARDS",
    "clip_id", "pack_header", "unpack_header", "pack_trailer", "unpack_trailer",
    "block_ok", "wav_prefix", "wav_prefix_size", "sidecar", "iso_utc",
    "read_wav", "verify_wav", "hexhash", "tail_size",
]

VERSION = const(1)  # a clip without a seal (unauthenticated): badges with no clip key, old badges
VERSION_SEALED = const(2)  # a clip sealed on the badge with its clip key (firmware.clips.mac)
VERSIONS = (VERSION, VERSION_SEALED)
BLOCK_ALIGN = const(256)
SAMPLES_PER_BLOCK = const(505)
FLAG_RECOVERED = const(1)  # trailer flag: closed by boot recovery after a power cut
FLAG_SEALED = const(2)  # trailer flag: a seal follows the trailer (set in every version 2 trailer)
HFLAG_CLOCK_UNSET = const(1)  # header flag: the badge clock was never set (epoch is a guess)
HFLAG_CLOCK_BACKWARDS = const(2)  # header flag: start is earlier than the previous clip's

_MAGIC = b"BKCL"
_TMAGIC = b"BKTR"
_HFMT = "<4sBBHIIIIHHBBHII32s32s32s"
_TFMT = "<4sIHHII32s"
HEADER_SIZE = const(136)
TRAILER_SIZE = const(52)
SEAL_SIZE = const(40)  # clip key id (8) || HMAC-SHA256 (32)
ZERO_HASH = "0" * 64
_MAX_CHUNK = const(1 << 20)  # largest non-data chunk a parser accepts


class ClipFormatError(ValueError):
    """Bytes that are not a well-formed clip header, trailer or WAV."""


class ClipVerifyError(ClipFormatError):
    """A well-formed clip whose hash or chain link does not match."""


def hexhash(raw):
    return binascii.hexlify(raw).decode()


def _unhex(h):
    if h is None:
        h = ZERO_HASH
    if len(h) != 64:
        raise ClipFormatError("prev_sha256 must be 64 hex digits")
    try:
        return binascii.unhexlify(h)
    except ValueError:
        raise ClipFormatError("prev_sha256 is not hex")


def _text(raw):
    i = raw.find(b"\x00")
    if i >= 0:
        raw = raw[:i]
    try:
        return raw.decode()
    except UnicodeError:
        raise ClipFormatError("badge/session is not UTF-8")


def _field(s, name):
    b = str(s).encode()
    if not b or len(b) > 32 or b"\x00" in b:
        raise ClipFormatError(name + " must be 1..32 bytes of text")
    return b


def clip_id(badge, seq):
    """The clip id, ``<badge>-<seq:08d>`` (also the file name stem)."""
    return "{}-{:08d}".format(badge, seq)


class Header:
    """Decoded clip header; ``raw`` holds the exact bytes that are hashed."""

    def __init__(self, badge, session, seq, start_epoch, start_ms=0, session_offset_samples=0,
                 offset_samples=0, sample_rate=16000, prev_sha256=None, flags=0, version=VERSION):
        self.badge = str(badge)
        self.session = str(session)
        self.seq = int(seq)
        self.start_epoch = int(start_epoch)
        self.start_ms = int(start_ms)
        self.session_offset_samples = int(session_offset_samples)
        self.offset_samples = int(offset_samples)
        self.sample_rate = int(sample_rate)
        self.prev_sha256 = prev_sha256 or ZERO_HASH
        self.flags = int(flags)
        self.version = int(version)
        self.raw = None

    @property
    def sealed(self):
        """True for a version 2 clip: a seal must follow its trailer."""
        return self.version == VERSION_SEALED

    @property
    def clip_id(self):
        return clip_id(self.badge, self.seq)

    @classmethod
    def from_meta(cls, meta, prev_sha256=None, version=VERSION):
        """Build from the recorder's meta dict (keys of docs/contracts.md)."""
        try:
            return cls(meta["badge"], meta["session"], meta["seq"], meta["start_epoch"],
                       meta.get("start_ms", 0), meta.get("session_offset_samples", 0),
                       meta.get("offset_samples", 0), meta.get("sample_rate", 16000),
                       meta.get("prev_sha256") or prev_sha256, meta.get("clock_flags", 0),
                       version)
        except KeyError as e:
            raise ClipFormatError("clip meta lacks " + str(e))


def pack_header(h):
    """Header -> ``HEADER_SIZE`` bytes (also stored in ``h.raw``)."""
    for v in (h.seq, h.start_epoch, h.start_ms, h.session_offset_samples, h.offset_samples):
        if v < 0 or v > 0xFFFFFFFF:
            raise ClipFormatError("header field out of range: " + str(v))
    if not 1000 <= h.sample_rate <= 192000:
        raise ClipFormatError("sample_rate out of range")
    if h.version not in VERSIONS:
        raise ClipFormatError("unsupported clip format version " + str(h.version))
    raw = struct.pack(_HFMT, _MAGIC, h.version, 0, h.flags & 0xFFFF, h.seq, h.start_epoch,
                      h.start_ms, h.sample_rate, BLOCK_ALIGN, SAMPLES_PER_BLOCK, 1, 4,
                      HEADER_SIZE, h.session_offset_samples, h.offset_samples,
                      _field(h.badge, "badge"), _field(h.session, "session"),
                      _unhex(h.prev_sha256))
    h.raw = raw
    return raw


def unpack_header(raw):
    """``HEADER_SIZE`` bytes -> Header; raise ClipFormatError on anything unexpected."""
    if len(raw) < HEADER_SIZE:
        raise ClipFormatError("clip header truncated")
    raw = bytes(raw[:HEADER_SIZE])
    (magic, ver, _r, flags, seq, epoch, ms, rate, align, spb, ch, bits, size, soff, off,
     badge, session, prev) = struct.unpack(_HFMT, raw)
    if magic != _MAGIC:
        raise ClipFormatError("not a badgekit clip header (magic)")
    if ver not in VERSIONS or size != HEADER_SIZE:
        raise ClipFormatError("unsupported clip format version " + str(ver))
    if align != BLOCK_ALIGN or spb != SAMPLES_PER_BLOCK or ch != 1 or bits != 4:
        raise ClipFormatError("unsupported audio geometry in clip header")
    if not 1000 <= rate <= 192000:
        raise ClipFormatError("sample_rate out of range")
    h = Header(_text(badge), _text(session), seq, epoch, ms, soff, off, rate, hexhash(prev),
               flags, ver)
    h.raw = raw
    return h


class Trailer:
    """Decoded trailer: sample count, flags, dropped_ms, data length, sha256 (hex)."""

    def __init__(self, samples, sha256, data_len, flags=0, dropped_ms=0):
        self.samples = int(samples)
        self.sha256 = sha256
        self.data_len = int(data_len)
        self.flags = int(flags)
        self.dropped_ms = int(dropped_ms)
        self.raw = None
        self.seal = None  # the SEAL_SIZE bytes after a version 2 trailer, once known

    @property
    def recovered(self):
        return bool(self.flags & FLAG_RECOVERED)

    @property
    def sealed(self):
        return bool(self.flags & FLAG_SEALED)


def tail_size(version):
    """Bytes after the ADPCM blocks of a closed clip: the trailer, plus the seal (v2)."""
    return TRAILER_SIZE + (SEAL_SIZE if version == VERSION_SEALED else 0)


def pack_trailer(t):
    if t.data_len % BLOCK_ALIGN:
        raise ClipFormatError("data length is not whole blocks")
    if t.samples > (t.data_len // BLOCK_ALIGN) * SAMPLES_PER_BLOCK or t.samples < 0:
        raise ClipFormatError("sample count exceeds the data")
    raw = struct.pack(_TFMT, _TMAGIC, t.samples, t.flags & 0xFFFF, 0, t.dropped_ms & 0xFFFFFFFF,
                      t.data_len, _unhex(t.sha256))
    t.raw = raw
    return raw


def unpack_trailer(raw):
    if len(raw) < TRAILER_SIZE:
        raise ClipFormatError("clip trailer truncated")
    raw = bytes(raw[:TRAILER_SIZE])
    magic, samples, flags, _r, dropped, dlen, sha = struct.unpack(_TFMT, raw)
    if magic != _TMAGIC:
        raise ClipFormatError("not a badgekit clip trailer (magic)")
    if dlen % BLOCK_ALIGN or samples > (dlen // BLOCK_ALIGN) * SAMPLES_PER_BLOCK:
        raise ClipFormatError("trailer sample count or data length inconsistent")
    t = Trailer(samples, hexhash(sha), dlen, flags, dropped)
    t.raw = raw
    return t


def block_ok(block):
    """True if ``block`` looks like one mono IMA ADPCM block (step index <= 88, pad byte 0)."""
    return len(block) == BLOCK_ALIGN and block[2] <= 88 and block[3] == 0


def wav_prefix_size(sealed=False):
    """WAV bytes before the ADPCM data: 264 (version 1), 312 with the seal (version 2)."""
    seal = 8 + SEAL_SIZE if sealed else 0
    return 12 + 28 + 12 + 8 + HEADER_SIZE + 8 + TRAILER_SIZE + seal + 8


def wav_prefix(hraw, traw, data_len, samples, sample_rate, seal=None):
    """Every WAV byte before the ADPCM data: RIFF, fmt, fact, bkcl, bktr, bkmc (the seal of
    a version 2 clip, if given), data header."""
    total = wav_prefix_size(seal is not None) + data_len
    byte_rate = (sample_rate * BLOCK_ALIGN) // SAMPLES_PER_BLOCK
    mc = b"" if seal is None else struct.pack("<4sI", b"bkmc", SEAL_SIZE) + bytes(seal)
    return b"".join((
        struct.pack("<4sI4s", b"RIFF", total - 8, b"WAVE"),
        struct.pack("<4sIHHIIHHHH", b"fmt ", 20, 0x11, 1, sample_rate, byte_rate, BLOCK_ALIGN, 4,
                    2, SAMPLES_PER_BLOCK),
        struct.pack("<4sII", b"fact", 4, samples),
        struct.pack("<4sI", b"bkcl", HEADER_SIZE), bytes(hraw),
        struct.pack("<4sI", b"bktr", TRAILER_SIZE), bytes(traw), mc,
        struct.pack("<4sI", b"data", data_len),
    ))


def _civil(days):
    # days since 1970-01-01 -> (y, m, d); proleptic Gregorian (H. Hinnant's algorithm)
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def iso_utc(epoch, ms=0):
    """Unix seconds (+ ms) -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``, same on every port."""
    y, mo, d = _civil(epoch // 86400)
    s = epoch % 86400
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format(
        y, mo, d, s // 3600, (s // 60) % 60, s % 60, ms % 1000)


def sidecar(h, t):
    """The JSON sidecar fields of docs/contracts.md for a closed clip."""
    return {
        "clip_id": h.clip_id, "badge": h.badge, "session": h.session, "seq": h.seq,
        "start_time": iso_utc(h.start_epoch, h.start_ms), "start_epoch": h.start_epoch,
        "start_ms": h.start_ms, "session_offset_samples": h.session_offset_samples,
        "offset_samples": h.offset_samples, "samples": t.samples, "sample_rate": h.sample_rate,
        "sha256": t.sha256, "prev_sha256": h.prev_sha256, "recovered": t.recovered,
        "dropped_ms": t.dropped_ms, "format_version": h.version,
        "clock_unset": bool(h.flags & HFLAG_CLOCK_UNSET),
        "clock_backwards": bool(h.flags & HFLAG_CLOCK_BACKWARDS),
    }


class WavInfo:
    """A parsed, verified clip WAV: header, trailer, sha256 recomputed, data offset, and
    the seal (``SEAL_SIZE`` bytes of a version 2 clip's ``bkmc`` chunk, else None)."""

    def __init__(self, header, trailer, sha256, data_offset, seal=None):
        self.header = header
        self.trailer = trailer
        self.sha256 = sha256
        self.data_offset = data_offset
        self.seal = seal

    def sidecar(self):
        return sidecar(self.header, self.trailer)


def _readn(f, n):
    out = f.read(n)
    if out is None or len(out) != n:
        raise ClipFormatError("WAV truncated")
    return out


def read_wav(f, buf_size=4096):
    """Parse a clip WAV from a binary file object (only ``read`` is used) and hash it.

    Returns WavInfo; ``WavInfo.sha256`` is recomputed over bkcl || data. Does not
    compare it with anything: ``verify_wav`` does.
    """
    riff, _size, wave = struct.unpack("<4sI4s", _readn(f, 12))
    if riff != b"RIFF" or wave != b"WAVE":
        raise ClipFormatError("not a RIFF/WAVE file")
    pos = 12
    hdr = trl = fmt = seal = None
    while True:
        cid, clen = struct.unpack("<4sI", _readn(f, 8))
        pos += 8
        if cid == b"data":
            break
        if clen > _MAX_CHUNK:
            raise ClipFormatError("WAV chunk too large")
        body = _readn(f, clen + (clen & 1))
        pos += len(body)
        if cid == b"fmt ":
            fmt = body
        elif cid == b"bkcl":
            hdr = unpack_header(body[:clen])
        elif cid == b"bktr":
            trl = unpack_trailer(body[:clen])
        elif cid == b"bkmc" and clen == SEAL_SIZE:
            seal = bytes(body[:clen])
    if hdr is None or trl is None or fmt is None:
        raise ClipFormatError("WAV lacks the fmt/bkcl/bktr chunks of a badgekit clip")
    tag, ch, rate, _br, align = struct.unpack("<HHIIH", fmt[:14])
    if tag != 0x11 or ch != 1 or align != BLOCK_ALIGN or rate != hdr.sample_rate:
        raise ClipFormatError("WAV fmt chunk is not the clip's IMA ADPCM format")
    if clen != trl.data_len:
        raise ClipFormatError("WAV data length differs from the trailer")
    h = hashlib.sha256(hdr.raw)
    left = clen
    while left:
        part = f.read(min(buf_size, left))
        if not part:
            raise ClipFormatError("WAV data truncated")
        h.update(part)
        left -= len(part)
    trl.seal = seal
    return WavInfo(hdr, trl, hexhash(h.digest()), pos, seal)


def verify_wav(f, prev_sha256=None, expect_sha256=None):
    """Parse and verify a clip WAV; return WavInfo or raise ClipVerifyError.

    Checks the recomputed hash against the trailer (and ``expect_sha256`` if given,
    e.g. the sidecar or the badge's list) and, if ``prev_sha256`` is given, the chain
    link: the header must name that previous hash. The seal of a version 2 clip is not
    checked here (it needs the badge's clip key): ``firmware.clips.mac.verify_wav`` does.
    """
    info = read_wav(f)
    if info.sha256 != info.trailer.sha256:
        raise ClipVerifyError("clip {} hash mismatch: data was altered".format(info.header.clip_id))
    if expect_sha256 is not None and expect_sha256 != info.sha256:
        raise ClipVerifyError("clip {} hash differs from the expected hash".format(info.header.clip_id))
    if prev_sha256 is not None and prev_sha256 != info.header.prev_sha256:
        raise ClipVerifyError("clip {} breaks the chain: previous clip missing or altered".format(
            info.header.clip_id))
    return info
