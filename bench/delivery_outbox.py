"""Delivery throughput: the durable outbox versus plain paho-mqtt publishing, same run.

Against one local Mosquitto (persistence on), for small messages (1 KiB) and audio-sized
parts (128 KiB):

- `plain paho`: QoS 1 publish of every message, wait for all PUBACKs (no durability);
- `outbox, acked`: each message durably enqueued (one fsynced SQLite transaction per
  message), published, deleted on PUBACK (`await_receipts` off);
- `outbox, batched`: the same, enqueued in transactions of 100 (how the gateway enqueues
  a clip's parts);
- `end to end`: batched outbox with receipts, and the reference receiver storing every
  message (fsync per message) and confirming it: what `gateway run` -> `gateway receive`
  sustains.

Prints messages/s, MB/s and the ratio to plain paho. Usage:
`python bench/delivery_outbox.py [--small N] [--large N]`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from badgekit.broker import LocalBroker
from gateway.delivery import (
    BrokerSettings,
    Outbox,
    Publisher,
    PublisherSettings,
    Receiver,
    ReceiverSettings,
)


def plain(broker: LocalBroker, n: int, size: int) -> float:
    done = threading.Event()
    acked = [0]

    def on_publish(c, u, mid, rc, p):
        acked[0] += 1
        if acked[0] == n:
            done.set()

    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="bench-plain",
                    protocol=mqtt.MQTTv5)
    c.on_publish = on_publish
    c.max_inflight_messages_set(20)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    payload = b"x" * size
    t = time.perf_counter()
    for i in range(n):
        c.publish(f"bench/plain/{i % 10}", payload, qos=1)
    assert done.wait(300)
    dt = time.perf_counter() - t
    c.disconnect()
    c.loop_stop()
    return dt


def outbox(broker: LocalBroker, work: Path, n: int, size: int, batch: int, e2e: bool) -> float:
    settings = BrokerSettings.from_url(broker.url)
    rx = None
    if e2e:
        rx = Receiver(ReceiverSettings(broker=settings, out_dir=work / "out", client_id="bench-rx"))
        rx.start()
    pub = Publisher(settings, PublisherSettings(tenant="bench", branch="b", gateway_id="bench",
                                                await_receipts=e2e, require_subscriber=False),
                    Outbox(work / "outbox.db"))
    pub.start()
    payload = b"x" * size
    t = time.perf_counter()
    for start in range(0, n, batch):
        msgs = []
        for i in range(start, min(n, start + batch)):
            msgs += pub.messages(f"B1/S{i // 100}/part{i}", payload + i.to_bytes(4, "big"), kind="bench")
        pub.outbox.put(msgs)
        pub.wake()
    assert pub.flush(600, confirmed=e2e)
    dt = time.perf_counter() - t
    pub.stop()
    pub.outbox.close()
    if rx is not None:
        rx.close()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000, help="1 KiB messages")
    ap.add_argument("--large", type=int, default=100, help="128 KiB messages")
    args = ap.parse_args()
    rows = []
    with LocalBroker() as broker:
        for label, n, size in (("1 KiB", args.small, 1024), ("128 KiB", args.large, 128 * 1024 - 64)):
            base = plain(broker, n, size)
            rows.append((label, "plain paho QoS 1", n, size, base, base))
            for name, batch, e2e in (("outbox, acked", 1, False), ("outbox, batched", 100, False),
                                     ("end to end (receipts)", 100, True)):
                work = Path(tempfile.mkdtemp(prefix="badgekit-bench-"))
                try:
                    rows.append((label, name, n, size, outbox(broker, work, n, size, batch, e2e), base))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    print(f"{'size':8} {'path':24} {'msgs':>6} {'msg/s':>9} {'MB/s':>8} {'vs plain':>9}")
    for label, name, n, size, dt, base in rows:
        print(f"{label:8} {name:24} {n:6d} {n / dt:9.0f} {n * size / dt / 1e6:8.2f} {base / dt:8.2f}x")


if __name__ == "__main__":
    main()
