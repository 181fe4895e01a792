"""Downstream half of the fault campaign: spool → gateway → broker → receiver, and the check.

``Downstream`` starts a local Mosquitto (badgekit.broker.LocalBroker) and the reference
receiver (`badgekit gateway receive`), runs `badgekit gateway run --once --no-transcribe`
on spools, and returns the receiver's JSON summary. ``check_received`` compares what the
receiver filed with what each badge recorded (``Expect`` records): every clip verified
with firmware.clips.fmt.verify_wav against the recorded hash and its chain link, a clip
that was open at a power cut checked as an exact prefix of the recorded audio, copies
counted, and each loss or shortened clip checked for a report.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.clips import fmt as clipfmt

__all__ = ["BLOCKS_PER_S", "Downstream", "Expect", "RunResult", "check_received", "cli"]

BADGEKIT = [sys.executable, "-m", "badgekit"]
BLOCKS_PER_S = 16000 / clipfmt.SAMPLES_PER_BLOCK
POWER_WINDOW_S = 1.0


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BADGEKIT, *args], capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class Expect:
    """One clip a badge recorded, as the recorder knows it."""

    run: str
    badge: str
    clip_id: str
    seq: int
    sha256: str | None
    """None for the clip open at a power cut (its hash is made by the recovery boot)."""
    prev_sha256: str
    blocks: int
    """ADPCM blocks handed to the store (the audio the badge heard)."""
    reported_ms: int = -1
    """For a clip lost whole at a cut: dropped audio the badge reported at boot (-1: none)."""
    note: str = ""
    """Where the fault struck, for the campaign's problem lines."""


@dataclass
class RunResult:
    """Per-run accounting: one row of the campaign is the sum of these."""

    kind: str
    run: str
    expected: int = 0
    intact: int = 0
    lost: int = 0
    window_lost_s: float = 0.0
    duplicates: int = 0
    gaps: int = 0
    gaps_reported: int = 0
    problems: list[str] = field(default_factory=list)
    nested: bool = False
    """A power-cut run cut again during its recovery boot."""
    said: str = ""
    """What the user was told about the fault (a command's error line), if anything."""


class Downstream:
    """One broker and one receiver; gateways run against them on spools."""

    def __init__(self, work: Path, client_id: str = "faults-rx", idle_exit_s: float = 15.0) -> None:
        from badgekit.broker import LocalBroker

        self.work = work
        self.out = work / "received"
        self.broker = LocalBroker(workdir=work / "broker")
        self.client_id = client_id
        self.idle_exit_s = idle_exit_s
        self.receiver: subprocess.Popen[str] | None = None

    def start(self) -> Downstream:
        self.broker.start()
        self.receiver = subprocess.Popen(
            [*BADGEKIT, "gateway", "receive", "--mqtt", self.broker.url, "--out", str(self.out),
             "--client-id", self.client_id, "--idle-exit-s", str(self.idle_exit_s), "--json", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 30
        while not (self.out / "receiver.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.2)  # the broker saves sessions every second: let it keep the subscription
        return self

    def gateway_argv(self, spool: Path, gateway_id: str, *extra: str) -> list[str]:
        return [*BADGEKIT, "gateway", "run", "--spool", str(spool), "--mqtt", self.broker.url,
                "--no-transcribe", "--settle-s", "0", "--gateway-id", gateway_id,
                "--state", str(self.work / "gw-state" / gateway_id), "--json", "-q", *extra]

    def gateway_once(self, spool: Path, gateway_id: str) -> dict[str, Any]:
        proc = subprocess.run(self.gateway_argv(spool, gateway_id, "--once"), capture_output=True,
                              text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"gateway run on {spool} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()[-400:]}")
        return json.loads(proc.stdout)

    def wait_received(self, n: int, timeout_s: float = 600) -> bool:
        """Wait until the receiver has filed ``n`` clips (its queue drained)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sum(1 for _ in self.out.glob("*/*/*/*/clips/*.wav")) >= n:
                return True
            time.sleep(0.2)
        return False

    def finish(self, timeout_s: float = 600) -> dict[str, Any]:
        """Wait for the receiver to go idle; its summary."""
        assert self.receiver is not None
        try:
            out, err = self.receiver.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.receiver.pid, signal.SIGKILL)
            raise
        self.receiver = None
        if not out.strip():
            raise RuntimeError(f"receiver printed no summary: {err.strip()[-400:]}")
        return json.loads(out)

    def close(self) -> None:
        if self.receiver is not None and self.receiver.poll() is None:
            os.killpg(self.receiver.pid, signal.SIGKILL)
            self.receiver.wait()
        self.broker.close()


def _index(out: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for p in out.rglob("*.wav"):
        if "quarantine" in p.parts:
            continue
        found.setdefault(p.stem, []).append(p)
    return found


def _prefix_ok(data: bytes, seq: int) -> bool:
    """True if ``data`` is the first blocks the recorder handed over for clip ``seq``."""
    from powercut_checks import blk  # bench/ is on sys.path when run from bench/faults.py

    n = len(data) // clipfmt.BLOCK_ALIGN
    return data == b"".join(blk(seq, i) for i in range(n))


def check_received(out: Path, expects: list[Expect], summary: dict[str, Any],
                   results: dict[str, RunResult]) -> None:
    """Account every expected clip into ``results`` (keyed by run id)."""
    found = _index(out)
    reported = {g.get("badge", "") for g in summary.get("gaps", [])}
    missing = set(summary.get("missing", []))
    runs_of: dict[str, list[str]] = {}
    for e in expects:
        r = results[e.run]
        r.expected += 1
        paths = found.get(e.clip_id, [])
        if len(paths) > 1:
            r.duplicates += len(paths) - 1
            r.problems.append(f"{e.clip_id}: kept {len(paths)} times")
        if not paths:
            heard_s = e.blocks / BLOCKS_PER_S
            if e.sha256 is None and heard_s <= POWER_WINDOW_S:
                r.window_lost_s += heard_s
                r.gaps += 1
                r.gaps_reported += int(e.reported_ms >= 0)
                if e.reported_ms < 0:
                    r.problems.append(f"{e.clip_id}: {heard_s:.2f} s lost at the cut, not reported "
                                      f"({e.note})")
                continue
            r.lost += 1
            r.gaps += 1
            r.gaps_reported += int(e.clip_id in missing or e.badge in reported)
            r.problems.append(f"{e.clip_id}: not received {e.note}".rstrip())
            continue
        raw = paths[0].read_bytes()
        try:
            info = clipfmt.verify_wav(io.BytesIO(raw), prev_sha256=e.prev_sha256,
                                      expect_sha256=e.sha256)
        except clipfmt.ClipVerifyError as exc:
            r.lost += 1
            r.problems.append(f"{e.clip_id}: {exc}")
            continue
        runs_of.setdefault(info.sha256, []).append(e.run)
        if e.sha256 is None:  # the clip open at the cut, recovered at boot
            data = raw[info.data_offset:info.data_offset + info.trailer.data_len]
            kept = info.trailer.data_len // clipfmt.BLOCK_ALIGN
            if not _prefix_ok(data, e.seq) or kept > e.blocks:
                r.lost += 1
                r.problems.append(f"{e.clip_id}: recovered audio is not what was recorded")
                continue
            lost_s = (e.blocks - kept) / BLOCKS_PER_S
            if lost_s > POWER_WINDOW_S:
                r.lost += 1
                r.problems.append(f"{e.clip_id}: {lost_s:.2f} s lost, over the power-cut window")
                continue
            r.window_lost_s += lost_s
            if kept < e.blocks:
                r.gaps += 1
                ok = bool(info.trailer.recovered) and info.trailer.dropped_ms + 1 >= lost_s * 1000
                r.gaps_reported += int(ok)
                if not ok:
                    r.problems.append(f"{e.clip_id}: {lost_s:.2f} s dropped, trailer says "
                                      f"recovered={bool(info.trailer.recovered)} "
                                      f"dropped_ms={info.trailer.dropped_ms}")
        r.intact += 1
    for sha, runs in runs_of.items():
        if len(runs) > 1:  # the same audio under two clip ids is a copy too
            results[runs[-1]].duplicates += len(runs) - 1
            results[runs[-1]].problems.append(f"audio {sha[:12]} kept under {len(runs)} clip ids")
