"""The badge application under the real MicroPython unix port, driven like a badge.

`BadgeProc` starts tests/badge/badge_harness.py (firmware/badge.py with the stand-in
`machine` of tests/firmware/fakehw) with its sync link on a pty, its store on a file
block device that outlives the process, and commands on stdin (button, status, fault).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import tty
import wave
from pathlib import Path
from typing import Any

from badgecore import mpy

__all__ = ["BadgeProc", "meeting_wav", "wait_for"]

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "badge_harness.py"
FAKEHW = HERE.parent / "firmware" / "fakehw"


def meeting_wav(speech: dict[str, Path], out: Path) -> Path:
    """A meeting from the real recordings: every talker at one level, 1.5 s pauses with a
    quiet room's noise between utterances (16 kHz mono int16)."""
    import numpy as np

    rng = np.random.default_rng(7)
    parts = []
    for name in ("0478_00017", "asr_example_zh", "BAC009S0764W0121", "IT0011W0001",
                 "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"):
        with wave.open(str(speech[name]), "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        x *= 3000.0 / max(1.0, float(np.sqrt(np.mean(x * x))))  # ~ -21 dBFS speech
        parts.append(x)
        parts.append(np.zeros(24000))
    y = np.concatenate(parts)
    y += rng.normal(0, 12.0, y.shape)  # a quiet room, never digital silence
    pcm = np.clip(np.round(y), -32768, 32767).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    return out


def wait_for(fn, timeout_s: float = 30.0, what: str = "condition", every_s: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


class BadgeProc:
    """One boot of the badge (kill it and make another on the same folder = a reset)."""

    def __init__(self, work: Path, badge: str = "BK-TEST01", rev: str = "A", mic: str = "wav",
                 wav: Path | None = None, frame_us: int = 5000, flash: bool = True,
                 hold_button: bool = False, blocks: int = 512) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        master, self._slave = os.openpty()
        tty.setraw(master)
        tty.setraw(self._slave)
        os.set_blocking(master, False)
        self.port = os.ttyname(self._slave)
        cfg = {"fd": master, "badge": badge, "rev": rev, "mic": mic,
               "wav": str(wav) if wav else None, "frame_us": frame_us,
               "state_dir": str(work / "state"), "hold_button": hold_button,
               "flash": str(work / "flash.img") if flash else None, "blocks": blocks}
        self.proc = mpy.popen(HARNESS, extra_path=[FAKEHW],
                              pass_fds=(master,), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
        os.close(master)
        self.cmd(json.dumps(cfg))  # the harness reads its config from the first line
        self._lines: queue.Queue[str] = queue.Queue()
        self._err: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        self.first = self._next(lambda d: "ready" in d or "maintenance" in d, 20)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode(errors="replace"))

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self._err.append(raw.decode(errors="replace"))

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def _next(self, want, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and self._lines.empty():
                raise AssertionError(f"badge gave no answer (exit {self.proc.poll()}): "
                                     f"{self.stderr[-1500:]}")
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and want(d):
                return d

    def cmd(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def status(self) -> dict[str, Any]:
        self.cmd("status")
        return self._next(lambda d: "status" in d, 10)["status"]

    def press(self, ms: int = 100) -> None:
        self.cmd(f"press {ms}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """A power cut: SIGKILL, nothing gets to close or flush."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        try:
            os.close(self._slave)
        except OSError:
            pass

    def __enter__(self) -> BadgeProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
