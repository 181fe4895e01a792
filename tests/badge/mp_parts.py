# mypy: ignore-errors
"""Parts of the badge harnesses under the MicroPython unix port (tests/badge/badge_harness.py,
tests/update/fw_harness.py): a running RTC and a looping speech mic.

Import after ``machine`` (the stand-in of tests/firmware/fakehw) is on the path.
"""

import time

import machine


class RunningRTC(machine.RTC):
    """The stand-in RTC, running on host time; settable like the badge's."""

    offset = 0

    def datetime(self, dt=None):
        if dt is None:
            ns = time.time_ns()
            t = ns // 1000000000 + RunningRTC.offset
            tm = time.gmtime(t)
            return (tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], (ns // 1000) % 1000000)
        t = time.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
        RunningRTC.offset = t - time.time()
        return None


class LoopMic:
    """A real speech recording as the microphone, played again from the start at its end."""

    crash = False

    def __init__(self, path):
        from firmware.hw.mic import WavMic

        self.path = path
        self.m = WavMic(path)
        self.mk = WavMic

    def readinto(self, buf):
        if LoopMic.crash:
            LoopMic.crash = False
            raise RuntimeError("injected fault in the mic read")
        n = self.m.readinto(buf)
        if n <= 0:
            self.m.close()
            self.m = self.mk(self.path)
            n = self.m.readinto(buf)
        return n

    def close(self):
        self.m.close()


def control(gpio, status, more=None):
    """The harness's stdin commands as a badge task: ``press MS`` (hold the button),
    ``status`` (one JSON line ``{"status": status(b)}``), others to ``more(b, words)``."""
    import json
    import select
    import sys

    async def task(b):
        import asyncio

        p = select.poll()
        p.register(sys.stdin, select.POLLIN)
        while True:
            if not p.poll(0):
                await asyncio.sleep_ms(10)
                continue
            line = sys.stdin.readline()
            if not line:
                await asyncio.sleep_ms(1000)
                continue
            words = line.split()
            if words and words[0] == "press":
                machine.Pin.levels[gpio] = 0
                await asyncio.sleep_ms(int(words[1]))
                machine.Pin.levels[gpio] = 1
            elif words and words[0] == "status":
                print(json.dumps({"status": status(b)}))
            elif words and more is not None:
                more(b, words)

    return task
