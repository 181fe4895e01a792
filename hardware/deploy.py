"""Build the firmware for the ESP32-S3, put it on a badge (or a folder), run the self-test.

`deploy_port(port)` builds every module with `mpy-cross -march=xtensawin`
(`badgecore.mpy.cross_compile`), copies them to `/lib/firmware/` with mpremote together with
the pin map and the board revision, sets the badge clock from this computer and runs
`firmware.selftest` on the badge.

`deploy_dir(target)` is the same with a folder standing in for the badge's filesystem:
the same build, the same layout, then the self-test runs from that folder under the real
MicroPython unix port (only the folder on its import path). The unix port cannot execute
Xtensa machine code, so modules with viper/native code are rebuilt for the host's
architecture in the folder (the badge build is still made and checked); bytecode modules
are copied byte for byte from the badge build.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from badgecore import mpy
from badgecore.paths import FIRMWARE_DIR, REPO_ROOT, find_tool
from hardware.errors import DeployError
from hardware.pinmap import PINMAP_PATH, boards

__all__ = ["BuiltModule", "Check", "DeployReport", "build", "mpy_arch", "parse_selftest",
           "deploy_dir", "deploy_port", "deploy_argv", "device_arch", "selftest_port",
           "selftest_local", "BUILD_DIR"]

BUILD_DIR = REPO_ROOT / "build" / "esp32s3"
_ARCH_NAMES = {0: "bytecode", 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m",
               6: "armv7em", 7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin",
               11: "rv32imc", 12: "rv64imc"}
_HOST_ARCH = {"x86_64": "x64", "amd64": "x64", "i686": "x86", "i386": "x86"}
_RUN_SELFTEST = "import firmware.selftest as t\nt.main({rev})"
_ASK_ARCH = "import sys\nprint('MPYARCH', sys.implementation._mpy >> 10)"
_MKDIR_FW = "import os\ntry:\n    os.mkdir('/fw')\nexcept OSError:\n    pass"
_CLEAN = """import os
def _rm(p):
    try:
        for e in os.ilistdir(p):
            q = p + '/' + e[0]
            if e[1] & 0x4000:
                _rm(q)
            else:
                os.remove(q)
        os.rmdir(p)
    except OSError:
        pass
_rm('/lib/firmware')
try:
    os.mkdir('/lib')
except OSError:
    pass
"""


@dataclass(frozen=True)
class BuiltModule:
    source: Path
    mpy: Path
    arch: str  # "bytecode" or the native architecture in the .mpy header


@dataclass(frozen=True)
class Check:
    check: str
    status: str  # "pass", "fail" or "n/a"
    detail: str


@dataclass
class DeployReport:
    target: str
    rev: str
    built: list[BuiltModule] = field(default_factory=list)
    host_rebuilt: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.status != "fail" for c in self.checks)


def mpy_arch(path: Path) -> str:
    """Architecture recorded in an .mpy header ("bytecode" when it has no native code)."""
    head = path.read_bytes()[:4]
    if len(head) < 4 or head[0] != ord("M"):
        raise DeployError(f"{path} is not an .mpy file")
    return _ARCH_NAMES.get(head[2] >> 2, f"arch {head[2] >> 2}")


def _modules(root: Path) -> list[Path]:
    mods = mpy.firmware_modules(root)
    if not mods:
        raise DeployError(f"no firmware modules under {root}")
    return mods


def build(out: Path = BUILD_DIR, arch: str = "xtensawin", root: Path = FIRMWARE_DIR) -> list[BuiltModule]:
    """Compile every firmware module to `out/lib/firmware/...`; raise on the first failure."""
    dest = out / "lib" / "firmware"
    if dest.exists():
        shutil.rmtree(dest)
    built = []
    for src in _modules(root):
        target = dest / src.relative_to(root).with_suffix(".mpy")
        try:
            mpy.cross_compile(src, target, arch=arch)
        except (RuntimeError, mpy.MicroPythonMissing) as exc:
            raise DeployError(str(exc)) from None
        found = mpy_arch(target)
        if found not in ("bytecode", arch):
            raise DeployError(f"{target} was built for {found}, not {arch}")
        built.append(BuiltModule(src, target, found))
    return built


def _rev(rev: str | None) -> str:
    known = {b.rev for b in boards()}
    if rev is None:
        data = json.loads(PINMAP_PATH.read_text(encoding="utf-8"))
        return str(data["default_rev"])
    if rev not in known:
        raise DeployError(f"unknown board revision {rev!r} (have: {', '.join(sorted(known))})")
    return rev


def parse_selftest(text: str) -> list[Check]:
    """The self-test's SELFTEST lines as checks (other output is ignored)."""
    out = []
    for line in text.splitlines():
        if line.startswith("SELFTEST {"):
            try:
                d = json.loads(line[len("SELFTEST "):])
            except ValueError:
                continue
            out.append(Check(str(d.get("check")), str(d.get("status")), str(d.get("detail", ""))))
    return out


def _host_arch() -> str:
    """The unix port's native architecture on this computer (mpy-cross -march name)."""
    arch = _HOST_ARCH.get(platform.machine().lower())
    if arch is None:
        raise DeployError(f"the unix port on {platform.machine()} cannot run native .mpy code; "
                          "deploy to a folder needs an x86 or x86-64 computer")
    return arch


def _run_local(cwd: Path, lib: Path, rev: str | None, timeout: float) -> tuple[str, int]:
    env = mpy.micropython_env()
    env["MICROPYPATH"] = str(lib)  # only the deployed folder: nothing from the repository
    code = _RUN_SELFTEST.format(rev=repr(rev) if rev else "")
    try:
        proc = subprocess.run([mpy.micropython_binary(), "-c", code], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except mpy.MicroPythonMissing as exc:
        raise DeployError(str(exc)) from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"self-test did not finish in {timeout:g} s") from None
    return proc.stdout + proc.stderr, proc.returncode


def _install(built: list[BuiltModule], build_dir: Path, lib: Path, arch: str | None,
             root: Path) -> list[str]:
    """Copy the badge build into `lib/firmware`; rebuild native modules for `arch` (None:
    this computer's) if the interpreter there is not an ESP32-S3. Returns the rebuilt sources."""
    if (lib / "firmware").exists():
        shutil.rmtree(lib / "firmware")
    rebuilt = []
    for m in built:
        dest = lib / m.mpy.relative_to(build_dir / "lib")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if m.arch == "bytecode" or arch == m.arch:
            shutil.copyfile(m.mpy, dest)
        else:
            arch = arch or _host_arch()
            try:
                mpy.cross_compile(m.source, dest, arch=arch)
            except RuntimeError as exc:
                raise DeployError(str(exc)) from None
            rebuilt.append(str(m.source.relative_to(root.parent)))
    return rebuilt


def _release_key(stage: Path, pubkey: Path | None) -> Path | None:
    """Stage the release public key as ``fw/release.pub`` (64 hex digits) if one is given."""
    if pubkey is None:
        return None
    from badgecore.release import ReleaseError, load_public

    try:
        raw = load_public(pubkey)
    except ReleaseError as exc:
        raise DeployError(str(exc)) from None
    out = stage / "fw" / "release.pub"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(raw.hex() + "\n", encoding="ascii")
    return out


def deploy_dir(target: Path, rev: str | None = None, build_dir: Path = BUILD_DIR,
               timeout: float = 120, root: Path = FIRMWARE_DIR,
               release_pubkey: Path | None = None) -> DeployReport:
    """Deploy into a folder that stands in for the badge's filesystem, self-test it there."""
    rev = _rev(rev)
    report = DeployReport(target=str(target), rev=rev)
    report.built = build(build_dir, root=root)
    lib = target / "lib"
    report.host_rebuilt = _install(report.built, build_dir, lib, None, root)
    shutil.copyfile(PINMAP_PATH, target / "pinmap.json")
    shutil.copyfile(root / "main.py", target / "main.py")  # the boot entry point
    (target / "hwrev").write_text(rev + "\n", encoding="utf-8")
    _release_key(target, release_pubkey)
    report.output, code = _run_local(target, lib, None, timeout)
    report.checks = parse_selftest(report.output)
    if not report.checks:
        last = report.output.strip().splitlines()[-1:] or ["no output"]
        raise DeployError(f"self-test printed no results (exit {code}): {last[0]}")
    return report


def _mpremote() -> list[str]:
    tool = find_tool("mpremote")
    return [tool] if tool else [sys.executable, "-m", "mpremote"]


def _mpremote_run(argv: list[str], timeout: float) -> str:
    try:
        proc = subprocess.run(_mpremote() + argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(f"mpremote did not finish in {timeout:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DeployError(f"mpremote failed: {last[0]}")
    return proc.stdout


def deploy_argv(port: str, stage: Path, rev: str, set_time: bool = True) -> list[str]:
    """The mpremote command line that copies a staged build to the badge and self-tests it."""
    argv = ["connect", port, "exec", _CLEAN, "+", "fs", "cp", "-r", str(stage / "lib" / "firmware"),
            ":lib", "+", "fs", "cp", str(stage / "pinmap.json"), ":pinmap.json", "+", "fs", "cp",
            str(stage / "hwrev"), ":hwrev", "+", "fs", "cp", str(stage / "main.py"), ":main.py"]
    if (stage / "fw" / "release.pub").exists():  # the key firmware updates must be signed with
        argv += ["+", "exec", _MKDIR_FW, "+", "fs", "cp", str(stage / "fw" / "release.pub"),
                 ":fw/release.pub"]
    if set_time:
        argv += ["+", "rtc", "--set"]
    return argv + ["+", "soft-reset", "+", "exec", _RUN_SELFTEST.format(rev="")]


def device_arch(port: str, timeout: float = 60) -> str:
    """Native architecture the MicroPython on `port` runs (xtensawin on an ESP32-S3)."""
    out = _mpremote_run(["connect", port, "exec", _ASK_ARCH], timeout)
    for line in out.splitlines():
        if line.startswith("MPYARCH "):
            code = int(line.split()[1])
            return _ARCH_NAMES.get(code, f"arch {code}")
    raise DeployError(f"the device on {port} did not say its architecture; is it MicroPython?")


def deploy_port(port: str, rev: str | None = None, build_dir: Path = BUILD_DIR,
                set_time: bool = True, timeout: float = 300,
                root: Path = FIRMWARE_DIR, release_pubkey: Path | None = None) -> DeployReport:
    """Build, copy to the badge on `port` with mpremote, run the on-badge self-test.

    A device that is not an ESP32-S3 (the virtual badge of `hardware.virtualbadge`) gets
    its native modules rebuilt for its own architecture, named in the report.
    """
    rev = _rev(rev)
    report = DeployReport(target=port, rev=rev)
    report.built = build(build_dir, root=root)
    arch = device_arch(port)
    stage = build_dir if arch == "xtensawin" else build_dir / f"device-{arch}"
    if stage != build_dir:
        report.host_rebuilt = _install(report.built, build_dir, stage / "lib", arch, root)
    shutil.copyfile(PINMAP_PATH, stage / "pinmap.json")
    shutil.copyfile(root / "main.py", stage / "main.py")
    (stage / "hwrev").write_text(rev + "\n", encoding="utf-8")
    old_key = stage / "fw" / "release.pub"
    if old_key.exists():
        old_key.unlink()  # never a key from an earlier deploy
    _release_key(stage, release_pubkey)
    report.output = _mpremote_run(deploy_argv(port, stage, rev, set_time), timeout)
    report.checks = parse_selftest(report.output)
    if not report.checks:
        raise DeployError("the badge printed no self-test results; is the firmware MicroPython?")
    return report


def selftest_port(port: str, rev: str | None = None, timeout: float = 120) -> list[Check]:
    """Run the self-test already on the badge at `port`."""
    code = _RUN_SELFTEST.format(rev=repr(rev) if rev else "")
    checks = parse_selftest(_mpremote_run(["connect", port, "exec", code], timeout))
    if not checks:
        raise DeployError("the badge printed no self-test results; deploy the firmware first")
    return checks


def selftest_local(rev: str | None = None, timeout: float = 120) -> list[Check]:
    """Run the self-test from the repository's sources under the unix port."""
    with tempfile.TemporaryDirectory(prefix="badgekit-selftest-") as tmp:
        out, _ = _run_local(Path(tmp), REPO_ROOT, rev, timeout)
    checks = parse_selftest(out)
    if not checks:
        raise DeployError(f"self-test printed no results: {out.strip()[-200:]}")
    return checks


def iter_rows(checks: list[Check]) -> Iterator[tuple[str, str, str]]:
    for c in checks:
        yield c.check, c.status, c.detail
