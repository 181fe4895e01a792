"""Sessions: one button press starts a meeting recording, a long press ends it.

`RecordingSession` is the badge's recording state machine, free of hardware so it runs anywhere:

- idle + any press (short or long) -> start a session: new session id from the RTC,
  a `Recorder` writing into the clip sink; a short press while recording is ignored
  (a brush against the badge must not end a meeting), a long press stops;
- a session also stops at `max_session_s`, and on a storage error (LED: error);
- the state lives in a small JSON file written on every change and after every clip
  (`state_path`): after a reset mid-meeting, `RecordingSession(...)` finds "recording" and
  resumes the same session, with the offset of new clips counted from the session's
  original start and the per-badge sequence number continuing;
- `led_state()` gives recording / idle / storage_low / error for `firmware.hw.led`.

The caller's loop (see `run`): fill `buffer()` from the mic, `push(n)`, feed button
events to `press(event)` and show `led_state()`.
"""

import json
import os

from firmware import const, recorder
from firmware.hw import button, led

__all__ = ["RecordingSession", "SessionError", "session_id", "run"]

_RATE = const(16000)
_STORAGE_CHECK_FRAMES = const(250)  # look at free space every 5 s while recording


class SessionError(Exception):
    """The session state file is unusable or an action does not fit the state."""


def session_id(epoch, ms=0):
    """A session id from its start time: ``YYYYMMDD-HHMMSS`` (UTC) + ``-mmm``."""
    days = epoch // 86400
    # civil date from days since 1970-01-01 (H. Hinnant's algorithm, integers only)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    s = epoch % 86400
    return "{:04d}{:02d}{:02d}-{:02d}{:02d}{:02d}-{:03d}".format(
        y, m, d, s // 3600, (s // 60) % 60, s % 60, ms % 1000)


def _read_state(path):
    try:
        with open(path) as f:
            st = json.load(f)
    except OSError:
        return None
    except ValueError:
        # a torn write: better to start idle than to crash at boot
        return {"state": "idle", "note": "state file was unreadable"}
    return st if isinstance(st, dict) else None


def _write_state(path, st):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(st))
    try:
        os.remove(path)
    except OSError:
        pass
    os.rename(tmp, path)


class RecordingSession:
    """Start, stop and resume recording sessions; the state survives a reboot."""

    def __init__(self, badge, sink, state_path, clock, max_session_s=4 * 3600,
                 storage_free_pct=None, low_storage_pct=10, recorder_opts=None):
        self.badge = badge
        self.sink = sink
        self.state_path = state_path
        self.clock = clock  # () -> (epoch seconds UTC, ms)
        self.max_samples = max_session_s * _RATE
        self.storage_free_pct = storage_free_pct
        self.low_storage_pct = low_storage_pct
        self.recorder_opts = recorder_opts or {}
        self.rec = None
        self.error = None
        self.stop_reason = None
        self.resumed = False
        st = _read_state(state_path) or {}
        self.next_seq = int(st.get("next_seq", 0))
        self.session = st.get("session")
        self.start_epoch = int(st.get("start_epoch", 0))
        self.start_ms = int(st.get("start_ms", 0))
        self._elapsed = 0  # samples since the session started, as of the last frame
        self._storage_low = False
        if st.get("state") == "recording" and self.session:
            self._resume()

    # -- state -------------------------------------------------------------------------

    @property
    def recording(self):
        return self.rec is not None

    def _save(self):
        _write_state(self.state_path, {
            "state": "recording" if self.rec is not None else "idle",
            "badge": self.badge,
            "session": self.session,
            "start_epoch": self.start_epoch,
            "start_ms": self.start_ms,
            "next_seq": self.next_seq,
            "stop_reason": self.stop_reason,
        })

    def _on_open(self, meta):
        # reserve the number before audio is written: a reset mid-clip must not reuse it
        self.next_seq = meta["seq"] + 1
        self._save()

    def _on_clip(self, side):
        if self.rec is not None:
            self.next_seq = self.rec.seq
        self._save()

    def _sink_next_seq(self):
        ask = getattr(self.sink, "next_seq", None)
        if callable(ask):
            try:
                n = ask()
            except OSError:
                return
            if isinstance(n, int) and n > self.next_seq:
                self.next_seq = n

    def _new_recorder(self, offset):
        self._elapsed = offset
        self._sink_next_seq()
        self._check_storage()
        opts = dict(self.recorder_opts)
        self.rec = recorder.Recorder(
            self.sink, self.badge, self.session, seq=self.next_seq,
            start_epoch=self.start_epoch, start_ms=self.start_ms, session_offset=offset,
            input_offset=offset, on_clip=self._on_clip, on_open=self._on_open, **opts)

    def _check_storage(self):
        if self.storage_free_pct is None:
            self._storage_low = False
            return
        try:
            self._storage_low = self.storage_free_pct() < self.low_storage_pct
        except OSError:
            self._storage_low = True

    def _resume(self):
        now, ms = self.clock()
        gap_ms = (now - self.start_epoch) * 1000 + ms - self.start_ms
        if gap_ms < 0:
            gap_ms = 0  # the clock went backwards: clips still count from the start
        self.resumed = True
        self._new_recorder(gap_ms * _RATE // 1000)
        if self._elapsed >= self.max_samples:
            self.stop("max_length")

    def start(self):
        """Begin a new session now (no-op while recording)."""
        if self.rec is not None:
            return False
        self.start_epoch, self.start_ms = self.clock()
        self.session = session_id(self.start_epoch, self.start_ms)
        self.error = None
        self.stop_reason = None
        self.resumed = False
        self._new_recorder(0)
        self._save()
        return True

    def stop(self, reason="button"):
        """End the session: close the open clip, persist idle."""
        if self.rec is None:
            return False
        rec = self.rec
        try:
            rec.finish()
        except OSError as exc:
            self.error = "storage: " + str(exc)
        self.next_seq = rec.seq
        self.rec = None
        self.stop_reason = reason
        self._save()
        return True

    def press(self, event):
        """A button event from `firmware.hw.button`: start on any press, stop on LONG."""
        if event == button.LONG:
            if self.rec is not None:
                return self.stop("button")
            return self.start()
        if event == button.SHORT and self.rec is None:
            return self.start()
        return False

    # -- audio -------------------------------------------------------------------------

    def buffer(self):
        """The frame buffer to fill from the mic (only while recording)."""
        rec = self.rec
        if rec is None:
            raise SessionError("not recording")
        return rec.buffer()

    def push(self, n=recorder.FRAME_SAMPLES):
        """Process one mic frame of the running session; stops it at the maximum length."""
        rec = self.rec
        if rec is None:
            return
        try:
            rec.push(n)
        except OSError as exc:  # flash full or failing: stop cleanly, show the error
            self.error = "storage: " + str(exc)
            self.rec = None
            self.next_seq = rec.seq
            self.stop_reason = "storage_error"
            self._save()
            return
        self._elapsed += n
        if self._elapsed % (_STORAGE_CHECK_FRAMES * recorder.FRAME_SAMPLES) < n:
            self._check_storage()
        if self._elapsed >= self.max_samples:
            self.stop("max_length")

    def led_state(self):
        if self.error:
            return led.ERROR
        if self.rec is None:
            return led.IDLE
        if self._storage_low:
            return led.STORAGE_LOW
        return led.RECORDING

    def status(self):
        """A dict for the companion: state, session, clips, mic health."""
        out = {
            "state": "recording" if self.rec is not None else "idle",
            "session": self.session,
            "next_seq": self.next_seq,
            "led": self.led_state(),
            "error": self.error,
            "stop_reason": self.stop_reason,
            "resumed": self.resumed,
        }
        if self.rec is not None:
            out["mic"] = self.rec.health().as_dict()
        return out


def run(sess, mic, btn=None, lamp=None, ticks_ms=None, max_frames=-1):
    """The badge's main loop: mic frames into the session, button and LED alongside."""
    frames = 0
    t = 0
    while max_frames < 0 or frames < max_frames:
        now = ticks_ms() if ticks_ms is not None else t
        if btn is not None:
            ev = btn.poll(now)
            if ev:
                sess.press(ev)
        if lamp is not None:
            lamp.set(sess.led_state())
            lamp.show(now)
        if sess.recording:
            n = mic.readinto(sess.buffer())
            if n <= 0:
                sess.stop("mic_end")
                break
            sess.push(n)
        elif btn is None:
            break
        frames += 1
        t += 20
    return frames
