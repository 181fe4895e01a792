"""Clip store fault scenarios (full store, ENOSPC, read-only, EIO, clock, real audio).

    micropython tests/store/mp_faults.py NAME [ARGS]

Same conventions as mp_scenarios.py, whose helpers it uses.
"""

import io
import json
import sys

from mp_scenarios import blk, err, fresh, meta, reboot, record, verify, wav

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import store as clipstore

MNT = "/flash"


def full():
    dev, s = fresh(nblk=64, warn_pct=50)
    closed = []
    stopped = None
    for n in range(50):
        try:
            closed.append(record(s, 200, epoch=1764000000 + n))
        except clipstore.StoreFullError as e:
            stopped = str(e)
            break
    st = s.status()
    ids = [x["clip_id"] for x in s.list_clips()]
    all_ok = all(verify(s, cid).sha256 for cid in ids)
    refuse = err(s.open_clip, meta())
    for x in closed[:3]:
        s.ack(x["clip_id"])
    after = record(s, 5)
    return {"stopped": stopped, "n_closed": len(closed), "n_listed": len(ids), "all_ok": all_ok,
            "full": st["full"], "warnings": st["warnings"], "refuse": refuse,
            "after_ok": after["prev_sha256"] == s.index.entries[after["seq"] - 1].sha256,
            "recording": st["recording"], "left": st["record_seconds_left"]}


def enospc():
    # no reserve at all: the filesystem itself runs out mid-clip (ENOSPC)
    dev, s = fresh(nblk=32, reserve_bytes=0, start_s=2)
    outcome = None
    n = 0
    try:
        for n in range(100):
            record(s, 300, epoch=1764000000 + n)
    except clipstore.StoreError as e:
        outcome = type(e).__name__
    st = s.status()
    ev = [e["event"] for e in st["events"]]
    dev, s = reboot(dev, s)
    st2 = s.status()
    ids = [x["clip_id"] for x in s.list_clips()]
    ok = all(verify(s, cid) for cid in ids)
    return {"outcome": outcome, "full": st["full"], "warnings": st["warnings"], "ids": ids, "ok": ok,
            "pending": st2["pending_recovery"], "events": ev,
            "recovered": st2["clips"]["recovered"]}


def readonly():
    dev, s = fresh()
    a = record(s, 10)
    record(s, 20, close=False)
    s._w.sync()
    before = bytes(dev.data)
    dev, s = reboot(dev, s, readonly=True)
    st = s.status()
    ids = [x["clip_id"] for x in s.list_clips()]
    ok = verify(s, a["clip_id"]).sha256 == a["sha256"]
    return {"readonly": st["readonly"], "warnings": st["warnings"], "ids": ids, "ok": ok,
            "open": err(s.open_clip, meta()), "ack": err(s.ack, a["clip_id"]),
            "pending": st["pending_recovery"], "unchanged": bytes(dev.data) == before}


def ioerror():
    dev, s = fresh()
    record(s, 10)
    s.open_clip(meta())
    seq = s._w.hdr.seq
    dev.fail_after = dev.writes + 60
    outcome = None
    written = 0
    try:
        for i in range(400):
            written = i + 1
            s.write_block(blk(seq, i))
    except clipstore.StoreError as e:
        outcome = type(e).__name__
    st = s.status()
    again = err(s.open_clip, meta())
    dev.fail_after = -1
    dev, s = reboot(dev, s)
    cid = clipfmt.clip_id("bk07", seq)
    info = verify(s, cid)
    return {"outcome": outcome, "fault": st["fault"], "warnings": st["warnings"], "again": again,
            "written": written, "recovered_blocks": info.trailer.data_len // 256,
            "recovered": info.trailer.recovered}


def clock():
    dev, s = fresh()
    a = record(s, 5, epoch=1764003600)
    b = record(s, 5, epoch=1764000000)  # the clock jumped back an hour
    st = s.status()
    c = record(s, 5, epoch=0)  # RTC lost: never set
    return {"b_back": b["clock_backwards"], "a_back": a["clock_backwards"],
            "warnings": st["warnings"], "c_unset": c["clock_unset"], "chain": b["prev_sha256"] == a["sha256"],
            "seqs": [a["seq"], b["seq"], c["seq"]], "b_time": b["start_time"]}


def real_audio(path):
    """2 s of a 440 Hz tone through the recorder's ADPCM encoder, a power cut, an export."""
    import math
    from array import array

    from firmware import adpcm

    enc = adpcm.Encoder()
    pcm = array("h", [0] * 505)
    out = bytearray(256)
    dev, s = fresh()
    s.open_clip(meta())
    seq = s._w.hdr.seq
    written = []
    for b in range(63):
        for i in range(505):
            t = (b * 505 + i) / 16000
            pcm[i] = int(8000 * math.sin(2 * math.pi * 440 * t))
        enc.encode_block(pcm, out)
        written.append(bytes(out))
        s.write_block(bytes(out))
    dev, s = reboot(dev, s)  # power cut mid-clip
    cid = clipfmt.clip_id("bk07", seq)
    data = wav(s, cid, chunk=777)
    info = clipfmt.verify_wav(io.BytesIO(data))
    n = info.trailer.data_len // 256
    with open(path, "wb") as f:
        f.write(data)
    same = data[info.data_offset:] == b"".join(written[:n])
    return {"blocks": n, "same": same, "recovered": info.trailer.recovered}


def main(name, *args):
    out = globals()[name](*args)
    ramdisk.umount(MNT)
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
