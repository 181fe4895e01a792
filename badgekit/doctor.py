"""`badgekit doctor`: is every real part this machine needs present and working?

Each check returns a `Check` with a one-line fix; the CLI prints them as a table and
exits non-zero when any fails. The test fixtures reuse the same checks, so a missing
part fails a test with the same fix line instead of being skipped.
"""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from badgecore import mpy
from badgecore.paths import find_tool

__all__ = ["Check", "CHECKS", "run_checks", "check"]

MIN_FREE_GB = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version_of(argv: list[str], timeout: float = 20) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr) else ""


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "" if ok else "install Python 3.11 or newer")


def check_micropython() -> Check:
    try:
        binary = mpy.micropython_binary()
        proc = mpy.run(code="import sys; print(sys.implementation.version)", timeout=30)
        ver = proc.stdout.decode().strip()
        return Check("micropython", True, f"{ver} ({binary})")
    except Exception as exc:  # noqa: BLE001 - any failure is reported with its fix
        return Check("micropython", False, str(exc).splitlines()[0], mpy.FIX_MICROPYTHON)


def check_mpy_cross() -> Check:
    try:
        binary = mpy.mpy_cross_binary()
        return Check("mpy-cross", True, _version_of([binary, "--version"]))
    except Exception as exc:  # noqa: BLE001
        return Check("mpy-cross", False, str(exc).splitlines()[0], mpy.FIX_MPY_CROSS)


def _debian_tool(name: str, package: str, version_args: list[str]) -> Check:
    path = find_tool(name)
    if not path:
        return Check(name, False, "not found", f"sudo apt-get install -y {package}")
    try:
        detail = _version_of([path, *version_args]) or path
    except (OSError, subprocess.TimeoutExpired):
        detail = path
    return Check(name, True, detail)


def check_mosquitto() -> Check:
    c = _debian_tool("mosquitto", "mosquitto", ["-h"])
    return c


def check_sox() -> Check:
    return _debian_tool("sox", "sox", ["--version"])


def check_espeak() -> Check:
    return _debian_tool("espeak-ng", "espeak-ng", ["--version"])


def check_portaudio() -> Check:
    lib = ctypes.util.find_library("portaudio")
    if not lib:
        return Check("portaudio", False, "libportaudio not found", "sudo apt-get install -y libportaudio2")
    try:
        import sounddevice

        return Check("portaudio", True, sounddevice.get_portaudio_version()[1])
    except Exception as exc:  # noqa: BLE001
        return Check("portaudio", False, str(exc), "pip install sounddevice")


def check_model() -> Check:
    from gateway.model import ModelError, resolve

    try:
        info = resolve()
        return Check("speech model", True, f"{info.path} (sha256 ok)")
    except ModelError as exc:
        return Check("speech model", False, str(exc), "badgekit model install")


def check_disk(path: Path | None = None) -> Check:
    from badgecore.paths import cache_dir

    target = path or cache_dir()
    probe = target
    while not probe.exists():
        probe = probe.parent
    free_gb = shutil.disk_usage(probe).free / 1e9
    ok = free_gb >= MIN_FREE_GB
    return Check("free disk", ok, f"{free_gb:.1f} GB free at {probe}",
                 "" if ok else f"free at least {MIN_FREE_GB:.0f} GB")


CHECKS: dict[str, Callable[[], Check]] = {
    "python": check_python,
    "micropython": check_micropython,
    "mpy-cross": check_mpy_cross,
    "mosquitto": check_mosquitto,
    "sox": check_sox,
    "espeak-ng": check_espeak,
    "portaudio": check_portaudio,
    "speech model": check_model,
    "free disk": check_disk,
}


def check(name: str) -> Check:
    return CHECKS[name]()


def run_checks() -> list[Check]:
    return [fn() for fn in CHECKS.values()]
