"""Sync frames: one byte-stream format for BLE and serial, with a length bound and a CRC.

Layout (little-endian)::

    0  magic   2   0xB5 0x6B
    2  type    1   message type (firmware.sync.proto)
    3  flags   1   bit 0: a 16-byte MAC follows the payload
    4  seq     4   request sequence number (replies echo it)
    8  len     2   payload length, <= the decoder's bound
    10 payload len
    .. mac     16  (flag 1) truncated HMAC-SHA256 under the session key
    .. crc     4   CRC-32 of every byte from ``type`` to the end of the mac

A BLE link carries the same bytes as a serial link: writes and notifications are
just pieces of the stream. ``Decoder`` finds frames in the stream, resyncs after
junk, and reports every problem (junk, oversize, bad CRC, a frame that stops arriving)
as an event, so the server can answer each with an error and stay up. It uses one
preallocated buffer; no allocation per byte. Runs on MicroPython and CPython.
"""

import binascii
import struct

from firmware import const

__all__ = ["Decoder", "encode_into", "encode", "frame_size", "HDR_SIZE", "CRC_SIZE",
           "MAC_SIZE", "F_MAC", "OVERHEAD", "EV_FRAME", "EV_JUNK", "EV_TOO_LONG", "EV_CRC",
           "EV_INCOMPLETE"]

MAGIC0 = const(0xB5)
MAGIC1 = const(0x6B)
HDR_SIZE = const(10)
CRC_SIZE = const(4)
MAC_SIZE = const(16)
F_MAC = const(1)
OVERHEAD = const(30)  # header + mac + crc of an authenticated frame

EV_FRAME = const(0)
EV_JUNK = const(1)  # bytes that are not a frame were skipped (value: how many)
EV_TOO_LONG = const(2)  # a header announced a payload above the bound (value: its length)
EV_CRC = const(3)  # a complete frame whose CRC did not match (value: its type)
EV_INCOMPLETE = const(4)  # a frame stopped arriving (value: bytes held)

_HFMT = "<BBBBIH"


def frame_size(payload_len, flags=0):
    return HDR_SIZE + payload_len + (MAC_SIZE if flags & F_MAC else 0) + CRC_SIZE


def encode_into(buf, typ, flags, seq, payload, mac=None, n=0):
    """Write one frame into ``buf`` (a bytearray); return its length.

    ``mac`` (16 bytes) is required when ``flags`` has F_MAC. ``payload=None`` means
    the ``n`` payload bytes already sit at ``buf[HDR_SIZE:]`` (no copy)."""
    mv = memoryview(buf)
    if payload is not None:
        n = len(payload)
        mv[HDR_SIZE:HDR_SIZE + n] = payload
    struct.pack_into(_HFMT, buf, 0, MAGIC0, MAGIC1, typ, flags, seq & 0xFFFFFFFF, n)
    end = HDR_SIZE + n
    if flags & F_MAC:
        mv[end:end + MAC_SIZE] = mac
        end += MAC_SIZE
    crc = binascii.crc32(mv[2:end]) & 0xFFFFFFFF
    struct.pack_into("<I", buf, end, crc)
    return end + CRC_SIZE


def encode(typ, seq, payload=b"", flags=0, mac=None):
    """One frame as new bytes (host side and tests)."""
    buf = bytearray(frame_size(len(payload), flags))
    encode_into(buf, typ, flags, seq, payload, mac)
    return bytes(buf)


class Decoder:
    """Find frames in a byte stream.

    ``feed(data)`` copies bytes in (returns how many fit; keep the rest and feed them
    after ``poll``); ``poll(now_ms)`` returns the next event or None. After EV_FRAME,
    ``typ``, ``flags``, ``seq``, ``payload`` (memoryview into the buffer) and ``mac``
    are valid until the next ``poll``. ``timeout_ms``: a started frame that gets no
    new byte for this long is dropped as EV_INCOMPLETE.
    """

    def __init__(self, max_payload=512, timeout_ms=500):
        self.max_payload = max_payload
        self.timeout_ms = timeout_ms
        self.buf = bytearray(frame_size(max_payload, F_MAC))
        self.mv = memoryview(self.buf)
        self.fill = 0
        self.junk = 0
        self.last_ms = 0
        self._drop = 0
        self.typ = self.flags = self.seq = 0
        self.payload = self.mv[0:0]
        self.mac = self.mv[0:0]
        self.value = 0
        self.bytes_in = 0

    def space(self):
        return len(self.buf) - self.fill + self._drop

    def feed(self, data, now_ms=0):
        self._consume()
        n = min(len(data), len(self.buf) - self.fill)
        if n:
            self.mv[self.fill:self.fill + n] = data[:n]
            self.fill += n
            self.last_ms = now_ms
            self.bytes_in += n
        return n

    def _consume(self):
        k = self._drop
        if k:
            self._drop = 0
            rest = self.fill - k
            if rest > 0:
                self.mv[0:rest] = self.mv[k:self.fill]
            self.fill = rest if rest > 0 else 0

    def reset(self):
        self.fill = self.junk = self._drop = 0

    def _skip_junk(self):
        # drop bytes up to the next possible frame start (magic, or a lone MAGIC0 at the end)
        buf = self.buf
        fill = self.fill
        i = 1
        while i < fill:
            if buf[i] == MAGIC0 and (i + 1 == fill or buf[i + 1] == MAGIC1):
                break
            i += 1
        self.junk += i
        self._drop = i

    def _event(self, ev, value, drop):
        self.value = value
        self._drop = drop
        return ev

    def poll(self, now_ms=0):
        self._consume()
        buf = self.buf
        while True:
            fill = self.fill
            if fill and (buf[0] != MAGIC0 or (fill > 1 and buf[1] != MAGIC1)):
                self._skip_junk()
                self._consume()
                continue
            if self.junk and (fill >= 2 or now_ms - self.last_ms >= self.timeout_ms or not fill):
                n = self.junk
                self.junk = 0
                return self._event(EV_JUNK, n, 0)
            if fill < HDR_SIZE:
                if fill and now_ms - self.last_ms >= self.timeout_ms:
                    return self._event(EV_INCOMPLETE, fill, fill)
                return None
            _m0, _m1, typ, flags, seq, n = struct.unpack_from(_HFMT, buf, 0)
            if n > self.max_payload:
                return self._event(EV_TOO_LONG, n, 2)
            total = frame_size(n, flags)
            if fill < total:
                if now_ms - self.last_ms >= self.timeout_ms:
                    return self._event(EV_INCOMPLETE, fill, 2)
                return None
            crc = struct.unpack_from("<I", buf, total - CRC_SIZE)[0]
            if binascii.crc32(self.mv[2:total - CRC_SIZE]) & 0xFFFFFFFF != crc:
                return self._event(EV_CRC, typ, 2)
            self.typ = typ
            self.flags = flags
            self.seq = seq
            self.payload = self.mv[HDR_SIZE:HDR_SIZE + n]
            end = HDR_SIZE + n
            self.mac = self.mv[end:end + MAC_SIZE] if flags & F_MAC else self.mv[end:end]
            return self._event(EV_FRAME, n, total)
