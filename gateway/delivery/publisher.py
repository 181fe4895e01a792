"""Publish the outbox over MQTT 5 with QoS 1; a message leaves only once acknowledged.

`Publisher.start()` connects (a refused password is a `BrokerAuthError` at once) and
runs one pump thread: it publishes pending messages in order with at most `window`
unacknowledged and settles the broker's PUBACKs in batches. With `await_receipts` (the
default) a PUBACK only marks a message sent; it leaves the outbox when a receiver's
receipt on `…/_gateway/{id}/receipts` names it, and every unconfirmed message is sent
again after each (re)connect, because a broker killed before saving forgets what it
acknowledged. With `receiver_keys` only receipts signed by an enrolled receiver count
(`gateway.delivery.receipts`: every message carries this publisher's `run`, and a
forged, replayed or earlier-run receipt is refused, counted in `receipts_refused` and
its messages kept). On a lost connection the pump starts a fresh client and publishes
everything still pending again (the receiver drops the duplicates by `msg_id`). A message the broker refuses is kept as rejected with a clear
reason (`MessageTooLargeError`, `MessageRejectedError`), and the rest keeps flowing:

- over the broker's announced Maximum Packet Size: rejected before sending;
- a PUBACK with an error reason code (e.g. 0x87 not authorised by the ACL): rejected;
- a broker that drops the connection each time one message is the oldest in flight
  (Mosquitto's `message_size_limit` does this to MQTT 5 clients): rejected after
  `poison_strikes` such drops.

A PUBACK saying "no matching subscribers" (0x10) means the broker will not keep the
message for anybody: by default (`require_subscriber`) it stays in the outbox and is
sent again every `hold_s` until a receiver (or a shared-subscription pool) is there.

The gateway status (`…/_gateway/{id}/status`, retained) is "online" on every connect,
"stopped" on a clean stop, and "offline" via the last will when the process dies.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from gateway.delivery.envelope import blob_messages, json_bytes
from gateway.delivery.errors import (
    BrokerAuthError,
    DeliveryError,
    MessageRejectedError,
    MessageTooLargeError,
)
from gateway.delivery.mqtt import Connection
from gateway.delivery.outbox import Message, Outbox
from gateway.delivery.receipts import ReceiptChecker, ReceiptRefused, warn_once
from gateway.delivery.security import BrokerSettings
from gateway.delivery.settings import PublisherSettings, PublisherStats
from gateway.delivery.signing import GatewayKey, KeyRing
from gateway.delivery.topics import Topics

__all__ = ["Publisher", "PublisherSettings", "PublisherStats"]

log = logging.getLogger(__name__)
_PACKET_OVERHEAD = 64  # fixed header, packet id, property lengths


class Publisher:
    """Durable QoS 1 publishing of one gateway's outbox."""

    def __init__(self, broker: BrokerSettings, settings: PublisherSettings, outbox: Outbox) -> None:
        self.broker = broker
        self.settings = settings
        self.outbox = outbox
        self.topics = Topics(settings.tenant, settings.branch)
        self.status_topic = self.topics.status(settings.gateway_id)
        self.receipts_topic = self.topics.receipts(settings.gateway_id)
        outbox.await_receipts = settings.await_receipts
        self._receipts: deque[list[str]] = deque()
        self.confirmed = 0
        self.fatal: DeliveryError | None = None
        self.last_error = ""
        self._conn: Connection | None = None
        self._inflight: dict[int, Message] = {}
        self._acks: deque[tuple[int, int, str]] = deque()
        self._suspect = 0
        self._held: dict[int, float] = {}
        self.held = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._strikes: dict[int, int] = {}
        self._max_packet = 0
        self.published = self.acked = self.rejected = self.reconnects = 0
        self.signer: GatewayKey | None = None
        """Signs every JSON document (dict) this publisher queues (gateway.delivery.signing)."""
        self.run_id = secrets.token_hex(8)
        """Sent with every message (user property `run`); receipts must name it."""
        ring = KeyRing(settings.receiver_keys, role="receiver") if settings.receiver_keys else None
        self.receipts = ReceiptChecker(ring, settings.tenant, settings.branch, self.run_id)
        self.receipts_refused = 0
        self.refused_receipts: deque[str] = deque(maxlen=20)
        """The reasons of the last refused receipts."""
        if ring is None and settings.await_receipts:
            warn_once("unauthenticated-receipts", "receipts are not authenticated (no receiver key ring): anyone "
                      f"allowed to publish on {self.receipts_topic} can make this gateway drop messages; enrol "
                      "receivers' keys and give --receiver-keys")

    # -- enqueue ---------------------------------------------------------------------------

    def enqueue(
        self,
        topic_suffix: str,
        payload: bytes | dict[str, Any] | list[Any],
        kind: str | None = None,
        content_type: str | None = None,
        props: dict[str, str] | None = None,
    ) -> list[str]:
        """Durably queue a payload for `badgekit/v1/{tenant}/{branch}/{topic_suffix}`.

        A dict or list is sent as canonical JSON; bytes as they are. Payloads larger than
        `chunk_bytes` become several parts. Returns the message ids (content-addressed,
        so enqueueing the same payload twice stores it once).
        """
        messages = self.messages(topic_suffix, payload, kind, content_type, props)
        self.outbox.put(messages)
        self._wake.set()
        return [m.msg_id for m in messages]

    def messages(
        self,
        topic_suffix: str,
        payload: bytes | dict[str, Any] | list[Any],
        kind: str | None = None,
        content_type: str | None = None,
        props: dict[str, str] | None = None,
    ) -> list[Message]:
        """The outbox messages `enqueue` would store (for callers batching a transaction)."""
        topic = self.topics.full(topic_suffix)
        if isinstance(payload, dict) and self.signer is not None:
            payload = self.signer.sign(topic, payload)
        if isinstance(payload, dict | list):
            data, ctype = json_bytes(payload), content_type or "application/json"
        else:
            data, ctype = bytes(payload), content_type or "application/octet-stream"
        return blob_messages(topic, data, kind or topic_suffix.rsplit("/", 1)[-1],
                             self.settings.chunk_bytes, ctype, {**(props or {}), "gateway": self.settings.gateway_id})

    def wake(self) -> None:
        """Tell the pump that new messages were put in the outbox."""
        self._wake.set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, require: bool = True) -> None:
        """Connect (raising a named error if `require`) and start the pump thread."""
        if require:
            self._conn = self._connect(require=True)
        self._thread = threading.Thread(target=self._pump, name="badgekit-publisher", daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float = 30.0, confirmed: bool = True) -> bool:
        """Wait until the broker acknowledged every message and, with `confirmed` (and
        `await_receipts`), a receiver confirmed it; True if that happened in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.fatal:
                raise self.fatal
            st = self.outbox.stats() if not confirmed else None
            done = (self.outbox.depth == 0) if confirmed else (st is not None and st.pending == 0)
            if done and not self._inflight and not self._held:
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.02)

    def stop(self) -> None:
        """Publish the "stopped" status, stop the pump and disconnect (pending stays queued)."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)
        conn = self._conn
        if conn and conn.connected.is_set():
            try:
                info = conn.client.publish(self.status_topic, self._status("stopped"), qos=1, retain=True)
                info.wait_for_publish(2)
            except (RuntimeError, ValueError) as exc:
                log.debug("stopped status not published: %s", exc)
        self._drop_conn()

    def stats(self) -> PublisherStats:
        conn = self._conn
        return PublisherStats(
            connected=bool(conn and conn.connected.is_set()),
            published=self.published,
            acked=self.acked,
            rejected=self.rejected,
            reconnects=self.reconnects,
            outbox_depth=self.outbox.depth,
            confirmed=self.confirmed,
            last_error=self.last_error,
            receipts_refused=self.receipts_refused,
        )

    # -- internals -------------------------------------------------------------------------

    def _status(self, state: str) -> bytes:
        return json_bytes({
            "kind": "status",
            "gateway": self.settings.gateway_id,
            "tenant": self.settings.tenant,
            "branch": self.settings.branch,
            "state": state,
            "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        })

    def _connect(self, require: bool) -> Connection:
        conn = Connection(
            self.broker,
            client_id=f"badgekit-gw-{self.settings.gateway_id}",
            clean_start=True,
            will=(self.status_topic, self._status("offline")),
        )
        conn.client.on_publish = self._on_publish
        conn.client.on_message = self._on_receipt
        conn.client.max_inflight_messages_set(self.settings.window)
        conn.start(require=require)
        if conn.connected.is_set():
            self._after_connect(conn)
        return conn

    def _after_connect(self, conn: Connection) -> None:
        self._max_packet = conn.max_packet_bytes
        if self.settings.await_receipts:
            conn.client.subscribe(self.receipts_topic, qos=1)
        conn.client.publish(self.status_topic, self._status("online"), qos=1, retain=True)

    def _on_receipt(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            ids = self.receipts.check(message.topic, bytes(message.payload))
        except ReceiptRefused as exc:
            self.receipts_refused += 1
            self.refused_receipts.append(str(exc))
            log.warning("refused a receipt on %s: %s; its messages stay in the outbox", message.topic, exc)
            return
        self._receipts.append(ids)
        self._wake.set()

    def _take_receipts(self) -> None:
        ids: list[str] = []
        while self._receipts:
            ids.extend(self._receipts.popleft())
        if ids:
            self.confirmed += self.outbox.confirm(ids)

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        # Network thread: only record; the pump thread owns the in-flight map and the outbox.
        self._acks.append((mid, int(getattr(rc, "value", rc)), str(rc)))
        self._wake.set()

    def _flush_acks(self) -> None:
        ok: list[int] = []
        while self._acks:
            mid, code, text = self._acks.popleft()
            msg = self._inflight.pop(mid, None)
            if msg is None:
                continue
            if code == 0x10 and self.settings.require_subscriber:
                self._held[msg.seq] = time.monotonic() + self.settings.hold_s
                self.held += 1
            elif code < 0x80:
                ok.append(msg.seq)
                self._strikes.pop(msg.seq, None)
            else:
                err = MessageRejectedError(msg.topic, len(msg.payload), f"{text} (reason code 0x{code:02X})")
                self._reject(msg.seq, str(err))
        if ok:
            self.acked += self.outbox.ack(ok)

    def _reject(self, seq: int, reason: str) -> None:
        self.outbox.reject(seq, reason)
        self.rejected += 1
        self.last_error = reason
        log.error("%s", reason)

    def _drop_conn(self) -> None:
        """Stop the client (no callbacks after this), settle its acks, forget its in-flight set."""
        if self._conn:
            self._conn.stop()
        self._conn = None
        self._flush_acks()
        self._take_receipts()
        if self._inflight:
            self._suspect = min(m.seq for m in self._inflight.values())
        self._inflight.clear()
        self._held.clear()  # a new connection publishes everything pending again

    def _pump(self) -> None:
        hwm = 0
        backoff = 0.2
        first = True
        next_sweep = time.monotonic() + self.settings.resend_unconfirmed_s
        while not self._stop.is_set():
            conn = self._conn
            if conn is not None and conn.fatal is not None:
                self.fatal = conn.fatal
                self.last_error = str(conn.fatal)
                self._drop_conn()
                return
            if conn is None or not conn.connected.is_set():
                if conn is not None:
                    self._drop_conn()
                    self.reconnects += 1
                try:
                    self._conn = conn = self._connect(require=True)
                except BrokerAuthError as exc:
                    self.fatal = exc
                    self.last_error = str(exc)
                    return
                except DeliveryError as exc:
                    self._conn = None
                    self._suspect = 0
                    self.last_error = str(exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.broker.reconnect_max_s)
                    continue
                if self._suspect:
                    self._strike(self._suspect)
                    self._suspect = 0
                if self.settings.await_receipts:
                    # After a reconnect the broker may have lost what it acknowledged but had
                    # not yet saved; after our own restart, receipts sent meanwhile are gone.
                    n = self.outbox.resend_unconfirmed()
                    if n:
                        log.info("%s: sending %d unconfirmed messages again",
                                 "started" if first else "reconnected", n)
                hwm, backoff, first = 0, 0.2, False
            self._flush_acks()
            self._take_receipts()
            if self.settings.await_receipts and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.settings.resend_unconfirmed_s
                if self.outbox.resend_unconfirmed(self.settings.resend_unconfirmed_s):
                    hwm = 0
            self._resend_held(conn)
            room = self.settings.window - len(self._inflight)
            if room > 0:
                busy = {m.seq for m in self._inflight.values()} | set(self._held)
                for msg in self.outbox.pending(after_seq=hwm, limit=room + len(busy)):
                    hwm = msg.seq
                    if msg.seq in busy:
                        continue
                    self._send(conn, msg)
                    room -= 1
                    if room <= 0:
                        break
            self._wake.wait(0.05)
            self._wake.clear()
        self._flush_acks()

    def _resend_held(self, conn: Connection) -> None:
        """Publish again the messages nobody was subscribed to, once their hold expired."""
        now = time.monotonic()
        for seq in [s for s, due in self._held.items() if due <= now]:
            del self._held[seq]
            row = self.outbox.pending(after_seq=seq - 1, limit=1)
            if row and row[0].seq == seq:
                self._send(conn, row[0])

    def _send(self, conn: Connection, msg: Message) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        user = {**msg.props, "run": self.run_id}  # receipts name the run they confirm
        size = len(msg.payload) + len(msg.topic.encode()) + _PACKET_OVERHEAD + sum(
            len(k) + len(v) + 4 for k, v in user.items()
        )
        if self._max_packet and size > self._max_packet:
            err = MessageTooLargeError(msg.topic, len(msg.payload),
                                       f"the broker's Maximum Packet Size is {self._max_packet} bytes")
            self._reject(msg.seq, str(err))
            return
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = sorted(user.items())
        if msg.content_type:
            props.ContentType = msg.content_type
        info = conn.client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain, properties=props)
        self._inflight[info.mid] = msg
        self.published += 1

    def _strike(self, seq: int) -> None:
        """The broker dropped us while `seq` was the oldest in flight and took us back at once."""
        n = self._strikes.get(seq, 0) + 1
        self._strikes[seq] = n
        if n < self.settings.poison_strikes:
            return
        self._strikes.pop(seq, None)
        row = self.outbox.pending(after_seq=seq - 1, limit=1)
        if not row or row[0].seq != seq:
            return
        err = MessageTooLargeError(
            row[0].topic, len(row[0].payload),
            f"the broker closed the connection {n} times while this message was in flight, "
            "as Mosquitto does for messages over message_size_limit",
        )
        self._reject(seq, str(err))
