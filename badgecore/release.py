"""Signed firmware release bundles, release side: key pair, build, verify.

`keygen()` makes the company's Ed25519 release key pair with `cryptography` (private key
PEM 0600 in a 0700 folder; public key as 64 hex digits, the form `badgekit hardware
deploy --release-pubkey` puts on a badge). `build()` compiles every firmware module with
mpy-cross (``-march=xtensawin`` for the ESP32-S3), writes ``firmware/version.py`` with the
release's version, and packs the files with a signed manifest (layout:
firmware.fwbundle). `verify()` checks a bundle the way a badge does (layout, signature,
every file hash) but with `cryptography`'s Ed25519.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from badgecore import mpy
from badgecore.atomicfile import write_atomic
from badgecore.paths import FIRMWARE_DIR
from firmware import fwbundle

__all__ = ["ReleaseError", "Bundle", "keygen", "load_private", "load_public", "key_id",
           "build", "verify", "pack", "compile_tree", "with_version"]


class ReleaseError(RuntimeError):
    """A release step failed; the message is one line."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    version: str
    min_version: str
    hw: list[str]
    arch: str
    files: int
    size: int
    sha256: str
    key: str

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["path"] = str(self.path)
        return d


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def keygen(out: Path) -> tuple[Path, Path]:
    """Write ``out`` (private key, PEM, 0600) and ``out.pub`` (hex); refuse to overwrite."""
    from cryptography.hazmat.primitives import serialization as se
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub_path = out.with_suffix(".pub")
    if out.exists() or pub_path.exists():
        raise ReleaseError(f"{out} or {pub_path} exists: refusing to overwrite a release key")
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(se.Encoding.PEM, se.PrivateFormat.PKCS8, se.NoEncryption())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = key.public_key().public_bytes(se.Encoding.Raw, se.PublicFormat.Raw)
    pub_path.write_text(pub.hex() + "\n", encoding="ascii")
    return out, pub_path


def load_private(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization as se
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = se.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ReleaseError(f"{path}: not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> bytes:
    """A release public key file: 64 hex digits (keygen's .pub), or a PEM public key."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError) as exc:
        raise ReleaseError(f"{path}: cannot read the public key ({exc})") from None
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives import serialization as se
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            k = se.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise ReleaseError(f"{path}: not a PEM public key ({exc})") from None
        if not isinstance(k, Ed25519PublicKey):
            raise ReleaseError(f"{path}: not an Ed25519 public key")
        return k.public_bytes(se.Encoding.Raw, se.PublicFormat.Raw)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ReleaseError(f"{path}: a release public key is 64 hex digits")
    return raw


def _public_of(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization as se

    return bytes(key.public_key().public_bytes(se.Encoding.Raw, se.PublicFormat.Raw))


def pack(files: list[tuple[str, bytes]], key: Any, version: str, min_version: str,
         hw: list[str], arch: str) -> bytes:
    """Sign and pack ``files`` ([(path in the slot, bytes)]) into one bundle."""
    entries = [[p, len(b), hashlib.sha256(b).hexdigest()] for p, b in files]
    man = {"format": fwbundle.FORMAT, "version": version, "min_version": min_version,
           "hw": hw, "arch": arch, "built": int(time.time()), "key": key_id(_public_of(key)),
           "files": entries}
    try:
        fwbundle.check_manifest(man)
    except fwbundle.BundleError as exc:
        raise ReleaseError(str(exc)) from None
    body = json.dumps(man, separators=(",", ":")).encode()
    if len(body) > fwbundle.MAX_MANIFEST:
        raise ReleaseError(f"manifest of {len(body)} bytes exceeds {fwbundle.MAX_MANIFEST}")
    head = fwbundle.MAGIC + bytes([fwbundle.FORMAT, 0]) + struct.pack("<H", len(body))
    sig = key.sign(fwbundle.signed_message(head + body))
    return head + body + sig + b"".join(b for _p, b in files)


def compile_tree(root: Path, arch: str, work: Path) -> list[tuple[str, bytes]]:
    """Every firmware module under ``root`` compiled for ``arch``: [(path in a slot, bytes)]."""
    out: list[tuple[str, bytes]] = []
    for src in mpy.firmware_modules(root):
        rel = src.relative_to(root).with_suffix(".mpy")
        dest = work / "mpy" / rel
        try:
            mpy.cross_compile(src, dest, arch=arch)
        except (RuntimeError, mpy.MicroPythonMissing) as exc:
            raise ReleaseError(str(exc)) from None
        out.append(("firmware/" + rel.as_posix(), dest.read_bytes()))
    if not out:
        raise ReleaseError(f"no firmware modules under {root}")
    return out


def with_version(files: list[tuple[str, bytes]], version: str, arch: str,
                 work: Path) -> list[tuple[str, bytes]]:
    """``files`` with ``firmware/version.mpy`` saying ``version`` (the firmware's own)."""
    gen = work / "version" / version / "version.py"
    gen.parent.mkdir(parents=True, exist_ok=True)
    gen.write_text('"""The firmware\'s own version (written by badgekit release)."""\n\n'
                   f'VERSION = "{version}"\n', encoding="utf-8")
    try:
        data = mpy.cross_compile(gen, gen.with_suffix(".mpy"), arch=arch).read_bytes()
    except (RuntimeError, mpy.MicroPythonMissing) as exc:
        raise ReleaseError(str(exc)) from None
    rest = [(p, b) for p, b in files if p != "firmware/version.mpy"]
    return sorted(rest + [("firmware/version.mpy", data)])


def build(key_path: Path, version: str, out: Path, min_version: str | None,
          hw: list[str], arch: str = "xtensawin",
          root: Path = FIRMWARE_DIR) -> Bundle:
    """Compile, sign and write a release bundle for the board revisions `hw` (the
    caller knows the pin map; this module sits below hardware); returns what was written."""
    if not hw:
        raise ReleaseError("a release names at least one board revision")
    for v in (version, min_version or version):
        try:
            fwbundle.parse_version(v)
        except fwbundle.BundleError as exc:
            raise ReleaseError(str(exc)) from None
    min_version = min_version or version
    if fwbundle.parse_version(min_version) > fwbundle.parse_version(version):
        raise ReleaseError(f"minimum version {min_version} is above the release {version}")
    revs = list(hw)
    key = load_private(key_path)
    with tempfile.TemporaryDirectory(prefix="badgekit-release-") as tmp:
        files = with_version(compile_tree(root, arch, Path(tmp)), version, arch, Path(tmp))
    data = pack(files, key, version, min_version, revs, arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data, mode=0o644)
    return Bundle(out, version, min_version, revs, arch, len(files), len(data),
                  hashlib.sha256(data).hexdigest(), key_id(_public_of(key)))


def _ed25519_verify(public: bytes, msg: bytes, sig: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def verify(path: Path, public: bytes) -> dict[str, Any]:
    """Check a bundle as a badge would; returns its manifest, raises ReleaseError."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReleaseError(f"{path}: {exc.strerror}") from None
    try:
        m = fwbundle.verify_files(str(path), size, public, _ed25519_verify)
    except fwbundle.BundleError as exc:
        raise ReleaseError(f"{path}: {exc}") from None
    out = dict(m)
    out["size"] = size
    out["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
