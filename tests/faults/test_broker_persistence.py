"""The local broker keeps every QoS 1 message queued for an absent subscriber.

`badgekit.broker.LocalBroker` turns persistence on so that a broker SIGKILLed and
restarted still holds what it had saved. Found by the fault campaign: run as root,
Mosquitto drops to its own user and could not write its save file into the broker's
folder (a "Permission denied" every autosave), so a crash lost every queued message.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt


def _client(port: int, cid: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
    c.connect("127.0.0.1", port)
    return c


def _subscribe_and_leave(port: int, cid: str, topic: str) -> None:
    """A durable QoS 1 subscription whose client then goes away: the broker queues for it."""
    sub = _client(port, cid)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    assert subscribed.wait(5)
    sub.disconnect()
    sub.loop_stop()


def test_queued_messages_survive_a_broker_crash(broker_factory):
    broker = broker_factory()
    _subscribe_and_leave(broker.port, "faults-sub", "faults/t")
    pub = _client(broker.port, "faults-pub")
    pub.loop_start()
    for i in range(5):
        pub.publish("faults/t", f"m{i}".encode(), qos=1).wait_for_publish(5)
    pub.disconnect()
    pub.loop_stop()
    time.sleep(2.5)  # more than the autosave interval (1 s): the queue is on disk
    broker.kill()
    broker.start()
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="faults-sub", clean_session=False)
    sub.on_message = lambda _c, _u, m: got.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    deadline = time.monotonic() + 5
    while len(got) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.disconnect()
    sub.loop_stop()
    assert got == [f"m{i}".encode() for i in range(5)], broker.log_tail()
    assert "Permission denied" not in broker.log_tail()


def test_a_long_queue_for_an_absent_receiver_is_kept_whole(broker_factory):
    """Found by the fault campaign: a gateway publishing a day's clips faster than the
    receiver stores them (or while it is away) overflowed Mosquitto's default queue of
    1,000 messages per client, and the broker silently dropped the rest."""
    broker = broker_factory()
    _subscribe_and_leave(broker.port, "faults-slow", "faults/q")
    n = 2500
    pub = _client(broker.port, "faults-burst")
    pub.loop_start()
    infos = [pub.publish("faults/q", str(i).encode(), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="faults-slow", clean_session=False)
    sub.on_message = lambda _c, _u, m: got.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    sub.disconnect()
    sub.loop_stop()
    assert sorted(int(x) for x in got) == list(range(n))
