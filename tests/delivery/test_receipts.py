"""Receipts are signed by the receiver: forged or replayed ones never empty the outbox.

Real parts: Mosquitto, the gateway's publisher and outbox, the reference receiver, and an
intruder with a plain MQTT client who reads the branch's topics (to learn message ids and
copy genuine receipts) and publishes receipts of its own.
"""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import threading
import time

import pytest

from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
from gateway.delivery.mqtt import Connection, user_properties
from gateway.delivery.receipts import ReceiptMaker
from gateway.delivery.signing import GatewayKey, KeyRing
from tests.delivery.spoolmaker import make_session

BRANCH = "badgekit/v1/acme/sh01"
BADGEKIT = [sys.executable, "-m", "badgekit"]


class Intruder:
    """A plain MQTT client: collects message ids and receipts it sees, publishes anything."""

    def __init__(self, broker: BrokerSettings) -> None:
        self.ids: list[str] = []
        self.receipts: list[bytes] = []
        self.lock = threading.Lock()
        self.conn = Connection(broker, client_id="intruder")
        self.conn.client.on_message = self._seen
        self.conn.start(require=True)
        self.conn.client.subscribe(f"{BRANCH}/#", qos=1)
        time.sleep(0.2)

    def _seen(self, client, userdata, message) -> None:
        with self.lock:
            if message.topic.endswith("/receipts"):
                self.receipts.append(bytes(message.payload))
            else:
                mid = user_properties(getattr(message, "properties", None)).get("msg_id")
                if mid:
                    self.ids.append(mid)

    def publish(self, topic: str, payload: bytes) -> None:
        self.conn.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.conn.stop()


def _until(cond, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


def test_forged_and_replayed_receipts_are_refused_and_the_messages_stay(broker, make_publisher, tmp_path):
    bs = BrokerSettings.from_url(broker.url)
    rx_key = GatewayKey.generate(tmp_path / "rx.key", "rx1")
    ring = tmp_path / "receivers"
    KeyRing(ring, role="receiver").enrol("acme", "sh01", "rx1", rx_key.public_pem())
    evil = GatewayKey.generate(tmp_path / "evil.key", "rx1")  # same receiver id, a key nobody enrolled
    intruder = Intruder(bs)
    pub = make_publisher(bs, db=tmp_path / "gw.db", gateway_id="gw-sh01", receiver_keys=ring,
                         resend_unconfirmed_s=0.5)
    topic = pub.receipts_topic
    pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
    pub.enqueue("B1/S1/audio/B1-00000001", b"\x01" * 5000, kind="audio")
    assert pub.flush(10, confirmed=False)  # the broker has them; only the intruder was subscribed
    assert _until(lambda: len(set(intruder.ids)) == 2)
    ids = sorted(set(intruder.ids))
    forgeries = [
        json.dumps({"msg_ids": ids}).encode(),  # unsigned, as receivers sent them before
        ReceiptMaker(evil, "rx1").make(topic, pub.run_id, ids),  # signed by an unenrolled key
        ReceiptMaker(rx_key, "rx1").make(topic.replace("gw-sh01", "gw-other"), pub.run_id, ids),  # other gateway's
    ]
    for f in forgeries:
        intruder.publish(topic, f)
    assert _until(lambda: pub.receipts_refused == 3), pub.refused_receipts
    assert pub.outbox.depth == 2 and pub.confirmed == 0
    reasons = list(pub.refused_receipts)
    assert "unsigned receipt" in reasons[0]
    assert "does not verify" in reasons[1] and "does not verify" in reasons[2]

    # the real receiver, with the enrolled key: the unconfirmed messages are sent again and confirmed
    rx = Receiver(ReceiverSettings(broker=bs, out_dir=tmp_path / "out", client_id="rx-1",
                                   signing_key=tmp_path / "rx.key", receiver_id="rx1"))
    rx.start()
    try:
        assert pub.flush(15)
        assert pub.confirmed == 2 and pub.receipts_refused == 3
        assert _until(lambda: len(intruder.receipts) >= 1)
        genuine = intruder.receipts[-1]
        assert json.loads(genuine)["signature"]["gateway"] == "rx1"

        # the same content again (content-addressed: the same msg id) while the receiver is away
        rx.stop()
        pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
        assert pub.flush(10, confirmed=False)
        intruder.publish(topic, genuine)  # the genuine receipt, replayed
        assert _until(lambda: pub.receipts_refused == 4)
        assert "replayed" in pub.refused_receipts[-1]
        assert pub.outbox.depth == 1
    finally:
        rx.close()

    # after a restart of the gateway (a new run), a receipt kept from the earlier run is refused too
    pub.stop()
    pub2 = make_publisher(bs, db=tmp_path / "gw.db", gateway_id="gw-sh01", receiver_keys=ring)
    assert pub2.run_id != pub.run_id
    time.sleep(0.3)
    intruder.publish(topic, genuine)
    assert _until(lambda: pub2.receipts_refused == 1)
    assert "another run" in pub2.refused_receipts[-1]
    assert pub2.outbox.depth == 1
    intruder.close()


def test_without_keys_receipts_still_work_and_each_side_warns_once(broker, make_publisher, tmp_path, caplog,
                                                                   monkeypatch):
    from gateway.delivery import receipts

    monkeypatch.setattr(receipts, "_WARNED", set())  # as in a fresh process
    bs = BrokerSettings.from_url(broker.url)
    caplog.set_level(logging.WARNING)
    rx = Receiver(ReceiverSettings(broker=bs, out_dir=tmp_path / "out", client_id="rx-plain"))
    rx.start()
    pub = make_publisher(bs)
    make_publisher(bs, gateway_id="gw-restarted")  # a second publisher in the same process
    for i in range(5):
        pub.enqueue(f"B1/S1/findings{i}", {"kind": "findings", "revision": i})
        assert pub.flush(10)  # unsigned receipts confirm, as before
    rx.close()
    assert pub.confirmed == 5 and pub.receipts_refused == 0
    said = [r.getMessage() for r in caplog.records]
    assert sum("receipts are not authenticated" in m for m in said) == 1
    assert sum("receipts are unsigned" in m for m in said) == 1


def test_cli_receiver_signs_receipts_and_the_gateway_takes_only_enrolled_ones(broker, tmp_path):
    """`gateway key new/enrol --receiver-id`, `gateway receive --signing-key` and `gateway run
    --receiver-keys` as processes: everything confirmed, nothing refused; an unenrolled
    receiver's receipts are refused and its messages stay unconfirmed."""
    def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(BADGEKIT + list(args), capture_output=True, text=True, timeout=timeout)

    key, ring = tmp_path / "rx.key", tmp_path / "receivers"
    assert cli("gateway", "key", "new", "--key", str(key), "--gateway-id", "rx1").returncode == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    both = cli("gateway", "key", "enrol", f"{key}.pub", "--keys", str(ring), "--tenant", "acme", "--branch", "sh01",
               "--gateway-id", "g", "--receiver-id", "rx1")
    assert both.returncode == 2 and both.stderr.startswith("error:") and "either" in both.stderr
    enrol = cli("gateway", "key", "enrol", f"{key}.pub", "--keys", str(ring), "--tenant", "acme", "--branch", "sh01",
                "--receiver-id", "rx1")
    assert enrol.returncode == 0 and "of receiver rx1" in enrol.stdout, enrol.stderr

    def deliver(spool_name: str, *rx_args: str) -> dict:
        spool = tmp_path / spool_name
        make_session(spool, clips=2, blocks_per_clip=10)
        rx = subprocess.Popen(BADGEKIT + ["gateway", "receive", "--mqtt", broker.url, "--out", str(tmp_path / "out"),
                                          "--client-id", f"rx-{spool_name}", "--idle-exit-s", "3", "-q", *rx_args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)  # subscribed before anything is published
            run = cli("gateway", "run", "--spool", str(spool), "--mqtt", broker.url, "--once", "--no-transcribe",
                      "--settle-s", "0", "--tenant", "acme", "--branch", "sh01", "--gateway-id", f"gw-{spool_name}",
                      "--receiver-keys", str(ring), "--confirm-wait-s", "3", "--json", "-q")
            rx.communicate(timeout=60)
        finally:
            rx.kill()
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    signed = deliver("a", "--signing-key", str(key), "--receiver-id", "rx1")
    assert signed["delivered"] and signed["unconfirmed"] == 0 and signed["receipts_refused"] == 0
    unsigned = deliver("b")  # a receiver whose key nobody enrolled: its receipts confirm nothing
    assert unsigned["delivered"] and unsigned["unconfirmed"] > 0 and unsigned["receipts_refused"] >= 1
