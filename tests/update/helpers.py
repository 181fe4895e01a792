"""Firmware-update tests: release bundles made on the spot, and a badge across reboots.

`Releases` compiles the firmware once (mpy-cross for this computer's architecture, so
the MicroPython unix port can run the slots; the release default, xtensawin, is made
too, for the architecture refusal) and signs bundles of any version with keys made in a
temporary folder. `FwBadge` runs tests/update/fw_harness.py (the badge's boot loader,
then the badge application of the chosen slot) under the real MicroPython unix port in
a folder that stands in for the badge's filesystem, its sync link on one pty that
stays open across reboots (the test holds the master, as USB CDC stays plugged in),
and starts the next boot by itself when the badge resets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import tty
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from badgecore import mpy, release
from badgecore.paths import FIRMWARE_DIR
from hardware.deploy import _host_arch
from hardware.pinmap import PINMAP_PATH

__all__ = ["Releases", "FwBadge", "HOST_ARCH", "ble_badge"]

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "fw_harness.py"
FAKEHW = HERE.parent / "firmware" / "fakehw"
HOST_ARCH = _host_arch()


class Releases:
    """Keys and bundles for the tests (nothing of it leaves the temporary folder)."""

    def __init__(self, work: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.key_path, self.pub_path = release.keygen(work / "keys" / "release.pem")
        self.key = release.load_private(self.key_path)
        self.public = release.load_public(self.pub_path)
        self.other_key = Ed25519PrivateKey.generate()
        self.files = release.compile_tree(FIRMWARE_DIR, HOST_ARCH, work / "host")

    def bundle(self, version: str, min_version: str = "0.1.0", hw: list[str] | None = None,
               key: Any = None, files: list[tuple[str, bytes]] | None = None,
               arch: str | None = None, name: str | None = None) -> Path:
        arch = arch or HOST_ARCH
        fs = release.with_version(files or self.files, version, arch, self.work / "v")
        data = release.pack(fs, key or self.key, version, min_version, hw or ["A", "B", "C"], arch)
        out = self.work / (name or f"fw-{version}.bkfw")
        out.write_bytes(data)
        return out

    def few_files(self) -> list[tuple[str, bytes]]:
        """A handful of the firmware's files: for bundles the badge must refuse before it
        installs anything (a short transfer keeps the tests quick)."""
        return [(p, b) for p, b in self.files if p.count("/") == 1][:6]

    def broken_files(self, module: str, source: str) -> list[tuple[str, bytes]]:
        """The firmware with ``module`` (e.g. "broken.py") replaced or added."""
        tree = self.work / "tree-src"
        if tree.exists():
            shutil.rmtree(tree)
        shutil.copytree(FIRMWARE_DIR, tree, ignore=shutil.ignore_patterns("__pycache__"))
        (tree / module).write_text(source, encoding="utf-8")
        src = tree / module
        out = self.work / "tree-mpy" / module
        data = mpy.cross_compile(src, Path(str(out)[:-3] + ".mpy"), arch=HOST_ARCH).read_bytes()
        path = "firmware/" + module[:-3] + ".mpy"
        return sorted([(p, b) for p, b in self.files if p != path] + [(path, data)])


class FwBadge:
    """One badge across boots (a root folder, a store flash file, one pty)."""

    def __init__(self, work: Path, public: bytes | None, badge: str = "BK-UPD01",
                 rev: str = "A", wav: Path | None = None) -> None:
        self.work = work
        self.root = work / "root"
        (self.root / "fw").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PINMAP_PATH, self.root / "pinmap.json")
        (self.root / "hwrev").write_text(rev + "\n")
        if public is not None:
            (self.root / "fw" / "release.pub").write_text(public.hex() + "\n")
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self._slave)
        self.cfg = {"fd": self.master, "badge": badge, "rev": rev, "root": str(self.root),
                    "wav": str(wav) if wav else None, "state_dir": str(work / "state"),
                    "flash": str(work / "flash.img"), "blocks": 512, "frame_us": 5000}
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._err: list[str] = []
        self.boots: list[dict[str, Any]] = []  # the "ready" line of every boot
        self.resets = 0
        self.exits: list[int] = []
        self.auto = True
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.power_on()

    # ---- processes -------------------------------------------------------------------
    def power_on(self) -> None:
        self.proc = mpy.popen(HARNESS, extra_path=[FAKEHW], pass_fds=(self.master,),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True, cwd=self.root)
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(self.cfg) + "\n").encode())
        self.proc.stdin.flush()
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        threading.Thread(target=self._pump_err, args=(self.proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            if isinstance(d, dict):
                if "ready" in d:
                    self.boots.append(d["status"])
                self._lines.put(d)
        code = proc.wait()
        with self._lock:
            self.exits.append(code)
            if code == 75 and self.auto and proc is self.proc:
                self.resets += 1
                self.power_on()  # the badge resets: the next boot starts

    def _pump_err(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            self._err.append(raw.decode(errors="replace"))

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def wait_boots(self, n: int, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while len(self.boots) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"badge did not boot {n} times ({len(self.boots)}; exits "
                                     f"{self.exits}): {self.stderr[-1500:]}")
            time.sleep(0.05)
        return self.boots[n - 1]

    def status(self, timeout_s: float = 10.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        while not self._lines.empty():
            self._lines.get_nowait()
        self.proc.stdin.write(b"status\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                d = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if "status" in d and "ready" not in d:
                return d["status"]
        raise AssertionError(f"no status from the badge: {self.stderr[-1500:]}")

    def press(self, ms: int) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"press {ms}\n".encode())
        self.proc.stdin.flush()

    def record(self) -> dict[str, Any]:
        """Record a short meeting (press, ~1.5 s of speech, long press): closed clips."""
        self.press(100)
        time.sleep(1.5)
        self.press(900)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = self.status()
            if st["recording"]["state"] == "idle" and st["store"]["clips"]["closed"]:
                return st
            time.sleep(0.2)
        raise AssertionError("the meeting did not end with a closed clip")

    def record_file(self) -> dict[str, Any]:
        return json.loads((self.root / "fw" / "boot.json").read_text())

    def power_cut(self) -> None:
        with self._lock:
            proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def close(self) -> None:
        self.auto = False
        self.power_cut()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> FwBadge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.asynccontextmanager
async def ble_badge(work: Path, public: bytes, badge_id: str = "BK-UPD02") -> AsyncIterator[Any]:
    """The badge application under CPython on the bumble `bluetooth` shim (MicroPython's
    `time`/`asyncio` extras and the `machine` stand-in installed by the caller), its
    firmware root ``work/root`` holding the release key; yields (badge, the companion's
    bumble device, the badge's address) while its tasks run."""
    from badgekit.blelink import VirtualLink
    from badgekit.sim import bluetooth_shim
    from firmware import badge, badgetasks

    root = work / "root"
    (root / "fw").mkdir(parents=True, exist_ok=True)
    (root / "fw" / "release.pub").write_text(public.hex())
    link = VirtualLink()
    comp, dev = link.add_device("companion"), link.add_device(badge_id)
    await comp.power_on()
    await dev.power_on()
    b = badge.Badge(badge_id=badge_id, rev="A", store_dir=str(work / "store"),
                    state_dir=str(work / "state"), serial=None, ble=bluetooth_shim.BLE(dev),
                    wdt_ms=0, fw_root=str(root)).boot()
    task = asyncio.create_task(badgetasks.serve(b))
    try:
        while b.radio is None:
            await asyncio.sleep(0.05)
        yield b, comp, str(dev.public_address).split("/")[0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        b.shutdown()
        await comp.power_off()
        await dev.power_off()
