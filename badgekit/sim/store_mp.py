"""MicroPython side of `badgekit sim store`: a badge's clip store in an image file.

    micropython badgekit/sim/store_mp.py init|fill|status IMAGE KEYFILE [arg]

The image is a raw littlefs2 flash image (4 KiB blocks), the same bytes a badge's
store partition holds; KEYFILE plays the badge's NVS key slot (firmware.clips.keys).
``init SIZE_KIB`` formats a new image; ``fill DIR`` records every clip WAV of DIR
(FolderSink output) into the store; ``status`` boots the store (running recovery, whose
repairs are saved back) and prints its status as JSON.
"""

import json
import os
import sys

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import keys as clipkeys
from firmware.clips import store as clipstore

_MNT = "/badgeflash"


def _boot(image, keyfile, fresh_kib=0):
    if fresh_kib:
        dev = ramdisk.RAMBlockDev(4096, fresh_kib // 4)
        ramdisk.mount(dev, _MNT, mkfs=True)
    else:
        dev = ramdisk.RAMBlockDev.load(image)
        ramdisk.mount(dev, _MNT)
    key, old, _src = clipkeys.KeyFile(keyfile).load()
    store = clipstore.ClipStore(_MNT + "/store", key, old_keys=old)
    if old:
        clipkeys.KeyFile(keyfile).forget_old()
    return dev, store


def _done(dev, store, image):
    store.index.close_handle()
    ramdisk.umount(_MNT)
    dev.save(image)


def _fill(store, folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".wav"))
    out = []
    for n in names:
        with open(folder + "/" + n, "rb") as f:
            info = clipfmt.read_wav(f)
        h = info.header
        meta = {"badge": h.badge, "session": h.session, "start_epoch": h.start_epoch,
                "start_ms": h.start_ms, "session_offset_samples": h.session_offset_samples,
                "offset_samples": h.offset_samples, "sample_rate": h.sample_rate}
        store.open_clip(meta)
        with open(folder + "/" + n, "rb") as f:
            f.seek(info.data_offset)
            for _ in range(info.trailer.data_len // clipfmt.BLOCK_ALIGN):
                store.write_block(f.read(clipfmt.BLOCK_ALIGN))
        side = store.close_clip(info.trailer.samples, info.trailer.dropped_ms)
        out.append(side["clip_id"])
    return out


def main(argv):
    cmd, image, keyfile = argv[0], argv[1], argv[2]
    try:
        if cmd == "init":
            dev, store = _boot(image, keyfile, int(argv[3]))
            result = store.status()
        elif cmd == "fill":
            dev, store = _boot(image, keyfile)
            result = {"stored": _fill(store, argv[3]), "status": store.status()}
        else:
            dev, store = _boot(image, keyfile)
            result = store.status()
        _done(dev, store, image)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
