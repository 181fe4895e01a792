"""A badge on a serial port without the badge: MicroPython's raw REPL on a pty.

mpremote drives a MicroPython board through the raw REPL: Ctrl-A enters it, the code
follows, Ctrl-D runs it and the board answers "OK", the output, \\x04, the error text,
\\x04 and the prompt ">" (or the same in raw-paste mode, with flow-control windows);
Ctrl-D at an empty prompt is a soft reset. The unix port has no
raw REPL, so this module serves that protocol on a pty and runs each command in one
persistent MicroPython unix-port process whose "/" is a host folder (`vfs.VfsPosix(root)`
mounted at "/", as the badge's flash is). A soft reset restarts that process.

It is not an ESP32-S3: there is no `machine.I2S`, `ADC`, `RTC` or `bluetooth`, so the
self-test reports those as not available; native code must be built for the host's
architecture, which the process reports in `sys.implementation._mpy` like a board does.

    with VirtualBadge(folder) as port:      # port: "/dev/pts/N"
        deploy_port(port, set_time=False)
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import threading
import tty
from pathlib import Path
from types import TracebackType

from badgecore import mpy
from hardware.errors import DeployError

__all__ = ["VirtualBadge", "BANNER"]

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
_WINDOW = 4096  # raw-paste window in bytes
_FRIENDLY = b"\r\nMicroPython (badgekit virtual badge on the unix port)\r\n>>> "
_AGENT = """
import sys, os, vfs
vfs.umount('/')
vfs.mount(vfs.VfsPosix(%r), '/')
os.chdir('/')
sys.path[:] = ['', '/lib']
_o = sys.stdout.buffer
_i = sys.stdin.buffer
_g = {'__name__': '__main__'}
while True:
    _n = _i.readline()
    if not _n:
        break
    _c = _i.read(int(_n))
    _e = None
    try:
        exec(_c, _g)
    except BaseException as e:
        _e = e
    _o.write(b'\\x04')
    if _e is not None:
        sys.print_exception(_e, sys.stdout)
    _o.write(b'\\x04')
"""


class VirtualBadge:
    """Serve a raw REPL on a pty, backed by the MicroPython unix port rooted at `root`."""

    def __init__(self, root: Path, heap: str = "8M") -> None:
        self.root = Path(root).resolve()
        self.heap = heap
        self.port = ""
        self._master = -1
        self._slave = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._raw = False
        self._buf = bytearray()
        self._swallow = 0
        self._paste = False
        self._paste_count = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._spawn()
        self._thread = threading.Thread(target=self._serve, name="virtual-badge", daemon=True)
        self._thread.start()
        return self.port

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._kill()
        for fd in (self._master, self._slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = -1

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _spawn(self) -> None:
        try:
            argv = [mpy.micropython_binary(), "-X", f"heapsize={self.heap}", "-c",
                    _AGENT % str(self.root)]
        except mpy.MicroPythonMissing as exc:
            raise DeployError(str(exc)) from None
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, cwd=self.root)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=5)
            for f in (self._proc.stdin, self._proc.stdout):
                if f is not None:
                    f.close()
            self._proc = None

    # ---------------------------------------------------------------- protocol
    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._master, view)
            view = view[n:]

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            for b in data:
                self._byte(b)

    def _byte(self, b: int) -> None:
        if self._paste:  # raw-paste mode: data until Ctrl-D, flow control by windows
            if b == 0x04:
                self._paste = False
                code, self._buf = bytes(self._buf), bytearray()
                self._write(b"\x04")
                self._run(code)
                self._write(b">")
                return
            self._buf.append(b)
            self._paste_count += 1
            if self._paste_count % _WINDOW == 0:
                self._write(b"\x01")
            return
        if self._swallow:  # the "A\x01" after a raw-paste request
            self._swallow -= 1
            if not self._swallow:
                self._write(b"R\x01" + struct.pack("<H", _WINDOW))
                self._paste = True
                self._paste_count = 0
                self._buf.clear()
            return
        if b == 0x01:
            self._raw = True
            self._buf.clear()
            self._write(BANNER)
        elif not self._raw:
            return
        elif b == 0x02:
            self._raw = False
            self._write(_FRIENDLY)
        elif b == 0x03:
            self._buf.clear()
        elif b == 0x05:
            self._swallow = 2
        elif b == 0x04:
            if self._buf:
                code, self._buf = bytes(self._buf), bytearray()
                self._write(b"OK")
                self._run(code)
                self._write(b">")
            else:
                self._kill()
                self._spawn()
                self._write(b"MPY: soft reboot\r\n" + BANNER)
        else:
            self._buf.append(b)

    def _run(self, code: bytes) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b"%d\n" % len(code) + code)
            proc.stdin.flush()
        except OSError:
            self._write(b"\x04the virtual badge's interpreter has stopped\r\n\x04")
            return
        marks = 0
        fd = proc.stdout.fileno()
        while marks < 2:
            chunk = os.read(fd, 4096)
            if not chunk:  # interpreter died mid-command: report it like a crash
                self._write(b"\x04" * (2 - marks) if marks else b"\x04crashed\r\n\x04")
                self._kill()
                self._spawn()
                return
            marks += chunk.count(b"\x04")
            self._write(chunk)
