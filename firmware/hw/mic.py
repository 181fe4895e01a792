"""The microphone: 16 kHz mono int16 frames from I2S on the badge, from a WAV file elsewhere.

Every backend has `readinto(buf) -> samples` (fills an array('h'), returns how many
samples it wrote, 0 at the end) and `close()`:

- `I2SMic`: the badge's MEMS microphone (ICS-43434 / INMP441) on `machine.I2S`, pins
  from the board pin map (`firmware.hw.pins`); 32-bit slots are shifted to 16 bits
  (`shift`, default 14 = the top 18 bits with 12 dB of headroom given away to gain);
- `WavMic`: a 16-bit PCM, 16 kHz, mono WAV file (or a raw file of such samples) read
  as if it came from the microphone; the recording simulation and tests use it.

On a computer, a live microphone through PortAudio lives on the CPython side
(`badgecore.mic_backends`), which feeds the same frames.
"""

import struct

from firmware import const, dsp

__all__ = ["MicError", "WavMic", "I2SMic", "open_mic"]

_RATE = const(16000)


class MicError(OSError):
    """The microphone (or the file standing in for it) cannot deliver 16 kHz mono int16."""


class WavMic:
    """Read a 16 kHz mono 16-bit PCM WAV (or raw samples with `raw=True`) frame by frame."""

    def __init__(self, path, raw=False):
        try:
            self._f = open(path, "rb")
        except OSError as exc:
            raise MicError("cannot open " + str(path) + ": " + str(exc))
        self.path = path
        self.remaining = -1  # bytes of audio left (-1: until the end of the file)
        if not raw:
            try:
                self._parse()
            except MicError:
                self._f.close()
                raise

    def _parse(self):
        f = self._f
        head = f.read(12)
        if len(head) < 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise MicError(str(self.path) + ": not a WAV file")
        fmt_ok = False
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                raise MicError(str(self.path) + ": WAV has no data chunk")
            cid = ch[0:4]
            size = struct.unpack("<I", ch[4:8])[0]
            if cid == b"fmt ":
                body = f.read(size)
                if len(body) < 16:
                    raise MicError(str(self.path) + ": WAV fmt chunk too short")
                tag, chans, rate, _br, _align, bits = struct.unpack("<HHIIHH", body[:16])
                if tag not in (1, 0xFFFE) or chans != 1 or rate != _RATE or bits != 16:
                    raise MicError(
                        "{}: need 16-bit PCM mono {} Hz, got format {} {} ch {} Hz {} bit".format(
                            self.path, _RATE, tag, chans, rate, bits))
                fmt_ok = True
                if size & 1:
                    f.read(1)
            elif cid == b"data":
                if not fmt_ok:
                    raise MicError(str(self.path) + ": WAV data before fmt")
                self.remaining = size
                return
            else:
                f.seek(size + (size & 1), 1)

    def readinto(self, buf):
        """Fill `buf` (array('h')) with the next samples; return the count (0 at the end)."""
        want = 2 * len(buf)
        if 0 <= self.remaining < want:
            want = self.remaining
            if want <= 0:
                return 0
            got = self._f.readinto(memoryview(buf)[: want // 2])
        else:
            got = self._f.readinto(buf)
        if got is None:
            got = 0
        if self.remaining >= 0:
            self.remaining -= got
        return got // 2

    def close(self):
        self._f.close()


class I2SMic:
    """The badge's I2S MEMS microphone (imports `machine` only when constructed)."""

    def __init__(self, frame_samples=320, shift=14, rev=None, bus=0, ibuf=16384):
        import machine  # badge only

        from firmware.hw import pins

        board = pins.load(rev)
        p = board["pins"]
        self._en = None
        if "mic_en" in p:
            on = 1 if board.get("mic_en_active_high", True) else 0
            self._en = machine.Pin(p["mic_en"], machine.Pin.OUT, value=on)
        self._i2s = machine.I2S(
            bus,
            sck=machine.Pin(p["i2s_sck"]),
            ws=machine.Pin(p["i2s_ws"]),
            sd=machine.Pin(p["i2s_sd"]),
            mode=machine.I2S.RX,
            bits=32,
            format=machine.I2S.MONO,
            rate=_RATE,
            ibuf=ibuf,
        )
        from array import array

        self.shift = shift
        self._raw = array("i", bytes(4 * frame_samples))
        self._board = board

    def readinto(self, buf):
        """Fill `buf` with samples from the mic (blocks until a frame is there)."""
        n = len(buf)
        if n > len(self._raw):
            n = len(self._raw)
        if n == len(self._raw):
            got = self._i2s.readinto(self._raw) // 4  # the steady state: no allocation
        else:
            got = self._i2s.readinto(memoryview(self._raw)[:n]) // 4
        dsp.i32_to_i16(self._raw, buf, got, self.shift)
        return got

    def close(self):
        self._i2s.deinit()
        if self._en is not None:
            self._en.value(0 if self._board.get("mic_en_active_high", True) else 1)


def open_mic(source=None, **kw):
    """`source` None: the badge's I2S mic; a path: that WAV file (`raw=True` for raw)."""
    if source is None:
        return I2SMic(**kw)
    return WavMic(source, **kw)
