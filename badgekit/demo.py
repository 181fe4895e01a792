"""`badgekit demo`: the whole chain on one machine, end to end, with nothing to set up.

Stages (each timed, each a real part):
  1. meeting   build a meeting-like recording (shared speech, `--input`, `--mic`, or
               speech synthesised on the spot) and say which was used;
  2. record    the firmware recording path under the real MicroPython unix port, on two
               badges: the agent's meeting badge and a second badge with a short turn;
  3. sync      simulated badges served by the firmware; the companion enrolls and syncs
               one over the pty serial link and the other over the bumble BLE link,
               verifying hashes and the chain and writing custody records;
  4. gateway   a local Mosquitto, the gateway transcribing the spool and publishing over
               MQTT, the reference receiver writing and verifying every session;
  5. summary   clips recorded / synced / transcribed / published / received / verified,
               seconds of speech kept, the transcript with times, wall time per stage.

Every helper process is started in its own process group and stopped on the way out,
so nothing keeps running after the demo, even on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["DemoSummary", "run_demo"]

BADGKIT = [sys.executable, "-m", "badgekit"]


@dataclass
class DemoSummary:
    source: str = ""
    recorded: int = 0
    synced: int = 0
    transcribed: int = 0
    published: int = 0
    received: int = 0
    verified: int = 0
    speech_seconds_kept: float = 0.0
    input_seconds: float = 0.0
    transcript: list[dict] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.__dict__)


class DemoError(RuntimeError):
    """A stage failed; the message says which and why."""


class _Procs:
    """Background processes of the demo; all are killed (with their groups) at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGINT)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()


def _cli(args: list[str], timeout: float = 600, what: str = "") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(BADGKIT + args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise DemoError(f"{what or args[0]} failed ({proc.returncode}): " + " | ".join(tail))
    return proc


@contextmanager
def _stage(console: Console, summary: DemoSummary, name: str, quiet: bool) -> Iterator[None]:
    t0 = time.monotonic()
    if quiet:
        yield
    else:
        with console.status(f"[bold]{name}[/] …"):
            yield
    dt = time.monotonic() - t0
    summary.stage_seconds[name] = round(dt, 2)
    if not quiet:
        console.print(f"[green]✓[/] {name} ({dt:.1f} s)")
