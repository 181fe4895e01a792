# mypy: ignore-errors
"""MicroPython side of `badgekit sim badge`: a simulated badge serving sync on a link.

    micropython badgekit/sim/badge_mp.py FD CLIPS_DIR WORK_DIR [BADGE_ID] [--probe] [--async]
                                         [--state STATE_DIR]

Formats a littlefs2 flash image (a file-backed block device in WORK_DIR, so the heap
holds only what a badge's heap holds), records every clip WAV of CLIPS_DIR (the
output of `badgekit sim record`) into the badge's store (firmware.clips.store), and
serves the sync protocol (firmware.sync.server) on the file descriptor FD (the master
end of a pty, non-blocking) until the process is stopped. The badge starts
unenrolled, with a device key for its clips. Prints one JSON line ``{"ready": ...}``
on stdout; with ``--probe`` it also prints the heap peak (``{"heap": ...}``) about
every second while serving; ``--async`` serves with the asyncio loop the badge runs
(firmware.sync.link.serve_async, as firmware.badgetasks does). ``--state STATE_DIR``
keeps the badge's enrollment (``sync.json``) and store key (``keys.json``) in a host
folder that outlives the process, as firmware.badge keeps them in its state folder: a
badge enrolled once is still enrolled when started again, and opens its store with the
clip key derived from its secret, so the clips it stores are sealed (format 2).
"""

import gc
import json
import os
import sys
import time

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import keys as clipkeys
from firmware.clips import mac as clipmac
from firmware.clips import store as clipstore
from firmware.hw.serial_link import SerialLink
from firmware.sync import link, server, state

__all__ = ["FileBlockDev", "fill", "main"]

_MNT = "/badgeflash"
_BS = 4096


class FileBlockDev:
    """littlefs block device over a host file (extended block protocol). Every write reaches
    the OS at once (the unix port's files are unbuffered: one write(2) per call), so a killed
    process keeps it, like flash. No ``flush()``: on the unix port it is an fsync(2), which
    made every littlefs program wait for the host's disk (seconds per clip on a busy
    machine) and guards only against a host crash, which a simulated badge need not
    survive. `keep=True` reuses an existing image (a badge's flash across a reset);
    otherwise the file starts blank."""

    def __init__(self, path, count, keep=False):
        self.n = count
        self.f = None
        if keep:
            try:
                self.f = open(path, "r+b")
            except OSError:
                pass
        if self.f is None:
            with open(path, "wb") as f:
                blank = b"\xff" * _BS
                for _ in range(count):
                    f.write(blank)
            self.f = open(path, "r+b")
        self.blank = b"\xff" * _BS  # no allocation later: littlefs may call us with the heap locked

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * _BS + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        self.f.seek(block * _BS + (offset or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return _BS
        if op == 6:
            self.f.seek(arg * _BS)
            self.f.write(self.blank)
        return 0


def _wavs(folder):
    try:
        return sorted(n for n in os.listdir(folder) if n.endswith(".wav"))
    except OSError:
        return []


def fill(store, folder, names):
    """Put the clip WAVs into the store exactly as recorded (same seq, chain and hash);
    return (clip ids, ids whose stored hash differs from the WAV's)."""
    out = []
    differ = []
    blk = bytearray(clipfmt.BLOCK_ALIGN)
    for n in names:
        with open(folder + "/" + n, "rb") as f:
            info = clipfmt.read_wav(f)
            h = info.header
            # the store numbers and chains clips itself: continue DIR's chain where it starts
            store.index.bump_tip(h.seq - 1, h.prev_sha256, 0)
            store.open_clip({"clock_flags": h.flags,"badge": h.badge, "session": h.session, "start_epoch": h.start_epoch,
                             "start_ms": h.start_ms, "session_offset_samples": h.session_offset_samples,
                             "offset_samples": h.offset_samples, "sample_rate": h.sample_rate})
            f.seek(info.data_offset)
            for _ in range(info.trailer.data_len // clipfmt.BLOCK_ALIGN):
                f.readinto(blk)
                store.write_block(blk)
        side = store.close_clip(info.trailer.samples, info.trailer.dropped_ms,
                                info.trailer.flags)
        out.append(side["clip_id"])
        if side["sha256"] != info.sha256:
            differ.append(side["clip_id"])
    return out, differ


def _badge_of(folder, names):
    if not names:
        return None
    with open(folder + "/" + names[0], "rb") as f:
        return clipfmt.read_wav(f).header.badge


def _opt(argv, name):
    if name in argv:
        i = argv.index(name)
        if i + 1 < len(argv):
            return argv[i + 1]
    return None


def main(argv):
    fd = int(argv[0])
    folder, work = argv[1], argv[2]
    badge = argv[3] if len(argv) > 3 and not argv[3].startswith("--") else None
    probe = "--probe" in argv
    sdir = _opt(argv, "--state")
    names = _wavs(folder)
    badge = badge or _badge_of(folder, names) or "badge-sim"
    size = 0
    for n in names:
        size += os.stat(folder + "/" + n)[6]
    blocks = max(64, (size * 5 // 4) // _BS + 64)
    dev = FileBlockDev(work + "/flash.img", blocks)
    ramdisk.mount(dev, _MNT, mkfs=True)
    keys = clipkeys.KeyFile(sdir + "/keys.json" if sdir else _MNT + "/nvs-key.json")
    key, _old, _src = keys.load()
    secret = state.BadgeState(sdir + "/sync.json", badge).secret if sdir else None
    # enrolled: sealed from the first clip, as firmware.badge opens its store
    store = clipstore.ClipStore(_MNT + "/store", key, badge=badge,
                                clip_key=clipmac.clip_key_of(secret) if secret else None)
    stored, differ = fill(store, folder, names)
    st = state.BadgeState((sdir or _MNT) + "/sync.json", badge)

    def on_enroll(kek):
        keys.enroll(kek)
        n = store.set_key(kek)
        keys.forget_old()
        return n

    def info():
        return {"battery_pct": 87, "battery_mv": 4050, "charging": True, "mic": "ok",
                "simulated": True}

    gc.collect()
    pre = gc.mem_alloc()  # modules + store, before the sync server exists
    srv = server.Server(store, st, on_enroll=on_enroll, info_fn=info)
    serial = SerialLink.fd(fd)
    gc.collect()
    base = gc.mem_alloc()
    peak = [base, link.ticks_ms()]
    by_type = {}  # request type -> heap peak while serving it

    def on_idle():
        # --probe: collect every loop, so the peak is live data + one loop's garbage
        m = gc.mem_alloc()
        if m > peak[0]:
            peak[0] = m
        t = srv.dec.typ  # the request being served (its reply or stream)
        if m > by_type.get(t, 0):
            by_type[t] = m
        gc.collect()
        now = link.ticks_ms()
        if now - peak[1] >= 1000:
            peak[1] = now
            print(json.dumps({"heap": {"base": base, "peak": peak[0], "live": gc.mem_alloc(),
                                       "frames": srv.stats["frames"],
                                       "data_bytes": srv.stats["data_bytes"],
                                       "peak_by_type": by_type}}))

    print(json.dumps({"ready": True, "badge": badge, "clips": len(stored), "heap_base": base,
                      "heap_pre_server": pre,
                      "differ": differ}))
    if "--async" in argv:  # the badge's asyncio path (firmware.badgetasks)
        import asyncio

        while True:
            asyncio.run(link.serve_async(serial, srv))
            srv.reset()
            time.sleep_ms(100)
    while True:
        link.serve(serial, srv, on_idle=on_idle if probe else None, idle_ms=0)
        srv.reset()  # the link closed: wait for the next companion
        time.sleep_ms(100)


if __name__ == "__main__":
    main(sys.argv[1:])
