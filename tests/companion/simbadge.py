"""Simulated badges for the companion tests: clip folders and `badgekit sim badge` processes.

`make_clips()` writes clips with the firmware's own FolderSink (the layout `badgekit sim
record` writes); `SimBadge` runs `badgekit sim badge --clips DIR` (the real firmware under
the MicroPython unix port on a pty) and knows the pty it printed; `kill()` makes it vanish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware.clips import fmt as clipfmt
from firmware.clips.sink import FolderSink

__all__ = ["make_clips", "SimBadge", "cli_env"]

REPO = Path(__file__).resolve().parents[2]


def _block(i: int) -> bytes:
    # a valid IMA ADPCM block header (predictor, step index, 0) and a soft tone
    pred = (i * 37) % 2000 - 1000
    head = pred.to_bytes(2, "little", signed=True) + bytes([20, 0])
    return head + bytes(((j * 7 + i) & 0x77) for j in range(clipfmt.BLOCK_ALIGN - 4))


def make_clips(folder: Path, badge: str, n: int, blocks_each: int = 20,
               start_epoch: int = 1_764_000_000, session: str | None = None) -> list[dict]:
    """Write ``n`` chained clips of ``blocks_each`` blocks (505 samples each) to ``folder``."""
    sink = FolderSink(str(folder))
    out = []
    for seq in range(1, n + 1):
        sink.open_clip({"badge": badge, "session": session or f"{badge}-s1", "seq": seq,
                        "start_epoch": start_epoch + seq * 60, "sample_rate": 16000,
                        "session_offset_samples": seq * 16000 * 60})
        for b in range(blocks_each):
            sink.write_block(_block(seq * 1000 + b))
        out.append(sink.close_clip())
    return out


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


class SimBadge:
    """`badgekit sim badge --clips DIR [args]` in a subprocess; ``port`` is its pty
    (with ``--ble``: its BLE address, and ``hci`` the HCI transport reaching its link)."""

    _hci: str | None = None

    @property
    def hci(self) -> str | None:
        """The HCI transport spec of a ``--ble`` badge's link (waits for its first line)."""
        _ = self.port
        return self._hci

    @property
    def ble_address(self) -> str:
        return self.port

    def __init__(self, clips: Path, *args: str, env: dict[str, str] | None = None,
                 timeout_s: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "badgekit", "sim", "badge", "--clips", str(clips), *args]
        # output goes to files: a pipe nobody reads could fill and stall the badge
        self.log = tempfile.NamedTemporaryFile(prefix="simbadge-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or cli_env(), start_new_session=True)
        self._timeout_s = timeout_s
        self._port: str | None = None

    @property
    def port(self) -> str:
        """The pty the badge serves on (waits for its first line)."""
        if self._port is None:
            self._port = self._first_line(self._timeout_s)
        return self._port

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def _first_line(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.output()
            lines = [ln for ln in text.splitlines(True) if ln.startswith(("serial: ", "ble: "))]
            if lines and lines[0].endswith("\n"):
                line = lines[0]
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise AssertionError(f"sim badge did not print its port: {text}")
            time.sleep(0.05)
        if line.startswith("ble: "):  # "ble: <address> hci: <transport spec>"
            _, addr, _, hci = line.split()
            self._hci = hci
            return addr
        return line.split(": ", 1)[1].strip()

    def firmware_pids(self) -> list[int]:
        """The MicroPython processes the command started (they run in their own session)."""
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.proc.pid:
                out.append(int(d.name))
        return out

    def pull_battery(self) -> None:
        """SIGKILL the firmware process: the badge vanishes mid-whatever, no goodbye."""
        for pid in self.firmware_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.pull_battery()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.log.close()

    def __enter__(self) -> SimBadge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
