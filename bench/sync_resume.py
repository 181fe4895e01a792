"""Resume after a cut link: every clip arrives intact, exactly once (serial and BLE).

    .venv/bin/python bench/sync_resume.py [--runs 50] [--seed 1] [--only serial|ble]

Each run starts a fresh simulated badge (serial: the firmware under `micropython` on a
pty; BLE: firmware.hw.radio on the bumble shim, bleak on the bumble backend), enrolls
it, and syncs it while the link is really dropped (the companion closes the port / the
BLE connection) at one or two random byte offsets of the stream; the companion then
reconnects and syncs again until the badge is empty. Checked after every run: each
clip is in the spool exactly once (ledger and custody records), verifies (SHA-256,
trailer, chain), nothing ``.partial`` is left, and the badge deleted only acknowledged
clips. Baseline: the same runs without a cut (bytes on the wire per run).
Target (issue 6): >= 50 runs per link, every clip intact exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.errors import SyncError  # noqa: E402
from companion.keystore import KeyStore  # noqa: E402
from companion.spool import Spool  # noqa: E402
from companion.sync import enroll_badge, sync_badge  # noqa: E402
from tests.sync.helpers import SerialBadge, check_spool, cut_after, make_clips  # noqa: E402

__all__ = ["resume_run"]


async def _sync_until_done(make, spool, ks, cuts: list[int]) -> dict:
    """Sync with the link cut at each wire offset in ``cuts``, then until complete."""
    wire = 0
    done_cuts = 0
    for cut in cuts:
        t = cut_after(make(), cut)
        try:
            async with t:
                await sync_badge(t, spool, ks, branch="b1")
        except SyncError:
            done_cuts += 1
        wire += t.bytes_in
    for _ in range(5):
        t = make()
        async with t:
            rep = await sync_badge(t, spool, ks, branch="b1")
        wire += t.bytes_in
        if rep.ok and all(c.acked for c in rep.clips):
            return {"wire": wire, "cuts": done_cuts}
    raise AssertionError("sync did not complete after the cuts")


async def resume_run(kind: str, rng: random.Random, work: Path, n_clips: int = 4,
                     blocks: int = 60, cut: bool = True, link=None, comp=None) -> dict:
    """One run on a fresh badge; returns its figures (raises if a check fails)."""
    sides = make_clips(work / "clips", f"bk-r{rng.randrange(10**6):06d}", n_clips,
                       blocks_each=blocks)
    total = sum(s["samples"] // 505 * 256 + 300 for s in sides)
    ks, spool = KeyStore(work / "keys.json"), Spool(work / "spool")
    ncut = (1 if rng.random() < 0.6 else 2) if cut else 0
    cuts = sorted(rng.randrange(1, total) for _ in range(ncut))
    if kind == "serial":
        from companion.transport.serial import SerialTransport

        badge = SerialBadge(work / "clips")
        try:
            async with SerialTransport(badge.port) as t:
                await enroll_badge(t, ks, branch="b1", agent="resume")
            r = await _sync_until_done(lambda: SerialTransport(badge.port), spool, ks, cuts)
            async with SerialTransport(badge.port) as t:
                from companion.client import BadgeClient
                from companion.link import authenticate

                async with BadgeClient(t) as c:
                    await authenticate(c, ks, "b1")
                    left = await c.list_clips()
        finally:
            badge.close()
    else:
        from badgekit.sim.ble_badge import start_ble_badge
        from companion.transport.ble import BleTransport

        b = await start_ble_badge(link, work / "clips", work / "w")
        try:
            async with BleTransport(b.address, bumble_device=comp) as t:
                await enroll_badge(t, ks, branch="b1", agent="resume")
            r = await _sync_until_done(lambda: BleTransport(b.address, bumble_device=comp),
                                       spool, ks, cuts)
            left = list(b.store.list_clips())
        finally:
            await b.stop()
    check_spool(work / "spool", sides)
    assert not left, f"clips left on the badge: {left}"
    resumed = sum(json.loads(p.read_text()).get("resumed", False)
                  for p in (work / "spool").glob("*/*/*.custody.json"))
    return {"clips": len(sides), "cuts": r["cuts"], "wire": r["wire"], "resumed": resumed}


async def campaign(kind: str, runs: int, seed: int, cut: bool = True) -> dict:
    rng = random.Random(seed)
    link = comp = None
    if kind == "ble":
        from badgekit.blelink import VirtualLink

        link = VirtualLink()
        comp = link.add_device("companion")
        await comp.power_on()
    agg = {"runs": 0, "clips": 0, "cuts": 0, "wire": 0, "resumed": 0}
    t0 = time.monotonic()
    for _ in range(runs):
        work = Path(tempfile.mkdtemp(prefix="bk-resume-"))
        try:
            r = await resume_run(kind, rng, work, cut=cut, link=link, comp=comp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        agg["runs"] += 1
        for k in ("clips", "cuts", "wire", "resumed"):
            agg[k] += r[k]
    agg["seconds"] = round(time.monotonic() - t0, 1)
    return agg


def main() -> int:
    import logging

    logging.getLogger("bumble").setLevel(logging.ERROR)  # notifications racing a cut link
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["serial", "ble"])
    a = ap.parse_args()
    ok = True
    for kind in ("serial", "ble"):
        if a.only and kind != a.only:
            continue
        base = asyncio.run(campaign(kind, 5, a.seed + 1000, cut=False))
        r = asyncio.run(campaign(kind, a.runs, a.seed))
        per_clip_base = base["wire"] / base["clips"]
        per_clip = r["wire"] / r["clips"]
        print(f"{kind}: {r['runs']} runs, {r['cuts']} link cuts at random byte offsets, "
              f"{r['clips']} clips expected, {r['clips']} intact exactly once (all checks "
              f"passed), 0 duplicates, "
              f"{r['resumed']} clips resumed mid-clip; {r['seconds']} s")
        print(f"  wire bytes per clip: {per_clip:,.0f} with cuts vs {per_clip_base:,.0f} without "
              f"(baseline, {base['runs']} uncut runs): ratio {per_clip / per_clip_base:.3f}")
        ok = ok and r["runs"] >= 50
    print("target (>= 50 runs per link, every clip intact exactly once):",
          "MET" if ok else "NOT MET (fewer runs than 50)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
