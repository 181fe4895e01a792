"""The badge's serial link for sync: a UART, the USB CDC port, or a pty on a computer.

``SerialLink(stream)`` wraps any MicroPython stream that ``select.poll`` can watch:
``SerialLink.uart(id, baud, tx, rx)`` (machine.UART on the badge),
``SerialLink.usb()`` (the USB CDC console, ``sys.stdin.buffer`` /
``sys.stdout.buffer``), ``SerialLink.fd(n)`` (a file descriptor, e.g. the master end
of a pty handed over by ``badgekit sim badge``; it should be non-blocking). Gives
firmware.sync.link the ``wait`` / ``readinto`` / ``write`` it needs. On USB CDC the
REPL must be detached first (``os.dupterm(None, 0)`` on ports that attach it), or
the sync stream and the console share one port.
"""

import select

__all__ = ["SerialLink"]


class SerialLink:
    def __init__(self, rx, tx=None):
        self.rx = rx
        self.tx = tx if tx is not None else rx
        self.poll = select.poll()
        self.poll.register(self.rx, select.POLLIN)
        self.same = self.tx is self.rx
        if not self.same:
            self.poll_out = select.poll()
            self.poll_out.register(self.tx, select.POLLOUT)

    @classmethod
    def uart(cls, uart_id=1, baud=921600, tx=None, rx=None):
        import machine

        kw = {"baudrate": baud, "rxbuf": 2048, "txbuf": 4096}
        if tx is not None:
            kw["tx"] = tx
            kw["rx"] = rx
        return cls(machine.UART(uart_id, **kw))

    @classmethod
    def usb(cls):
        import sys

        return cls(sys.stdin.buffer, sys.stdout.buffer)

    @classmethod
    def fd(cls, fd):
        try:
            import termios  # type: ignore[import-not-found]  # unix port only

            termios.setraw(fd)
        except (ImportError, OSError, AttributeError):
            pass
        return cls(open(fd, "r+b"))

    def wait(self, want_write, timeout_ms):
        """-> (readable, writable) within ``timeout_ms``."""
        if self.same:
            self.poll.modify(self.rx, select.POLLIN | (select.POLLOUT if want_write else 0))
            ev = 0
            for _obj, e in self.poll.poll(timeout_ms):
                ev |= e
            if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                return True, False
            return bool(ev & select.POLLIN), bool(ev & select.POLLOUT)
        r = bool(self.poll.poll(0 if want_write else timeout_ms))
        w = False
        if want_write:
            w = bool(self.poll_out.poll(0 if r else timeout_ms))
        return r, w

    def readinto(self, mv):
        """Bytes read (0 if none yet); -1 when the other end is gone."""
        try:
            n = self.rx.readinto(mv)
        except OSError as e:
            if e.args and e.args[0] == 11:  # EAGAIN
                return 0
            return -1
        return n if n is not None else 0

    def write(self, mv):
        try:
            n = self.tx.write(mv)
        except OSError as e:
            if e.args and e.args[0] == 11:
                return 0
            raise
        return n if n is not None else 0
