"""DSP: viper = plain = CPython; DC removal, gain, saturation and levels behave."""

from __future__ import annotations

import math
from array import array

from firmware import dsp
from tests.firmware.helpers import mpy_json

_RUN = """
import json, hashlib, binascii
from array import array
from firmware import dsp
from fwsupport import Synth

def run(fast):
    syn = Synth(3)
    st = dsp.new_state()
    out = dsp.new_stats()
    h = hashlib.sha256()
    buf = array('h', bytes(640))
    for k in range(200):
        amp = (30, 3000, 32767, 0, 12000)[k % 5]
        syn.noise(buf, amp)
        if k % 7 == 0:
            for i in range(320):
                buf[i] = 32767 if i % 40 < 20 else -32768
        if k % 11 == 0:
            for i in range(320):
                buf[i] = 20000 + (i % 9)
        gain = (256, 4096, 64, 8192)[k % 4]
        dsp.condition(buf, 320 - (k % 3), st, out, gain, fast)
        h.update(buf)
        h.update(out)
    h.update(st)
    big = array('i', [(i * 2654435761) % 4294967296 - 2147483648 for i in range(320)])
    small = array('h', bytes(640))
    for shift in (8, 14, 16):
        dsp.i32_to_i16(big, small, 320, shift, fast)
        h.update(small)
    dsp.copy16(small, 10, buf, 100, 50, fast)
    dsp.fill16(small, 200, 30, -7, fast)
    h.update(small)
    return binascii.hexlify(h.digest()).decode()
"""


def test_viper_plain_and_cpython_dsp_are_bit_identical(micropython):
    got = mpy_json(micropython, _RUN + "print(json.dumps([run(True), run(False), dsp.FAST]))")
    assert got[2] is True
    assert got[0] == got[1]
    import sys

    from tests.firmware import fwsupport

    sys.modules.setdefault("fwsupport", fwsupport)
    ns: dict = {}
    exec(_RUN, ns)
    assert ns["run"](False) == got[0]


def _frames(n, fn):
    st, out = dsp.new_state(), dsp.new_stats()
    buf = array("h", bytes(640))
    t = 0
    res = []
    for _ in range(n):
        for i in range(320):
            buf[i] = fn(t + i)
        t += 320
        dsp.condition(buf, 320, st, out, 256)
        res.append((array("h", buf), array("i", out)))
    return res


def test_dc_offset_is_removed():
    res = _frames(100, lambda t: 15000 + int(3000 * math.sin(t / 8)))
    tail = res[-1][0]
    assert abs(sum(tail) / len(tail)) < 150  # the 15000 offset is gone after 2 s
    assert max(tail) > 2500  # the tone is still there


def test_gain_saturates_and_counts():
    st, out = dsp.new_state(), dsp.new_stats()
    buf = array("h", [(-1) ** i * 20000 for i in range(320)])
    dsp.condition(buf, 320, st, out, 256 * 4)
    assert out[dsp.S_SAT] > 200 and max(buf) == 32767 and min(buf) == -32768
    clip = array("h", [32767] * 160 + [-32768] * 160)
    dsp.condition(clip, 320, st, out, 256)
    assert out[dsp.S_CLIP_IN] == 320


def test_dead_mic_has_no_swing_and_zero_level():
    res = _frames(3, lambda t: 0)
    out = res[-1][1]
    assert out[dsp.S_SWING] == 0 and out[dsp.S_FULL] == 0 and out[dsp.S_LOG_MID] == 0


def test_log_levels_follow_log2():
    for v in (1, 2, 3, 17, 1000, 123456, 10**9):
        assert abs(dsp.ilog2_q4(v) / 16 - math.log2(v)) <= 1 / 16 + 1e-9
    # a tone 20 dB louder reads about 20 dB (53 steps of 0.376 dB) higher in the mid band
    quiet = _frames(20, lambda t: int(300 * math.sin(t / 5)))[-1][1][dsp.S_LOG_MID]
    loud = _frames(20, lambda t: int(3000 * math.sin(t / 5)))[-1][1][dsp.S_LOG_MID]
    assert abs((loud - quiet) - 53) <= 2
