"""Serve the sync protocol over a byte link (a UART, USB CDC, or a pty on a computer).

``serve(link, server)`` loops: wait until the link is readable (or writable while a
reply is pending), move bytes between the link and the server, let the server work.
``link`` needs ``wait(want_write, timeout_ms) -> (readable, writable)``,
``readinto(mv) -> n`` and ``write(mv) -> n`` (firmware.hw.serial_link.SerialLink).
The loop allocates nothing per iteration; ``stop()`` (optional) ends it; ``on_idle``
runs about every ``idle_ms`` (the badge's recorder or a heap probe).
``serve_async`` is the same loop as an asyncio task (polls without blocking, yields to
the other tasks every turn): on the badge it runs beside the BLE radio and the recorder.
"""

import time

from firmware import const

__all__ = ["serve", "serve_async", "ticks_ms"]

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
        busy = server.pending() is not None or held > 0 or server.stream is not None
        held = _turn(link, server, rxv, held, 0 if busy and server.pending() is None else 50)
        if held < 0:  # the link closed
            return
        if on_idle is not None:
            now = ticks_ms()
            if now - last_idle >= idle_ms:
                last_idle = now
                on_idle()


def _turn(link, server, rxv, held, wait_ms):
    """One loop turn; returns the new ``held`` count, or -1 when the link closed."""
    now = ticks_ms()
    out = server.pending()
    readable, writable = link.wait(out is not None, wait_ms)
    if readable and held < _RX:
        n = link.readinto(rxv[held:])
        if n is None:
            n = 0
        if n < 0:
            return -1
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
    return held


async def serve_async(link, server, stop=None, idle_s=0.005):
    """``serve`` as an asyncio task: sleeps ``idle_s`` only when there is nothing to do."""
    import asyncio

    rx = bytearray(_RX)
    rxv = memoryview(rx)
    held = 0
    while stop is None or not stop():
        held = _turn(link, server, rxv, held, 0)
        if held < 0:
            return
        busy = server.pending() is not None or held > 0 or server.stream is not None
        await asyncio.sleep(0 if busy else idle_s)
