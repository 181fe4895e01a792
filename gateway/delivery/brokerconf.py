"""Harden a Mosquitto broker for badgekit: TLS certificates, passwords, per-branch ACL.

For a branch deployment and for the tests (`LocalBroker(extra_config=...)`):

    certs = make_certs(folder)                                 # CA, server, client (PEM)
    write_passwords(folder / "passwd", {"gw-sh01": "s3cret", "compliance": "…"})
    write_acl(folder / "acl", "acme", gateways={"gw-sh01": "sh01"}, receivers=["compliance"])
    extra = mosquitto_config(tls_port, certs, folder / "passwd", folder / "acl")

Each gateway user may write (and read back) only `badgekit/v1/{tenant}/{its branch}/#`;
receiver users may read the tenant's topics and write only receipts to gateways. Certificates come from
the `cryptography` package (ECDSA P-256, one-year validity, server SAN for 127.0.0.1 and
localhost); passwords are hashed by `mosquitto_passwd`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from badgecore.paths import find_tool
from gateway.delivery.errors import DeliveryError
from gateway.delivery.topics import ROOT, VERSION, check_level

__all__ = ["CertSet", "make_certs", "mosquitto_config", "write_acl", "write_passwords"]


@dataclass(frozen=True)
class CertSet:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write_key_cert(folder: Path, name: str, key, cert) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    kp, cp = folder / f"{name}.key", folder / f"{name}.crt"
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    kp.chmod(0o600)
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return kp, cp


def make_certs(folder: Path, hosts: Iterable[str] = ("127.0.0.1", "localhost"), days: int = 365) -> CertSet:
    """A private CA plus a server and a client certificate signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "badgekit"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("badgekit test CA")).issuer_name(name("badgekit test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, server: bool):  # type: ignore[no-untyped-def]
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage(
                 [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                 critical=False))
        if server:
            sans: list[x509.GeneralName] = []
            for h in hosts:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(h)))
                except ValueError:
                    sans.append(x509.DNSName(h))
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, b.sign(ca_key, hashes.SHA256())

    _, ca_path = _write_key_cert(folder, "ca", ca_key, ca)
    sk, sc = _write_key_cert(folder, "server", *leaf("badgekit broker", True))
    ck, cc = _write_key_cert(folder, "client", *leaf("badgekit gateway", False))
    return CertSet(ca_path, sc, sk, cc, ck)


def write_passwords(path: Path, users: dict[str, str]) -> Path:
    """A Mosquitto password file (hashed with `mosquitto_passwd -b`)."""
    tool = find_tool("mosquitto_passwd")
    if not tool:
        raise DeliveryError("mosquitto_passwd not found; fix: sudo apt-get install -y mosquitto")
    path = Path(path)
    path.write_text("")
    path.chmod(0o600)
    for user, password in users.items():
        if ":" in user or not user:
            raise DeliveryError(f"invalid MQTT username {user!r}")
        r = subprocess.run([tool, "-b", str(path), user, password], capture_output=True, text=True)
        if r.returncode:
            raise DeliveryError(f"mosquitto_passwd failed for {user}: {r.stderr.strip() or r.stdout.strip()}")
    return path


def write_acl(path: Path, tenant: str, gateways: dict[str, str], receivers: Iterable[str] = ()) -> Path:
    """ACL: each gateway user writes only its branch's subtree; receivers read the tenant's."""
    check_level(tenant, "tenant")
    lines = []
    for user, branch in gateways.items():
        check_level(branch, "branch")
        lines += [f"user {user}", f"topic readwrite {ROOT}/{VERSION}/{tenant}/{branch}/#", ""]
    for user in receivers:
        lines += [f"user {user}", f"topic read {ROOT}/{VERSION}/{tenant}/#",
                  f"topic write {ROOT}/{VERSION}/{tenant}/+/_gateway/+/receipts", ""]
    Path(path).write_text("\n".join(lines))
    return Path(path)


def mosquitto_config(tls_port: int | None, certs: CertSet | None, password_file: Path | None,
                     acl_file: Path | None, host: str = "127.0.0.1", require_client_cert: bool = False,
                     max_queued_messages: int = 100_000) -> str:
    """Extra Mosquitto config lines: a TLS listener, the password file and the ACL.

    `max_queued_messages` is raised from Mosquitto's 1,000 so that a receiver that is away
    for a day keeps its queue (beyond the limit the broker drops QoS 1 messages for it;
    the gateways would send them again, unconfirmed, but later)."""
    lines = [f"max_queued_messages {max_queued_messages}"]
    if password_file:
        lines.append(f"password_file {password_file}")
    if acl_file:
        lines.append(f"acl_file {acl_file}")
    if tls_port is not None and certs is not None:
        lines += [f"listener {tls_port} {host}", f"cafile {certs.ca_cert}", f"certfile {certs.server_cert}",
                  f"keyfile {certs.server_key}", "tls_version tlsv1.2"]
        if require_client_cert:
            lines += ["require_certificate true"]
    return "\n".join(lines) + "\n"
