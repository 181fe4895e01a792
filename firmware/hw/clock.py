"""The badge clock: the one owner of the RTC and of the port's epoch.

Everything above this module speaks Unix seconds (UTC since 1970-01-01): clip headers,
session ids, the sync state, the companion's SET_TIME. MicroPython ports disagree on
their own epoch: ``time.time()`` and ``time.mktime()`` count from 2000-01-01 on the
ESP32 and from 1970-01-01 on the unix port. The port's epoch is detected once, at
import, from ``time.gmtime(0)``; every conversion goes through here, so a 2000-epoch
port cannot write a clock 30 years off.

- ``now_unix()``: Unix seconds from ``time.time()`` (the RTC on the badge, the host
  clock on a computer).
- ``now_unix_ms()``: (Unix seconds, ms) read from ``machine.RTC`` for the sub-second
  part; ``(now_unix(), 0)`` where the port has no RTC.
- ``set_unix(t)``: set the RTC to Unix seconds ``t``; False where the port has none.
- ``rtc_datetime()`` / ``datetime_unix(dt)``: the RTC's own tuple and its Unix seconds.
"""

import time

from firmware import const

__all__ = ["EPOCH_OFFSET_S", "now_unix", "now_unix_ms", "set_unix", "rtc_unix_ms",
           "rtc_datetime", "datetime_unix", "to_port", "to_unix"]

_UNIX_2000 = const(946684800)  # 2000-01-01T00:00:00Z in Unix seconds

# Seconds from 1970-01-01 to this port's epoch.
EPOCH_OFFSET_S = _UNIX_2000 if time.gmtime(0)[0] == 2000 else 0


def to_unix(port_s):
    """Unix seconds from seconds on this port's epoch (``time.time()``, ``time.mktime()``)."""
    return port_s + EPOCH_OFFSET_S


def to_port(unix_s):
    """Seconds on this port's epoch (for ``time.gmtime()``) from Unix seconds."""
    return unix_s - EPOCH_OFFSET_S


def now_unix():
    """Unix seconds now."""
    return int(time.time()) + EPOCH_OFFSET_S


def _rtc():
    import machine  # the badge (or a stand-in on the unix port)

    return machine.RTC()


def rtc_datetime():
    """The RTC's ``(year, month, day, weekday, hour, minute, second, microsecond)``."""
    return _rtc().datetime()


def datetime_unix(dt):
    """Unix seconds of an RTC datetime tuple (UTC)."""
    return time.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0)) + EPOCH_OFFSET_S


def rtc_unix_ms():
    """(Unix seconds, ms) from the RTC; raises where the port has none."""
    dt = rtc_datetime()
    return datetime_unix(dt), (dt[7] // 1000) % 1000  # the ESP32 RTC counts microseconds


def now_unix_ms():
    """(Unix seconds, ms) from the RTC, or ``(now_unix(), 0)`` where there is no RTC."""
    try:
        return rtc_unix_ms()
    except (ImportError, AttributeError, OSError, TypeError):
        return now_unix(), 0


def set_unix(t):
    """Set the RTC to Unix seconds ``t``; False (nothing set) where the port has no RTC."""
    tm = time.gmtime(t - EPOCH_OFFSET_S)
    try:
        _rtc().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
    except (ImportError, AttributeError, OSError):
        return False
    return True
