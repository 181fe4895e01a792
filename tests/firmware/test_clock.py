"""The badge clock (firmware.hw.clock) on both epoch conventions of MicroPython ports.

The ESP32 port counts ``time.time()`` from 2000-01-01, the unix port from 1970-01-01.
Under the real unix port, the 1970 case uses its own ``time``; the 2000 case puts a
``time`` in front of it that counts from 2000 and, like the ESP32's, reads the RTC. The
RTC is a stand-in that keeps what was set (no RTC can run here).
"""

from __future__ import annotations

import time

import pytest

from tests.firmware.helpers import mpy_json

T = 1795600800  # 2026-11-25T10:00:00Z

_SETUP = """
import sys
import time as _host

_Y2K = 946684800


class RTC:
    dt = (2026, 11, 25, 2, 10, 0, 0, 250000)

    def datetime(self, dt=None):
        if dt is None:
            return RTC.dt
        RTC.dt = tuple(dt)


class Machine:
    pass


machine = Machine()
machine.RTC = RTC
sys.modules['machine'] = machine


class Time2000:
    # an ESP32-like time module: seconds from 2000-01-01, read from the RTC
    @staticmethod
    def gmtime(t=None):
        return _host.gmtime((Time2000.time() if t is None else t) + _Y2K)

    @staticmethod
    def mktime(tm):
        return _host.mktime(tm) - _Y2K

    @staticmethod
    def time():
        d = RTC.dt
        return Time2000.mktime((d[0], d[1], d[2], d[4], d[5], d[6], 0, 0))


if %(epoch)d == 2000:
    sys.modules['time'] = Time2000
"""

_RUN = _SETUP + """
import json
import time
from firmware.hw import clock
from firmware.session import session_id
from firmware.sync.state import BadgeState

out = {'port_year': time.gmtime(0)[0], 'offset': clock.EPOCH_OFFSET_S}
out['read'] = list(clock.now_unix_ms())
ok = clock.set_unix(%(t)d)
out['set'] = [ok, list(RTC.dt)]
out['after'] = list(clock.now_unix_ms())
out['id'] = session_id(*clock.now_unix_ms())

# the RTC written as sync/state.py wrote it before firmware.hw.clock (no epoch shift),
# read back as the session did (with the shift)
tm = time.gmtime(%(t)d)
RTC.dt = (tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0)
old = time.mktime((tm[0], tm[1], tm[2], tm[3], tm[4], tm[5], 0, 0))
if time.gmtime(0)[0] == 2000:
    old += 946684800
out['old_rtc_year'] = tm[0]
out['old_id'] = session_id(old)

st = BadgeState(%(state)r, 'BK-CLOCK')
drift = st.set_time(%(t)d)
out['state'] = [st.clock_offset_s, list(RTC.dt), st.now() if %(epoch)d == 2000 else None]
print(json.dumps(out))
"""


@pytest.mark.parametrize("epoch", [1970, 2000])
def test_clock_speaks_unix_seconds_on_either_port_epoch(micropython, tmp_path, epoch):
    out = mpy_json(micropython, _RUN % {"epoch": epoch, "t": T,
                                        "state": str(tmp_path / "sync.json")})
    assert out["port_year"] == epoch
    assert out["offset"] == (946684800 if epoch == 2000 else 0)
    # the stand-in RTC starts at 2026-11-25 10:00:00.250 UTC, whatever the port's epoch
    assert out["read"] == [T, 250]
    ok, rtc = out["set"]
    assert ok and rtc[:7] == [2026, 11, 25, 2, 10, 0, 0]  # civil UTC time in the RTC
    assert out["after"] == [T, 0]
    assert out["id"] == "20261125-100000-000"
    # BadgeState sets the RTC through the clock: same civil time, no offset kept
    offset, rtc, now = out["state"]
    assert offset == 0 and rtc[:7] == [2026, 11, 25, 2, 10, 0, 0]
    if epoch == 2000:
        assert now == T  # time.time() reads that RTC on such a port


def test_old_unshifted_rtc_write_was_thirty_years_off_on_a_2000_port(micropython, tmp_path):
    out = mpy_json(micropython, _RUN % {"epoch": 2000, "t": T,
                                        "state": str(tmp_path / "sync.json")})
    assert out["old_rtc_year"] == 2056
    assert out["old_id"].startswith("2056")  # 30 years (and a leap day) late


def test_old_rtc_write_was_right_on_a_1970_port(micropython, tmp_path):
    out = mpy_json(micropython, _RUN % {"epoch": 1970, "t": T,
                                        "state": str(tmp_path / "sync.json")})
    assert out["old_rtc_year"] == 2026 and out["old_id"] == "20261125-100000-000"


def test_clock_on_cpython_has_no_rtc():
    from firmware.hw import clock

    assert clock.EPOCH_OFFSET_S == 0
    assert clock.set_unix(T) is False
    t, ms = clock.now_unix_ms()
    assert abs(t - time.time()) < 5 and ms == 0
    assert clock.to_port(clock.to_unix(T)) == T
