"""The lab of bench/attacks.py: real brokers, the companion's spool, a signing gateway, a receiver.

One Mosquitto with passwords and a per-branch ACL (gateway users may write only their
branch's subtree), one without accounts, the gateway's enrolled Ed25519 key, a receiver
holding it, and a genuine session delivered before any attack. `Lab.publish` sends raw
messages as any MQTT client with a branch's credentials could (topics unchecked).
"""

from __future__ import annotations

import hashlib
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from badgecore.badgekeys import write_badge_keys  # noqa: E402
from badgekit.broker import LocalBroker  # noqa: E402
from firmware.clips import fmt as clipfmt  # noqa: E402
from firmware.clips.sink import FolderSink  # noqa: E402
from gateway.delivery import (  # noqa: E402
    BrokerSettings,
    Outbox,
    Publisher,
    PublisherSettings,
    Receiver,
    ReceiverSettings,
)
from gateway.delivery.brokerconf import write_acl, write_passwords  # noqa: E402
from gateway.delivery.envelope import blob_messages, json_bytes  # noqa: E402
from gateway.delivery.signing import GatewayKey, KeyRing  # noqa: E402
from gateway.service import Gateway, GatewaySettings  # noqa: E402

__all__ = ["BLOCK", "SEALED", "SPB", "Lab", "clip_key", "Row", "blocks", "msgs", "to_spool", "write_clips"]

SPB, BLOCK = clipfmt.SAMPLES_PER_BLOCK, clipfmt.BLOCK_ALIGN
USERS = {"gw-sh01": "pw-sh01", "gw-bj02": "pw-bj02", "compliance": "pw-c"}


@dataclass(frozen=True)
class Row:
    attack: str
    expected: str
    result: str
    ok: bool


def blocks(n: int, salt: int) -> list[bytes]:
    """`n` valid IMA ADPCM blocks whose bytes depend on `salt`."""
    return [struct.pack("<hBB", (salt * 7 + i) % 50, 0, 0) + bytes((salt + i + j) % 7 for j in range(BLOCK - 4))
            for i in range(n)]


def clip_key(badge: str) -> bytes:
    """The clip key an enrolled badge seals with (firmware.clips.mac), fixed per badge here."""
    return hashlib.sha256(b"attacks-bench-clip-key:" + badge.encode()).digest()


SEALED = tuple(f"B{i:04d}" for i in range(1, 13) if i != 3)
"""Enrolled badges (clip format 2, sealed); B0003 is an old badge writing format 1."""


def write_clips(folder: Path, badge: str, session: str, data: list[list[bytes]], first_seq: int,
                prev: str | None, sealed: bool | None = None) -> list[dict[str, Any]]:
    """Clips written by the badge's own clip writer (hashes and seals made as the badge does)."""
    sealed = badge in SEALED if sealed is None else sealed
    sink = FolderSink(str(folder), prev, clip_key=clip_key(badge) if sealed else None)
    sides = []
    for k, blks in enumerate(data):
        sink.open_clip({"badge": badge, "session": session, "seq": first_seq + k,
                        "start_epoch": 1_790_000_000 + 60 * k, "session_offset_samples": 0, "offset_samples": 0})
        for b in blks:
            sink.write_block(b)
        sides.append(sink.close_clip(len(blks) * SPB))
    return sides


def to_spool(spool: Path, folder: Path, sides: list[dict[str, Any]]) -> None:
    """Hand clips to the companion's spool (verified, custody record, ledger)."""
    from companion.spool import Spool

    sp = Spool(spool)
    for s in sides:
        inc = sp.incoming(s["badge"], s["clip_id"])
        inc.write(0, (folder / f"{s['clip_id']}.wav").read_bytes())
        sp.commit(s["badge"], inc, clip_id=s["clip_id"], seq=s["seq"], expect_sha256=s["sha256"],
                  custody={"operator": "attacks", "transport": "bench"}, clip_keys=[clip_key(s["badge"])])


class Lab:
    """The real parts, started once for all attacks."""

    def __init__(self, work: Path) -> None:
        self.work = work
        conf = work / "conf"
        conf.mkdir(parents=True)
        pw = write_passwords(conf / "passwd", USERS)
        acl = write_acl(conf / "acl", "acme", gateways={"gw-sh01": "sh01", "gw-bj02": "bj02"},
                        receivers=["compliance"])
        self.broker = LocalBroker(work / "broker", allow_anonymous=False,
                                  extra_config=f"password_file {pw}\nacl_file {acl}\n").start()
        self.open_broker = LocalBroker(work / "open-broker").start()
        self.badge_keys = work / "badge-keys.json"  # the branch's clip keys, for its gateway only
        write_badge_keys(self.badge_keys, {b: [clip_key(b)] for b in SEALED})
        self.key_path = work / "gw-sh01.key"
        key = GatewayKey.generate(self.key_path, "gw-sh01")
        self.keys = work / "keys"
        KeyRing(self.keys).enrol("acme", "sh01", "gw-sh01", key.public_pem())
        self.out = work / "out"
        # the receiver signs its receipts; the gateway takes only receipts of enrolled receivers
        rx_key = GatewayKey.generate(work / "attacks-rx.key", "attacks-rx")
        self.receivers = work / "receiver-keys"
        KeyRing(self.receivers, role="receiver").enrol("acme", "sh01", "attacks-rx", rx_key.public_pem())
        self.rx = Receiver(ReceiverSettings(broker=self.bs("compliance"), out_dir=self.out, tenant="acme",
                                            keys_dir=self.keys, client_id="attacks-rx",
                                            signing_key=work / "attacks-rx.key", receiver_id="attacks-rx"))
        self.rx.start()
        self.spool = work / "spool"
        self.badge = work / "badge"
        self.sides = write_clips(self.badge, "B0001", "S0001", [blocks(40, s) for s in (1, 2, 3)], 1, None)
        to_spool(self.spool, self.badge, self.sides)
        self.report = self.gateway(self.spool, work / "state")
        self.wait()
        self.genuine = {p: p.read_bytes() for p in sorted((self.out / "acme/sh01/B0001/S0001").rglob("*"))
                        if p.is_file()}
        self._n = 0

    def bs(self, user: str, broker: LocalBroker | None = None) -> BrokerSettings:
        b = broker or self.broker
        if b is self.open_broker:
            return BrokerSettings.from_url(b.url)
        return BrokerSettings.from_url(b.url, username=user, password=USERS[user])

    def gateway(self, spool: Path, state: Path, **kw: Any) -> Any:
        gw = Gateway(GatewaySettings(
            spool_dir=spool, broker=self.bs("gw-sh01"), state_dir=state, transcribe=False,
            publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-sh01",
                                        receiver_keys=self.receivers),
            signing_key=self.key_path, badge_keys=self.badge_keys, flush_timeout_s=20, confirm_wait_s=5, **kw))
        try:
            return gw.run_once()
        finally:
            gw.close()

    def wait(self, rx: Receiver | None = None, idle_s: float = 0.6, timeout_s: float = 15.0) -> None:
        """Until the receiver had no message for `idle_s`."""
        rx = rx or self.rx
        end = time.monotonic() + timeout_s
        time.sleep(idle_s)
        while time.monotonic() < end and time.monotonic() - rx._last_message < idle_s:
            time.sleep(0.1)

    def publish(self, messages: list[Any], user: str = "gw-sh01", broker: LocalBroker | None = None,
                wait: bool = True) -> Publisher:
        """Publish raw outbox messages as `user` would with any MQTT client (topics unchecked)."""
        self._n += 1
        pub = Publisher(self.bs(user, broker), PublisherSettings(tenant="acme", branch="sh01",
                        gateway_id=f"intruder{self._n}", require_subscriber=False),
                        Outbox(self.work / f"intruder{self._n}.db"))
        pub.outbox.put(messages)
        pub.start()
        pub.flush(10, confirmed=False)
        pub.stop()
        pub.outbox.close()
        if wait:
            self.wait()
        return pub

    def summary(self) -> Any:
        return self.rx.summary()

    def close(self) -> None:
        self.rx.close()
        self.broker.close()
        self.open_broker.close()


def msgs(topic: str, payload: bytes | dict[str, Any], kind: str, key: GatewayKey | None = None) -> list[Any]:
    if isinstance(payload, dict):
        payload = json_bytes(key.sign(topic, payload) if key else payload)
    return blob_messages(topic, payload, kind, props={"gateway": "gw-sh01"})
