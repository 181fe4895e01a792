"""Authentication: HMAC-SHA256, the mutual challenge-response, and frame MACs.

A session starts with HELLO (the companion's 16-byte nonce ``nc``, the badge's ``nb``).
The companion proves it holds the badge's secret ``K`` with
``HMAC(K, "bk-c" | badge | nc | nb)``; the badge answers with
``HMAC(K, "bk-b" | badge | nb | nc)``, so each side proves itself against a nonce the
other just chose: a recorded session replays to a fresh nonce and fails. Both derive
``S = HMAC(K, "bk-s" | nc | nb)``; afterwards every frame carries
``HMAC(S, direction | seq | type | flags | len | payload)[:16]`` and seq only grows, so
frames can be neither forged, replayed nor reflected. hashlib only (no hmac module on
MicroPython).
"""

import hashlib
import struct

from firmware import const

__all__ = ["hmac_sha256", "Mac", "client_proof", "badge_proof", "session_key", "kek_of",
           "wrap", "eq"]

_BLOCK = const(64)


def _pads(key):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(_BLOCK - len(key))
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sha256(key, *parts):
    ipad, opad = _pads(key)
    h = hashlib.sha256(ipad)
    for p in parts:
        h.update(p)
    o = hashlib.sha256(opad)
    o.update(h.digest())
    return o.digest()


def eq(a, b):
    """Compare MACs in time independent of where they differ."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


def client_proof(key, badge, nc, nb):
    return hmac_sha256(key, b"bk-c", badge.encode(), nc, nb)


def badge_proof(key, badge, nc, nb):
    return hmac_sha256(key, b"bk-b", badge.encode(), nb, nc)


def session_key(key, nc, nb):
    return hmac_sha256(key, b"bk-s", nc, nb)


def kek_of(key):
    """The clip-store key-encryption key derived from the enrollment secret."""
    return hmac_sha256(key, b"bk-kek")[:16]


def wrap(session, data):
    """XOR ``data`` (<= 32 bytes) with a session-derived pad (a key sent at re-enrollment)."""
    pad = hmac_sha256(session, b"bk-wrap")
    return bytes(data[i] ^ pad[i] for i in range(len(data)))


class Mac:
    """Frame MACs under a session key; pads computed once. ``direction``: b"C" or b"B"."""

    def __init__(self, session):
        self.key = bytes(session)
        self.ipad, self.opad = _pads(session)
        self.hdr = bytearray(12)

    def tag(self, direction, seq, typ, flags, payload):
        hdr = self.hdr
        hdr[0] = direction[0]
        struct.pack_into("<IBBHxx", hdr, 1, seq & 0xFFFFFFFF, typ, flags, len(payload))
        h = hashlib.sha256(self.ipad)
        h.update(hdr)
        h.update(payload)
        o = hashlib.sha256(self.opad)
        o.update(h.digest())
        return o.digest()[:16]
