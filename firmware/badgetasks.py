"""The badge's tasks under asyncio (firmware.badge runs them; layout in docs/badge.md).

- ``rec``: mic frames -> RecordingSession -> clip store, one frame every ``frame_us`` (the I2S
  DMA buffer holds the audio while other tasks run); the mic is opened when a session
  records and closed when it stops; a mic that gives nothing for 0.5 s is an error
  (the open clip is closed, the mic retried every ``mic_retry_ms``);
- ``ui``: the button (debounced, short/long) and the LED pattern, every 20 ms;
- ``usb``: the sync server on the serial link (USB CDC, a UART, or a pty);
- ``ble``: the sync server on the BLE radio, only where a ``bluetooth`` module exists;
- ``watch``: every second: config changes, the watchdog.

Every task runs inside ``_guard``: a crash is logged to the event log (``task_crash``,
readable with the companion's logs) and the task restarted after a back-off
(0.5 s doubling to 30 s); a task that ends (a serial link that closed) is restarted
too. Every wait is a sleep or has a timeout; nothing blocks the loop but one mic read.
"""

import time

from firmware.sync import link

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):  # type: ignore[misc]
        return x

__all__ = ["run", "serve", "record", "ui", "usb", "ble", "watch", "BACKOFF_MS"]

BACKOFF_MS = (500, 30000)
_UI_MS = const(20)
_EMPTY_READS = const(25)  # mic reads that gave nothing before the mic counts as dead
_BEHIND_US = const(1000000)  # further behind than this: stop catching up, re-anchor
_EARLY_US = const(2000)  # a read that waited this long means the schedule was early


async def _guard(b, name, fn):
    import asyncio

    delay = BACKOFF_MS[0]
    while True:
        t0 = time.ticks_ms()
        try:
            await fn(b)
            pause = 100  # the task ended (e.g. the link closed): start it again
        except Exception as exc:  # logged, then restarted: never a silent stop
            b.task_crashed(name, exc)
            pause = delay
            delay = min(delay * 2, BACKOFF_MS[1])
        if time.ticks_diff(time.ticks_ms(), t0) > 60000:
            delay = BACKOFF_MS[0]  # it ran fine for a minute: forget old crashes
        await asyncio.sleep_ms(pause)


async def record(b):
    import asyncio

    period = b.frame_us
    due = time.ticks_us()
    empty = 0
    while True:
        sess = b.sess
        if sess is None or not sess.recording:
            if b.mic is not None:
                b.close_mic()  # privacy: the mic (and its red LED) is on only while recording
            await asyncio.sleep_ms(_UI_MS)
            continue
        if b.mic is None:
            if not b.open_mic():
                await asyncio.sleep_ms(b.mic_retry_ms)
                continue
            due = time.ticks_us()
            empty = 0
        wait = time.ticks_diff(due, time.ticks_us())
        await asyncio.sleep_ms(wait // 1000 if wait > 0 else 0)  # always let the others run
        if not sess.recording or b.mic is None:
            continue
        t0 = time.ticks_us()
        late = time.ticks_diff(t0, due)  # how far behind its due time this frame is read
        if late > b.late_max_us:
            b.late_max_us = late
        n = b.mic.readinto(sess.buffer())
        now = time.ticks_us()
        due = time.ticks_add(due, period)
        if time.ticks_diff(now, t0) > _EARLY_US or time.ticks_diff(now, due) > _BEHIND_US:
            due = time.ticks_add(now, period)
        if n <= 0:
            empty += 1
            if empty >= _EMPTY_READS:
                b.mic_dead("mic: no audio from the microphone")
                empty = 0
                await asyncio.sleep_ms(b.mic_retry_ms)
            continue
        if empty or "mic" in b.errors:
            b.clear("mic")
        empty = 0
        sess.push(n)
        b.frames += 1
        if sess.error and "session" not in b.errors:
            b.fail("session", sess.error)  # e.g. the store filled up: LED + status + log


async def ui(b):
    import asyncio

    while True:
        now = time.ticks_ms()
        if b.button is not None:
            ev = b.button.poll(now)
            if ev:
                b.press(ev)
                if b.sess is not None and b.sess.error is None:
                    b.errors.pop("session", None)
        if b.led is not None:
            b.led.set(b.led_state())
            b.led.show(now)
        await asyncio.sleep_ms(_UI_MS)


async def usb(b):
    b.usb_server.reset()
    await link.serve_async(b.link, b.usb_server)


async def ble(b):
    r = getattr(b, "radio", None)
    if r is None:
        from firmware.hw import radio

        obj = b.ble if b.ble is not True else None
        r = radio.Radio(b.make_server(), b.badge_id, status_fn=b.adv_status, ble=obj)
        b.radio = r
    await r.serve()


async def watch(b):
    import asyncio

    wdt = None
    if b.wdt_ms:
        try:
            import machine

            wdt = getattr(machine, "WDT")(timeout=b.wdt_ms)
        except (ImportError, AttributeError, TypeError, ValueError):
            wdt = None  # no watchdog on this port
    from firmware import fwbadge

    while True:
        b.apply_config()
        fwbadge.tick(b)  # reboot into a committed firmware update
        if wdt is not None:
            wdt.feed()
        await asyncio.sleep_ms(1000)


async def serve(b, extra=()):
    """The badge's tasks as one coroutine (``run`` runs it; a host loop may await it)."""
    import asyncio

    specs = [("rec", record), ("ui", ui), ("watch", watch)]
    if b.link is not None and b.usb_server is not None:
        specs.append(("usb", usb))
    if b.ble:
        specs.append(("ble", ble))
    for spec in extra:
        specs.append(spec)
    tasks = []
    for name, fn in specs:
        b.tasks.setdefault(name, {"restarts": 0, "error": None})
        tasks.append(asyncio.create_task(_guard(b, name, fn)))
    b.running = [name for name, _fn in specs]
    try:
        while True:
            await asyncio.sleep_ms(1000)
    finally:  # cancelled or interrupted: stop every task with it
        for t in tasks:
            t.cancel()


def run(b, extra=()):
    """Run the badge's tasks until interrupted. ``extra``: more (name, async fn(badge)).

    (asyncio is imported inside the tasks: the self-test imports every module, also
    where asyncio is not on the path.)"""
    import asyncio

    asyncio.run(serve(b, extra))
