"""Badge heap during sync, measured in the real MicroPython unix port.

    .venv/bin/python bench/sync_heap.py [--clips 4] [--blocks 200]

The simulated badge (firmware compiled to .mpy with mpy-cross, as on a badge) serves an
enrollment and a full sync over the pty. With ``--probe`` its serving loop runs
``gc.collect()`` after every turn and records ``gc.mem_alloc()`` just before it, so each
sample is the live heap plus all garbage of one turn (an upper bound of what the turn
needs). Reported relative to the heap before the sync server existed (imported modules
+ the clip store's own state; on the badge the modules are frozen into flash), per
request type. Baseline: the idle badge (its server created, nothing served).
Target (issue 6): badge heap during sync <= 32 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.keystore import KeyStore  # noqa: E402
from companion.spool import Spool  # noqa: E402
from companion.sync import enroll_badge, sync_badge  # noqa: E402
from companion.transport.serial import SerialTransport  # noqa: E402
from firmware.sync import proto  # noqa: E402
from tests.sync.helpers import SerialBadge, make_clips  # noqa: E402

__all__ = ["measure"]

LIMIT = 32 * 1024


def measure(clips: int = 4, blocks: int = 200) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bk-heap-"))
    make_clips(work / "clips", "bk-heap", clips, blocks_each=blocks)
    badge = SerialBadge(work / "clips", probe=True, compiled=True)

    async def run() -> int:
        ks = KeyStore(work / "keys.json")
        async with SerialTransport(badge.port) as t:
            await enroll_badge(t, ks, branch="b1", agent="heap")
        async with SerialTransport(badge.port) as t:
            rep = await sync_badge(t, Spool(work / "spool"), ks, branch="b1")
        return rep.clip_bytes

    try:
        got = asyncio.run(run())
        time.sleep(1.3)  # one more probe line after the last request
    finally:
        out = badge.close()
    samples = [json.loads(ln)["heap"] for ln in out.splitlines() if ln.startswith('{"heap"')]
    last = samples[-1]
    pre = badge.ready["heap_pre_server"]
    by_type = {proto.NAMES.get(int(k), k): v - pre for k, v in last["peak_by_type"].items()}
    return {"pre_server": pre, "server_idle": badge.ready["heap_base"] - pre,
            "by_type": by_type, "peak": max(by_type.values()), "live_after": last["live"] - pre,
            "clip_bytes": got}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=200)
    a = ap.parse_args()
    r = measure(a.clips, a.blocks)
    print(f"heap before the sync server (modules + clip store state): {r['pre_server']:,} B")
    print(f"baseline, idle sync server (buffers, decoder, state): {r['server_idle']:,} B")
    for k, v in sorted(r["by_type"].items(), key=lambda kv: -kv[1]):
        print(f"  peak while serving {k:<10} {v:>7,} B  ({v / 1024:.1f} KiB)")
    print(f"peak heap for sync: {r['peak']:,} B = {r['peak'] / 1024:.1f} KiB "
          f"({r['peak'] / max(r['server_idle'], 1):.1f}x the idle server); "
          f"live after the sync: {r['live_after']:,} B; {r['clip_bytes']:,} clip bytes synced")
    ok = r["peak"] <= LIMIT
    print("target (<= 32 KiB):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
