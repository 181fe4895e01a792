"""Broker killed and restarted during publishing; gateway SIGKILLed and restarted.

Each run is one badge whose clips sit in the companion's spool (written by
companion.spool.Spool, custody records and all). Broker runs: `badgekit gateway run
--once` publishes them and the broker (Mosquitto, persistence on) is SIGKILLed once a
random number of the run's clips has reached the receiver, then started again on the
same port; the gateway must finish by itself. Gateway runs: `badgekit gateway run`
publishes and is SIGKILLed at a random point, then started again (`--once`) on the same
state folder. One receiver (`badgekit gateway receive`) takes every run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from faults_chain import Downstream, Expect, RunResult
from faults_links import _expects, make_clips

__all__ = ["spool_badge", "broker_runs", "gateway_runs"]


def spool_badge(spool_dir: Path, clips: Path, sides: list[dict]) -> None:
    """Put a badge's clips into the spool as the companion does (verify, custody, ledger)."""
    from companion.spool import Spool

    spool = Spool(spool_dir)
    for s in sides:
        inc = spool.incoming(s["badge"], s["clip_id"])
        inc.write(0, (clips / f"{s['clip_id']}.wav").read_bytes())
        spool.commit(s["badge"], inc, clip_id=s["clip_id"], seq=s["seq"], expect_sha256=s["sha256"],
                     custody={"operator": "faults", "branch": "faults-branch", "transport": "bench"})


def _received(down: Downstream, badge: str) -> int:
    return sum(1 for _ in down.out.glob(f"*/*/{badge}/*/clips/*.wav"))


def _wait(cond, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _make(work: Path, run: str, badge: str, rng: random.Random, n: int) -> tuple[Path, list[dict]]:
    clips, spool = work / badge, work / f"spool-{badge}"
    sides = make_clips(clips, badge, n, rng, blocks=(300, 600))
    spool_badge(spool, clips, sides)
    return spool, sides


def broker_runs(n: int, seed: int, work: Path, down: Downstream, results: dict[str, RunResult],
                log=print) -> list[Expect]:
    rng = random.Random(seed)
    expects: list[Expect] = []
    for i in range(n):
        run, badge = f"broker-{i:04d}", f"BR{i:04d}"
        res = results[run] = RunResult("broker killed during publishing", run)
        spool, sides = _make(work, run, badge, rng, 8)
        k = rng.randint(1, len(sides) - 1)
        gw = subprocess.Popen(down.gateway_argv(spool, f"gw-{badge}", "--once"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
        if _wait(lambda b=badge, k=k, gw=gw: _received(down, b) >= k or gw.poll() is not None, 60) and gw.poll() is None:
            down.broker.kill()  # SIGKILL: no goodbye, nothing saved since the last autosave
            time.sleep(rng.uniform(0.1, 1.0))
            down.broker.start()
        else:
            res.problems.append(f"the gateway finished before the kill (after {k} clips)")
        try:
            _out, err = gw.communicate(timeout=120)
            if gw.returncode != 0:
                res.problems.append(f"gateway exit {gw.returncode}: {err.strip()[-200:]}")
        except subprocess.TimeoutExpired:
            os.killpg(gw.pid, signal.SIGKILL)
            gw.wait()
            res.problems.append("the gateway did not finish within 120 s of the broker's restart")
        expects += _expects(run, sides)
    log(f"  broker kills: {n} runs published")
    return expects


def gateway_runs(n: int, seed: int, work: Path, down: Downstream, results: dict[str, RunResult],
                 log=print) -> list[Expect]:
    rng = random.Random(seed)
    expects: list[Expect] = []
    for i in range(n):
        run, badge = f"gateway-{i:04d}", f"GW{i:04d}"
        res = results[run] = RunResult("gateway SIGKILLed and restarted", run)
        spool, sides = _make(work, run, badge, rng, 8)
        k = rng.randint(0, len(sides) - 1)
        gw = subprocess.Popen(down.gateway_argv(spool, f"gw-{badge}"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
        if k == 0:  # before anything reached the receiver: some time into its start
            time.sleep(rng.uniform(0.3, 1.5))
        else:
            _wait(lambda b=badge, k=k, gw=gw: _received(down, b) >= k or gw.poll() is not None, 60)
        if gw.poll() is None:
            os.killpg(gw.pid, signal.SIGKILL)
        else:
            res.problems.append(f"the gateway exited before the kill ({gw.returncode})")
        gw.wait()
        try:
            down.gateway_once(spool, f"gw-{badge}")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            res.problems.append(f"restarted gateway: {exc}")
        expects += _expects(run, sides)
    log(f"  gateway kills: {n} runs published")
    return expects
