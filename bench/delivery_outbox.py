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

Then whole clips through `Gateway.run_once()` (verify with clipfmt, enqueue, publish,
receiver stores + verifies + confirms): 30-second IMA ADPCM clips (~240 KB, two parts
each), reported as clips/s and hours of audio delivered per minute.

Prints messages/s, MB/s and the ratio to plain paho. Usage:
`python bench/delivery_outbox.py [--small N] [--large N] [--clips N]`.
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


def clips(broker: LocalBroker, work: Path, n: int) -> tuple[float, float]:
    """(seconds, audio seconds) to deliver `n` 30-s clips from a spool to a receiver."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gateway.service import Gateway, GatewaySettings
    from tests.delivery.spoolmaker import make_session

    sides = make_session(work / "spool", clips=n, blocks_per_clip=950)  # 950 x 505 samples = 30 s
    settings = BrokerSettings.from_url(broker.url)
    rx = Receiver(ReceiverSettings(broker=settings, out_dir=work / "out", client_id="bench-clips"))
    rx.start()
    gw = Gateway(GatewaySettings(spool_dir=work / "spool", broker=settings, transcribe=False,
                                 publisher=PublisherSettings(tenant="bench", branch="b", gateway_id="clips")))
    t = time.perf_counter()
    report = gw.run_once()
    dt = time.perf_counter() - t
    gw.close()
    summary = rx.run(until=lambda s: s.clips_verified >= n, timeout_s=60)
    rx.close()
    assert report.delivered and report.unconfirmed == 0 and summary.clips_verified == n, (report, summary)
    return dt, sum(s["samples"] / s["sample_rate"] for s in sides)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000, help="1 KiB messages")
    ap.add_argument("--large", type=int, default=100, help="128 KiB messages")
    ap.add_argument("--clips", type=int, default=40, help="30-second clips through the gateway")
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
        work = Path(tempfile.mkdtemp(prefix="badgekit-bench-"))
        try:
            clip_s, audio_s = clips(broker, work, args.clips)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'size':8} {'path':24} {'msgs':>6} {'msg/s':>9} {'MB/s':>8} {'vs plain':>9}")
    for label, name, n, size, dt, base in rows:
        print(f"{label:8} {name:24} {n:6d} {n / dt:9.0f} {n * size / dt / 1e6:8.2f} {base / dt:8.2f}x")
    print(f"\ngateway run_once -> receiver: {args.clips} clips of 30 s in {clip_s:.2f} s: "
          f"{args.clips / clip_s:.1f} clips/s, {audio_s / 3600 / (clip_s / 60):.1f} h of audio per minute "
          f"({audio_s / clip_s:.0f}x real time)")


if __name__ == "__main__":
    main()
