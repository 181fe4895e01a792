"""Fuzz the badge's sync server under the real MicroPython unix port.

    .venv/bin/python bench/fuzz_sync.py [--cases 10000] [--seed 1] [--pty 200]

1. In-process campaign (bench/sync_fuzz_mp.py under `micropython`): ``--cases``
   random and mutated frames (random bytes, random types and payloads, mutations of a
   real authenticated session's frames, hostile payloads with valid MACs) against the
   firmware Server on a littlefs2 store. Target (issue 6): zero crashes, zero hangs,
   every input answered with a valid reply or error, no clip deleted.
2. Over the real serial link: ``--pty`` inputs written to a simulated badge
   (badgekit/sim/badge_mp.py: firmware server + serial link in `micropython` on a pty);
   each must be answered within 2 s, and afterwards a normal hello still works.
Baseline for the ratio: the same number of valid PING frames through the same path.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from badgecore import mpy  # noqa: E402
from firmware.sync import frame, proto  # noqa: E402

__all__ = ["in_process", "over_pty"]


def in_process(cases: int, seed: int) -> dict:
    t0 = time.monotonic()
    p = mpy.run(REPO / "bench" / "sync_fuzz_mp.py", args=[str(cases), str(seed)], timeout=600)
    out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    out["seconds"] = round(time.monotonic() - t0, 2)
    return out


def _replies(fd: int, timeout_s: float) -> list[tuple[int, bytes]]:
    dec = frame.Decoder(8192, 1 << 30)
    got: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05 if got else deadline - time.monotonic())
        if not r:
            if got:
                return got
            continue
        data = os.read(fd, 65536)
        mv = memoryview(data)
        while len(mv):
            k = dec.feed(mv)
            mv = mv[k:]
            while (ev := dec.poll(0)) is not None:
                if ev == frame.EV_FRAME:
                    got.append((dec.typ, bytes(dec.payload)))
    return got


def _input(rng: random.Random, seq: int) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
    f = bytearray(frame.encode(rng.randrange(256), seq, bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))))
    if kind == 2:
        f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
    elif kind == 3:
        f = f[:rng.randrange(1, len(f))]
    return bytes(f)


def over_pty(n: int, seed: int, clips: Path | None = None) -> dict:
    from badgekit.sim.badge_cmd import start_serial_badge

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="bk-fuzz-"))
    cdir = clips or (work / "clips")
    cdir.mkdir(exist_ok=True)
    proc, port, slave, _ready = start_serial_badge(cdir, work)
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    res = {"inputs": n, "answered": 0, "unanswered": 0, "bad": 0, "alive_after": False}
    try:
        for i in range(n):
            os.write(fd, _input(rng, i + 1))
            got = _replies(fd, 2.0)
            if not got:
                res["unanswered"] += 1
            elif all(t == proto.ERROR or t & proto.REPLY for t, _ in got):
                res["answered"] += 1
            else:
                res["bad"] += 1
        os.write(fd, frame.encode(proto.HELLO, 99999, json.dumps({"v": 1, "nonce": "00" * 16}).encode()))
        got = _replies(fd, 3.0)
        res["alive_after"] = any(t == proto.HELLO | proto.REPLY for t, _ in got)
        res["badge_running"] = proc.poll() is None
        t0 = time.monotonic()
        for i in range(n):
            os.write(fd, frame.encode(proto.PING, 100000 + i, b"{}"))
            _replies(fd, 2.0)
        res["baseline_ping_s"] = round(time.monotonic() - t0, 2)
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()
        os.close(slave)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pty", type=int, default=200)
    a = ap.parse_args()
    r = in_process(a.cases, a.seed)
    print(f"in-process fuzz under MicroPython: {r['cases']} inputs in {r['seconds']} s "
          f"({r['cases'] / max(r['seconds'], 1e-9):.0f}/s)")
    print(f"  crashes {r['crashes']}  hangs {r['hangs']}  unanswered {r['unanswered']}  "
          f"invalid replies {r['bad_replies']}  replies {r['replies']}  clips deleted "
          f"{3 - r['clips_left']}")
    print("  error replies by code: " + ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())))
    p = over_pty(a.pty, a.seed)
    print(f"over the pty serial link: {p['inputs']} inputs, answered {p['answered']}, "
          f"unanswered {p['unanswered']}, invalid {p['bad']}, link alive after: "
          f"{p['alive_after']}, badge running: {p['badge_running']} "
          f"(baseline: {p['inputs']} valid pings took {p['baseline_ping_s']} s)")
    ok = (r["crashes"] == r["hangs"] == r["unanswered"] == r["bad_replies"] == 0
          and r["clips_left"] == 3 and p["unanswered"] == p["bad"] == 0 and p["alive_after"])
    print("target (0 crashes, 0 hangs, every input answered):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
