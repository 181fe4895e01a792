"""Ed25519 signature verification (RFC 8032, section 5.1.7) in plain MicroPython.

The badge checks one signature per firmware update (firmware.fwbundle): the release
key's signature over the bundle's manifest. Only verification lives here; signing
happens on the release computer with the `cryptography` package (badgecore.release).

Arithmetic is on Python integers (MicroPython's arbitrary-precision ints, on the unix
port and on the ESP32-S3): the field GF(2^255 - 19), the twisted Edwards curve
-x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z,
x*y = T/Z (RFC 8032 5.1.4). ``[S]B - [k]A`` is computed in one joint double-and-add
(253 doublings and at most 253 additions), then encoded and compared with R: the
cofactorless check RFC 8032 allows. Not constant time: it handles only public data.
"""

from firmware.sha512 import sha512

__all__ = ["verify", "BadKey"]

_P = (1 << 255) - 19
_L = (1 << 252) + 27742317777372353535851937790883648493
_consts = []  # type: list  # [d, 2d, sqrt(-1), B]: computed at the first verification


class BadKey(ValueError):
    """A public key that does not decode to a curve point."""


def _inv(x):
    return pow(x, _P - 2, _P)


def _setup():
    if not _consts:
        d = -121665 * _inv(121666) % _P
        sqrtm1 = pow(2, (_P - 1) // 4, _P)
        _consts.extend((d, 2 * d % _P, sqrtm1))
        by = 4 * _inv(5) % _P
        bx = _recover_x(by, 0)
        _consts.append((bx, by, 1, bx * by % _P))
    return _consts


def _recover_x(y, sign):
    """x from y and the sign bit (RFC 8032 5.1.3 step 2-4); None if there is none."""
    d, _d2, sqrtm1 = _consts[0], _consts[1], _consts[2]
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (d * y * y + 1) % _P
    v3 = v * v * v % _P
    x = u * v3 * pow(u * v3 * v3 * v % _P, (_P - 5) // 8, _P) % _P
    vx2 = v * x * x % _P
    if vx2 != u:
        if vx2 != (_P - u) % _P:
            return None
        x = x * sqrtm1 % _P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def _add(p, q, d2):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * d2 * t2 % _P
    dd = 2 * z1 * z2 % _P
    e = b - a
    f = dd - c
    g = dd + c
    h = b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _double(p):
    x1, y1, z1, _t1 = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    xy = x1 + y1
    e = h - xy * xy % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _decode(s):
    """A 32-byte point encoding -> extended point, or None."""
    n = int.from_bytes(s, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def _encode(p):
    x, y, z, _t = p
    zi = _inv(z)
    x = x * zi % _P
    y = y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def verify(public, msg, sig):
    """True if ``sig`` (64 bytes) is ``public``'s (32 bytes) Ed25519 signature of ``msg``.

    Raises BadKey if ``public`` is not a valid key; a malformed signature is False."""
    d2 = _setup()[1]
    base = _consts[3]
    if len(public) != 32:
        raise BadKey("an Ed25519 public key has 32 bytes")
    a = _decode(public)
    if a is None:
        raise BadKey("the public key is not a point on Ed25519")
    if len(sig) != 64:
        return False
    r = bytes(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if s >= _L or _decode(r) is None:
        return False
    k = int.from_bytes(sha512(r + bytes(public) + bytes(msg)), "little") % _L
    neg_a = ((_P - a[0]) % _P, a[1], a[2], (_P - a[3]) % _P)
    both = _add(base, neg_a, d2)
    q = (0, 1, 1, 0)  # the neutral element
    for i in range(252, -1, -1):  # s, k < L < 2^253
        q = _double(q)
        bs = (s >> i) & 1
        bk = (k >> i) & 1
        if bs and bk:
            q = _add(q, both, d2)
        elif bs:
            q = _add(q, base, d2)
        elif bk:
            q = _add(q, neg_a, d2)
    return _encode(q) == r
