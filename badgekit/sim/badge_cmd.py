"""`badgekit sim badge --clips DIR [--ble]`: a simulated badge serving its clips.

Serial (default): the firmware's sync server and serial link run in the real
`micropython` binary (badgekit/sim/badge_mp.py) on the master end of a pty pair; the
first line printed is ``serial: /dev/pts/N``, the end a companion opens. With
``--ble`` the firmware's BLE module (firmware.hw.radio) runs under CPython on the
bumble `bluetooth` shim, on a virtual link whose second controller is offered to the
companion as an HCI transport; the first line is then
``ble: <address> hci: tcp-client:127.0.0.1:PORT``. A fresh badge is unenrolled; it
serves until interrupted. ``--state DIR`` keeps its enrollment and store key in DIR
across runs (as the badge keeps them in its state folder): enrol it once, record with
`sim record --state DIR` (sealed clips), serve those clips with the same DIR.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import tty
from pathlib import Path

import typer

from badgecore.cli_convention import fail

__all__ = ["register", "start_serial_badge"]

_MP_MAIN = Path(__file__).with_name("badge_mp.py")


def _compile(work: Path) -> Path:
    """Firmware + the sim main as .mpy (as on a badge: no compiler on the heap)."""
    from badgecore import mpy
    from badgecore.paths import REPO_ROOT

    out = work / "mpy"
    for src in mpy.firmware_modules() + [_MP_MAIN, REPO_ROOT / "badgekit" / "__init__.py",
                                         _MP_MAIN.with_name("__init__.py")]:
        rel = src.relative_to(REPO_ROOT)
        mpy.cross_compile(src, (out / rel).with_suffix(".mpy"), arch="x64")
    return out


def start_serial_badge(clips: Path, work: Path, badge: str | None = None,
                       probe: bool = False, heap: str | None = None, compiled: bool = False,
                       extra_args: tuple[str, ...] = (), main: Path | None = None,
                       ) -> tuple[subprocess.Popen[bytes], str, int, str]:
    """Start the MicroPython badge on a new pty; return (process, pty path, slave fd,
    its ready line). The caller keeps ``slave fd`` open while the badge serves (so the
    badge never sees a hang-up between companions) and closes it afterwards.
    ``compiled``: run .mpy files (mpy-cross) instead of sources, so the heap holds what
    a badge's heap holds (``heap`` then caps it, e.g. ``"256k"``). ``main``: another
    MicroPython script taking badge_mp's arguments (tests: a badge prepared otherwise)."""
    from badgecore import mpy

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    os.set_blocking(master, False)
    name = os.ttyname(slave)
    args = [str(master), str(clips), str(work)] + ([badge] if badge else []) + (
        ["--probe"] if probe else []) + list(extra_args)
    if compiled:
        extra, main, args = [_compile(work)], None, ["-m", "badgekit.sim.badge_mp", *args]
    else:
        extra, main = [], main or _MP_MAIN
    proc = mpy.popen(main, args=args, heap=heap, extra_path=extra, pass_fds=(master,),
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    os.close(master)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode(errors="replace").strip()
    if '"ready": true' not in line:
        try:
            rest = proc.communicate(timeout=5)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = ""
        rest = " | ".join(ln.strip() for ln in rest.splitlines()[-3:])
        os.close(slave)
        raise RuntimeError(f"simulated badge failed to start: {line} {rest}".strip())
    return proc, name, slave, line


def register(app: typer.Typer) -> None:
    @app.command()
    def badge(clips: Path = typer.Option(..., "--clips", help="Folder of clips from `sim record`."),
              ble: bool = typer.Option(False, "--ble", help="Serve over the bumble BLE link."),
              badge_id: str = typer.Option(None, "--badge", help="Badge id (default: the clips')."),
              heap: str = typer.Option(None, "--heap", help="MicroPython heap size, e.g. 256k."),
              state: Path = typer.Option(None, "--state", help="The badge's state folder (enrollment, "
                                         "store key), kept across runs; made if missing."),
              ) -> None:
        """Run a simulated badge serving the clips of DIR until interrupted."""
        if not clips.is_dir():
            raise fail(f"{clips} is not a folder of clips")
        if state is not None:
            from badgecore.privatefs import private_dir

            os.umask(0o077)  # the badge writes its secret there: files 0600 (this process and the badge's)
            try:
                state = private_dir(state.resolve())  # holds the enrollment secret: 0700
            except OSError as exc:
                raise fail(f"--state {state}: {exc.strerror}") from None
        if ble:
            from badgekit.sim.ble_badge import run_ble_badge

            raise typer.Exit(run_ble_badge(clips, badge_id, state))
        work = Path(tempfile.mkdtemp(prefix="badgekit-badge-"))
        try:
            try:
                proc, name, slave, ready = start_serial_badge(
                    clips, work, badge_id, heap=heap, extra_args=("--state", str(state)) if state else ())
            except (RuntimeError, OSError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                raise typer.Exit(1) from None
            print(f"serial: {name}", flush=True)
            print(ready, flush=True)
            signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    print(raw.decode(errors="replace").rstrip(), flush=True)
                code = proc.wait()
                print(f"error: the simulated badge stopped (exit {code})", file=sys.stderr)
                raise typer.Exit(1)
            except KeyboardInterrupt:
                pass
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                os.close(slave)
        finally:
            shutil.rmtree(work, ignore_errors=True)
