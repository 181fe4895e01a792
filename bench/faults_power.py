"""Power cuts on the badge, while recording and while syncing (bench/faults.py).

Each run is one badge (its own id, so one downstream pass carries a whole batch with
per-run accounting). Recording runs: bench/faults_badge_mp.py records three clips on a
littlefs2 RAM block device under MicroPython and the power dies at a random device
write (a torn copy of the flash, as the clip store's campaign takes); the badge then
boots that copy (recovery) and the companion syncs it over the pty serial link.
Syncing runs: the badge boots cleanly and the power dies at a random device write
while it serves the companion's sync (acks deleting clips, the sync state); the
companion sees the link drop, the badge boots the torn copy, and the companion syncs
again. Every clip then goes on through the gateway to the receiver.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tty
from dataclasses import dataclass
from pathlib import Path

from faults_chain import Expect, RunResult

from badgecore import mpy
from firmware.clips import fmt as clipfmt

__all__ = ["BRANCH", "BadgeProc", "power_runs", "sync_serial"]

ENGINE = Path(__file__).with_name("faults_badge_mp.py")
BENCH = Path(__file__).parent
BRANCH = "faults-branch"
AGENT = "agent-faults"


class BadgeProc:
    """`faults_badge_mp.py serve` on a new pty: a badge booting IMAGE and serving sync."""

    def __init__(self, image: Path, badge: str, cut_write: int = -1) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.port = os.ttyname(slave)
        self._slave = slave
        args = ["serve", str(image), str(master), badge] + ([str(cut_write)] if cut_write >= 0 else [])
        self.proc = mpy.popen(ENGINE, args=args, heap="16M", extra_path=[BENCH], pass_fds=(master,),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(master)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode(errors="replace")
        if '"ready": true' not in line:
            try:
                rest = self.proc.communicate(timeout=10)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                rest = ""
            self.close()
            raise RuntimeError(f"badge {badge} did not boot: {line.strip()} {rest.strip()}")
        self.ready = json.loads(line)

    def lines(self) -> list[dict]:
        """The JSON lines printed after ``ready`` (waits for the process to end)."""
        self.close()
        assert self.proc.stdout is not None
        rest = self.proc.stdout.read().decode(errors="replace")
        return [json.loads(x) for x in rest.splitlines() if x.startswith("{")]

    def wait_exit(self, timeout_s: float = 10) -> list[dict]:
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
        return self.lines()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1


async def _sync(port: str, spool: Path, keystore: Path, logs: bool) -> dict:
    from companion.client import BadgeClient
    from companion.keystore import KeyStore
    from companion.link import authenticate
    from companion.spool import Spool
    from companion.sync import sync_badge
    from companion.transport.serial import SerialTransport

    ks = KeyStore(keystore)
    async with SerialTransport(port) as t:
        rep = await sync_badge(t, Spool(spool), ks, branch=BRANCH, operator="faults")
    out = rep.as_dict()
    if logs:  # what `badgekit companion logs` shows staff: the badge's boot events
        async with SerialTransport(port) as t, BadgeClient(t) as c:
            await authenticate(c, ks, BRANCH)
            out["events"] = await c.logs()
    return out


def sync_serial(port: str, spool: Path, keystore: Path, logs: bool = False) -> dict | str:
    """One companion sync over the serial port: its report (with the badge's event log
    under ``events`` if ``logs``), or the error's message."""
    from companion.errors import SyncError

    try:
        return asyncio.run(_sync(port, spool, keystore, logs))
    except (SyncError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


@dataclass
class _Job:
    run: str
    badge: str
    when: str  # recording | syncing
    seed: int
    image: Path
    secret: str


def _record(jobs: list[_Job], cut_u: dict[str, float], work: Path) -> dict[str, dict]:
    spec = [{"image": str(j.image), "badge": j.badge, "seed": j.seed, "secret": j.secret,
             "cut_u": cut_u.get(j.run, -1.0)} for j in jobs]
    path = work / "jobs.json"
    path.write_text(json.dumps(spec))
    proc = mpy.run(ENGINE, args=["record", str(path)], heap="64M", extra_path=[BENCH], timeout=1200)
    models = [json.loads(x) for x in proc.stdout.decode().splitlines() if x.startswith("{")]
    return {m["badge"]: m for m in models}


def _expects(job: _Job, model: dict, events: list[dict]) -> list[Expect]:
    out, prev = [], clipfmt.ZERO_HASH
    for c in model["closed"]:
        out.append(Expect(job.run, job.badge, c["clip_id"], c["seq"], c["sha256"], prev, c["blocks"]))
        prev = c["sha256"]
    if model.get("open") and model["open"][1] > 0:
        seq, blocks = model["open"]
        cid = clipfmt.clip_id(job.badge, seq)
        ev = [e for e in events if e.get("clip_id") == cid and e["event"] in ("empty_removed", "recovered")]
        cut = model.get("cut") or {}
        out.append(Expect(job.run, job.badge, cid, seq, None, prev, blocks,
                          reported_ms=int(ev[0].get("dropped_ms") or 0) if ev else -1,
                          note=f"cut during {cut.get('op')}, write {cut.get('write')} of {cut.get('of')}"))
    return out


def power_runs(n: int, seed: int, work: Path, spool: Path, keystore: Path,
               results: dict[str, RunResult], log=print) -> list[Expect]:
    """``n`` runs (half cut while recording, half while syncing); their expected clips."""
    from companion.keystore import KeyStore

    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    ks = KeyStore(keystore)
    jobs: list[_Job] = []
    for i in range(n):
        when = "recording" if i % 2 == 0 else "syncing"
        j = _Job(f"power-{i:04d}", f"PC{seed % 100:02d}{i:04d}", when, seed * 10007 + i,
                 work / f"pc{i:04d}.img", os.urandom(32).hex())
        ks.put(j.badge, bytes.fromhex(j.secret), BRANCH, AGENT)
        jobs.append(j)
        results[j.run] = RunResult(f"power cut while {when}", j.run)
    cut_u = {j.run: rng.random() for j in jobs if j.when == "recording"}
    models = _record(jobs, cut_u, work)
    sync_writes = _calibrate(jobs, work)
    expects: list[Expect] = []
    for k, j in enumerate(jobs):
        model, res = models[j.badge], results[j.run]
        events: list[dict] = []
        try:
            events = _run(j, rng, sync_writes, spool, keystore, res)
        except RuntimeError as exc:  # a badge that does not boot is a finding of the run
            res.problems.append(str(exc)[-600:])
        expects += _expects(j, model, events)
        if (k + 1) % 50 == 0:
            log(f"  power cuts: {k + 1}/{n} runs synced")
    return expects


def _run(j: _Job, rng: random.Random, sync_writes: int, spool: Path, keystore: Path,
         res: RunResult) -> list[dict]:
    """Cut (while syncing) if the job says so, reboot, sync; the badge's event log."""
    events: list[dict] = []
    if j.when == "recording" and int(j.run[-4:]) % 4 == 0:  # half of them: cut again in the boot
        proc = mpy.run(ENGINE, args=["bootcut", str(j.image), j.badge, f"{rng.random():.6f}",
                                     str(j.seed)], heap="16M", extra_path=[BENCH])
        line = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        res.nested = line["boot_cut"] is not None
    if j.when == "syncing":
        cut_at = rng.randrange(max(1, sync_writes))
        b = BadgeProc(j.image, j.badge, cut_at)
        try:
            first = sync_serial(b.port, spool, keystore)
            tail = b.wait_exit()
        finally:
            b.close()
        if not any("cut" in x for x in tail):
            res.problems.append(f"the cut at write {cut_at} was not reached ({first!r:.80})")
    b = BadgeProc(j.image, j.badge)
    try:
        rep = sync_serial(b.port, spool, keystore, logs=j.when == "recording")
    finally:
        b.close()
    if isinstance(rep, str) or not rep["ok"]:
        res.problems.append(f"sync after the reboot failed: {rep!r:.200}")
    else:
        events = rep.get("events", [])
    return events


def _calibrate(jobs: list[_Job], work: Path) -> int:
    """Device writes of one whole sync of an uncut badge (the range of sync-time cuts)."""
    from companion.keystore import KeyStore

    j = next((j for j in jobs if j.when == "syncing"), None)
    if j is None:
        return 1
    image = work / "calibrate.img"
    image.write_bytes(j.image.read_bytes())
    cal = work / "calibrate"
    ks = KeyStore(cal / "keys.json")
    ks.put(j.badge, bytes.fromhex(j.secret), BRANCH, AGENT)
    b = BadgeProc(image, j.badge)
    try:
        sync_serial(b.port, cal / "spool", cal / "keys.json")
        import time

        time.sleep(0.3)
    finally:
        lines = b.lines()
    writes = [x["session_writes"] for x in lines if "session_writes" in x]
    return max(writes) if writes else 1
