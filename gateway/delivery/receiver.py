"""The reference consumer: subscribe, store each session's files, verify, report gaps.

    receiver = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(url), out_dir=out))
    summary = receiver.run(idle_exit_s=5)     # or start() ... stop() around other work
    summary.clips_verified, summary.duplicates_dropped, summary.gaps

Every stored message (and every duplicate) is confirmed to the gateway that sent it with
a receipt on `…/_gateway/{gateway id}/receipts` (batched, QoS 1); the gateway keeps a
message until then, so even a broker that crashes before saving loses nothing. With
`signing_key` receipts are signed with the receiver's Ed25519 key, which gateways enrol
(`gateway.delivery.receipts`): nobody else can make a gateway drop its messages.

It keeps a persistent MQTT 5 session (fixed client id, clean_start off, session expiry),
so QoS 1 messages published while it is down wait in the broker. Each message is
acknowledged only after `ReceiverStore.handle` committed it, so a receiver killed at any
moment gets the message again and drops the copy it already stored. With
`share_group`, several receivers share the work through an MQTT 5 shared subscription
(`$share/{group}/badgekit/v1/...`) and one store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from badgecore.clipcheck import Gap
from gateway.delivery.errors import DeliveryError
from gateway.delivery.integrity import effective_auth
from gateway.delivery.mqtt import Connection, user_properties
from gateway.delivery.receipts import ReceiptMaker, warn_once
from gateway.delivery.security import BrokerSettings
from gateway.delivery.signing import GatewayKey, KeyRing
from gateway.delivery.store import ReceiverStore
from gateway.delivery.storeintegrity import store_integrity
from gateway.delivery.topics import TopicError, Topics, parse

__all__ = ["Receiver", "ReceiverSettings", "ReceiverSummary"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceiverSettings:
    broker: BrokerSettings
    out_dir: Path
    tenant: str = "+"
    """Tenant to receive ("+": all the broker lets this user read)."""
    branch: str = "+"
    share_group: str | None = None
    """MQTT 5 shared-subscription group: receivers in one group split the messages."""
    client_id: str = "badgekit-receiver"
    """Fixed, so the broker keeps this receiver's queue while it is away."""
    session_expiry_s: int = 7 * 24 * 3600
    """How long the broker keeps queued messages for an absent receiver."""
    badge_keys: Path | None = None
    """The branch's badge clip key file (`badgekit companion clip-keys`): clip seals are
    checked here too; without it the gateway's signed record says whether it checked."""
    keys_dir: Path | None = None
    """Enrolled gateway public keys (`<dir>/<tenant>/<branch>/<gateway id>.pub`): every
    document must verify against them. None: documents are filed unchecked (and counted)."""
    signing_key: Path | None = None
    """This receiver's Ed25519 key (PEM, 0600; `gateway key new`) signing its receipts;
    gateways enrol its public half (`gateway key enrol --receiver-id`). None: unsigned."""
    receiver_id: str = "receiver"
    """The id receipts are signed as (the name gateways enrolled the key under)."""


@dataclass(frozen=True)
class ReceiverSummary:
    messages: int
    clips_received: int
    clips_verified: int
    duplicates_dropped: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(clip id, reason) of clips whose audio did not verify."""
    gaps: list[Gap] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Clips a session manifest lists that were not received."""
    transcripts: int = 0
    sessions: int = 0
    recovered: list[str] = field(default_factory=list)
    """Verified clips the badge closed after a power cut (their last second may be lost)."""
    refused: list[dict[str, str]] = field(default_factory=list)
    """Messages refused: hostile topics, unsigned or forged documents, future revisions."""
    conflicts: list[dict[str, str]] = field(default_factory=list)
    """Clip ids that came again with other content (quarantined; the stored clip is kept)."""
    documents_unchecked: int = 0
    """Documents filed without a signature check (no key ring configured)."""
    integrity: list[dict[str, Any]] = field(default_factory=list)
    """Per session: its integrity status (`gateway.delivery.integrity`)."""
    auth: dict[str, str] = field(default_factory=dict)
    """Per clip: its seal (authenticated, unauthenticated = format 1, bad_mac, no_key)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "clips_received": self.clips_received,
            "clips_verified": self.clips_verified,
            "duplicates_dropped": self.duplicates_dropped,
            "failed": [{"clip_id": c, "reason": r} for c, r in self.failed],
            "gaps": [g.as_dict() for g in self.gaps],
            "missing": self.missing,
            "transcripts": self.transcripts,
            "sessions": self.sessions,
            "recovered": self.recovered,
            "refused": self.refused,
            "conflicts": self.conflicts,
            "documents_unchecked": self.documents_unchecked,
            "integrity": self.integrity,
            "auth": self.auth,
        }


class Receiver:
    """Receive badgekit messages into `settings.out_dir`."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.settings = settings
        badge_keys = None
        if settings.badge_keys is not None:
            from badgecore.badgekeys import BadgeKeysError, load_badge_keys

            try:
                badge_keys = load_badge_keys(settings.badge_keys)
            except BadgeKeysError as exc:
                raise DeliveryError(str(exc)) from None
        self.store = ReceiverStore(settings.out_dir,
                                   KeyRing(settings.keys_dir) if settings.keys_dir is not None else None,
                                   badge_keys)
        self.topic_filter = Topics.subscription(settings.tenant, settings.branch, settings.share_group)
        self.lock = threading.Lock()
        """Held while the store is used (the store's connection is shared with paho's thread)."""
        self._last_message = time.monotonic()
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self.handled = 0
        """badgekit messages this receiver (this worker of a pool) stored or dropped as copies."""
        signer = None
        if settings.signing_key is not None:
            signer = GatewayKey.load(settings.signing_key, settings.receiver_id)
        else:
            warn_once("unsigned-receipts", "receipts are unsigned (no receiver signing key): a gateway that enrols "
                      "receivers refuses them, and one that does not cannot tell them from forgeries")
        self.receipt_maker = ReceiptMaker(signer, settings.receiver_id)
        self._receipts: dict[tuple[str, str], list[str]] = {}  # (receipts topic, gateway run) -> ids
        self._receipt_lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def start(self) -> None:
        """Connect and subscribe; messages are handled on paho's thread until `stop()`."""
        conn = Connection(
            self.settings.broker,
            client_id=self.settings.client_id,
            clean_start=False,
            session_expiry_s=self.settings.session_expiry_s,
            on_connected=self._subscribe,
        )
        conn.client.manual_ack_set(True)
        conn.client.on_message = self._on_message
        self._conn = conn
        self._stop.clear()
        conn.start(require=True)
        self._flusher = threading.Thread(target=self._flush_loop, name="badgekit-receipts", daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(0.1):
            self.flush_receipts()
        self.flush_receipts()

    def flush_receipts(self) -> int:
        """Publish the receipts collected so far (one message per gateway, QoS 1)."""
        conn = self._conn
        if conn is None or not conn.connected.is_set():
            return 0
        with self._receipt_lock:
            batch, self._receipts = self._receipts, {}
        for (topic, run), ids in batch.items():
            for i in range(0, len(ids), 2000):
                conn.client.publish(topic, self.receipt_maker.make(topic, run, ids[i : i + 2000]), qos=1)
        return sum(len(v) for v in batch.values())

    def _subscribe(self, session_present: bool) -> None:
        assert self._conn is not None
        self._conn.client.subscribe(self.topic_filter, qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        props = user_properties(getattr(message, "properties", None))
        try:
            with self.lock:
                outcome = self.store.handle(message.topic, props, bytes(message.payload))
        except Exception:  # noqa: BLE001 - keep serving; the message will come again
            log.exception("could not store a message on %s; not acknowledged", message.topic)
            return
        self._last_message = time.monotonic()
        if outcome in ("stored", "complete", "duplicate", "rejected"):
            self.handled += 1
        log.debug("%s %s", outcome, message.topic)
        if message.qos:
            client.ack(message.mid, message.qos)
        gateway, msg_id = props.get("gateway"), props.get("msg_id")
        if gateway and msg_id and outcome in ("stored", "complete", "duplicate", "rejected"):
            try:
                info = parse(message.topic)
                topic = Topics(info.tenant, info.branch).receipts(gateway)
            except TopicError:
                return
            with self._receipt_lock:
                self._receipts.setdefault((topic, props.get("run", "")), []).append(msg_id)

    def run(
        self,
        until: Callable[[ReceiverSummary], bool] | None = None,
        idle_exit_s: float | None = None,
        timeout_s: float | None = None,
    ) -> ReceiverSummary:
        """Receive until `until(summary)` is true, `idle_exit_s` pass without a message,
        `timeout_s` pass, or `stop()` is called; returns the summary."""
        if self._conn is None:
            self.start()
        start = time.monotonic()
        self._last_message = start
        try:
            while not self._stop.wait(0.1):
                conn = self._conn
                if conn is not None and conn.fatal is not None:
                    raise conn.fatal
                now = time.monotonic()
                if until is not None and until(self.summary()):
                    break
                if idle_exit_s is not None and now - self._last_message >= idle_exit_s:
                    break
                if timeout_s is not None and now - start >= timeout_s:
                    break
        finally:
            self.stop()
        return self.summary()

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(5)
            self._flusher = None
        if self._conn is not None:
            time.sleep(0.05)  # let the last receipts leave
            self._conn.stop()
            self._conn = None

    def summary(self) -> ReceiverSummary:
        with self.lock:
            c = self.store.counters()
            clips = self.store.clips()
            gaps = self.store.chain()
            missing = self.store.missing()
            refused = self.store.refused()
            conflicts = self.store.conflicts()
            integrity = store_integrity(self.store, gaps)
        return ReceiverSummary(
            messages=c.get("messages", 0),
            clips_received=sum(1 for x in clips if x["audio"] or x["error"]),
            clips_verified=sum(1 for x in clips if x["verified"]),
            duplicates_dropped=c.get("duplicates", 0),
            failed=[(x["clip_id"], x["error"]) for x in clips if x["error"]],
            gaps=gaps,
            missing=missing,
            transcripts=c.get("transcripts", 0),
            sessions=len({(x["badge"], x["session"]) for x in clips}),
            recovered=[x["clip_id"] for x in clips if x["verified"] and x["recovered"]],
            refused=refused,
            conflicts=conflicts,
            documents_unchecked=c.get("documents_unchecked", 0),
            integrity=integrity,
            auth={x["clip_id"]: effective_auth(x["auth"], x["record_auth"], self.store.keys is not None)
                  for x in clips if x["audio"] or x["auth"]},
        )

    def close(self) -> None:
        self.stop()
        with self.lock:
            self.store.close()
