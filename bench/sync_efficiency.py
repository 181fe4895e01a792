"""Sync efficiency over BLE (bumble link, MTU 247) and USB serial (pty), and an 8-hour day.

    .venv/bin/python bench/sync_efficiency.py [--mb 1.0]

BLE: a simulated badge (firmware.hw.radio on the bumble `bluetooth` shim) is synced by
the companion (bleak on the bumble backend), both on one bumble LocalLink.
- payload efficiency = clip bytes delivered / bytes the link carried (every ATT
  notification and write value, both directions);
- baseline measured in the same run: raw notifications (firmware.hw.radio's own loop,
  shim, flow control and bleak client, serving raw bytes instead of the sync server)
  flooded to the companion; throughput ratio =
  sync clip bytes/s / raw notification bytes/s on this simulator (best of 3 rounds each:
  the simulated radio is CPU-bound and shares the CPU with everything else).
The time for an 8-hour day at 1M and 2M PHY is computed from the link-layer timing
of a 244-byte notification (data length extension, one value per 251-byte LL packet,
no encryption) times the measured payload efficiency; the arithmetic is printed.
Serial: the firmware under `micropython` on a pty; efficiency = clip bytes / bytes on
the wire (both directions); baseline: the same sync with 256-byte DATA frames.
Targets (issue 6): BLE >= 90 %, serial >= 95 %.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.keystore import KeyStore  # noqa: E402
from companion.spool import Spool  # noqa: E402
from companion.sync import enroll_badge, sync_badge  # noqa: E402
from tests.sync.helpers import SerialBadge, make_clips  # noqa: E402

__all__ = ["ble_sync", "ble_raw", "serial_sync"]

DAY_S = 8 * 3600
ADPCM_BPS = 16000 * 256 / 505  # IMA ADPCM 16 kHz mono: 256-byte blocks of 505 samples


class _RawServer:
    """Stands in for the sync server: an endless supply of raw bytes, no protocol."""

    stream = None
    session = True  # counts as authenticated: the radio never drops this central

    def __init__(self, total: int) -> None:
        self.left = total
        self.buf = memoryview(bytes(range(256)) * 64)

    def feed(self, data, now_ms=0):
        return len(data)

    def pending(self):
        return self.buf[:min(len(self.buf), self.left)] if self.left else None

    def sent(self, n):
        self.left -= n

    def step(self, now_ms=0):
        return False

    def reset(self):
        pass


async def ble_raw(link, comp, total: int) -> dict:
    """Raw notifications: the same radio loop, shim and bleak client, no sync protocol."""
    from badgekit.sim import bluetooth_shim as bt
    from companion.transport.ble import BleTransport

    bt.install()
    from firmware.hw.radio import Radio

    dev = link.add_device("raw")
    await dev.power_on()
    srv = _RawServer(total)
    radio = Radio(srv, "raw", ble=bt.BLE(dev, max_inflight=8))
    stop = [False]
    task = asyncio.get_running_loop().create_task(radio.serve(stop=lambda: stop[0]))
    t = BleTransport(str(dev.public_address).split("/")[0], bumble_device=comp)
    srv.left = 0  # nothing before the companion has subscribed
    await t.open()
    await asyncio.sleep(0.05)
    srv.left = total
    radio.wake.set()
    t0, c0 = time.monotonic(), time.process_time()
    while t.bytes_in < total:
        if task.done():
            task.result()  # the radio loop failed: raise its error
        await asyncio.sleep(0.001)
    dt, cpu = time.monotonic() - t0, time.process_time() - c0
    await t.close()
    stop[0] = True
    radio.wake.set()
    await asyncio.wait_for(task, 5)
    return {"bytes": total, "seconds": dt, "rate": total / dt, "mtu": t.mtu, "cpu_rate": total / cpu,
            "busy": radio.stats["busy"], "notifications": radio.stats["notifications"]}


async def ble_sync(link, comp, work: Path, mb: float, rounds: int = 3) -> dict:
    """Sync the same badge ``rounds`` times (into fresh spools, without ack, so the clips
    stay); the fastest round counts (the simulator shares its CPU with everything else)."""
    from badgekit.sim.ble_badge import start_ble_badge
    from companion.transport.ble import BleTransport

    blocks = int(mb * 1024 * 1024 / 4 / 256)
    make_clips(work / "clips", "bk-eff", 4, blocks_each=blocks)
    b = await start_ble_badge(link, work / "clips", work / "w")
    ks = KeyStore(work / "keys.json")
    best: dict = {}
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b1", agent="eff")
        for i in range(rounds):
            t = BleTransport(b.address, bumble_device=comp)
            async with t:
                t0, c0 = time.monotonic(), time.process_time()
                rep = await sync_badge(t, Spool(work / f"spool{i}"), ks, branch="b1", ack=False)
                dt, cpu = time.monotonic() - t0, time.process_time() - c0
            assert rep.ok and rep.synced == 4
            r = {"clip": rep.clip_bytes, "in": rep.wire_bytes_in, "out": rep.wire_bytes_out,
                 "seconds": dt, "rate": rep.clip_bytes / dt, "mtu": t.mtu,
                 "cpu_rate": rep.clip_bytes / cpu,
                 "notifications": t.notifications, "busy": b.radio.stats["busy"]}
            if not best or r["rate"] > best["rate"]:
                best = r
        return best
    finally:
        await b.stop()


async def ble_many(link, comp, work: Path, mb: float, n: int = 4,
                   concurrent: bool = True) -> dict:
    """``n`` badges synced by one companion radio, at once or one after the other."""
    from badgekit.sim.ble_badge import start_ble_badge
    from companion.transport.ble import BleTransport

    blocks = int(mb * 1024 * 1024 / 4 / 256 / n)
    ks = KeyStore(work / "keys.json")
    badges = []
    for i in range(n):
        make_clips(work / f"c{i}", f"bk-con{i}", 4, blocks_each=blocks)
        badges.append(await start_ble_badge(link, work / f"c{i}", work / f"w{i}"))
    try:
        for b in badges:
            async with BleTransport(b.address, bumble_device=comp) as t:
                await enroll_badge(t, ks, branch="b1", agent="eff")

        async def one(b):
            async with BleTransport(b.address, bumble_device=comp) as t:
                return await sync_badge(t, Spool(work / "spool"), ks, branch="b1")

        t0 = time.monotonic()
        if concurrent:
            reps = await asyncio.gather(*(one(b) for b in badges))
        else:
            reps = [await one(b) for b in badges]
        dt = time.monotonic() - t0
        assert all(r.ok and r.synced == 4 for r in reps)
        clip = sum(r.clip_bytes for r in reps)
        return {"badges": n, "clip": clip, "seconds": dt, "rate": clip / dt}
    finally:
        for b in badges:
            await b.stop()


async def serial_sync(work: Path, mb: float, chunk: int | None) -> dict:
    from companion.transport.serial import SerialTransport

    blocks = int(mb * 1024 * 1024 / 4 / 256)
    make_clips(work / "clips", "bk-effs", 4, blocks_each=blocks)
    badge = SerialBadge(work / "clips")
    ks = KeyStore(work / "keys.json")
    try:
        async with SerialTransport(badge.port) as t:
            await enroll_badge(t, ks, branch="b1", agent="eff")
        async with SerialTransport(badge.port) as t:
            t0 = time.monotonic()
            rep = await sync_badge(t, Spool(work / "spool"), ks, branch="b1", chunk=chunk)
            dt = time.monotonic() - t0
        assert rep.ok and rep.synced == 4
        return {"clip": rep.clip_bytes, "wire": rep.wire_bytes_in + rep.wire_bytes_out,
                "seconds": dt}
    finally:
        badge.close()


def _phy(rate_mbps: int) -> tuple[float, str]:
    """Notification value bytes/s at a PHY: one 244-byte value per 251-byte LL PDU."""
    us = 8 / rate_mbps  # microseconds per byte on air
    pre = 1 if rate_mbps == 1 else 2
    data = (pre + 4 + 2 + 251 + 3) * us  # preamble, access address, header, payload, CRC
    empty = (pre + 4 + 2 + 3) * us  # the central's empty ack packet
    t = data + 150 + empty + 150  # two inter-frame spaces (T_IFS = 150 us)
    return 244 / (t * 1e-6), (f"({pre}+4+2+251+3) B x {us:g} us = {data:.0f} us data + 150 + "
                               f"{empty:.0f} us ack + 150 = {t:.0f} us per 244-byte value")


def main() -> int:
    logging.getLogger("bumble").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=1.0, help="Clip megabytes per measurement.")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bk-eff-"))

    async def ble() -> tuple[dict, dict]:
        from badgekit.blelink import VirtualLink

        link = VirtualLink()
        comp = link.add_device("companion")
        await comp.power_on()
        s = await ble_sync(link, comp, work / "ble", a.mb)
        raws = [await ble_raw(link, comp, s["in"]) for _ in range(3)]
        r = max(raws, key=lambda x: x["rate"])
        r["cpu_rate"] = max(x["cpu_rate"] for x in raws)
        q = await ble_many(link, comp, work / "seq", a.mb, concurrent=False)
        c = await ble_many(link, comp, work / "con", a.mb, concurrent=True)
        return s, r, (q, c)

    try:
        s, r, (q, c) = asyncio.run(ble())
        carried = s["in"] + s["out"]
        eff = s["clip"] / carried
        ratio = s["rate"] / r["rate"]
        print(f"BLE (bumble LocalLink, ATT MTU {s['mtu']}, {s['notifications']} notifications):")
        print(f"  sync: {s['clip']:,} clip bytes / {carried:,} bytes carried "
              f"({s['in']:,} notified + {s['out']:,} written) = payload efficiency {eff:.1%}")
        print(f"  flow-control waits: sync {s['busy']}, raw {r['busy']} (of {r['notifications']})")
        print(f"  throughput: sync {s['rate'] / 1024:.0f} KiB/s of clips vs raw notifications "
              f"{r['rate'] / 1024:.0f} KiB/s (baseline, same link) = {ratio:.1%}")
        print(f"  {c['badges']} badges at once: {c['clip']:,} clip bytes in {c['seconds']:.2f} s vs "
              f"{q['seconds']:.2f} s one after the other (baseline): {q['seconds'] / c['seconds']:.2f}x "
              "(one simulated radio and one CPU carry all of them)")
        day = DAY_S * ADPCM_BPS
        print(f"  per CPU second (the simulator is CPU-bound; immune to other load): sync "
              f"{s['cpu_rate'] / 1024:.0f} KiB vs raw {r['cpu_rate'] / 1024:.0f} KiB = "
              f"{s['cpu_rate'] / r['cpu_rate']:.1%}")
        print(f"  8-hour day of clips: 28800 s x {ADPCM_BPS:.1f} B/s (16 kHz IMA ADPCM) = "
              f"{day / 1e6:.1f} MB")
        for phy in (1, 2):
            rate, how = _phy(phy)
            secs = day / (rate * eff)
            print(f"  {phy}M PHY: {how} -> {rate / 1000:.1f} kB/s raw; x {eff:.3f} = "
                  f"{rate * eff / 1000:.1f} kB/s of clips -> {day / 1e6:.1f} MB / "
                  f"{rate * eff / 1000:.1f} kB/s = {secs:.0f} s = {secs / 60:.1f} min")
        se = asyncio.run(serial_sync(work / "ser", a.mb, None))
        sb = asyncio.run(serial_sync(work / "serb", a.mb, 256))
        seff, beff = se["clip"] / se["wire"], sb["clip"] / sb["wire"]
        print("serial (firmware under micropython on a pty, pyserial):")
        print(f"  sync: {se['clip']:,} clip bytes / {se['wire']:,} wire bytes = {seff:.1%} "
              f"({se['clip'] / se['seconds'] / 1024:.0f} KiB/s on the pty)")
        print(f"  baseline (256-byte DATA frames): {beff:.1%}; ratio {seff / beff:.3f}")
        at = 921600 / 10 * seff
        print(f"  8-hour day at 921600 baud (8N1: 92160 B/s) x {seff:.3f} = {at / 1000:.1f} kB/s "
              f"-> {day / at / 60:.1f} min")
        ok = eff >= 0.90 and seff >= 0.95
        print("targets (BLE >= 90 %, serial >= 95 %):", "MET" if ok else "NOT MET")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
