"""Fault campaign: what each fault does to the clips on their way from badge to receiver.

    .venv/bin/python bench/faults.py [--quick] [--seed 7] [--json]

Runs every fault kind against the real parts and prints ONE table, a row per kind:
runs, clips expected, clips received intact downstream (at the receiver, each verified
with firmware.clips.fmt.verify_wav against the hash the badge recorded and its chain
link), clips lost (0 allowed, except audio inside the <= 1 s power-cut window, given in
seconds), duplicates kept by the receiver (0 allowed), and whether every gap (lost
audio, clips held back) was reported.

- power cut on the badge while recording and while syncing (bench/faults_power.py,
  torn littlefs2 snapshots as in the clip store's campaign), >= 200 runs;
- serial and BLE link cut at a random byte during sync, then resumed
  (bench/faults_links.py), >= 100 runs;
- broker SIGKILLed and restarted during publishing, >= 20 runs; gateway SIGKILLed and
  restarted, >= 20 runs (bench/faults_delivery.py);
- full spool disk on the companion, a 256 KiB tmpfs (bench/faults_spool.py; root), >= 5 runs.

Badge and link runs are batched: each batch's survivors go through one downstream pass
(spool → `badgekit gateway run --once --no-transcribe` → Mosquitto → `badgekit gateway
receive`). Transcription is off (`--no-transcribe`) so hundreds of runs fit in minutes;
it is not on the path of a clip's bytes. Exit status 1 when any row fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults_chain import Downstream, Expect, RunResult, check_received  # noqa: E402

__all__ = ["Row", "Settings", "campaign", "rows", "table"]


@dataclass(frozen=True)
class Settings:
    power_runs: int = 200
    link_runs: int = 100
    broker_runs: int = 20
    gateway_runs: int = 20
    spool_runs: int = 5
    seed: int = 7

    @classmethod
    def quick(cls, seed: int = 7) -> Settings:
        return cls(power_runs=24, link_runs=8, broker_runs=2, gateway_runs=2, spool_runs=1, seed=seed)


@dataclass(frozen=True)
class Row:
    fault: str
    runs: int
    expected: int
    intact: int
    lost: int
    window_lost_s_total: float
    window_lost_s_max: float
    duplicates: int
    gaps: int
    gaps_reported: int
    problems: tuple[str, ...]
    nested: int = 0

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.gaps == self.gaps_reported
                and not self.problems and self.window_lost_s_max <= 1.0)


def rows(results: dict[str, RunResult]) -> list[Row]:
    kinds: dict[str, list[RunResult]] = {}
    for r in results.values():
        kinds.setdefault(r.kind, []).append(r)
    out = []
    for kind, rs in kinds.items():
        out.append(Row(kind, len(rs), sum(r.expected for r in rs), sum(r.intact for r in rs),
                       sum(r.lost for r in rs), round(sum(r.window_lost_s for r in rs), 3),
                       round(max(r.window_lost_s for r in rs), 3), sum(r.duplicates for r in rs),
                       sum(r.gaps for r in rs), sum(r.gaps_reported for r in rs),
                       tuple(f"{r.run}: {p}" for r in rs for p in r.problems),
                       sum(r.nested for r in rs)))
    return out


def table(rs: list[Row]) -> str:
    head = ["fault", "runs", "clips expected", "received intact", "clips lost",
            "audio lost in cut window (s, total / max per run)", "duplicates kept",
            "gaps reported"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        window = f"{r.window_lost_s_total:.2f} / {r.window_lost_s_max:.2f}" if r.fault.startswith(
            "power") else "-"
        gaps = f"{'yes' if r.gaps == r.gaps_reported else 'NO'} ({r.gaps_reported} of {r.gaps})"
        lines.append(f"| {r.fault} | {r.runs} | {r.expected} | {r.intact} | {r.lost} | {window} | "
                     f"{r.duplicates} | {gaps} |")
    return "\n".join(lines)


def campaign(s: Settings, work: Path, log=print) -> tuple[list[Row], dict]:
    """Run every fault kind; the table's rows and the receiver's summary."""
    from faults_delivery import broker_runs, gateway_runs
    from faults_links import link_runs
    from faults_power import power_runs
    from faults_spool import spool_runs

    results: dict[str, RunResult] = {}
    expects: list[Expect] = []
    times: dict[str, float] = {}
    t = time.monotonic()
    expects += power_runs(s.power_runs, s.seed, work / "power", work / "spool-power",
                          work / "keys-power.json", results, log)
    times["power cuts (badge + sync)"] = time.monotonic() - t
    t = time.monotonic()
    expects += link_runs(s.link_runs, s.seed, work / "links", work / "spool-links",
                         work / "keys-links.json", results, log)
    times["link cuts (sync)"] = time.monotonic() - t
    down = Downstream(work / "down").start()
    try:
        t = time.monotonic()
        passes = {"power": down.gateway_once(work / "spool-power", "gw-power"),
                  "links": down.gateway_once(work / "spool-links", "gw-links")}
        n_clips = sum(1 for sp in ("spool-power", "spool-links")
                      for _ in (work / sp).glob("*/*/*.custody.json"))
        down.wait_received(n_clips)  # the kill runs below start with the receiver idle
        times["downstream of power + link runs"] = time.monotonic() - t
        t = time.monotonic()
        expects += broker_runs(s.broker_runs, s.seed, work / "broker", down, results, log)
        times["broker kills"] = time.monotonic() - t
        t = time.monotonic()
        expects += gateway_runs(s.gateway_runs, s.seed, work / "gateway", down, results, log)
        times["gateway kills"] = time.monotonic() - t
        t = time.monotonic()
        expects += spool_runs(s.spool_runs, s.seed, work / "spool", down, results, log)
        times["full spool disk"] = time.monotonic() - t
        summary = down.finish()
    finally:
        down.close()
    check_received(down.out, expects, summary, results)
    said = [f"{r.kind}: {r.said}" for r in results.values() if r.said]
    summary["said"] = said[:1] + [x for x in said[1:] if "acknowledged" in x][:1]
    summary["stage_seconds"] = {k: round(v, 1) for k, v in times.items()}
    summary["gateway_passes"] = {k: {x: v.get(x) for x in ("clips_in", "delivered", "unconfirmed",
                                                           "outbox_depth")}
                                 for k, v in passes.items()}
    return rows(results), summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller campaign (about a minute)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    ap.add_argument("--keep", type=Path, help="keep the work folder here")
    a = ap.parse_args(argv)
    logging.getLogger("bumble").setLevel(logging.CRITICAL)
    logging.basicConfig(level=logging.CRITICAL)
    s = Settings.quick(a.seed) if a.quick else Settings(seed=a.seed)
    work = a.keep or Path(tempfile.mkdtemp(prefix="badgekit-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    from faults_spool import SpoolDiskError

    try:
        rs, summary = campaign(s, work, log=lambda m: print(m, file=sys.stderr, flush=True))
    except SpoolDiskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    secs = time.monotonic() - t0
    print(f"fault campaign{' (--quick)' if a.quick else ''}, seed {s.seed}: every clip checked at the "
          "receiver with verify_wav against the badge's recorded hash and chain")
    print("gateway run with --no-transcribe (transcription is not on the path of a clip's bytes)")
    print(table(rs))
    print(f"receiver: {summary['messages']} messages, {summary['clips_verified']} clips verified, "
          f"{summary['duplicates_dropped']} redelivered copies dropped, gaps reported by the chain "
          f"check {len(summary['gaps'])}, missing {len(summary['missing'])}, failed {len(summary['failed'])}")
    print("gateway --once passes of the badge batches: " + json.dumps(summary["gateway_passes"]))
    for r in rs:
        if r.nested:
            print(f"{r.fault}: {r.nested} of the {r.runs} runs were cut again during their recovery boot")
    for x in summary["said"]:
        print(f"the user was told ({x})")
    print("stage seconds: " + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()))
    print(f"run time {secs:.0f} s")
    bad = [r for r in rs if not r.ok]
    for r in bad:
        for p in r.problems[:10]:
            print(f"  problem: {p}")
    if a.json:
        print(json.dumps([r.__dict__ for r in rs], indent=1))
    return 1 if bad or summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
