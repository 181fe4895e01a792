"""Power-cut campaign figure: cuts, clips verified, seconds lost (max, mean).

    .venv/bin/python bench/powercut.py [--cuts 1000] [--seed 7] [--rounds 90]

Runs bench/powercut_engine.py under the real MicroPython unix port (littlefs2 on a RAM
block device, every cut rebooted and checked; see that file) for the store as built
(flush every 0.5 s), and, in the same run, a baseline store that syncs a clip only when
it closes (what a naive append-and-close writer does). Prints both and the ratio of
seconds lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from badgecore import mpy  # noqa: E402

ENGINE = Path(__file__).with_name("powercut_engine.py")


def campaign(cuts: int, seed: int, rounds: int, flush_ms: int) -> tuple[dict, float]:
    t0 = time.monotonic()
    proc = mpy.run(ENGINE, args=[str(cuts), str(seed), str(rounds), str(flush_ms)], heap="256M",
                   timeout=3600)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1]), time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=90)
    args = ap.parse_args()
    r, secs = campaign(args.cuts, args.seed, args.rounds, 500)
    base, bsecs = campaign(max(100, args.cuts // 4), args.seed, args.rounds, 10_000_000)
    print("power-cut campaign: clip store on littlefs2 (MicroPython unix port, RAM block device)")
    print(f"  device writes in the workload   {r['writes']}")
    print(f"  power cuts                      {r['cuts']} "
          f"({r['primary_cuts']} at random writes + {r['nested_recovery_cuts']} inside recovery boots)")
    print(f"  cuts by operation               {json.dumps(r['by_op'], sort_keys=True)}")
    print(f"  cuts by write kind              {json.dumps(r['by_kind'], sort_keys=True)}")
    print(f"  clips verified after reboots    {r['clips_verified']} "
          f"(open clips checked {r['open_clips_checked']})")
    print(f"  seconds lost (cuts with a clip open) max {r['lost_s_max']:.3f}  mean {r['lost_s_mean']:.3f}")
    print(f"  failed checks                   {r['failure_count']}")
    for f in r["failures"]:
        print(f"    {f}")
    print(f"  run time                        {secs:.1f} s")
    print("baseline: same workload, clip synced only at close")
    print(f"  power cuts {base['cuts']}, seconds lost max {base['lost_s_max']:.3f} "
          f"mean {base['lost_s_mean']:.3f}, checks failed {base['failure_count']} ({bsecs:.1f} s)")
    if r["lost_s_mean"] > 0:
        print(f"ratio: baseline loses {base['lost_s_mean'] / r['lost_s_mean']:.1f}x more audio per cut "
              f"(mean), {base['lost_s_max'] / max(r['lost_s_max'], 1e-9):.1f}x (max)")
    return 1 if r["failure_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
