"""A meeting on the real clip store (littlefs on a RAM flash, unix port): power cut
mid-clip, resume in the same session, then a full flash stops recording cleanly."""

from __future__ import annotations

from tests.firmware.helpers import mpy_json

_RUN = """
import json
from firmware import ramdisk, dsp
from firmware.clips import store as clipstore
from firmware.session import RecordingSession
from firmware.hw import button
from fwsupport import frames

K = b'session-test-016'
MNT = '/flash'
STATE = MNT + '/session.json'
dev = ramdisk.RAMBlockDev(4096, 160)
ramdisk.mount(dev, MNT, mkfs=True)
store = clipstore.ClipStore(MNT + '/store', K, reserve_bytes=65536, start_s=2)
now = [1795600800, 0]
def clock():
    return now[0], now[1]
def talk(sess, seconds):
    spec = [('noise', 50, 30)] + [('tone', 15, 3000), ('noise', 5, 30)] * (seconds * 5 // 2)
    for f in frames(spec):
        if not sess.recording:
            return False
        dsp.copy16(sess.buffer(), 0, f, 0, 320)
        sess.push()
        now[1] += 20
        if now[1] >= 1000:
            now[0] += 1
            now[1] -= 1000
    return True
def free_pct():
    bs, total, free = store._statvfs()
    return free * 100 // total

out = {}
s = RecordingSession('bk01', store, STATE, clock, storage_free_pct=free_pct, recorder_opts={'max_clip_ms': 3000})
s.press(button.SHORT)
talk(s, 7)  # two full clips (3 s max) and one open
out['before'] = [c['seq'] for c in store.list_clips()]
# power cut: keep the flash as it is, drop every handle, boot again
data = bytes(dev.data)
store._w.abandon()
store.index.close_handle()
ramdisk.umount(MNT)
dev = ramdisk.RAMBlockDev(4096, 160, data)
ramdisk.mount(dev, MNT)
now[0] += 5
store = clipstore.ClipStore(MNT + '/store', K, reserve_bytes=65536, start_s=2)
s = RecordingSession('bk01', store, STATE, clock, storage_free_pct=free_pct, recorder_opts={'max_clip_ms': 3000})
out['resumed'] = [s.recording, s.resumed, s.session]
talk(s, 4)
out['after_resume'] = [[c['seq'], c['recovered'], c['state']] for c in store.list_clips()]
# keep talking until the flash is full
ok = True
n = 0
while ok and n < 200:
    ok = talk(s, 10)
    n += 1
out['full'] = [s.recording, s.stop_reason, s.led_state(), s.error is not None]
clips = list(store.list_clips())
out['seqs'] = [c['seq'] for c in clips]
out['sessions'] = []
for c in clips:
    info = store.info(c['clip_id'])
    out['sessions'].append(info.get('session') if isinstance(info, dict) else None)
print(json.dumps(out))
"""


def test_power_cut_resume_and_full_flash_on_the_real_store(micropython):
    out = mpy_json(micropython, _RUN, timeout=300, heap="4M")
    before = out["before"]
    assert len(before) >= 2  # closed clips before the cut
    recording, resumed, session = out["resumed"]
    assert recording and resumed and session == "20261125-100000-000"
    after = out["after_resume"]
    recovered = [seq for seq, rec, _state in after if rec]
    assert len(recovered) == 1 and recovered[0] == max(before) + 1  # the clip open at the cut
    seqs = out["seqs"]
    assert seqs == sorted(set(seqs)) and len(seqs) > len(after)  # no number used twice
    assert out["full"] == [False, "storage_error", "error", True]
    assert out["sessions"] == [session] * len(seqs)  # one meeting, one session
