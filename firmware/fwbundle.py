"""Firmware release bundles: the layout, the manifest checks, signature and hash checks.

One file, read by the badge (plain MicroPython) and by `badgekit release verify`::

    0   magic     4   b"BKFW"
    4   format    1   1
    5   zero      1
    6   mlen      2   manifest length, little-endian, <= 16384
    8   manifest  mlen bytes of JSON (UTF-8)
    ..  sig       64  Ed25519 over  b"badgekit-fw-v1" | SHA-256(bytes 0 .. 8 + mlen)
    ..  files     each file's bytes, in the manifest's order, nothing after the last

Manifest: ``{"format": 1, "version": "0.2.0", "min_version": "0.1.0", "hw": ["A", "B"],
"arch": "xtensawin", "built": epoch, "key": key id, "files": [[path, size, sha256], ...]}``.
The signature covers the manifest, the manifest every file's size and SHA-256, so one
signature check (firmware.ed25519) and one hash per file verify the whole bundle.
Everything in a bundle is hostile until checked: lengths, paths (only
``firmware/...(.mpy)``), counts and sizes are bounded before anything is written.
"""

import hashlib
import json
import struct

from firmware import const

__all__ = ["BundleError", "MAGIC", "HEADER", "SIG_SIZE", "MAX_MANIFEST", "MAX_FILES",
           "MAX_BUNDLE", "read_head", "signed_message", "check_manifest", "parse_version",
           "version_text", "verify_signature", "copy_files", "verify_files"]

MAGIC = b"BKFW"
FORMAT = const(1)
HEADER = const(8)
SIG_SIZE = const(64)
MAX_MANIFEST = const(16384)
MAX_FILES = const(160)
MAX_FILE = const(256 * 1024)
MAX_BUNDLE = const(2 * 1024 * 1024)
_DOMAIN = b"badgekit-fw-v1"
_CHUNK = const(2048)
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_/."


class BundleError(ValueError):
    """Not a usable bundle; the message is one line for staff."""


def parse_version(v):
    """"1.2.3" -> (1, 2, 3); BundleError if it is not three whole numbers."""
    if not isinstance(v, str) or len(v) > 32:
        raise BundleError("version must be text like 1.2.3")
    parts = v.split(".")
    if len(parts) != 3:
        raise BundleError("version {} is not MAJOR.MINOR.PATCH".format(v))
    out = []
    for p in parts:
        if not p or len(p) > 6 or not all("0" <= c <= "9" for c in p):
            raise BundleError("version {} is not MAJOR.MINOR.PATCH".format(v))
        out.append(int(p))
    return tuple(out)


def version_text(t):
    return "{}.{}.{}".format(t[0], t[1], t[2])


def signed_message(head_and_manifest):
    """What the release key signs: a domain tag and the SHA-256 of header + manifest."""
    return _DOMAIN + hashlib.sha256(head_and_manifest).digest()


def read_head(f, size):
    """Read header, manifest and signature from the open file ``f`` of ``size`` bytes.

    Returns (head_and_manifest bytes, manifest dict, signature); BundleError otherwise."""
    head = f.read(HEADER)
    if len(head) < HEADER or head[:4] != MAGIC:
        raise BundleError("not a firmware bundle (no BKFW header)")
    if head[4] != FORMAT:
        raise BundleError("bundle format {} is not supported (this reads {})".format(head[4], FORMAT))
    mlen = struct.unpack("<H", head[6:8])[0]
    if mlen == 0 or mlen > MAX_MANIFEST:
        raise BundleError("bundle manifest length {} out of range".format(mlen))
    body = f.read(mlen)
    sig = f.read(SIG_SIZE)
    if len(body) < mlen or len(sig) < SIG_SIZE:
        raise BundleError("bundle truncated in its manifest ({} bytes)".format(size))
    try:
        m = json.loads(body)
    except ValueError:
        raise BundleError("bundle manifest is not JSON")
    check_manifest(m)
    total = HEADER + mlen + SIG_SIZE
    for e in m["files"]:
        total += e[1]
    if total != size:
        raise BundleError("bundle is {} bytes, its manifest says {}: truncated or padded"
                          .format(size, total))
    return head + body, m, sig


def _path_ok(p):
    if not isinstance(p, str) or not p.startswith("firmware/") or len(p) > 80:
        return False
    if ".." in p or "//" in p or p.endswith("/") or p.count("/") > 2:
        return False
    if not (p.endswith(".mpy") or p.endswith(".py")):
        return False
    for c in p:
        if c not in _PATH_CHARS:
            return False
    return True


def check_manifest(m):
    """Type and bound checks of a decoded manifest (before the signature is known good,
    so nothing in it is trusted for more than its shape)."""
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BundleError("bundle manifest has no format {}".format(FORMAT))
    parse_version(m.get("version"))
    parse_version(m.get("min_version"))
    hw = m.get("hw")
    if not isinstance(hw, list) or not hw or not all(isinstance(h, str) and 0 < len(h) <= 8 for h in hw):
        raise BundleError("bundle manifest names no hardware revision")
    if not isinstance(m.get("arch"), str) or len(m["arch"]) > 16:
        raise BundleError("bundle manifest names no architecture")
    files = m.get("files")
    if not isinstance(files, list) or not files or len(files) > MAX_FILES:
        raise BundleError("bundle manifest file list missing or too long")
    seen = set()
    total = 0
    for e in files:
        if (not isinstance(e, list) or len(e) != 3 or not _path_ok(e[0])
                or not isinstance(e[1], int) or isinstance(e[1], bool)
                or e[1] < 0 or e[1] > MAX_FILE or not isinstance(e[2], str) or len(e[2]) != 64):
            raise BundleError("bundle manifest has a bad file entry: {}".format(str(e)[:60]))
        if e[0] in seen:
            raise BundleError("bundle manifest lists {} twice".format(e[0]))
        seen.add(e[0])
        total += e[1]
    if total > MAX_BUNDLE:
        raise BundleError("bundle files add up to {} bytes (limit {})".format(total, MAX_BUNDLE))
    if "firmware/__init__.mpy" not in seen and "firmware/__init__.py" not in seen:
        raise BundleError("bundle has no firmware package")


def verify_signature(head_and_manifest, sig, public, verify_fn=None):
    """BundleError unless ``sig`` is the release key's signature of this manifest.
    ``verify_fn(public, msg, sig) -> bool`` defaults to firmware.ed25519.verify."""
    if verify_fn is None:
        from firmware.ed25519 import verify as verify_fn
    try:
        ok = verify_fn(public, signed_message(head_and_manifest), sig)
    except ValueError as e:
        raise BundleError("release public key unusable: {}".format(e))
    if not ok:
        raise BundleError("bundle signature does not verify with this badge's release key "
                          "(wrong key or altered manifest)")


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def copy_files(f, manifest, write=None, buf=None):
    """Read every file from ``f`` (positioned after the signature), hash it, and hand its
    bytes to ``write(path, chunk)`` (None: only check). BundleError at the first file whose
    bytes do not match the manifest's SHA-256 (or that ends early)."""
    buf = buf or bytearray(_CHUNK)
    mv = memoryview(buf)
    for path, size, want in manifest["files"]:
        h = hashlib.sha256()
        left = size
        if write is not None:
            write(path, None)  # open/trunc the destination
        while left:
            n = f.readinto(mv[:min(left, len(buf))])
            if not n:
                raise BundleError("bundle truncated in {}".format(path))
            h.update(mv[:n])
            if write is not None:
                write(path, mv[:n])
            left -= n
        if _hex(h.digest()) != want:
            raise BundleError("{} does not match its hash in the manifest (bundle altered)"
                              .format(path))


def verify_files(path, size, public, verify_fn=None):
    """Check a whole bundle file: layout, signature, every file hash. Returns the manifest."""
    with open(path, "rb") as f:
        hm, m, sig = read_head(f, size)
        verify_signature(hm, sig, public, verify_fn)
        copy_files(f, m)
    return m
