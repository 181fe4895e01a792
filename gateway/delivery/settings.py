"""Settings and statistics of the publisher (frozen records; units in the names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.delivery.envelope import CHUNK_BYTES_MAX

__all__ = ["PublisherSettings", "PublisherStats"]


@dataclass(frozen=True)
class PublisherSettings:
    tenant: str = "default"
    branch: str = "branch"
    gateway_id: str = "gateway"
    """Unique per gateway process; names its status topic and MQTT client id."""
    chunk_bytes: int = CHUNK_BYTES_MAX
    """Largest message payload; larger payloads are split into parts."""
    window: int = 20
    """Messages in flight before waiting for acknowledgements."""
    poison_strikes: int = 3
    """Connection drops with the same oldest message in flight before it is rejected."""
    require_subscriber: bool = True
    """Keep a message whose PUBACK says "no matching subscribers" (0x10) and send it again
    after `hold_s`: with no receiver subscribed the broker would forget it."""
    hold_s: float = 2.0
    """Seconds before a message nobody was subscribed to is sent again."""
    await_receipts: bool = True
    """Keep acknowledged messages until a receiver confirms it stored them (end to end)."""
    resend_unconfirmed_s: float = 300.0
    """Send again what no receiver confirmed for this long (also at once after a reconnect)."""
    receiver_keys: Path | None = None
    """Enrolled receiver public keys (`<dir>/<tenant>/<branch>/<receiver id>.pub`): only
    receipts signed by them confirm messages (gateway.delivery.receipts). None: receipts
    are taken unchecked (warned once)."""


@dataclass(frozen=True)
class PublisherStats:
    connected: bool
    published: int
    acked: int
    rejected: int
    reconnects: int
    outbox_depth: int
    """Messages not yet delivered (pending or unconfirmed)."""
    confirmed: int
    last_error: str
    receipts_refused: int = 0
    """Receipts refused (unsigned, forged, replayed): their messages stayed in the outbox."""
