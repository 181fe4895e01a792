"""Benchmark: how long `scan` takes for a tray of badges, concurrent versus one by one.

    .venv/bin/python bench/companion_scan.py [--badges 8] [--clips 5]

Starts N simulated badges (`badgekit sim badge`: the firmware's sync server under the
MicroPython unix port, each on its own pty), enrolls half of them in a throw-away key
store (so scan authenticates and reads INFO from those, and reads hello + INFO
unauthenticated from the rest), then times:

- baseline: the same probe run for each badge in turn (what a loop over
  `badgekit companion status --port …` would cost);
- scan: `companion.scan.run_scan` probing every port at once, as `badgekit companion
  scan` does.

``--silent-ports`` adds ptys where nothing answers (a badge with a dead firmware, a
serial device that is not a badge): each costs the connect timeout, once per port one
by one, once in all when probed at once.

Prints both times, the per-badge latency and the speed-up. The figure matters because a
branch tray holds 10-30 badges and staff wait for the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--badges", type=int, default=8)
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--silent-ports", type=int, default=3,
                    help="ports where nothing answers (a dead badge, another device)")
    ap.add_argument("--timeout-s", type=float, default=1.0, help="scan.connect_timeout_s")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    os.environ["BADGEKIT_CONFIG"] = str(tmp / "cfg")
    os.environ["BADGEKIT_DATA"] = str(tmp / "data")
    os.environ["BADGEKIT_KEYSTORE"] = str(tmp / "cfg" / "keystore.json")
    os.environ.pop("BADGEKIT_COMPANION_SETTINGS", None)

    from typer.testing import CliRunner

    from companion import settings as st
    from companion.cli import app
    from companion.scan import run_scan
    from tests.companion.simbadge import SimBadge, make_clips

    badges = []
    try:
        for i in range(args.badges):
            folder = tmp / f"clips{i}"
            make_clips(folder, f"bench-{i:02d}", args.clips)
            badges.append(SimBadge(folder))
        ports = [b.port for b in badges]
        silent = []
        for _ in range(args.silent_ports):
            master, slave = os.openpty()
            silent.append((master, slave))
        for p in ports[::2]:
            res = CliRunner().invoke(app, ["enroll", "--port", p, "--agent", "bench"])
            assert res.exit_code == 0, res.stderr
        base = st.override(st.CompanionSettings(), {"scan.ble": False, "scan.serial": False,
                                                     "scan.connect_timeout_s": args.timeout_s})
        every = ports + [os.ttyname(s) for _, s in silent]

        def one_by_one() -> float:
            t0 = time.perf_counter()
            for p in every:
                r = asyncio.run(run_scan(st.override(base, {"scan.ports": [p]})))
                assert len(r.badges) + len(r.skipped) == 1, r.as_dict()
            return time.perf_counter() - t0

        def at_once() -> float:
            t0 = time.perf_counter()
            r = asyncio.run(run_scan(st.override(base, {"scan.ports": every})))
            assert len(r.badges) == len(ports) and len(r.skipped) == len(silent), r.as_dict()
            return time.perf_counter() - t0

        seq = min(one_by_one() for _ in range(args.rounds))
        con = min(at_once() for _ in range(args.rounds))
    finally:
        for b in badges:
            b.kill()
    n = len(every)
    print(f"ports: {n} = {len(ports)} badges (half enrolled: authenticated INFO; half not: "
          f"hello + INFO) + {len(silent)} silent (timeout {args.timeout_s} s)")
    print(f"baseline, one by one : {seq * 1000:7.1f} ms  ({seq / n * 1000:.1f} ms per port)")
    print(f"scan, all at once    : {con * 1000:7.1f} ms  ({con / n * 1000:.1f} ms per port)")
    print(f"speed-up             : {seq / con:.2f}x (best of {args.rounds} rounds each)")


if __name__ == "__main__":
    main()
