"""IMA ADPCM (4 bits/sample) in WAV format 0x11 blocks: 256 bytes = 505 mono samples.

Block layout (Microsoft/IMA WAV, mono): int16 LE first sample (stored verbatim), uint8
step index, uint8 0, then 252 bytes of 4-bit codes for samples 1..504, earlier sample
in the low nibble. Any WAV IMA ADPCM decoder (sox, ffmpeg, players) reads these blocks.

`Encoder` keeps the step index across blocks of one clip. `encode_block(pcm, out)`
encodes 505 int16 samples (an `array('h')`) into a 256-byte bytearray without
allocating. The per-sample loop has a `@micropython.viper` fast path and a plain
fallback that give bit-identical output; `FAST` says which one `encode_block` uses.
`decode_block` is the reference decoder for tests and host tools.
"""

import sys

_MPY = sys.implementation.name == "micropython"
if _MPY:
    import micropython

from array import array

from firmware import const

__all__ = [
    "BLOCK_BYTES",
    "BLOCK_SAMPLES",
    "FAST",
    "Encoder",
    "decode_block",
    "decode",
    "blocks_for",
]

BLOCK_BYTES = const(256)
BLOCK_SAMPLES = const(505)
_DATA_BYTES = const(252)
_SEARCH = const(3)

# The 89 IMA step sizes.
STEPS = array(
    "H",
    (
        7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
        50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230,
        253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
        1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327,
        3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442,
        11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794,
        32767,
    ),
)
# Step index change per code magnitude (codes 0-3: -1; 4..7: 2, 4, 6, 8).
_INDEX_ADJ = (-1, -1, -1, -1, 2, 4, 6, 8)


def blocks_for(samples):
    """Number of 256-byte blocks that hold `samples` samples (the last one padded)."""
    return (samples + BLOCK_SAMPLES - 1) // BLOCK_SAMPLES


def _encode_plain(pcm, out, st, n):
    """Encode samples 0..n-1 of `pcm` into `out`; `st` = array('i', [pred, index, error])."""
    steps = STEPS
    adj = _INDEX_ADJ
    pred = pcm[0]
    idx = st[1]
    out[0] = pred & 0xFF
    out[1] = (pred >> 8) & 0xFF
    out[2] = idx
    out[3] = 0
    o = 4
    lo = 0
    err = 0
    i = 1
    while i < n:
        x = pcm[i]
        diff = x - pred
        if diff < 0:
            code = 8
            diff = -diff
        else:
            code = 0
        step = steps[idx]
        # mag = min(7, 4 * diff // step), by binary long division (no divide)
        d4 = diff << 2
        mag = 0
        if d4 >= step << 2:
            mag = 4
            d4 -= step << 2
        if d4 >= step << 1:
            mag |= 2
            d4 -= step << 1
        if d4 >= step:
            mag |= 1
        code |= mag
        vp = step >> 3
        if mag & 4:
            vp += step
        if mag & 2:
            vp += step >> 1
        if mag & 1:
            vp += step >> 2
        if code & 8:
            pred -= vp
            if pred < -32768:
                pred = -32768
        else:
            pred += vp
            if pred > 32767:
                pred = 32767
        if x > pred:
            err += x - pred
        else:
            err += pred - x
        idx += adj[code & 7]
        if idx < 0:
            idx = 0
        elif idx > 88:
            idx = 88
        if i & 1:
            lo = code
        else:
            out[o] = lo | (code << 4)
            o += 1
        i += 1
    st[0] = pred
    st[1] = idx
    st[2] = err


def _copy8_plain(dst, src, n):
    i = 0
    while i < n:
        dst[i] = src[i]
        i += 1


if _MPY:  # every MicroPython port the badge uses has viper

    @micropython.viper
    def _copy8_viper(dst, src, n: int):
        d = ptr8(dst)
        s = ptr8(src)
        i = 0
        while i < n:
            d[i] = s[i]
            i += 1

    @micropython.viper
    def _encode_viper(pcm, out, st, n: int):
        src = ptr16(pcm)
        dst = ptr8(out)
        s = ptr32(st)
        steps = ptr16(STEPS)
        pred = int(src[0])
        if pred & 0x8000:
            pred -= 0x10000
        idx = int(s[1])
        dst[0] = pred & 0xFF
        dst[1] = (pred >> 8) & 0xFF
        dst[2] = idx
        dst[3] = 0
        o = 4
        lo = 0
        err = 0
        i = 1
        while i < n:
            x = int(src[i])
            if x & 0x8000:
                x -= 0x10000
            diff = x - pred
            if diff < 0:
                code = 8
                diff = 0 - diff
            else:
                code = 0
            step = int(steps[idx])
            d4 = diff << 2
            mag = 0
            if d4 >= step << 2:
                mag = 4
                d4 -= step << 2
            if d4 >= step << 1:
                mag |= 2
                d4 -= step << 1
            if d4 >= step:
                mag |= 1
            code |= mag
            vp = step >> 3
            if mag & 4:
                vp += step
            if mag & 2:
                vp += step >> 1
            if mag & 1:
                vp += step >> 2
            if code & 8:
                pred -= vp
                if pred < -32768:
                    pred = -32768
            else:
                pred += vp
                if pred > 32767:
                    pred = 32767
            if x > pred:
                err += x - pred
            else:
                err += pred - x
            if code & 4:
                idx += ((code & 3) + 1) << 1
                if idx > 88:
                    idx = 88
            else:
                idx -= 1
                if idx < 0:
                    idx = 0
            if i & 1:
                lo = code
            else:
                dst[o] = lo | (code << 4)
                o += 1
            i += 1
        s[0] = pred
        s[1] = idx
        s[2] = err

    FAST = True
else:  # CPython
    _encode_viper = _encode_plain
    _copy8_viper = _copy8_plain
    FAST = False


class Encoder:
    """Block encoder for one clip.

    Like sox's encoder, each block searches the starting step index near the one the
    previous block ended on (at most `search` away, hill-climbing down then up while the
    block's error, the sum of absolute sample errors, keeps falling) and keeps the best
    encoding; `search=0` is the classic single-pass encoder.
    """

    def __init__(self, fast=None, search=_SEARCH):
        # state: [predictor, step index, error of the last pass]
        self._st = array("i", (0, 0, 0))
        self.fast = FAST if fast is None else bool(fast and FAST)
        self.search = search
        self._scratch = bytearray(BLOCK_BYTES)

    def reset(self):
        """Start a new clip (step index back to 0)."""
        self._st[0] = 0
        self._st[1] = 0
        self._st[2] = 0

    def encode_block(self, pcm, out):
        """Encode 505 int16 samples of `pcm` (array('h')) into the 256-byte `out`."""
        fast = self.fast
        enc = _encode_viper if fast else _encode_plain
        st = self._st
        start = st[1]
        enc(pcm, out, st, BLOCK_SAMPLES)
        if not self.search:
            return out
        # hill-climb from the carried-over index, like sox: down while it helps, then up
        best_err = st[2]
        end_pred = st[0]
        end_idx = st[1]
        scratch = self._scratch
        d = -1
        while d <= 1:
            c = start + d
            while 0 <= c <= 88 and (c - start) * d <= self.search:
                st[1] = c
                enc(pcm, scratch, st, BLOCK_SAMPLES)
                if st[2] >= best_err:
                    break
                best_err = st[2]
                end_pred = st[0]
                end_idx = st[1]
                if fast:
                    _copy8_viper(out, scratch, BLOCK_BYTES)
                else:
                    _copy8_plain(out, scratch, BLOCK_BYTES)
                c += d
            d += 2
        st[0] = end_pred
        st[1] = end_idx
        return out


def decode_block(block, out=None, count=BLOCK_SAMPLES):
    """Decode one 256-byte block into `count` int16 samples (array('h'), returned)."""
    if out is None:
        out = array("h", bytes(2 * count))
    pred = block[0] | (block[1] << 8)
    if pred & 0x8000:
        pred -= 0x10000
    idx = block[2]
    if idx > 88:
        raise ValueError("bad ADPCM step index")
    steps = STEPS
    adj = _INDEX_ADJ
    out[0] = pred
    i = 1
    while i < count:
        b = block[4 + ((i - 1) >> 1)]
        code = (b >> 4) if (i & 1) == 0 else (b & 0x0F)
        step = steps[idx]
        vp = step >> 3
        if code & 4:
            vp += step
        if code & 2:
            vp += step >> 1
        if code & 1:
            vp += step >> 2
        if code & 8:
            pred -= vp
            if pred < -32768:
                pred = -32768
        else:
            pred += vp
            if pred > 32767:
                pred = 32767
        idx += adj[code & 7]
        if idx < 0:
            idx = 0
        elif idx > 88:
            idx = 88
        out[i] = pred
        i += 1
    return out


def decode(data, samples):
    """Decode concatenated blocks into `samples` int16 samples (array('h'))."""
    out = array("h", bytes(2 * samples))
    tmp = array("h", bytes(2 * BLOCK_SAMPLES))
    pos = 0
    off = 0
    while pos < samples:
        if off + BLOCK_BYTES > len(data):
            raise ValueError("ADPCM data shorter than its sample count")
        n = samples - pos
        if n > BLOCK_SAMPLES:
            n = BLOCK_SAMPLES
        decode_block(memoryview(data)[off : off + BLOCK_BYTES], tmp, n)
        for k in range(n):
            out[pos + k] = tmp[k]
        pos += n
        off += BLOCK_BYTES
    return out


def encode(pcm, fast=None):
    """Encode int16 samples (array('h')) into whole blocks; the last one padded with silence.

    The host-side counterpart of `decode` (tests, benchmarks, tools); the badge itself
    encodes block by block through `Encoder` without allocating.
    """
    enc = Encoder(fast)
    n = len(pcm)
    nblocks = blocks_for(n)
    out = bytearray(nblocks * BLOCK_BYTES)
    buf = array("h", bytes(2 * BLOCK_SAMPLES))
    blk = bytearray(BLOCK_BYTES)
    for b in range(nblocks):
        start = b * BLOCK_SAMPLES
        m = n - start
        if m > BLOCK_SAMPLES:
            m = BLOCK_SAMPLES
        for i in range(m):
            buf[i] = pcm[start + i]
        for i in range(m, BLOCK_SAMPLES):
            buf[i] = 0
        enc.encode_block(buf, blk)
        out[b * BLOCK_BYTES : (b + 1) * BLOCK_BYTES] = blk
    return bytes(out)
