"""Per-sample signal work on 16-bit frames: DC removal, gain, the gate's band levels.

`condition(pcm, n, st, out, gain_q8)` processes one frame in place and fills `out`
(an `array('i')` of `STATS` entries) with what the gate and the recorder's health
checks need, all in integers so the badge, the unix port and CPython agree exactly:

- DC removal: one-pole high-pass at about 10 Hz (y = x - x1 + (1 - 1/256) y1);
- gain in Q8 (256 = x1.0) with saturation to int16;
- band levels of the conditioned signal, sums of absolute values in Q4:
  "mid" (about 340 Hz - 1.7 kHz, where voiced speech carries its energy) and "high"
  (above about 1.7 kHz: fricatives, clicks, rustle, clatter); full band in Q0;
- the same three as log2 levels in 1/16 octave (0.376 dB) steps;
- counts: input samples at full scale (clipping), conditioned samples that saturated,
  and the input's peak-to-peak swing (0 for a dead microphone).

Every per-sample loop has a `@micropython.viper` fast path and a plain fallback with
bit-identical results (`FAST` says which one is used). `copy16` and `fill16` move
int16 samples between buffers without allocating.
"""

import sys

_MPY = sys.implementation.name == "micropython"
if _MPY:
    import micropython

from array import array

from firmware import const

__all__ = [
    "FAST",
    "STATS",
    "S_FULL",
    "S_MID",
    "S_HIGH",
    "S_CLIP_IN",
    "S_SAT",
    "S_SWING",
    "S_LOG_FULL",
    "S_LOG_MID",
    "S_LOG_HIGH",
    "new_state",
    "new_stats",
    "condition",
    "copy16",
    "fill16",
    "i32_to_i16",
    "ilog2_q4",
]

STATS = const(9)
S_FULL = const(0)
S_MID = const(1)
S_HIGH = const(2)
S_CLIP_IN = const(3)
S_SAT = const(4)
S_SWING = const(5)
S_LOG_FULL = const(6)
S_LOG_MID = const(7)
S_LOG_HIGH = const(8)

_STATE = const(6)  # x1, dc accumulator (Q8), low-pass A (Q4), mid 1, mid 2 (Q4), primed

# fraction of log2 for the 4 bits after the leading one, in 1/16 octave
_LOGFRAC = bytes((0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15))


def new_state():
    """Filter state for one input stream (all zero)."""
    return array("i", bytes(4 * _STATE))


def new_stats():
    """The `out` array `condition` fills."""
    return array("i", bytes(4 * STATS))


def ilog2_q4(v):
    """log2(v) in 1/16 octave steps for v >= 1 (0 for v < 1); plain reference."""
    if v < 1:
        return 0
    n = 0
    while v >= 32:
        v >>= 1
        n += 1
    # 16 <= v < 32 now unless v started small
    while v < 16:
        v <<= 1
        n -= 1
    return (n + 4) * 16 + _LOGFRAC[v - 16]


def _condition_plain(pcm, n, st, out, gain_q8):
    if st[5] == 0 and n > 0:  # first frame: start the DC filter at the first sample
        st[0] = pcm[0]
        st[5] = 1
    x1 = st[0]
    acc = st[1]
    la = st[2]
    m1 = st[3]
    m2 = st[4]
    s_full = 0
    s_mid = 0
    s_high = 0
    clip_in = 0
    sat = 0
    lo = 32767
    hi = -32768
    i = 0
    while i < n:
        x = pcm[i]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        if x >= 32767 or x <= -32768:
            clip_in += 1
        acc = ((x - x1) << 8) + acc - (acc >> 8)
        x1 = x
        y = ((acc >> 8) * gain_q8) >> 8
        if y > 32767:
            y = 32767
            sat += 1
        elif y < -32768:
            y = -32768
            sat += 1
        pcm[i] = y
        if y < 0:
            s_full -= y
        else:
            s_full += y
        y4 = y << 4
        la += (y4 - la) >> 3
        a = y4 - la
        m1 += (a - m1) >> 1
        m2 += (m1 - m2) >> 1
        h = a - m2
        if m2 < 0:
            s_mid -= m2
        else:
            s_mid += m2
        if h < 0:
            s_high -= h
        else:
            s_high += h
        i += 1
    st[0] = x1
    st[1] = acc
    st[2] = la
    st[3] = m1
    st[4] = m2
    out[0] = s_full
    out[1] = s_mid
    out[2] = s_high
    out[3] = clip_in
    out[4] = sat
    out[5] = hi - lo if n > 0 else 0
    out[6] = ilog2_q4(s_full)
    out[7] = ilog2_q4(s_mid)
    out[8] = ilog2_q4(s_high)


def _copy16_plain(dst, doff, src, soff, n):
    i = 0
    while i < n:
        dst[doff + i] = src[soff + i]
        i += 1


def _fill16_plain(dst, off, n, value):
    i = 0
    while i < n:
        dst[off + i] = value
        i += 1


def _i32_to_i16_plain(src, dst, n, shift):
    i = 0
    while i < n:
        v = src[i] >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        dst[i] = v
        i += 1


if _MPY:  # every MicroPython port the badge uses has viper

    @micropython.viper
    def _log_viper(v: int) -> int:
        if v < 1:
            return 0
        frac = ptr8(_LOGFRAC)
        n = 0
        while v >= 32:
            v >>= 1
            n += 1
        while v < 16:
            v <<= 1
            n -= 1
        return (n + 4) * 16 + int(frac[v - 16])

    @micropython.viper
    def _condition_viper(pcm, n: int, st, out, gain_q8: int):
        p = ptr16(pcm)
        s = ptr32(st)
        o = ptr32(out)
        if s[5] == 0 and n > 0:  # first frame: start the DC filter at the first sample
            v = int(p[0])
            if v & 0x8000:
                v -= 0x10000
            s[0] = v
            s[5] = 1
        # ptr32 loads zero-extend on 64-bit hosts: sign-extend in a way that is a
        # no-op on the badge's 32-bit core
        sx = 1
        sx <<= 31  # at run time: a folded 1 << 31 is no small int on a 32-bit target
        x1 = (int(s[0]) ^ sx) - sx
        acc = (int(s[1]) ^ sx) - sx
        la = (int(s[2]) ^ sx) - sx
        m1 = (int(s[3]) ^ sx) - sx
        m2 = (int(s[4]) ^ sx) - sx
        s_full = 0
        s_mid = 0
        s_high = 0
        clip_in = 0
        sat = 0
        lo = 32767
        hi = -32768
        i = 0
        while i < n:
            x = int(p[i])
            if x & 0x8000:
                x -= 0x10000
            if x < lo:
                lo = x
            if x > hi:
                hi = x
            if x >= 32767 or x <= -32768:
                clip_in += 1
            acc = ((x - x1) << 8) + acc - (acc >> 8)
            x1 = x
            y = ((acc >> 8) * gain_q8) >> 8
            if y > 32767:
                y = 32767
                sat += 1
            elif y < -32768:
                y = -32768
                sat += 1
            p[i] = y & 0xFFFF
            if y < 0:
                s_full -= y
            else:
                s_full += y
            y4 = y << 4
            la += (y4 - la) >> 3
            a = y4 - la
            m1 += (a - m1) >> 1
            m2 += (m1 - m2) >> 1
            h = a - m2
            if m2 < 0:
                s_mid -= m2
            else:
                s_mid += m2
            if h < 0:
                s_high -= h
            else:
                s_high += h
            i += 1
        s[0] = x1
        s[1] = acc
        s[2] = la
        s[3] = m1
        s[4] = m2
        o[0] = s_full
        o[1] = s_mid
        o[2] = s_high
        o[3] = clip_in
        o[4] = sat
        if n > 0:
            o[5] = hi - lo
        else:
            o[5] = 0
        o[6] = int(_log_viper(s_full))
        o[7] = int(_log_viper(s_mid))
        o[8] = int(_log_viper(s_high))

    @micropython.viper
    def _copy16_viper(dst, doff: int, src, soff: int, n: int):
        d = ptr16(dst)
        s = ptr16(src)
        i = 0
        while i < n:
            d[doff + i] = s[soff + i]
            i += 1

    @micropython.viper
    def _fill16_viper(dst, off: int, n: int, value: int):
        d = ptr16(dst)
        v = value & 0xFFFF
        i = 0
        while i < n:
            d[off + i] = v
            i += 1

    @micropython.viper
    def _i32_to_i16_viper(src, dst, n: int, shift: int):
        s = ptr32(src)
        d = ptr16(dst)
        sx = 1
        sx <<= 31  # at run time: a folded 1 << 31 is no small int on a 32-bit target
        i = 0
        while i < n:
            v = ((int(s[i]) ^ sx) - sx) >> shift
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            d[i] = v & 0xFFFF
            i += 1

    FAST = True
else:  # CPython
    _i32_to_i16_viper = _i32_to_i16_plain
    _condition_viper = _condition_plain
    _copy16_viper = _copy16_plain
    _fill16_viper = _fill16_plain
    FAST = False


def condition(pcm, n, st, out, gain_q8=256, fast=FAST):
    """Condition `n` samples of `pcm` (array('h')) in place; fill `out` (see module doc)."""
    if fast and FAST:
        _condition_viper(pcm, n, st, out, gain_q8)
    else:
        _condition_plain(pcm, n, st, out, gain_q8)


def copy16(dst, doff, src, soff, n, fast=FAST):
    """dst[doff:doff+n] = src[soff:soff+n] for int16 arrays, without allocating."""
    if fast and FAST:
        _copy16_viper(dst, doff, src, soff, n)
    else:
        _copy16_plain(dst, doff, src, soff, n)


def fill16(dst, off, n, value=0, fast=FAST):
    """dst[off:off+n] = value, without allocating."""
    if fast and FAST:
        _fill16_viper(dst, off, n, value)
    else:
        _fill16_plain(dst, off, n, value)


def i32_to_i16(src, dst, n, shift=16, fast=FAST):
    """I2S 32-bit slots (array('i')) -> int16 (array('h')): arithmetic shift, saturate."""
    if fast and FAST:
        _i32_to_i16_viper(src, dst, n, shift)
    else:
        _i32_to_i16_plain(src, dst, n, shift)
