"""The gateway service's settings and the report of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.delivery.publisher import PublisherSettings
from gateway.delivery.security import BrokerSettings

__all__ = ["GatewayReport", "GatewaySettings"]


@dataclass(frozen=True)
class GatewaySettings:
    spool_dir: Path
    broker: BrokerSettings
    publisher: PublisherSettings = field(default_factory=PublisherSettings)
    state_dir: Path | None = None
    """Where gateway.db (state + outbox) and quarantine/ live; default `<spool>/.badgekit-gateway`."""
    model_dir: Path | None = None
    """Speech model folder; None: the bundled model."""
    language: str | None = None
    compute_type: str | None = None
    """CTranslate2 compute type of the model; None: the engine's default (int16 where the
    CPU runs it, else float32)."""
    transcribe: bool = True
    """False: deliver audio, custody and manifests only (transcripts come from elsewhere)."""
    rules_path: Path | None = None
    """Compliance rule pack (TOML) for the findings; None: the bundled life and savings pack."""
    settle_s: float = 10.0
    """A session is transcribed once no clip arrived for this long."""
    poll_interval_s: float = 1.0
    flush_timeout_s: float = 60.0
    """`run_once`: how long to wait for the broker to acknowledge everything."""
    confirm_wait_s: float = 5.0
    """`run_once`: then how long to wait for receivers' receipts (the rest is re-sent next run)."""
    metrics_port: int | None = None
    """Health and Prometheus metrics on 127.0.0.1:port (0: any free port); None: off."""
    metrics_host: str = "127.0.0.1"
    badge_keys: Path | None = None
    """The branch's badge clip key file (`badgekit companion clip-keys`): every clip's seal
    (clip format 2) is checked with it; a bad seal is quarantined. None: seals unchecked."""
    signing_key: Path | None = None
    """The gateway's Ed25519 key (PEM, 0600) signing every document it publishes; made on
    first start when missing. None: `<state>/gateway.key` (public half: `gateway.key.pub`)."""

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else Path(self.spool_dir) / ".badgekit-gateway"


@dataclass(frozen=True)
class GatewayReport:
    clips_in: int
    clips_quarantined: int
    sessions_transcribed: int
    seconds_transcribed: float
    outbox_depth: int
    """Messages not yet acknowledged by the broker."""
    unconfirmed: int
    """Acknowledged by the broker, no receipt from a receiver yet (kept; re-sent later)."""
    messages_rejected: int
    errors: list[str]
    delivered: bool
    """True when the broker acknowledged every message."""
    receipts_refused: int = 0
    """Receipts refused (unsigned with receiver keys, forged, replayed): messages kept."""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)
