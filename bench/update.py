"""Firmware updates: bundle size, Ed25519 on the badge, time to update over serial and BLE,
four badges at once.

    PYTHONPATH=. python bench/update.py [--rounds 3] [--json]

1. Bundle: the real firmware built by `badgekit release build` for the ESP32-S3
   (mpy-cross -march=xtensawin) and for this computer (what the tests run).
2. Ed25519 verification (firmware.ed25519) under the MicroPython unix port, median of
   20; baseline in the same process: SHA-256 (hashlib, in C) over the whole bundle, the
   other half of the badge's check. The ESP32-S3 figure is an estimate: the unix-port
   time times a stated factor (printed with how it is made up).
3. One badge over serial (the badge under the unix port on a pty, from its boot loader):
   transfer, and the whole update to a confirmed new firmware (reboot included);
   baseline: the same transfer sent one request at a time (the pipelining gain).
4. One badge over BLE (badge under CPython on the bumble `bluetooth` shim, companion on
   bleak's bumble backend): transfer + on-badge verification, as a ratio to serial.
5. Four badges at once over serial (`update_all`) against one badge alone.

No data halves: nothing here is tuned on data (the bundle is the repository's firmware).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from badgecore import mpy, release  # noqa: E402
from companion import update as upd  # noqa: E402
from companion.keystore import KeyStore  # noqa: E402
from companion.link import Target, connect  # noqa: E402
from companion.settings import load  # noqa: E402
from companion.sync import enroll_badge  # noqa: E402
from companion.transport.serial import SerialTransport  # noqa: E402
from hardware.pinmap import boards  # noqa: E402
from tests.update.helpers import FAKEHW, HOST_ARCH, FwBadge, Releases, ble_badge  # noqa: E402

ESP32_MHZ = 240
IPC_FACTOR = 3.0  # an out-of-order x86-64 core retires ~3x the instructions per clock of the LX7
MPZ_FACTOR = 2.0  # the 32-bit port's mpz uses 16-bit digits: 4x the digit products, ~half the time

_VERIFY = """
import binascii, hashlib, time
from firmware import ed25519
pub = binascii.unhexlify('{pub}'); sig = binascii.unhexlify('{sig}'); msg = binascii.unhexlify('{msg}')
ed25519.verify(pub, msg, sig)  # constants computed once per boot
ts = []
for i in range(20):
    t = time.ticks_us(); ok = ed25519.verify(pub, msg, sig); ts.append(time.ticks_diff(time.ticks_us(), t))
    assert ok
f = open('{bundle}', 'rb'); data = f.read(); f.close()
hs = []
for i in range(20):
    t = time.ticks_us(); hashlib.sha256(data).digest(); hs.append(time.ticks_diff(time.ticks_us(), t))
ts.sort(); hs.sort()
print(ts[10], hs[10])
"""


def host_mhz() -> float:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except OSError:
        pass
    return 2500.0


def bench_verify(rel: Releases, bundle: Path) -> dict:
    msg = hashlib.sha256(b"manifest").digest()
    sig = rel.key.sign(msg)
    code = _VERIFY.format(pub=rel.public.hex(), sig=sig.hex(), msg=msg.hex(), bundle=bundle)
    out = mpy.run(code=code, timeout=120).stdout.decode().split()
    v_us, h_us = int(out[0]), int(out[1])
    factor = host_mhz() / ESP32_MHZ * IPC_FACTOR * MPZ_FACTOR
    return {"verify_ms_unix": v_us / 1000, "sha256_bundle_ms_unix": h_us / 1000,
            "verify_vs_sha256": v_us / max(1, h_us), "esp32_factor": round(factor, 1),
            "host_mhz": host_mhz(), "verify_ms_esp32_estimate": v_us / 1000 * factor}


def _settings(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    p = work / "companion.toml"
    p.write_text('[branch]\nid = "b-bench"\n\n[scan]\nconnect_timeout_s = 10.0\n', encoding="utf-8")
    return load(p)


def _enroll(b: FwBadge, ks: Path) -> None:
    async def go() -> None:
        async with SerialTransport(b.port) as t:
            await enroll_badge(t, KeyStore(ks), branch="b-bench", agent="bench")

    asyncio.run(go())


def bench_serial(rel: Releases, bundle: Path, work: Path, n: int = 1,
                 window: int = upd.WINDOW) -> list[upd.UpdateResult]:
    """Update ``n`` fresh badges at once from the factory firmware; their results."""
    ks = work / "keys.json"
    s = _settings(work)
    badges = [FwBadge(work / f"b{i}", rel.public, badge=f"BK-BENCH{i}") for i in range(n)]
    old = upd.WINDOW
    upd.WINDOW = window
    try:
        for b in badges:
            b.wait_boots(1)
            _enroll(b, ks)
        bf = upd.read_bundle(bundle)
        targets = [Target("serial", b.port, None, str(ks)) for b in badges]
        res = asyncio.run(upd.update_all(s, targets, bf))
    finally:
        upd.WINDOW = old
        for b in badges:
            b.close()
    bad = [r for r in res if r.outcome != "updated"]
    if bad:
        raise SystemExit(f"update of {bad[0].badge} on {bad[0].address} failed: {bad[0].message}")
    return res


def _port_shims() -> None:
    """MicroPython's `time`/`asyncio` extras and the `machine` stand-in, on CPython."""
    time.ticks_ms = lambda: int(time.monotonic() * 1000)  # type: ignore[attr-defined]
    time.ticks_us = lambda: int(time.monotonic() * 1e6)  # type: ignore[attr-defined]
    time.ticks_diff = lambda a, b: a - b  # type: ignore[attr-defined]
    time.ticks_add = lambda a, b: a + b  # type: ignore[attr-defined]
    asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)  # type: ignore[attr-defined]
    spec = importlib.util.spec_from_file_location("machine", FAKEHW / "machine.py")
    assert spec is not None and spec.loader is not None
    machine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(machine)
    machine.reset = lambda: None  # type: ignore[attr-defined]
    sys.modules["machine"] = machine
    from badgekit.sim import bluetooth_shim

    bluetooth_shim.install()


async def bench_ble(rel: Releases, bundle: Path, work: Path) -> float:
    """Transfer + on-badge verification over BLE (seconds)."""
    from companion.transport.ble import BleTransport
    from firmware import fwstage

    fwstage.arch_name = lambda: HOST_ARCH  # the slot suits the unix port that boots it next
    ks = work / "keys.json"
    s = _settings(work)
    async with ble_badge(work, rel.public, "BK-BLEB") as (_b, comp, addr):
        async with BleTransport(addr, bumble_device=comp) as t:
            await enroll_badge(t, KeyStore(ks), branch="b-bench", agent="bench", set_time=False)
        bf = upd.read_bundle(bundle)
        async with connect(Target("ble", addr, None, str(ks), comp), s) as sess:
            res = upd.UpdateResult(addr, "ble")
            t0 = time.monotonic()
            await upd._transfer(sess, "ble", bf, res, None, addr)
            return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="Repeat the timed updates (median).")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        work = Path(tmp)
        rel = Releases(work / "rel")
        esp = release.build(rel.key_path, "0.2.0", work / "esp32s3.bkfw", "0.1.0",
                            sorted(b.rev for b in boards()))
        host = rel.bundle("0.2.0")
        out: dict = {"bundle_xtensawin_kib": esp.size / 1024, "bundle_files": esp.files,
                     "bundle_host_kib": host.stat().st_size / 1024}
        out.update(bench_verify(rel, host))
        one, stopwait, four, ble = [], [], [], []
        for r in range(args.rounds):
            one.append(bench_serial(rel, host, work / f"s1-{r}")[0])
            stopwait.append(bench_serial(rel, host, work / f"sw-{r}", window=1)[0])
            four.append(max(x.total_s for x in bench_serial(rel, host, work / f"s4-{r}", n=4)))
        _port_shims()
        for r in range(args.rounds):
            ble.append(asyncio.run(bench_ble(rel, host, work / f"ble-{r}")))
        med = statistics.median
        out.update({
            "serial_transfer_s": med(x.transfer_s for x in one),
            "serial_update_s": med(x.total_s for x in one),
            "serial_stop_and_wait_transfer_s": med(x.transfer_s for x in stopwait),
            "ble_transfer_and_verify_s": med(ble),
            "four_badges_update_s": med(four),
        })
        out["pipelining_speedup"] = out["serial_stop_and_wait_transfer_s"] / out["serial_transfer_s"]
        out["ble_vs_serial_transfer"] = out["ble_transfer_and_verify_s"] / out["serial_transfer_s"]
        out["four_vs_one"] = out["four_badges_update_s"] / out["serial_update_s"]
    if args.json:
        print(json.dumps(out, indent=2))
        return
    o = out
    print(f"bundle: {o['bundle_xtensawin_kib']:.1f} KiB for the ESP32-S3 (xtensawin), "
          f"{o['bundle_files']} files; {o['bundle_host_kib']:.1f} KiB built for {HOST_ARCH}")
    print(f"Ed25519 verify on the unix port: {o['verify_ms_unix']:.2f} ms (median of 20); "
          f"SHA-256 of the bundle: {o['sha256_bundle_ms_unix']:.2f} ms; ratio "
          f"{o['verify_vs_sha256']:.1f}")
    print(f"ESP32-S3 estimate: {o['verify_ms_esp32_estimate']:.0f} ms = unix time x "
          f"{o['esp32_factor']:.0f} ({o['host_mhz']:.0f} MHz / {ESP32_MHZ} MHz x IPC "
          f"{IPC_FACTOR:g} x mpz 16-bit digits {MPZ_FACTOR:g})")
    print(f"one badge, serial: transfer {o['serial_transfer_s']:.2f} s, whole update "
          f"(reboot, confirm) {o['serial_update_s']:.2f} s; one request at a time: "
          f"{o['serial_stop_and_wait_transfer_s']:.2f} s (pipelining x{o['pipelining_speedup']:.2f})")
    print(f"one badge, BLE (bumble): transfer + verify {o['ble_transfer_and_verify_s']:.2f} s "
          f"= {o['ble_vs_serial_transfer']:.2f} x the serial transfer")
    chunks = -(-int(o["bundle_xtensawin_kib"] * 1024) // upd.CHUNK_BLE)
    for ci_ms in (15, 30):  # one request in flight: its writes in one connection event,
        est = chunks * 2 * ci_ms / 1000  # the notified reply in the next
        print(f"  link-layer arithmetic, a real radio at a {ci_ms} ms connection interval: "
              f"{chunks} requests x 2 events = {est:.1f} s for the ESP32-S3 bundle")
    print(f"four badges at once, serial: {o['four_badges_update_s']:.2f} s = "
          f"{o['four_vs_one']:.2f} x one badge alone (1.00 = no slower than one)")


if __name__ == "__main__":
    main()
