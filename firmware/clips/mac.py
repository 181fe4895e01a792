"""Clip seals (clip format version 2): made on the badge at clip close, checked by hosts.

The seal is ``key id (8) || HMAC-SHA256(clip key, "BKMC" || header || trailer)`` (32).
The header holds the chain link (``prev_sha256``), badge, session, seq and start time;
the trailer holds the sample count, flags, dropped_ms, data length and the SHA-256 of
header and audio. So one MAC over those 188 bytes covers header, trailer, the audio
hash and the chain link, and costs the same for a 1 s and a 60 min clip.

The clip key is derived from the secret the badge shares with its branch since
enrollment (``clip_key_of(secret)``); a badge with no secret (unenrolled) writes
version 1 clips, which every reader reports as unauthenticated. Plain MicroPython
(hashlib only; the HMAC is firmware.sync.auth's), shared with CPython hosts::

    from firmware.clips import mac as clipmac
    with open(path, "rb") as f:
        res = clipmac.verify_wav(f, keys, prev_sha256=prev_hex, expect_sha256=listed_hex)
    res.status  # "authenticated" | "unauthenticated" | "bad_mac" | "no_key"

Layout and rules: docs/clip-format.md ("Seal").
"""

import hashlib

from firmware import const
from firmware.clips import fmt as clipfmt
from firmware.sync.auth import eq, hmac_sha256

__all__ = ["AUTHENTICATED", "UNAUTHENTICATED", "BAD_MAC", "NO_KEY", "STATUSES", "Sealer",
           "BadgeKeys", "SealCheck", "clip_key_of", "key_id", "unsealed", "check", "verify_wav"]

AUTHENTICATED = "authenticated"  # version 2, the seal verifies under the badge's clip key
UNAUTHENTICATED = "unauthenticated"  # version 1 (or a v2 clip closed off the badge): no seal
BAD_MAC = "bad_mac"  # version 2, the seal does not verify: forged or altered
NO_KEY = "no_key"  # version 2, but no clip key with the seal's key id was given
STATUSES = (AUTHENTICATED, UNAUTHENTICATED, BAD_MAC, NO_KEY)

_BLOCK = const(64)
_TAG = b"BKMC"
_NO_KID = bytes(8)


def clip_key_of(secret):
    """The badge's 32-byte clip key from its enrollment secret (both ends derive it)."""
    return hmac_sha256(secret, b"bk-clip")


def key_id(clip_key):
    """8 bytes naming a clip key (not secret: a hash of the key, never the key)."""
    return hashlib.sha256(b"badgekit-clip-key-id\x00" + bytes(clip_key)).digest()[:8]


def unsealed():
    """The seal of a version 2 clip closed where no clip key exists (a host reading a dead
    badge's flash dump): zero key id and MAC; readers report it unauthenticated."""
    return bytes(clipfmt.SEAL_SIZE)


class Sealer:
    """Seals clips under one clip key; the HMAC pads are computed once (badge RAM: 128 B)."""

    def __init__(self, clip_key):
        k = bytes(clip_key)
        if len(k) > _BLOCK:
            k = hashlib.sha256(k).digest()
        k = k + bytes(_BLOCK - len(k))
        self.ipad = bytes(b ^ 0x36 for b in k)
        self.opad = bytes(b ^ 0x5C for b in k)
        self.kid = key_id(clip_key)

    def mac(self, hraw, traw):
        h = hashlib.sha256(self.ipad)
        h.update(_TAG)
        h.update(hraw)
        h.update(traw)
        o = hashlib.sha256(self.opad)
        o.update(h.digest())
        return o.digest()

    def seal(self, hraw, traw):
        """``SEAL_SIZE`` bytes for a clip's header and trailer bytes."""
        return self.kid + self.mac(hraw, traw)


class BadgeKeys:
    """Clip keys per badge (a badge may have more than one: re-enrollment)."""

    def __init__(self):
        self.keys = {}

    def add(self, badge, clip_key):
        ks = self.keys.setdefault(str(badge), [])
        if bytes(clip_key) not in ks:
            ks.append(bytes(clip_key))

    def add_secret(self, badge, secret):
        self.add(badge, clip_key_of(secret))

    def get(self, badge):
        return self.keys.get(str(badge), [])

    def __len__(self):
        return len(self.keys)

    def __repr__(self):  # never the keys
        return "BadgeKeys({} badges)".format(len(self.keys))


class SealCheck:
    """What ``verify_wav``/``check`` found: ``status`` (one of STATUSES), ``info`` (the
    clipfmt.WavInfo), ``key_id`` (hex of the seal's key id, or None), ``reason`` (a few
    words; ``info.header.clip_id`` names the clip)."""

    def __init__(self, status, info, kid=None, reason=""):
        self.status = status
        self.info = info
        self.key_id = kid
        self.reason = reason

    @property
    def authenticated(self):
        return self.status == AUTHENTICATED

    def __repr__(self):
        return "SealCheck({}, {})".format(self.status, self.reason)


def _candidates(keys, badge):
    if keys is None:
        return []
    if isinstance(keys, BadgeKeys):
        return keys.get(badge)
    if isinstance(keys, (bytes, bytearray)):
        return [bytes(keys)]
    return [bytes(k) for k in keys]


def check(info, keys):
    """The seal status of a parsed clip (clipfmt.WavInfo, or anything with ``header``,
    ``trailer`` and ``seal``). ``keys``: None, one clip key, a list of them, or BadgeKeys
    (picked by the header's badge id). Never raises for a bad seal: it is a status."""
    h, t, seal = info.header, info.trailer, info.seal
    if h.version == clipfmt.VERSION:
        if t.sealed or seal is not None:
            return SealCheck(BAD_MAC, info, None, "a version 1 clip with seal marks")
        return SealCheck(UNAUTHENTICATED, info, None, "version 1: no seal")
    if seal is None or len(seal) != clipfmt.SEAL_SIZE:
        return SealCheck(BAD_MAC, info, None, "a version 2 clip without its seal")
    if not t.sealed:
        return SealCheck(BAD_MAC, info, None, "a version 2 trailer not marked sealed")
    kid = bytes(seal[:8])
    if kid == _NO_KID:
        if bytes(seal[8:]) != bytes(32):
            return SealCheck(BAD_MAC, info, None, "a seal without a key id")
        return SealCheck(UNAUTHENTICATED, info, None,
                         "closed off the badge: empty seal")
    kid_hex = clipfmt.hexhash(kid)
    for k in _candidates(keys, h.badge):
        if key_id(k) == kid:
            if eq(Sealer(k).mac(h.raw, t.raw), bytes(seal[8:])):
                return SealCheck(AUTHENTICATED, info, kid_hex, "")
            return SealCheck(BAD_MAC, info, kid_hex,
                             "seal does not verify: forged or altered")
    return SealCheck(NO_KEY, info, kid_hex,
                     "no clip key {} of badge {} here".format(kid_hex, h.badge))


def verify_wav(f, keys=None, prev_sha256=None, expect_sha256=None):
    """clipfmt.verify_wav (hash, listed hash, chain link: ClipVerifyError / ClipFormatError
    as there), then the seal: returns a SealCheck whose ``status`` says whether the badge
    vouches for header, trailer, audio hash and chain link."""
    return check(clipfmt.verify_wav(f, prev_sha256, expect_sha256), keys)
