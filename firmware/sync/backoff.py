"""Back-off after failed authentications, one per link (each link has its own server).

After the n-th failure in a row the link refuses AUTH for ``min(500 ms << (n-1), 60 s)``
(0.5, 1, 2, 4 ... 60 s): a guesser gets a handful of tries a minute instead of dozens
a second, while a companion whose staff fixed a wrong key waits at most a minute. A
success clears the run; the totals stay for status (INFO ``auth``). The state lives in
the link's server, so dropping and reopening the link does not reset it.
"""

import time

from firmware import const

__all__ = ["AuthBackoff", "BASE_MS", "MAX_MS"]

BASE_MS = const(500)
MAX_MS = const(60000)


def _ticks():
    f = getattr(time, "ticks_ms", None)
    if f is not None:
        return f()
    return int(getattr(time, "monotonic")() * 1000)  # CPython


def _diff(a, b):
    d = getattr(time, "ticks_diff", None)
    return d(a, b) if d is not None else a - b


class AuthBackoff:
    def __init__(self):
        self.failures = 0  # every failed AUTH on this link since boot
        self.run = 0  # failures since the last success
        self.refused = 0  # AUTH requests refused while backing off
        self.until = 0

    def wait_ms(self, now=None):
        """Milliseconds until AUTH is allowed again (0: now)."""
        if not self.run:
            return 0
        left = _diff(self.until, _ticks() if now is None else now)
        return left if left > 0 else 0

    def failed(self, now=None):
        """Count a failure; return the back-off it starts (ms)."""
        self.failures += 1
        self.run += 1
        delay = BASE_MS << min(self.run - 1, 7)
        delay = delay if delay < MAX_MS else MAX_MS
        self.until = (_ticks() if now is None else now) + delay
        return delay

    def succeeded(self):
        self.run = 0

    def status(self):
        return {"failures": self.failures, "in_a_row": self.run, "refused": self.refused,
                "backoff_ms": self.wait_ms()}
