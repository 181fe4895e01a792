"""The recording path end to end on the real unix port: clips, metadata, bad input, memory."""

from __future__ import annotations

import sys

import pytest

from tests.firmware import fwsupport
from tests.firmware.helpers import mpy_json

sys.modules.setdefault("fwsupport", fwsupport)

_RUN = """
import json, binascii
from array import array
from firmware import recorder, dsp
from fwsupport import MemSink, frames

def record(spec, dc=0, **kw):
    sink = MemSink()
    rec = recorder.Recorder(sink, 'BADGE7', 'S1', seq=41, start_epoch=1795600800, start_ms=900,
                            session_offset=16000 * 60, input_offset=5, **kw)
    for f in frames(spec):
        buf = rec.buffer()
        dsp.copy16(buf, 0, f, 0, 320)
        if dc:
            for i in range(320):
                buf[i] += dc
        rec.push()
    rec.finish()
    clips = []
    for c in sink.clips:
        m = dict(c['meta'])
        m['samples'] = c['samples']
        m['blocks'] = c['blocks']
        m['hash'] = binascii.hexlify(c['hash']).decode()
        clips.append(m)
    return {'clips': clips, 'health': rec.health().as_dict(), 'seq': rec.seq}

S = 50
talk = [('noise', 2 * S, 30), ('tone', 2 * S, 3000), ('noise', 4 * S, 30), ('tone', S, 3000),
        ('noise', 2 * S, 30)]
result = {
    'talk': record(talk),
    'dc': record(talk, dc=20000),  # a mic with a large DC offset
    'clipping': record([('noise', S, 30), ('tone', 3 * S, 40000), ('noise', 2 * S, 30)]),
    'dead': record([('zero', 12 * S, 0)]),
    'loud': record([('noise', S, 30), ('noise', 2 * S, 32767)]),
}
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def mp(micropython):
    return mpy_json(micropython, _RUN)


def test_same_clips_on_cpython_and_micropython(mp):
    ns: dict = {}
    exec(_RUN.replace("print(json.dumps(result))", ""), ns)
    assert ns["result"] == mp


def test_clip_metadata(mp):
    clips = mp["talk"]["clips"]
    assert len(clips) == 2 and mp["talk"]["seq"] == 43
    a, b = clips
    assert [a["seq"], b["seq"]] == [41, 42]
    for c in clips:
        assert c["badge"] == "BADGE7" and c["session"] == "S1" and c["sample_rate"] == 16000
        assert c["session_offset_samples"] == 16000 * 60 + c["offset_samples"] - 5
        # start time = session start (…:00.900) + offset from the session's start
        t_ms = 900 + c["session_offset_samples"] * 1000 // 16000
        assert (c["start_epoch"], c["start_ms"]) == (1795600800 + t_ms // 1000, t_ms % 1000)
        assert c["blocks"] == -(-c["samples"] // 505)  # last block padded, true count kept
    assert a["offset_samples"] - 5 <= 16000 * 2 - 4800  # pre-roll before the first tone


def test_dc_offset_does_not_change_the_decisions(mp):
    plain = [(c["offset_samples"], c["samples"]) for c in mp["talk"]["clips"]]
    dc = [(c["offset_samples"], c["samples"]) for c in mp["dc"]["clips"]]
    assert len(dc) == len(plain)
    for (o1, n1), (o2, n2) in zip(plain, dc, strict=True):
        assert abs(o1 - o2) <= 640 and abs((o1 + n1) - (o2 + n2)) <= 640


def test_bad_input_is_reported_not_fatal(mp):
    clip = mp["clipping"]
    assert clip["health"]["code"] == "clipping" and clip["health"]["clipped_samples"] > 1000
    assert len(clip["clips"]) == 1  # the clipped speech is still kept
    dead = mp["dead"]
    assert dead["clips"] == [] and dead["health"]["code"] == "mic_silent"
    assert dead["health"]["text"] == "mic silent for 12 s"
    loud = mp["loud"]
    assert loud["health"]["code"] == "loud_noise" and "full-scale noise for 2 s" == loud["health"]["text"]
    assert len(loud["clips"]) == 1  # evidence: a loud event is kept, not dropped


def test_steady_state_frames_allocate_nothing(micropython):
    code = """
import json, micropython
from firmware import recorder, dsp
from fwsupport import MemSink, frames
sink = MemSink(copy=False)
rec = recorder.Recorder(sink, 'B', 'S', start_epoch=1795600800)
pre = [bytes(f) for f in frames([('noise', 100, 30), ('tone', 150, 3000), ('noise', 100, 30)])]
from array import array
src = [array('h', b) for b in pre]
def run(a, b):
    for i in range(a, b):
        dsp.copy16(rec.buffer(), 0, src[i], 0, 320)
        rec.push()
run(0, 60)                  # warm-up: the floor settles
micropython.heap_lock()
run(60, 99)                 # silence, nothing kept
micropython.heap_unlock()
run(99, 130)                # speech starts: a clip opens (allowed to allocate)
micropython.heap_lock()
run(130, 240)               # inside the clip: encode and write blocks
micropython.heap_unlock()
rec.finish()
print(json.dumps([len(sink.clips), sink.blocks]))
"""
    clips, blocks = mpy_json(micropython, code)
    assert clips == 1 and blocks > 10


def test_four_hour_silent_session_in_bounded_memory(micropython):
    code = """
import gc, json, micropython
from firmware import recorder
from fwsupport import MemSink
sink = MemSink(copy=False)
gc.collect()
base = gc.mem_alloc()
rec = recorder.Recorder(sink, 'B', 'S', start_epoch=1795600800)
gc.collect()
built = gc.mem_alloc() - base
peak = 0
for hour in range(4):
    for i in range(180000):
        rec.push()
    gc.collect()
    peak = max(peak, gc.mem_alloc() - base)
rec.finish()
h = rec.health()
print(json.dumps([built, peak, len(sink.clips), h.code, h.text, h.frames]))
"""
    built, peak, clips, code_, text, nframes = mpy_json(micropython, code, timeout=300)
    assert nframes == 4 * 3600 * 50 and clips == 0
    assert code_ == "mic_silent" and text == "mic silent for 240 min"
    assert peak <= built + 256 and peak <= 64 * 1024
