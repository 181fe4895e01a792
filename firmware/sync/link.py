"""Serve the sync protocol over a byte link (a UART, USB CDC, or a pty on a computer).

``serve(link, server)`` loops: wait until the link is readable (or writable while a
reply is pending), move bytes between the link and the server, let the server work.
``link`` needs ``wait(want_write, timeout_ms) -> (readable, writable)``,
``readinto(mv) -> n`` and ``write(mv) -> n`` (firmware.hw.serial_link.SerialLink).
The loop allocates nothing per iteration; ``stop()`` (optional) ends it; ``on_idle``
runs about every ``idle_ms`` (the badge's recorder or a heap probe).
"""

import time

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):  # type: ignore[misc]
        return x

__all__ = ["serve", "ticks_ms"]

_RX = const(256)


def ticks_ms():
    f = getattr(time, "ticks_ms", None)
    if f is not None:
        return f()
    return int(getattr(time, "monotonic")() * 1000)  # CPython


def serve(link, server, stop=None, on_idle=None, idle_ms=1000):
    rx = bytearray(_RX)
    rxv = memoryview(rx)
    held = 0  # received bytes not yet taken by the server
    last_idle = ticks_ms()
    while stop is None or not stop():
        now = ticks_ms()
        out = server.pending()
        busy = out is not None or held > 0 or server.stream is not None
        readable, writable = link.wait(out is not None, 0 if busy and out is None else 50)
        if readable and held < _RX:
            n = link.readinto(rxv[held:])
            if n is None:
                n = 0
            if n < 0:  # the link closed
                return
            held += n
        if held:
            k = server.feed(rxv[:held], now)
            if k:
                rxv[0:held - k] = rxv[k:held]
                held -= k
        if out is not None and writable:
            n = link.write(out)
            if n:
                server.sent(n)
        while server.pending() is None and server.step(now):
            pass
        if on_idle is not None and now - last_idle >= idle_ms:
            last_idle = now
            on_idle()
