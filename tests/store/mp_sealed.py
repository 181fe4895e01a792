"""Sealed (version 2) clips made under the MicroPython unix port, for test_clipmac.py.

    micropython tests/store/mp_sealed.py OUTDIR

Writes OUTDIR/sink/ (FolderSink, clip key given), OUTDIR/store/ (WAVs read out of a
ClipStore on littlefs in RAM: a clip closed normally, one closed by boot recovery after
a power cut, one written before the store had a clip key) and prints one JSON object.
"""

import json
import os
import sys

from mp_scenarios import blk  # same test blocks as the store scenarios

from firmware import ramdisk
from firmware.clips import mac as clipmac
from firmware.clips import sink as clipsink
from firmware.clips import store as clipstore

SECRET = b"enrollment-secret-for-clip-tests"
K = b"scenario-key-016"
MNT = "/flash"
ROOT = MNT + "/store"


def meta(seq=0, epoch=1764000000):
    return {"badge": "bk29", "session": "s29", "seq": seq, "start_epoch": epoch + seq,
            "start_ms": 250, "session_offset_samples": 0, "offset_samples": 0,
            "sample_rate": 16000}


def mkdir(p):
    try:
        os.mkdir(p)
    except OSError:
        pass


def dump(store, out):
    for c in store.list_clips():
        with open(out + "/" + c["clip_id"] + ".wav", "wb") as f:
            f.write(store.read(c["clip_id"], 0, c["size"]))


def main(out):
    key = clipmac.clip_key_of(SECRET)
    mkdir(out)
    sink = clipsink.FolderSink(out + "/sink", clip_key=key)
    for seq in range(2):
        sink.open_clip(meta(seq))
        for i in range(6 + seq):
            sink.write_block(blk(seq, i))
        sink.close_clip((6 + seq) * 505 - 7)
    res = {"clip_key_id": clipmac.clipfmt.hexhash(clipmac.key_id(key))}
    dev = ramdisk.RAMBlockDev(4096, 64)
    ramdisk.mount(dev, MNT, mkfs=True)
    store = clipstore.ClipStore(ROOT, K)  # unenrolled: no clip key, version 1
    store.open_clip(meta())
    for i in range(5):
        store.write_block(blk(0, i))
    store.close_clip()
    store.set_clip_key(key)  # enrollment
    for n in (4, 9):
        store.open_clip(meta())
        for i in range(n):
            store.write_block(blk(n, i))
        if n == 4:
            store.close_clip(n * 505 - 3)
    res["sealing"] = store.status()["sealing"]
    store._w.sync()
    store._w.abandon()  # power cut with the third clip open
    store.index.close_handle()
    data = bytes(dev.data)
    ramdisk.umount(MNT)
    dev2 = ramdisk.RAMBlockDev(4096, 64, data)
    ramdisk.mount(dev2, MNT)
    store = clipstore.ClipStore(ROOT, K, clip_key=key)  # boot: recovery seals the open clip
    res["recovered"] = [e["clip_id"] for e in store.status()["recoveries"]]
    res["clips"] = [c for c in store.list_clips()]
    mkdir(out + "/store")
    dump(store, out + "/store")
    print(json.dumps(res))


main(sys.argv[1])
