"""Ed25519 signatures on the documents a gateway publishes, and their verification.

A gateway signs every JSON document it publishes (clip record, custody record,
manifest, transcript, findings) with its own key; the receiver keeps a document only
if the signature verifies against the public key enrolled for that gateway of that
branch. The signature covers the full topic too, so a signed document cannot be moved
to another branch, badge, session or clip:

    signed = "badgekit-doc/1\\n" ‖ topic ‖ "\\n" ‖ canonical JSON of the document without "signature"
    doc["signature"] = {"alg": "Ed25519", "gateway": id, "key_id": 16 hex, "sig": base64}

Files: the private key is PKCS#8 PEM, mode 0600 in a 0700 folder, never printed or
logged; the public key (`<key>.pub`, PEM) is what the compliance side enrols as
`<keys>/<tenant>/<branch>/<gateway id>.pub` (`badgekit gateway key enrol`).

Revisions: a document's `revision` is milliseconds since the epoch at the gateway; the
receiver refuses one more than `MAX_REVISION_SKEW_S` (300 s) ahead of its own clock, so a
forged far-future revision can never hide later genuine ones.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from badgecore.privatefs import write_private
from gateway.delivery.envelope import json_bytes
from gateway.delivery.errors import DeliveryError, TopicError
from gateway.delivery.topics import check_level

__all__ = ["MAX_REVISION_SKEW_S", "DocumentRefused", "GatewayKey", "KeyRing", "SignatureStatus",
           "check_revision", "key_id", "key_id_of"]

MAX_REVISION_SKEW_S = 300
"""A document revision (ms since the epoch) more than this far ahead of the receiver's clock is refused."""
_DOMAIN = b"badgekit-doc/1\n"


class DocumentRefused(DeliveryError):
    """A document that does not verify (no, bad or unknown signature; revision from the future)."""


def _signed_bytes(topic: str, doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return _DOMAIN + topic.encode() + b"\n" + json_bytes(body)


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def key_id_of(public_pem: bytes) -> str:
    """The key id (16 hex) of a PEM public key."""
    from cryptography.hazmat.primitives import serialization

    raw = _load_public(public_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id(raw)


class GatewayKey:
    """A gateway's Ed25519 private key."""

    def __init__(self, private: Any, gateway_id: str) -> None:
        from cryptography.hazmat.primitives import serialization

        self._private = private
        self.gateway_id = gateway_id
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id(raw)

    def __repr__(self) -> str:  # never shows the secret
        return f"GatewayKey(gateway_id={self.gateway_id!r}, key_id={self.key_id!r})"

    @staticmethod
    def generate(path: Path, gateway_id: str) -> GatewayKey:
        """Make a new key at `path` (0600) and its public half at `path.pub`."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = Path(path)
        if path.exists():
            raise DeliveryError(f"{path} exists; refusing to overwrite a gateway key")
        key = GatewayKey(Ed25519PrivateKey.generate(), gateway_id)
        key.save(path)
        return key

    def save(self, path: Path) -> None:
        from cryptography.hazmat.primitives import serialization

        pem = self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        write_private(Path(path), pem)
        write_private(Path(f"{path}.pub"), self.public_pem())

    @staticmethod
    def load(path: Path, gateway_id: str) -> GatewayKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = Path(path)
        try:
            mode = path.stat().st_mode & 0o777
            data = path.read_bytes()
        except OSError as exc:
            raise DeliveryError(f"cannot read the gateway key {path}: {exc.strerror}") from None
        if mode & 0o077:
            raise DeliveryError(f"gateway key {path} is readable by others (mode {mode:o}); fix: chmod 600 {path}")
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise DeliveryError(f"{path} is not a PEM private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise DeliveryError(f"{path} is not an Ed25519 key")
        return GatewayKey(private, gateway_id)

    @staticmethod
    def load_or_create(path: Path, gateway_id: str) -> GatewayKey:
        return GatewayKey.load(path, gateway_id) if Path(path).exists() else GatewayKey.generate(path, gateway_id)

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(self._private.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))

    def sign(self, topic: str, doc: dict[str, Any]) -> dict[str, Any]:
        sig = self._private.sign(_signed_bytes(topic, doc))
        return {**doc, "signature": {"alg": "Ed25519", "gateway": self.gateway_id, "key_id": self.key_id,
                                     "sig": base64.b64encode(sig).decode()}}


@dataclass(frozen=True)
class SignatureStatus:
    """How a document was accepted: verified by `gateway`'s key, or unchecked (no key ring)."""

    verified: bool
    gateway: str = ""


def _load_public(data: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pub = serialization.load_pem_public_key(data)
    if not isinstance(pub, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return pub


class KeyRing:
    """Enrolled gateway public keys: `<dir>/<tenant>/<branch>/<gateway id>.pub` (a gateway's
    ring of receiver keys, `role="receiver"`, has the same layout: gateway.delivery.receipts)."""

    def __init__(self, folder: Path, role: str = "gateway") -> None:
        self.folder = Path(folder)
        self.role = role

    def enrol(self, tenant: str, branch: str, gateway_id: str, public_pem: bytes) -> Path:
        for value, what in ((tenant, "tenant"), (branch, "branch"), (gateway_id, f"{self.role} id")):
            check_level(value, what)
        try:
            _load_public(public_pem)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"not an Ed25519 public key in PEM form: {exc}") from None
        path = self.folder / tenant / branch / f"{gateway_id}.pub"
        write_private(path, public_pem, root=self.folder)
        return path

    def _public(self, tenant: str, branch: str, gateway_id: str) -> Any:
        try:
            for value, what in ((tenant, "tenant"), (branch, "branch"), (gateway_id, f"{self.role} id")):
                check_level(value, what)
        except TopicError as exc:
            raise DocumentRefused(f"signature names an impossible {self.role}: {exc}") from None
        path = self.folder / tenant / branch / f"{gateway_id}.pub"
        try:
            return _load_public(path.read_bytes())
        except FileNotFoundError:
            raise DocumentRefused(f"{self.role} {gateway_id!r} has no key enrolled for {tenant}/{branch}") from None
        except (ValueError, TypeError) as exc:
            raise DocumentRefused(f"enrolled key {path} is unusable: {exc}") from None

    def verify(self, tenant: str, branch: str, topic: str, doc: dict[str, Any]) -> SignatureStatus:
        """Raise `DocumentRefused` unless `doc` carries a valid signature by an enrolled
        gateway of `tenant`/`branch` over `topic` and its content."""
        from cryptography.exceptions import InvalidSignature

        sig = doc.get("signature")
        if not isinstance(sig, dict):
            raise DocumentRefused("unsigned document")
        if sig.get("alg") != "Ed25519" or not isinstance(sig.get("sig"), str):
            raise DocumentRefused(f"unsupported signature {str(sig.get('alg'))[:20]!r}")
        gateway = str(sig.get("gateway", ""))
        pub = self._public(tenant, branch, gateway)
        try:
            pub.verify(base64.b64decode(sig["sig"], validate=True), _signed_bytes(topic, doc))
        except (InvalidSignature, ValueError):
            raise DocumentRefused(f"signature does not verify against {self.role} {gateway}'s enrolled key") from None
        return SignatureStatus(True, gateway)


def check_revision(doc: dict[str, Any], now_s: float | None = None) -> int:
    """The document's revision, or `DocumentRefused` if it is from the future."""
    try:
        rev = int(doc.get("revision", 0))
    except (TypeError, ValueError):
        raise DocumentRefused(f"revision {str(doc.get('revision'))[:30]!r} is not a number") from None
    now_ms = int((time.time() if now_s is None else now_s) * 1000)
    if rev > now_ms + MAX_REVISION_SKEW_S * 1000:
        raise DocumentRefused(f"revision {rev} is more than {MAX_REVISION_SKEW_S} s ahead of this clock "
                              f"({now_ms}); refused")
    return rev

