"""BLE and serial link cut at a random point during sync (bench/faults.py).

Each run is one badge with three recorded clips. Serial: the firmware's sync server
and serial link under the real MicroPython unix port on a pty (badgekit.sim.badge_cmd).
BLE: the firmware's radio module on the bumble `bluetooth` shim, the companion's bleak
transport on the bumble backend, both on one virtual link (badgekit.sim.ble_badge). The
companion enrolls the badge, then syncs and the link is cut after a random number of
received bytes (the transport really closes: the serial port, or the BLE connection);
a second sync resumes from what the spool holds durably and finishes. Every clip then
goes on through the gateway to the receiver.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path
from typing import Any

from faults_chain import Expect, RunResult
from powercut_checks import blk

from firmware.clips import fmt as clipfmt
from firmware.clips.sink import FolderSink

__all__ = ["link_runs", "make_clips"]

BRANCH = "faults-branch"


def make_clips(folder: Path, badge: str, n: int, rng: random.Random,
               blocks: tuple[int, int] = (20, 70)) -> list[dict]:
    """``n`` chained clips as `badgekit sim record` writes them (WAV + sidecar)."""
    sink = FolderSink(str(folder))
    out = []
    for seq in range(n):
        sink.open_clip({"badge": badge, "session": f"{badge}-s1", "seq": seq,
                        "start_epoch": 1_764_000_000 + seq * 60, "sample_rate": 16000,
                        "session_offset_samples": seq * 16000 * 60})
        for i in range(rng.randint(*blocks)):
            sink.write_block(blk(seq, i))
        out.append(sink.close_clip())
    return out


def _cut_after(t: Any, after_bytes: int) -> Any:
    """Make transport ``t`` drop its link for real once ``after_bytes`` have arrived."""
    from companion.errors import LinkError

    orig = t.chunks
    t.cut_done = False

    async def chunks():
        async for data in orig():
            if t.bytes_in >= after_bytes:
                keep = len(data) - (t.bytes_in - after_bytes)
                if keep > 0:
                    yield data[:keep]
                t.cut_done = True
                await t.close()
                raise LinkError("link cut")
            yield data

    t.chunks = chunks
    return t


async def _one(make_t, ks: Any, spool: Any, agent: str, cut_at: int, res: RunResult) -> None:
    from companion.errors import SyncError
    from companion.sync import enroll_badge, sync_badge

    async with make_t() as t:
        await enroll_badge(t, ks, branch=BRANCH, agent=agent)
    t = _cut_after(make_t(), cut_at)
    try:
        async with t:
            await sync_badge(t, spool, ks, branch=BRANCH, operator="faults")
    except SyncError:
        pass
    if not t.cut_done:
        res.problems.append(f"the cut after {cut_at} bytes was not reached")
    async with make_t() as t2:
        rep = await sync_badge(t2, spool, ks, branch=BRANCH, operator="faults")
    if not rep.ok or rep.synced + sum(c.status == "already" for c in rep.clips) != len(rep.clips):
        res.problems.append(f"resumed sync not complete: {rep.as_dict()['clips']}")


def _expects(run: str, sides: list[dict]) -> list[Expect]:
    out, prev = [], clipfmt.ZERO_HASH
    for s in sides:
        out.append(Expect(run, s["badge"], s["clip_id"], s["seq"], s["sha256"], prev,
                          s["samples"] // clipfmt.SAMPLES_PER_BLOCK))
        prev = s["sha256"]
    return out


def _serial_run(i: int, rng: random.Random, work: Path, spool: Any, ks: Any,
                res: RunResult) -> list[Expect]:
    from badgekit.sim.badge_cmd import start_serial_badge
    from companion.transport.serial import SerialTransport

    badge = f"LS{i:04d}"
    clips = work / badge
    sides = make_clips(clips, badge, 3, rng)
    total = sum((clips / f"{s['clip_id']}.wav").stat().st_size for s in sides)
    (work / f"{badge}-w").mkdir(parents=True, exist_ok=True)
    proc, port, slave, _ = start_serial_badge(clips, work / f"{badge}-w", badge)
    try:
        asyncio.run(_one(lambda: SerialTransport(port), ks, spool, "agent serial",
                         rng.randrange(64, total), res))
    except Exception as exc:  # noqa: BLE001 - every failure is a finding of the run
        res.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        proc.kill()
        proc.wait()
        import os

        os.close(slave)
        shutil.rmtree(work / f"{badge}-w", ignore_errors=True)
    return _expects(res.run, sides)


async def _ble_runs(idx: list[int], rng: random.Random, work: Path, spool: Any, ks: Any,
                    results: dict[str, RunResult]) -> list[Expect]:
    from badgekit.blelink import VirtualLink
    from badgekit.sim.ble_badge import start_ble_badge
    from companion.transport.ble import BleTransport

    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    expects: list[Expect] = []
    for i in idx:
        res = results[f"link-ble-{i:04d}"]
        badge = f"LB{i:04d}"
        clips = work / badge
        sides = make_clips(clips, badge, 3, rng)
        total = sum((clips / f"{s['clip_id']}.wav").stat().st_size for s in sides)
        b = await start_ble_badge(link, clips, work / f"{badge}-w", badge)
        try:
            await _one(lambda b=b: BleTransport(b.address, bumble_device=comp), ks, spool,
                       "agent ble", rng.randrange(64, total), res)
        except Exception as exc:  # noqa: BLE001
            res.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await b.stop()
            shutil.rmtree(work / f"{badge}-w", ignore_errors=True)
        expects += _expects(res.run, sides)
    return expects


def link_runs(n: int, seed: int, work: Path, spool_dir: Path, keystore: Path,
              results: dict[str, RunResult], log=print) -> list[Expect]:
    """``n`` runs, half over serial, half over BLE; their expected clips."""
    from companion.keystore import KeyStore
    from companion.spool import Spool

    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    ks, spool = KeyStore(keystore), Spool(spool_dir)
    expects: list[Expect] = []
    n_serial = n // 2
    for i in range(n_serial):
        res = results[f"link-serial-{i:04d}"] = RunResult("serial link cut during sync", f"link-serial-{i:04d}")
        expects += _serial_run(i, rng, work, spool, ks, res)
    log(f"  link cuts: {n_serial} serial runs synced")
    idx = list(range(n - n_serial))
    for i in idx:
        results[f"link-ble-{i:04d}"] = RunResult("BLE link cut during sync", f"link-ble-{i:04d}")
    expects += asyncio.run(_ble_runs(idx, rng, work, spool, ks, results))
    log(f"  link cuts: {len(idx)} BLE runs synced")
    return expects
