"""AES-CTR for clips at rest, built from AES-ECB (``cryptolib.aes`` mode 1).

MicroPython builds rarely include CTR mode, so the keystream is made here: counter
block ``i`` = 8-byte nonce || big-endian 64-bit ``i``, where ``i`` is the 16-byte block
number of the byte offset in the clip stream, so any byte range can be en- or decrypted
on its own (ranged reads, appends). On CPython the same construction runs on the
``cryptography`` package, so hosts decrypt exactly what the badge wrote.

Keys: each clip file has a random 16-byte data key (AES-128-CTR), stored wrapped
(AES-ECB) under the badge's key-encryption key (16 or 32 bytes). ``key_id`` names a KEK
without revealing it.
"""

import hashlib
import struct

try:
    from cryptolib import aes as _aes

    def _ecb(key):
        return _aes(bytes(key), 1)

    def _encrypt(c, data):
        return c.encrypt(data)

    def _decrypt_key(kek, data):
        return _aes(bytes(kek), 1).decrypt(data)
except ImportError:  # CPython host: the same AES from the `cryptography` package
    def _cipher(key):
        c = __import__("cryptography.hazmat.primitives.ciphers", None, None, ["Cipher"])
        return c.Cipher(c.algorithms.AES(bytes(key)), c.modes.ECB())

    def _ecb(key):
        return _cipher(key).encryptor()

    def _encrypt(c, data):
        return c.update(bytes(data))

    def _decrypt_key(kek, data):
        return _cipher(kek).decryptor().update(bytes(data))

__all__ = ["CTR", "KeySizeError", "key_id", "wrap_key", "unwrap_key", "new_key"]


class KeySizeError(ValueError):
    """A key of the wrong size, or the wrong key for a wrapped data key."""


def new_key(n=16):
    """``n`` random bytes from the OS RNG (``os.urandom``; the ESP32 hardware RNG on the badge)."""
    import os

    return os.urandom(n)


def _check(key):
    if len(key) not in (16, 32):
        raise KeySizeError("AES keys are 16 or 32 bytes")


def key_id(kek):
    """8-byte public name of a key-encryption key (SHA-256 of a label || key)."""
    _check(kek)
    return hashlib.sha256(b"badgekit-kek-id\x00" + bytes(kek)).digest()[:8]


def wrap_key(kek, dek):
    """Wrap a 16-byte data key under ``kek`` (AES-ECB of one block)."""
    _check(kek)
    if len(dek) != 16:
        raise KeySizeError("data keys are 16 bytes")
    return _encrypt(_ecb(kek), dek)


def unwrap_key(kek, wrapped):
    _check(kek)
    return _decrypt_key(kek, wrapped)


class CTR:
    """AES-CTR keystream over a byte stream; ``apply(offset, data)`` en/decrypts in place-free."""

    def __init__(self, key, nonce):
        _check(key)
        if len(nonce) != 8:
            raise KeySizeError("CTR nonces are 8 bytes")
        self._c = _ecb(key)
        self._nonce = bytes(nonce)
        self._ctr = bytearray(256)

    def _stream(self, first, nblocks):
        need = nblocks * 16
        if len(self._ctr) < need:
            self._ctr = bytearray(need)
        buf = self._ctr
        for i in range(nblocks):
            struct.pack_into(">8sQ", buf, i * 16, self._nonce, first + i)
        return _encrypt(self._c, memoryview(buf)[:need])

    def apply(self, offset, data):
        """XOR ``data`` (at stream ``offset``) with the keystream; returns new bytes."""
        n = len(data)
        if n == 0:
            return b""
        first = offset // 16
        skip = offset - first * 16
        ks = self._stream(first, (skip + n + 15) // 16)
        # one big-integer XOR: fast on both ports, no per-byte loop
        x = int.from_bytes(bytes(data), "big") ^ int.from_bytes(bytes(ks[skip:skip + n]), "big")
        return x.to_bytes(n, "big")
