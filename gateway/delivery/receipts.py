"""Receipts: a receiver's word that it stored messages, signed so nobody else can give it.

A receipt tells a gateway that messages may leave its outbox, so a forged one would make
the gateway drop messages no receiver holds. The receiver therefore signs each receipt
with its own Ed25519 key (the same scheme as the gateway's documents,
`gateway.delivery.signing`: the signature covers the receipt topic, so a receipt cannot
be moved to another gateway or branch), and the gateway keeps a key ring of enrolled
receivers (`<dir>/<tenant>/<branch>/<receiver id>.pub`, `badgekit gateway key enrol
--receiver-id`):

    {"kind": "receipt", "receiver": "recv-1", "run": "<gateway run>", "instance": "<16 hex>",
     "n": 7, "at": "2026-12-05T09:30:00Z", "msg_ids": [...], "signature": {...}}

`run` is the gateway run the messages came from (the publisher sends it with each message,
user property `run`), `instance` is random per receiver process and `n` counts that
process's receipts. The gateway refuses, reports and ignores (its messages stay in the
outbox and are sent again later): an unsigned receipt, a signature that does not verify
or by a receiver not enrolled, a receipt of another run (one kept from an earlier run
and replayed), and a receipt whose `n` is not above the last one taken from that
instance (replayed within the run).

Without a receiver key ring the gateway takes receipts unchecked, as before, and says
once that anyone allowed to publish receipts can make it drop messages.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from gateway.delivery.signing import DocumentRefused, GatewayKey, KeyRing

__all__ = ["ReceiptChecker", "ReceiptMaker", "ReceiptRefused", "warn_once"]

log = logging.getLogger(__name__)

_MAX_IDS = 2000  # msg ids per receipt (the receiver batches); more is refused as malformed
_WARNED: set[str] = set()


def warn_once(what: str, message: str) -> None:
    """Log `message` as a warning the first time `what` comes up in this process (a
    process publishing for many branches, or restarting its publisher, says it once)."""
    if what not in _WARNED:
        _WARNED.add(what)
        log.warning("%s", message)


class ReceiptRefused(DocumentRefused):
    """A receipt the gateway will not act on (unsigned, forged, replayed, another run)."""


class ReceiptMaker:
    """The receiver's side: receipt documents, signed when it has a key."""

    def __init__(self, signer: GatewayKey | None, receiver_id: str) -> None:
        self.signer = signer
        self.receiver_id = receiver_id
        self.instance = secrets.token_hex(8)
        self.n = 0

    def make(self, topic: str, run: str, msg_ids: list[str]) -> bytes:
        self.n += 1
        doc: dict[str, Any] = {
            "kind": "receipt", "receiver": self.receiver_id, "run": run, "instance": self.instance,
            "n": self.n, "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "msg_ids": msg_ids,
        }
        if self.signer is not None:
            doc = self.signer.sign(topic, doc)
        return json.dumps(doc, separators=(",", ":")).encode()


class ReceiptChecker:
    """The gateway's side: which msg ids a receipt may confirm (or `ReceiptRefused`)."""

    def __init__(self, ring: KeyRing | None, tenant: str, branch: str, run: str) -> None:
        self.ring = ring
        self.tenant = tenant
        self.branch = branch
        self.run = run
        self._last: dict[tuple[str, str], int] = {}  # (receiver, instance) -> last n taken

    def check(self, topic: str, payload: bytes) -> list[str]:
        try:
            doc = json.loads(payload)
            ids = doc["msg_ids"]
            if not isinstance(doc, dict) or not isinstance(ids, list) or len(ids) > _MAX_IDS:
                raise ValueError
        except (ValueError, TypeError, KeyError):
            raise ReceiptRefused("malformed receipt") from None
        if self.ring is None:
            return [str(i) for i in ids]
        if not isinstance(doc.get("signature"), dict):
            raise ReceiptRefused("unsigned receipt (this gateway takes only receipts of enrolled receivers)")
        try:
            st = self.ring.verify(self.tenant, self.branch, topic, doc)
        except DocumentRefused as exc:
            raise ReceiptRefused(str(exc)) from None
        if doc.get("run") != self.run:
            raise ReceiptRefused(f"receipt of receiver {st.gateway} names another run of this gateway "
                                 "(kept from earlier and replayed, or late)")
        instance, n = str(doc.get("instance", "")), doc.get("n")
        if not isinstance(n, int) or isinstance(n, bool):
            raise ReceiptRefused("receipt without a counter")
        last = self._last.get((st.gateway, instance), 0)
        if n <= last:
            raise ReceiptRefused(f"receipt {n} of receiver {st.gateway} was taken already (replayed)")
        self._last[(st.gateway, instance)] = n
        return [str(i) for i in ids]
