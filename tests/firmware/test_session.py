"""Sessions on the unix port: button start/stop, long-press guard, max length, LED, reboot resume."""

from __future__ import annotations

import sys

from firmware.hw import button, led
from tests.firmware import fwsupport
from tests.firmware.helpers import mpy_json

sys.modules.setdefault("fwsupport", fwsupport)

_RUN = """
import json
from array import array
from firmware import dsp
from firmware.session import RecordingSession, run
from firmware.hw import button, led
from fwsupport import MemSink, frames

STATE = %r
now = [1795600800, 250]
def clock():
    return now[0], now[1]

def feed(sess, spec):
    for f in frames(spec):
        if not sess.recording:
            break
        dsp.copy16(sess.buffer(), 0, f, 0, 320)
        sess.push()
        now[1] += 20
        if now[1] >= 1000:
            now[0] += 1
            now[1] -= 1000

free = [50]
out = {}
sink = MemSink(copy=False)
s = RecordingSession('B9', sink, STATE, clock, max_session_s=30, storage_free_pct=lambda: free[0])
out['boot'] = [s.recording, s.led_state()]
out['short_starts'] = s.press(button.SHORT)
out['session'] = s.session
out['led_rec'] = s.led_state()
feed(s, [('noise', 100, 30), ('tone', 100, 3000), ('noise', 60, 30), ('tone', 30, 3000)])
out['short_ignored'] = [s.press(button.SHORT), s.recording]
out['clips_before_reset'] = [c['meta']['seq'] for c in sink.clips]
# power cut mid-clip: the RecordingSession object is simply gone; the clock moved on 10 s
now[0] += 10
sink2 = MemSink(copy=False)
s2 = RecordingSession('B9', sink2, STATE, clock, max_session_s=30, storage_free_pct=lambda: free[0])
out['resumed'] = [s2.recording, s2.resumed, s2.session, s2.rec.session_offset]
feed(s2, [('noise', 100, 30), ('tone', 60, 3000), ('noise', 50, 30)])
free[0] = 3
feed(s2, [('noise', 260, 30)])
out['led_low'] = s2.led_state()
out['long_stops'] = [s2.press(button.LONG), s2.recording, s2.led_state(), s2.stop_reason]
out['clips_after'] = [[c['meta']['seq'], c['meta']['session'], c['meta']['session_offset_samples'],
                       c['meta']['start_epoch']] for c in sink2.clips]
s3 = RecordingSession('B9', MemSink(copy=False), STATE, clock, max_session_s=30)
out['after_stop_boot'] = [s3.recording, s3.next_seq]
# maximum session length: 30 s of talking stops by itself
s3.press(button.LONG)
feed(s3, [('tone', 2000, 3000)])
out['max_len'] = [s3.recording, s3.stop_reason, s3.status()['state']]
# a torn state file must not brick the badge
f = open(STATE, 'w'); f.write('{"state": "recor'); f.close()
s4 = RecordingSession('B9', MemSink(copy=False), STATE, clock)
out['torn'] = [s4.recording, s4.led_state()]
print(json.dumps(out))
"""


def test_session_lifecycle_and_reboot_resume(micropython, tmp_path):
    out = mpy_json(micropython, _RUN % str(tmp_path / "session.json"))
    assert out["boot"] == [False, "idle"]
    assert out["short_starts"] is True and out["session"] == "20261125-100000-250"
    assert out["led_rec"] == "recording"
    assert out["short_ignored"] == [False, True]  # a brush against the button does not stop
    assert out["clips_before_reset"] == [0]
    recording, resumed, session, offset = out["resumed"]
    assert recording and resumed and session == "20261125-100000-250"
    # 290 frames (5.8 s) were recorded, then 10 s passed: offset counts from the session start
    assert offset == (5800 + 10000) * 16
    assert out["led_low"] == "storage_low"
    assert out["long_stops"] == [True, False, "idle", "button"]
    seqs = [c[0] for c in out["clips_after"]]
    assert seqs and seqs[0] == 2  # seq 1 was open at the power cut: never reused
    for _seq, sess, soff, epoch in out["clips_after"]:
        assert sess == "20261125-100000-250" and soff > offset
        assert epoch == 1795600800 + (250 + soff // 16) // 1000
    assert out["after_stop_boot"] == [False, seqs[-1] + 1]
    assert out["max_len"] == [False, "max_length", "idle"]
    assert out["torn"] == [False, "idle"]


def test_button_decoder_short_long_and_bounce():
    d = button.Decoder(long_ms=1500, debounce_ms=30)
    events = []
    t = 0
    # bounce on press, a 200 ms press: one SHORT on release
    for level in [1, 0, 1, 0, 1] + [1] * 10 + [0] * 5:
        events.append(d.update(level, t))
        t += 20
    assert [e for e in events if e] == [button.SHORT]
    # a 2 s hold: LONG once while held, nothing on release
    events = [d.update(1, t + k * 20) for k in range(100)]
    events += [d.update(0, t + 2000 + k * 20) for k in range(5)]
    assert [e for e in events if e] == [button.LONG]


def test_led_patterns_are_distinct():
    def pattern(state):
        return tuple(led.level(state, t) for t in range(0, 10000, 50))

    pats = {s: pattern(s) for s in led.STATES}
    assert len(set(pats.values())) == 4
    assert sum(pats[led.RECORDING]) > 180  # mostly on
    assert sum(pats[led.IDLE]) <= 2  # mostly off


def test_main_loop_button_mic_and_led(micropython, tmp_path, speech):
    """`session.run`: a pressed button starts recording from the mic, the LED follows,
    a long press stops; the mic here is the WAV backend the simulation uses."""
    code = """
import json
from firmware.session import RecordingSession, run
from firmware.hw import button, led
from firmware.hw.mic import WavMic
from fwsupport import MemSink

class ScriptedButton:
    # the pin is pressed at 0-100 ms (start) and 4000-5600 ms (long press: stop)
    def __init__(self):
        self.decoder = button.Decoder(long_ms=1500)
    def poll(self, now):
        pressed = now < 100 or 4000 <= now < 5600
        return self.decoder.update(pressed, now)

class Lamp:
    def __init__(self):
        self.seen = []
    def set(self, state):
        if not self.seen or self.seen[-1] != state:
            self.seen.append(state)
    def show(self, t):
        led.level(self.seen[-1], t)

sink = MemSink(copy=False)
s = RecordingSession('B1', sink, STATE_PATH, lambda: (1795600800, 0))
lamp = Lamp()
frames = run(s, WavMic(WAV_PATH), ScriptedButton(), lamp, max_frames=400)
print(json.dumps([frames, lamp.seen, s.recording, s.stop_reason, len(sink.clips)]))
""".replace("STATE_PATH", repr(str(tmp_path / "state.json"))).replace(
        "WAV_PATH", repr(str(speech["asr_example_zh"])))
    frames, seen, recording, reason, clips = mpy_json(micropython, code)
    assert seen == ["idle", "recording", "idle"]
    assert not recording and reason == "button" and clips >= 1
