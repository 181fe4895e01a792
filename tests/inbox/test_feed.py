"""`badgekit inbox serve --mqtt`: the gateway's receiver files meetings into the inbox from a
real Mosquitto; malformed and forged messages are dropped, nothing half-written."""

from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import func, select

from gateway.delivery import BrokerSettings, PublisherSettings
from gateway.service import Gateway, GatewaySettings
from inbox.feed import MqttFeed
from inbox.schema import clips, meetings
from tests.delivery.spoolmaker import make_session

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _raw_publish(broker, topic: str, payload: bytes, props: dict[str, str] | None) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger", protocol=mqtt.MQTTv5)
    c.connect(broker.host, broker.port)
    c.loop_start()
    p = None
    if props:
        p = Properties(PacketTypes.PUBLISH)
        p.UserProperty = list(props.items())
    c.publish(topic, payload, qos=1, properties=p).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def test_meetings_arrive_over_mqtt_and_forgeries_are_dropped(inbox, broker_factory, tmp_path):
    broker = broker_factory()
    feed = MqttFeed.from_options(inbox.engine, inbox.store, inbox.store_dir, broker.url, None, client_id="inbox-t")
    feed.start()
    try:
        base = "badgekit/v1/acme/sh01/B0009/S0001"
        _raw_publish(broker, f"{base}/transcript", b"{not json", None)  # no badgekit properties
        junk = b"RIFF" + bytes(300)
        _raw_publish(broker, f"{base}/audio/B0009-00000001", junk, {  # a part that lies about its hash
            "msg_id": "forged-1", "part": "0", "parts": "1", "blob_sha256": "0" * 64, "blob_bytes": str(len(junk)),
            "part_sha256": hashlib.sha256(junk).hexdigest()})
        _raw_publish(broker, f"{base}/audio/B0009-00000002", junk, {  # consistent, but not a clip
            "msg_id": "forged-2", "part": "0", "parts": "1", "blob_sha256": hashlib.sha256(junk).hexdigest(),
            "blob_bytes": str(len(junk))})
        spool = tmp_path / "spool"
        make_session(spool, badge="B0001", session="S0001", clips=2, blocks_per_clip=30)
        gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(broker.url), transcribe=False,
                                     settle_s=0, flush_timeout_s=30,
                                     publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw1")))
        assert gw.run_once().delivered
        gw.close()
        deadline = time.monotonic() + 30
        while feed.filed < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        feed.close()
    with inbox.engine.connect() as conn:
        assert conn.execute(select(meetings.c.badge, meetings.c.clips)).all() == [("B0001", 2)]
        assert conn.execute(select(func.count()).select_from(clips)).scalar_one() == 2
    assert feed.refused == []
    assert (inbox.store_dir / "received" / "quarantine" / "B0009-00000002.wav").exists()
