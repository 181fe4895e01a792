"""Voice-activity gate on 20 ms frames: decides which audio becomes clips.

The gate keeps a ring of recent frames and tells a target (the recorder) when a clip
starts, which frames belong to it, and when it ends. Frame levels come from
`firmware.dsp.condition` (band levels in 1/16 octave); all arithmetic is integer, so
the badge, the unix port and CPython decide alike.

Detection (an endpoint detector in the Rabiner-Sambur manner, adaptive to the room):
- noise floor per band, tracked as a running minimum that creeps up by
  `_RISE` (about 1.2 dB/s), and jumps up to the minimum of the last 8 s when even that
  is above it (minimum statistics: a room that turns loud for good is followed within
  seconds, while speech, which always has quieter moments within 8 s, is not mistaken
  for the room);
- a frame is voiced when its mid band (340 Hz - 1.7 kHz) is `on_db10`/10 dB above its
  floor and not more than `tilt_db10`/10 dB less above it than the high band is above
  its own (rustle, clatter and clicks light up the high band far more than voices do);
- a clip starts after `onset_frames` voiced frames in a row; its first frame is found
  by walking back over frames where either band is still `low_db10`/10 dB above its
  floor (at most `backtrack_ms`: weak onsets and fricatives), then `preroll_ms`
  further back (never into the previous clip);
- a clip ends `hangover_ms` after the last voiced frame, never shorter than
  `min_clip_ms`; at `max_clip_ms` it is split: the next clip starts with the very
  next frame, so no sample is lost or repeated at the join.

The target gets `clip_start(first_sample)`, `clip_frame(pcm, n)` for each frame in
order, and `clip_end()`; sample indexes count from the first frame pushed.
"""

from array import array

from firmware import const, dsp

__all__ = ["Gate", "FRAME_SAMPLES", "FRAME_MS", "db_to_q"]

FRAME_SAMPLES = const(320)  # 20 ms at 16 kHz
FRAME_MS = const(20)
_RISE = const(1)  # floor creep per frame in 1/256 octave (about 1.2 dB/s)
_SUB_FRAMES = const(25)  # minimum-statistics window: 16 sub-windows of 0.5 s
_SUBS = const(16)
_JUMP_MARGIN = const(43)  # the floor jumps to 1 dB under the window's minimum
_IDLE = const(0)
_CLIP = const(1)


def db_to_q(db_tenths):
    """Tenths of a dB -> level units of the gate (1/256 octave of amplitude)."""
    return (db_tenths * 2560 + 301) // 602


class Gate:
    """Adaptive voice-activity gate with pre-roll, hangover, min and max clip length."""

    def __init__(self, target, preroll_ms=500, hangover_ms=600, min_clip_ms=1000,
                 max_clip_ms=60000, backtrack_ms=200, onset_frames=2, on_db10=60,
                 low_db10=40, tilt_db10=80):
        if preroll_ms < 0 or hangover_ms < 0 or backtrack_ms < 0:
            raise ValueError("gate times must not be negative")
        if max_clip_ms < FRAME_MS or max_clip_ms < min_clip_ms:
            raise ValueError("max_clip_ms must be >= min_clip_ms and one frame")
        self.target = target
        self.preroll = (preroll_ms + FRAME_MS - 1) // FRAME_MS
        self.hangover = (hangover_ms + FRAME_MS - 1) // FRAME_MS
        self.min_frames = (min_clip_ms + FRAME_MS - 1) // FRAME_MS
        self.max_frames = max_clip_ms // FRAME_MS
        self.backtrack = (backtrack_ms + FRAME_MS - 1) // FRAME_MS
        self.onset = max(1, onset_frames)
        self.on_q = db_to_q(on_db10)
        self.low_q = db_to_q(low_db10)
        self.tilt_q = db_to_q(tilt_db10)
        n = self.preroll + self.backtrack + self.onset + 1
        self.ring_frames = n
        # one zero template for every slot: no garbage between the slots to fragment the heap
        zero = bytes(2 * FRAME_SAMPLES)
        self._ring = [array("h", zero) for _ in range(n)]
        self._snr = array("i", bytes(4 * n))
        self._wmin = array("i", bytes(8 * _SUBS))  # sub-window minima: mid, then high
        self._sub_k = 0
        self._sub_n = 0
        self._subs_seen = 0
        self._sub_mid = 1 << 20
        self._sub_high = 1 << 20
        self.frame = 0  # index of the frame being pushed
        self._state = _IDLE
        self._floor_mid = -1
        self._floor_high = -1
        self._run = 0
        self._split = False
        self._start_ok = 0  # first frame a new clip may take (after the last clip)
        self._clip_first = 0
        self._clip_frames = 0
        self._last_voice = 0
        self.voiced_frames = 0
        self.clips = 0

    # -- buffers ---------------------------------------------------------------------

    def buffer(self):
        """The ring slot the caller fills with the next frame (array('h') of 320)."""
        return self._ring[self.frame % self.ring_frames]

    @property
    def in_clip(self):
        return self._state == _CLIP

    @property
    def floor_db10(self):
        """Mid-band noise floor in tenths of a dB of frame level (for status)."""
        return (self._floor_mid * 602) // 2560 if self._floor_mid >= 0 else 0

    # -- decisions -------------------------------------------------------------------

    def _voiced(self, stats):
        lm = stats[dsp.S_LOG_MID] << 4
        lh = stats[dsp.S_LOG_HIGH] << 4
        if self._floor_mid < 0:
            self._floor_mid = lm
            self._floor_high = lh
        sm = lm - self._floor_mid
        sh = lh - self._floor_high
        # the walk back at onset follows either band (weak fricatives light the high one)
        self._snr[self.frame % self.ring_frames] = sm if sm > sh else sh
        voiced = sm > self.on_q and sm - sh > -self.tilt_q
        # running minimum that creeps up (the floor follows a louder room)
        # (through voiced frames too: a room that turns loud for good must not look like
        # endless speech)
        if lm < self._floor_mid:
            self._floor_mid = lm
        else:
            self._floor_mid += _RISE
        if lh < self._floor_high:
            self._floor_high = lh
        else:
            self._floor_high += _RISE
        self._window(lm, lh)
        return voiced

    def _window(self, lm, lh):
        # minimum statistics: if even the quietest frame of the last few seconds is above
        # the floor, the room got louder (a fan, a crowd): jump the floor up to it
        if lm < self._sub_mid:
            self._sub_mid = lm
        if lh < self._sub_high:
            self._sub_high = lh
        self._sub_n += 1
        if self._sub_n < _SUB_FRAMES:
            return
        wm = self._wmin
        k = self._sub_k
        wm[k] = self._sub_mid
        wm[k + _SUBS] = self._sub_high
        self._sub_k = (k + 1) % _SUBS
        self._sub_n = 0
        self._sub_mid = 1 << 20
        self._sub_high = 1 << 20
        if self._subs_seen < _SUBS:
            self._subs_seen += 1
            return
        m = wm[0]
        h = wm[_SUBS]
        i = 1
        while i < _SUBS:
            if wm[i] < m:
                m = wm[i]
            if wm[i + _SUBS] < h:
                h = wm[i + _SUBS]
            i += 1
        m -= _JUMP_MARGIN
        h -= _JUMP_MARGIN
        if m > self._floor_mid:
            self._floor_mid = m
        if h > self._floor_high:
            self._floor_high = h

    def push(self, stats):
        """Decide on the frame just written into `buffer()`; its levels are in `stats`."""
        f = self.frame
        voiced = self._voiced(stats)
        if voiced:
            self.voiced_frames += 1
            self._run += 1
        else:
            self._run = 0
        if self._state == _IDLE:
            if self._split:
                # the clip before was cut at max length mid-speech: go on seamlessly
                self._split = False
                self._begin(f)
                self._emit(f)
                if voiced:
                    self._last_voice = f
            elif self._run >= self.onset:
                first = f - self.onset + 1
                oldest = f - self.ring_frames + 1
                if oldest < self._start_ok:
                    oldest = self._start_ok
                n = 0
                while n < self.backtrack and first - 1 >= oldest:
                    if self._snr[(first - 1) % self.ring_frames] <= self.low_q:
                        break
                    first -= 1
                    n += 1
                first -= self.preroll
                if first < oldest:
                    first = oldest
                self._begin(first)
                k = first
                while k <= f:
                    self._emit(k)
                    k += 1
                self._last_voice = f
        else:
            if voiced:
                self._last_voice = f
            self._emit(f)
            if self._clip_frames >= self.max_frames:
                self._end(f + 1)
                # still talking: the next clip starts with the very next frame
                self._split = f - self._last_voice < self.hangover
            elif f - self._last_voice >= self.hangover and self._clip_frames >= self.min_frames:
                self._end(f + 1)
        self.frame = f + 1

    def _begin(self, first):
        self._state = _CLIP
        self._clip_first = first
        self._clip_frames = 0
        self.clips += 1
        self.target.clip_start(first * FRAME_SAMPLES)

    def _emit(self, k):
        self._clip_frames += 1
        self.target.clip_frame(self._ring[k % self.ring_frames], FRAME_SAMPLES)

    def _end(self, next_ok):
        self._state = _IDLE
        self._start_ok = next_ok
        self._run = 0
        self.target.clip_end()

    def flush(self):
        """End of input (or of the session): close an open clip."""
        self._split = False
        if self._state == _CLIP:
            self._end(self.frame)
