"""Test support that runs on both interpreters (MicroPython unix port and CPython).

`MemSink` is an in-memory clip sink with the recorder's sink interface; `Synth` makes
deterministic test audio (noise, tones, silence) frame by frame without floats.
"""

import hashlib
from array import array

__all__ = ["MemSink", "Synth", "FrameLog"]


class MemSink:
    """Keeps every clip's meta, blocks and sample count; hashes like the real sinks."""

    def __init__(self, copy=True):
        self.clips = []
        self.copy = copy
        self.blocks = 0
        self._cur = None

    def open_clip(self, meta):
        assert self._cur is None, "clip already open"
        self._cur = {"meta": meta, "data": bytearray() if self.copy else None, "blocks": 0,
                     "hash": hashlib.sha256()}

    def write_block(self, block):
        assert len(block) == 256
        c = self._cur
        if self.copy:
            c["data"].extend(block)
        c["hash"].update(block)
        c["blocks"] += 1
        self.blocks += 1

    def close_clip(self, samples):
        c = self._cur
        self._cur = None
        c["samples"] = samples
        c["hash"] = c["hash"].digest()
        self.clips.append(c)
        side = dict(c["meta"])
        side["samples"] = samples
        return side


class FrameLog:
    """A gate target that records which stream frames each clip got (by first sample)."""

    def __init__(self):
        self.clips = []
        self._cur = None

    def clip_start(self, first):
        assert self._cur is None
        self._cur = [first, 0, bytearray()]

    def clip_frame(self, pcm, n):
        self._cur[1] += n
        # remember the frame's first sample tag (the synth writes the frame index there)
        self._cur[2].extend(bytes(pcm)[0:2])

    def clip_end(self):
        self.clips.append(tuple(self._cur[:2]) + (bytes(self._cur[2]),))
        self._cur = None


class Synth:
    """Integer pseudo-random noise and square-ish tones, deterministic on every port."""

    def __init__(self, seed=1):
        self.s = seed & 0x7FFFFFFF or 1

    def _rand(self):
        # xorshift32
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def noise(self, buf, amp, n=None):
        n = len(buf) if n is None else n
        for i in range(n):
            buf[i] = (self._rand() % (2 * amp + 1)) - amp if amp else 0

    def tone(self, buf, amp, period, phase=0, n=None):
        """A triangle wave (speech-band when period is 8..40 samples) plus light noise."""
        n = len(buf) if n is None else n
        half = period // 2
        for i in range(n):
            p = (phase + i) % period
            tri = (p if p < half else period - p) * 4 * amp // period - amp
            v = tri + (self._rand() % 33) - 16
            buf[i] = 32767 if v > 32767 else (-32768 if v < -32768 else v)  # a clipping mic
        return phase + n


def frames(spec, seed=1):
    """Yield (array('h') frame) for spec = [(kind, frames, amp), ...]; kind noise/tone/zero."""
    syn = Synth(seed)
    buf = array("h", bytes(640))
    ph = 0
    for kind, count, amp in spec:
        for _ in range(count):
            if kind == "tone":
                ph = syn.tone(buf, amp, 20, ph)
            elif kind == "noise":
                syn.noise(buf, amp)
            else:
                for i in range(320):
                    buf[i] = amp
            yield buf
