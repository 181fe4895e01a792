"""Broker address, TLS and username/password settings, applied to a paho client.

`BrokerSettings.from_url("mqtts://host:8883", ...)` builds the settings; `apply(client)`
sets credentials and TLS (server verified against `ca_path`, optional client certificate).
A missing certificate file is reported before any connection is tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gateway.delivery.errors import DeliveryError

__all__ = ["BrokerSettings", "TlsSettings"]

_SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True), "ssl": (8883, True)}


@dataclass(frozen=True)
class TlsSettings:
    """TLS for the broker connection."""

    ca_path: Path | None = None
    """CA certificate (PEM) that signed the broker's certificate; None: the system store."""
    cert_path: Path | None = None
    """Client certificate (PEM) for brokers that require one."""
    key_path: Path | None = None
    """Private key (PEM) of `cert_path`."""

    def check(self) -> None:
        for what, p in (("--tls-ca", self.ca_path), ("--tls-cert", self.cert_path), ("--tls-key", self.key_path)):
            if p is not None and not Path(p).is_file():
                raise DeliveryError(f"{what} {p}: no such file")
        if (self.cert_path is None) != (self.key_path is None):
            raise DeliveryError("--tls-cert and --tls-key go together")


@dataclass(frozen=True)
class BrokerSettings:
    """Where and how to connect to the MQTT broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    """TLS settings; None for plain TCP."""
    keepalive_s: int = 30
    """MQTT keep-alive; the last will fires about 1.5x this after a silent death."""
    connect_timeout_s: float = 10.0
    """How long a blocking connect waits for the broker's CONNACK."""
    reconnect_max_s: float = 5.0
    """Longest wait between reconnect attempts."""

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def from_url(
        cls,
        url: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsSettings | None = None,
        **kw: Any,
    ) -> BrokerSettings:
        """Parse `mqtt://host[:port]` or `mqtts://host[:port]` (user:pass@ allowed)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in _SCHEMES:
            raise DeliveryError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        default_port, secure = _SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise DeliveryError(f"broker URL {url!r}: bad port") from None
        if not parts.hostname:
            raise DeliveryError(f"broker URL {url!r}: no host")
        user = username if username is not None else (unquote(parts.username) if parts.username else None)
        pw = password if password is not None else (unquote(parts.password) if parts.password else None)
        if secure and tls is None:
            tls = TlsSettings()
        if tls is not None:
            tls.check()
        return cls(host=parts.hostname, port=port, username=user, password=pw, tls=tls, **kw)

    def apply(self, client: Any) -> None:
        """Set credentials and TLS on a paho `Client`."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls is not None:
            import ssl

            self.tls.check()
            client.tls_set(
                ca_certs=str(self.tls.ca_path) if self.tls.ca_path else None,
                certfile=str(self.tls.cert_path) if self.tls.cert_path else None,
                keyfile=str(self.tls.key_path) if self.tls.key_path else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
