"""TLS with generated certificates, passwords, the per-branch ACL and size limits, on real Mosquitto."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from badgekit.broker import free_port
from gateway.delivery import (
    BrokerAuthError,
    BrokerSettings,
    BrokerUnavailableError,
    Receiver,
    ReceiverSettings,
    TlsSettings,
)
from gateway.delivery.brokerconf import make_certs, mosquitto_config, write_acl, write_passwords
from gateway.delivery.mqtt import Connection


@pytest.fixture
def secure_broker(broker_factory, tmp_path):
    """A broker with TLS on a second port, passwords, and an ACL for two branches."""
    conf = tmp_path / "conf"
    certs = make_certs(conf)
    pw = write_passwords(conf / "passwd", {"gw-sh01": "pw-sh01", "gw-bj02": "pw-bj02", "compliance": "pw-c"})
    acl = write_acl(conf / "acl", "acme", gateways={"gw-sh01": "sh01", "gw-bj02": "bj02"},
                    receivers=["compliance"])
    tls_port = free_port()
    extra = mosquitto_config(tls_port, certs, pw, acl)
    if os.geteuid() == 0:  # mosquitto would drop to its own user, who cannot read tmp_path
        extra += "user root\n"
    broker = broker_factory(allow_anonymous=False, extra_config=extra)
    return broker, tls_port, certs


def _tls(port: int, certs, user: str, pw: str) -> BrokerSettings:
    return BrokerSettings.from_url(f"mqtts://127.0.0.1:{port}", username=user, password=pw,
                                   tls=TlsSettings(ca_path=certs.ca_cert), connect_timeout_s=5)


def test_tls_password_and_acl_limit_each_gateway_to_its_branch(secure_broker, make_publisher, tmp_path):
    broker, tls_port, certs = secure_broker
    rx = Receiver(ReceiverSettings(broker=_tls(tls_port, certs, "compliance", "pw-c"), out_dir=tmp_path / "out",
                                   tenant="acme"))
    rx.start()
    pub = make_publisher(_tls(tls_port, certs, "gw-sh01", "pw-sh01"), tenant="acme", branch="sh01")
    pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
    assert pub.flush(10)
    # The same user publishing into another branch's subtree is refused by the ACL,
    # reported as rejected (kept in the outbox), never silently dropped.
    intruder = make_publisher(_tls(tls_port, certs, "gw-sh01", "pw-sh01"), tenant="acme", branch="bj02",
                              gateway_id="gw-sh01-as-bj02")
    intruder.enqueue("B9/S9/findings", {"kind": "findings", "revision": 1})
    intruder.flush(5)
    summary = rx.run(idle_exit_s=1.0)
    rx.close()
    assert summary.messages == 1
    assert (tmp_path / "out/acme/sh01/B1/S1/findings.json").exists()
    assert not (tmp_path / "out/acme/bj02").exists()
    rejected = intruder.outbox.rejected()
    assert len(rejected) == 1 and "not authori" in rejected[0][3].lower(), rejected


def test_wrong_password_is_a_clear_error(secure_broker):
    broker, tls_port, certs = secure_broker
    conn = Connection(_tls(tls_port, certs, "gw-sh01", "wrong"), client_id="t-wrong")
    with pytest.raises(BrokerAuthError, match="rejected the connection.*--password"):
        conn.start()
    conn.stop()
    anonymous = Connection(BrokerSettings.from_url(broker.url, connect_timeout_s=5), client_id="t-anon")
    with pytest.raises(BrokerAuthError):
        anonymous.start()
    anonymous.stop()


def test_untrusted_certificate_is_a_clear_error(secure_broker, tmp_path):
    broker, tls_port, _ = secure_broker
    other = make_certs(tmp_path / "other")
    conn = Connection(_tls(tls_port, other, "gw-sh01", "pw-sh01"), client_id="t-ca")
    with pytest.raises(BrokerUnavailableError, match="TLS certificate not trusted"):
        conn.start()


def test_cli_reports_rejected_credentials_in_one_line(secure_broker, tmp_path):
    broker, tls_port, certs = secure_broker
    spool = tmp_path / "spool"
    spool.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--mqtt",
         f"mqtts://127.0.0.1:{tls_port}", "--tls-ca", str(certs.ca_cert), "--username", "gw-sh01",
         "--password", "nope", "--no-transcribe", "--once", "-q"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rejected the connection" in errors[0], r.stderr


def test_message_over_the_size_limit_is_rejected_loudly_and_the_rest_flows(broker_factory, make_publisher,
                                                                            tmp_path):
    # message_size_limit is not announced to clients: Mosquitto drops the connection instead.
    broker = broker_factory(message_size_limit=4096)
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=tmp_path / "out"))
    rx.start()
    pub = make_publisher(BrokerSettings.from_url(broker.url, reconnect_max_s=0.5), chunk_bytes=8192)
    pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
    pub.enqueue("B1/S1/notes", b"x" * 6000, kind="notes")
    pub.enqueue("B1/S2/findings", {"kind": "findings", "revision": 2})
    assert pub.flush(30), pub.stats()
    summary = rx.run(idle_exit_s=1.0)
    rx.close()
    rejected = pub.outbox.rejected()
    assert [r[1].rsplit("/", 1)[-1] for r in rejected] == ["notes"]
    assert "size limit" in rejected[0][3] and "6000 bytes" in rejected[0][3]
    assert summary.messages == 2


def test_announced_maximum_packet_size_rejects_before_sending(broker_factory, make_publisher, tmp_path):
    broker = broker_factory(extra_config="max_packet_size 4096\n")
    pub = make_publisher(BrokerSettings.from_url(broker.url), chunk_bytes=8192, require_subscriber=False)
    pub.enqueue("B1/S1/notes", b"y" * 6000, kind="notes")
    pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
    assert pub.flush(10, confirmed=False)
    rejected = pub.outbox.rejected()
    assert len(rejected) == 1 and "Maximum Packet Size is 4096" in rejected[0][3]
    assert pub.stats().reconnects == 0
