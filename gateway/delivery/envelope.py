"""Turn payloads into outbox messages: parts of ≤ `chunk_bytes`, content-addressed ids.

Every payload (a clip's WAV, a transcript, a custody record) is a *blob* sent as one
or more parts on the same topic. Each part carries MQTT 5 user properties:

- `msg_id`: sha256(topic ‖ blob sha256 ‖ part index), 32 hex chars. The same content
  always gets the same id, so a re-sent message (outbox after a crash, broker
  redelivery, a rebuilt gateway state) is recognised and dropped by the receiver.
- `kind`, `schema` (`badgekit/v1`), `part`, `parts`, `blob_sha256`, `blob_bytes`,
  `part_sha256`: enough for the receiver to reassemble and verify the blob whatever
  order the parts arrive in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.delivery.errors import DeliveryError
from gateway.delivery.outbox import Message

__all__ = ["CHUNK_BYTES_MAX", "SCHEMA", "blob_messages", "json_bytes", "msg_id_for"]

SCHEMA = "badgekit/v1"
CHUNK_BYTES_MAX = 128 * 1024
"""Largest part: fits the common broker limits (AWS IoT 128 KiB, EMQX/HiveMQ defaults)."""


def json_bytes(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, UTF-8, no spaces) so equal content hashes equally."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def msg_id_for(topic: str, blob_sha256: str, part: int) -> str:
    return hashlib.sha256(f"{topic}\n{blob_sha256}\n{part}".encode()).hexdigest()[:32]


def blob_messages(
    topic: str,
    data: bytes,
    kind: str,
    chunk_bytes: int = CHUNK_BYTES_MAX,
    content_type: str = "application/octet-stream",
    props: dict[str, str] | None = None,
    retain: bool = False,
) -> list[Message]:
    """Split `data` into parts of at most `chunk_bytes` (an empty blob is one empty part)."""
    if not 1 <= chunk_bytes <= CHUNK_BYTES_MAX:
        raise DeliveryError(f"chunk size must be 1..{CHUNK_BYTES_MAX} bytes, got {chunk_bytes}")
    blob_sha = hashlib.sha256(data).hexdigest()
    n = max(1, -(-len(data) // chunk_bytes))
    out = []
    for i in range(n):
        part = data[i * chunk_bytes : (i + 1) * chunk_bytes]
        mid = msg_id_for(topic, blob_sha, i)
        p = dict(props or {})
        p.update(
            msg_id=mid,
            kind=kind,
            schema=SCHEMA,
            part=str(i),
            parts=str(n),
            blob_sha256=blob_sha,
            blob_bytes=str(len(data)),
            part_sha256=hashlib.sha256(part).hexdigest(),
        )
        out.append(Message(msg_id=mid, topic=topic, payload=part, props=p, content_type=content_type,
                           retain=retain))
    return out
