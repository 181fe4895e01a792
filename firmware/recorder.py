"""The recording path: mic frames -> DC removal and gain -> gate -> IMA ADPCM -> clip sink.

`Recorder` owns the per-session recording state: the gate, the encoder, one 505-sample
block buffer and one 256-byte output block, all allocated once. Per frame:

    buf = rec.buffer()        # a 320-sample array('h') to fill (the mic reads into it)
    mic.readinto(buf)
    rec.push()                # condition, gate, encode, store

A clip sink (docs/contracts.md, "Recording -> store") receives
`open_clip(meta)`, `write_block(block)` for each 256-byte block and `close_clip(samples)`.
The last block of a clip is padded with silence; `samples` is the true count.

Each clip's meta names the badge, session, per-badge `seq` (one more per clip), the
start time (session start from the RTC plus the clip's offset, as `start_epoch` seconds
UTC and `start_ms`), the offset of its first sample from the session's start and from
the start of the input, and the sample rate.

The recorder also watches the microphone (`health()`): a dead or silent mic, clipping
and full-scale noise are counted with fixed counters, so a 4-hour silent session uses
no more memory than a short one.
"""

from array import array

from firmware import adpcm, const, dsp
from firmware.vad_gate import FRAME_SAMPLES, Gate

__all__ = ["Recorder", "RATE_HZ", "FRAME_SAMPLES", "Health", "record_stream"]

RATE_HZ = const(16000)
_FRAMES_PER_S = const(50)
_SILENT_SWING = const(8)  # peak-to-peak below this (LSB) = the mic hears nothing
_SILENT_REPORT_S = const(10)
_LOUD_L1 = const(320 * 10000)  # mean |x| above ~1/3 of full scale in a frame = full-scale noise
_LOUD_REPORT_FRAMES = const(25)  # half a second of it
_CLIP_WINDOW = const(3000)  # frames (one minute) per clipping window
_MAX_GAIN_Q8 = const(8192)


class Health:
    """What the recorder noticed about the microphone; `text` is one readable line."""

    def __init__(self, code, text, silent_s, clipped, loud_s, frames, silent_max_s=0,
                 loud_max_s=0):
        self.code = code  # "ok", "mic_silent", "clipping", "loud_noise"
        self.text = text
        self.silent_s = silent_s  # the mic has been silent for this long, now
        self.clipped = clipped  # input samples at full scale, whole session
        self.loud_s = loud_s  # full-scale noise for this long, now
        self.frames = frames
        self.silent_max_s = silent_max_s  # longest silent stretch of the session
        self.loud_max_s = loud_max_s  # longest full-scale stretch of the session

    def as_dict(self):
        return {
            "code": self.code,
            "text": self.text,
            "silent_s": self.silent_s,
            "clipped_samples": self.clipped,
            "loud_s": self.loud_s,
            "frames": self.frames,
            "silent_max_s": self.silent_max_s,
            "loud_max_s": self.loud_max_s,
        }


def _duration(s):
    if s >= 120:
        return "{} min".format(s // 60)
    return "{} s".format(s)


class Recorder:
    """Run frames through gate and encoder into clips for one session."""

    def __init__(self, sink, badge, session, seq=0, start_epoch=0, start_ms=0,
                 session_offset=0, input_offset=0, gain_q8=256, fast=None, on_clip=None,
                 on_open=None, **gate_opts):
        if not 0 < gain_q8 <= _MAX_GAIN_Q8:
            raise ValueError("gain_q8 must be 1..{}".format(_MAX_GAIN_Q8))
        self.sink = sink
        self.badge = badge
        self.session = session
        self.seq = seq
        self.start_epoch = start_epoch
        self.start_ms = start_ms
        self.session_offset = session_offset
        self.input_offset = input_offset
        self.gain_q8 = gain_q8
        self.fast = dsp.FAST if fast is None else bool(fast and dsp.FAST)
        self.on_clip = on_clip  # called with the sidecar dict of each closed clip
        self.on_open = on_open  # called with the meta dict of each clip as it opens
        self.gate = Gate(self, **gate_opts)
        self._enc = adpcm.Encoder(fast=self.fast)
        self._st = dsp.new_state()
        self._stats = dsp.new_stats()
        self._pcm = array("h", bytes(2 * adpcm.BLOCK_SAMPLES))
        self._out = bytearray(adpcm.BLOCK_BYTES)
        self._fill = 0
        self._samples = 0
        self._tail = 0
        self.clip_open = False  # a clip is open in the sink
        self.clips = 0
        self.kept_samples = 0
        self.last_sidecar = None
        # health counters
        self.frames = 0
        self._silent_run = 0
        self._silent_max = 0
        self._loud_run = 0
        self._loud_max = 0
        self.clipped = 0
        self._clip_win = 0
        self._clip_win_frames = 0
        self._clip_last = 0

    # -- per frame -------------------------------------------------------------------

    def buffer(self):
        """The buffer to fill with the next 320 samples (int16, 16 kHz mono)."""
        return self.gate.buffer()

    def push(self, n=FRAME_SAMPLES):
        """Process the frame in `buffer()`; a short last frame is padded with silence."""
        buf = self.gate.buffer()
        if n < FRAME_SAMPLES:
            # the padding is for the gate only; clips get the real samples
            dsp.fill16(buf, n, FRAME_SAMPLES - n, 0, self.fast)
            self._tail = FRAME_SAMPLES - n
        stats = self._stats
        dsp.condition(buf, FRAME_SAMPLES, self._st, stats, self.gain_q8, self.fast)
        self._watch(stats)
        self.gate.push(stats)

    def _watch(self, stats):
        self.frames += 1
        if stats[dsp.S_SWING] < _SILENT_SWING:
            self._silent_run += 1
            if self._silent_run > self._silent_max:
                self._silent_max = self._silent_run
        else:
            self._silent_run = 0
        if stats[dsp.S_FULL] >= _LOUD_L1:
            self._loud_run += 1
            if self._loud_run > self._loud_max:
                self._loud_max = self._loud_run
        else:
            self._loud_run = 0
        c = stats[dsp.S_CLIP_IN]
        self.clipped += c
        self._clip_win += c
        self._clip_win_frames += 1
        if self._clip_win_frames >= _CLIP_WINDOW:
            self._clip_last = self._clip_win
            self._clip_win = 0
            self._clip_win_frames = 0

    def finish(self):
        """End of the session: close the open clip (if any)."""
        self.gate.flush()

    # -- gate target -----------------------------------------------------------------

    def clip_start(self, first_sample):
        soff = self.session_offset + first_sample
        t_ms = self.start_ms + (soff * 1000) // RATE_HZ
        meta = {
            "badge": self.badge,
            "session": self.session,
            "seq": self.seq,
            "start_epoch": self.start_epoch + t_ms // 1000,
            "start_ms": t_ms % 1000,
            "session_offset_samples": soff,
            "offset_samples": self.input_offset + first_sample,
            "sample_rate": RATE_HZ,
        }
        self.sink.open_clip(meta)
        self.clip_open = True
        if self.on_open is not None:
            self.on_open(meta)
        self._enc.reset()
        self._fill = 0
        self._samples = 0

    def clip_frame(self, pcm, n):
        if self._tail and pcm is self.gate.buffer():
            n -= self._tail
        pos = 0
        fill = self._fill
        while pos < n:
            m = adpcm.BLOCK_SAMPLES - fill
            if m > n - pos:
                m = n - pos
            dsp.copy16(self._pcm, fill, pcm, pos, m, self.fast)
            fill += m
            pos += m
            if fill == adpcm.BLOCK_SAMPLES:
                self._enc.encode_block(self._pcm, self._out)
                self.sink.write_block(self._out)
                fill = 0
        self._fill = fill
        self._samples += n

    def clip_end(self):
        if self._fill:
            dsp.fill16(self._pcm, self._fill, adpcm.BLOCK_SAMPLES - self._fill, 0, self.fast)
            self._enc.encode_block(self._pcm, self._out)
            self.sink.write_block(self._out)
            self._fill = 0
        side = self.sink.close_clip(self._samples)
        self.clip_open = False
        # a store that owns the chain may assign the number itself: follow it
        if isinstance(side, dict) and isinstance(side.get("seq"), int):
            self.seq = side["seq"] + 1
        else:
            self.seq += 1
        self.clips += 1
        self.kept_samples += self._samples
        self.last_sidecar = side
        if self.on_clip is not None:
            self.on_clip(side)

    # -- status ----------------------------------------------------------------------

    def health(self):
        """A `Health` record: the worst current condition of the microphone."""
        silent_s = self._silent_run // _FRAMES_PER_S
        loud_s = self._loud_run // _FRAMES_PER_S
        recent_clip = self._clip_win if self._clip_win > self._clip_last else self._clip_last
        if silent_s >= _SILENT_REPORT_S:
            code, text = "mic_silent", "mic silent for " + _duration(silent_s)
        elif self._loud_run >= _LOUD_REPORT_FRAMES:
            code, text = "loud_noise", "full-scale noise for " + _duration(loud_s)
        elif recent_clip * 1000 >= _CLIP_WINDOW * FRAME_SAMPLES:  # >= 0.1 % of samples
            code, text = "clipping", "input clipping: {} samples in the last minute".format(recent_clip)
        else:
            code, text = "ok", "ok"
        return Health(code, text, silent_s, self.clipped, loud_s, self.frames,
                      self._silent_max // _FRAMES_PER_S, self._loud_max // _FRAMES_PER_S)


def record_stream(mic, rec, max_frames=-1):
    """Feed every frame `mic.readinto` gives into `rec` until it runs dry; close the clip.

    Returns the number of frames processed. `max_frames` >= 0 stops earlier (a session's
    maximum length).
    """
    frames = 0
    while max_frames < 0 or frames < max_frames:
        n = mic.readinto(rec.buffer())
        if n <= 0:
            break
        rec.push(n)
        frames += 1
        if n < FRAME_SAMPLES:
            break
    rec.finish()
    return frames
