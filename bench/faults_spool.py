"""Full spool disk on the companion (bench/faults.py).

Each run mounts a small tmpfs (``mount -t tmpfs -o size=256k``; needs root) for the
spool, starts a simulated badge holding more audio than fits (the firmware under
MicroPython on a pty), and runs the real command line: `badgekit companion enroll`, then
`badgekit companion sync`, which must stop with a clear message before acknowledging
anything it could not store. The disk is then grown (``remount,size=8m``, as staff
freeing space would), the sync is run again and must finish, and the spool goes on
through the gateway to the receiver.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from faults_chain import Downstream, Expect, RunResult
from faults_links import _expects, make_clips

__all__ = ["SpoolDiskError", "spool_runs"]

BADGEKIT = [sys.executable, "-m", "badgekit"]


class SpoolDiskError(RuntimeError):
    """The small filesystem for the full-disk runs could not be mounted."""


def _companion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BADGEKIT, "companion", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def _mount(mnt: Path, size: str, remount: bool = False) -> None:
    mnt.mkdir(parents=True, exist_ok=True)
    opts = f"remount,size={size}" if remount else f"size={size}"
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SpoolDiskError(f"cannot mount a tmpfs at {mnt}: {res.stderr.strip()} (run as root)")


def spool_runs(n: int, seed: int, work: Path, down: Downstream, results: dict[str, RunResult],
               log=print) -> list[Expect]:
    from badgekit.sim.badge_cmd import start_serial_badge

    rng = random.Random(seed)
    env = dict(os.environ, BADGEKIT_CONFIG=str(work / "config"), BADGEKIT_DATA=str(work / "data"))
    expects: list[Expect] = []
    for i in range(n):
        run, badge = f"spool-{i:04d}", f"FS{i:04d}"
        res = results[run] = RunResult("companion spool disk full", run)
        clips, mnt, bw = work / badge, work / f"disk-{badge}", work / f"{badge}-w"
        sides = make_clips(clips, badge, 6, rng, blocks=(300, 600))
        bw.mkdir(parents=True, exist_ok=True)
        _mount(mnt, "256k")
        proc, port, slave, _ = start_serial_badge(clips, bw, badge)
        try:
            common = ["--port", port, "--keystore", str(work / "keys.json"), "--branch", "faults-branch"]
            enr = _companion(env, "enroll", *common, "--agent", "agent full")
            if enr.returncode != 0:
                res.problems.append(f"enroll failed: {enr.stderr.strip()[-200:]}")
            first = _companion(env, "sync", *common, "--spool", str(mnt / "spool"))
            said = first.stderr.lower()
            res.said = next((x for x in first.stderr.splitlines() if "error" in x.lower()), "")
            full = first.returncode != 0
            res.gaps += int(full)
            if full and "traceback" not in said and ("space" in said or "full" in said):
                res.gaps_reported += 1
            elif full:
                res.problems.append(f"full disk not reported clearly: {first.stderr.strip()[-200:]}")
            else:
                res.problems.append("the first sync did not run out of space")
            _mount(mnt, "8m", remount=True)
            again = _companion(env, "sync", *common, "--spool", str(mnt / "spool"))
            if again.returncode != 0:
                res.problems.append(f"sync after freeing space failed: {again.stderr.strip()[-200:]}")
            down.gateway_once(mnt / "spool", f"gw-{badge}")
        finally:
            proc.kill()
            proc.wait()
            os.close(slave)
            subprocess.run(["umount", "-l", str(mnt)], check=False)
            shutil.rmtree(bw, ignore_errors=True)
        expects += _expects(run, sides)
    log(f"  full spool disk: {n} runs synced")
    return expects
