# mypy: ignore-errors
"""Badge side of the fault campaign (bench/faults.py); runs under the MicroPython unix port.

    micropython bench/faults_badge_mp.py record JOBS.json
    micropython bench/faults_badge_mp.py serve IMAGE FD BADGE [CUT_WRITE]
    micropython bench/faults_badge_mp.py bootcut IMAGE BADGE U SEED

``record``: for each job ``{"image", "badge", "seed", "cut_u", "secret"}`` format a
littlefs2 RAM block device (firmware.ramdisk), enroll the badge's sync state, and record
a few clips into firmware.clips.store.ClipStore (blocks from bench/powercut_checks.blk,
valid IMA ADPCM). With ``cut_u`` in [0, 1) the power dies at that fraction of the
recording's device writes (a dry run counts them): the device is copied at that write
with a random prefix of it applied (a torn program or erase), exactly as the clip
store's power-cut campaign does, and the copy is the image left for the next boot.
Prints one JSON line per job: the clips closed before the cut and the clip open at it.

``serve``: boot the image (the store's recovery runs here), then serve the sync protocol
(firmware.sync.server) on the file descriptor FD (the master end of a pty). With
CUT_WRITE the power dies at that device write counted from the end of boot: the copy is
saved as IMAGE, nothing more reaches the link, and the process exits (the companion sees
the link drop). Prints ``{"ready": ...}`` with the boot's recovery events, and
``{"session_writes": n}`` each time a companion disconnects.

``bootcut``: the power dies again during the recovery boot of IMAGE, at fraction U of
that boot's device writes (a dry boot counts them); the torn copy replaces IMAGE.
"""

import json
import random
import sys

from powercut_checks import BS, KEY, blk

from firmware import ramdisk
from firmware.clips import store as clipstore
from firmware.hw.serial_link import SerialLink
from firmware.sync import link, server, state

MNT = "/flash"
NBLK = 160
BRANCH = "faults-branch"
AGENT = "agent-faults"


def _tear(dev, kind, block, off, buf):
    snap = bytearray(dev.data)
    a = block * BS + off
    if kind == 0:
        n = random.randint(0, len(buf))
        snap[a:a + n] = bytes(buf)[:n]
    else:
        n = random.randint(0, BS)
        snap[a:a + n] = b"\xff" * n
    return snap


class Cutter:
    """Device hook: count writes; at write ``at`` keep a torn copy of the device."""

    def __init__(self, at=-1):
        self.at = at
        self.n = 0
        self.snap = None
        self.op = "idle"
        self.op_at_cut = None

    def hook(self, dev, kind, block, off, buf):
        if self.n == self.at and self.snap is None:
            self.snap = _tear(dev, kind, block, off, buf)
            self.op_at_cut = self.op
        self.n += 1


def _meta(badge, seq):
    return {"badge": badge, "session": badge + "-s1", "start_epoch": 1764000000 + seq * 30,
            "start_ms": 0, "session_offset_samples": seq * 16000 * 30, "offset_samples": 0,
            "sample_rate": 16000}


def workload(job, cutter):
    """Record the job's clips on a fresh device; stop at the cut. -> (dev, model)."""
    dev = ramdisk.RAMBlockDev(BS, NBLK)
    ramdisk.mount(dev, MNT, mkfs=True)
    st = state.BadgeState(MNT + "/sync.json", job["badge"])
    st.branch, st.agent = BRANCH, AGENT
    st.secret = bytes.fromhex(job["secret"])
    st.save()
    store = clipstore.ClipStore(MNT + "/store", KEY, badge=job["badge"])
    dev.on_write = cutter.hook
    cutter.n = 0
    random.seed(job["seed"])
    sizes = [random.randint(20, 70) for _ in range(job.get("clips", 3))]
    model = {"badge": job["badge"], "closed": [], "open": None}
    for seq, nblocks in enumerate(sizes):
        if cutter.snap is not None:
            break
        cutter.op = "open"
        store.open_clip(_meta(job["badge"], seq))
        model["open"] = [seq, 0]
        if cutter.snap is not None:  # the power died inside open_clip: no audio handed over
            break
        for i in range(nblocks):
            cutter.op = "write"
            model["open"][1] = i + 1
            store.write_block(blk(seq, i))
            if cutter.snap is not None:
                break
        if cutter.snap is not None:
            break
        cutter.op = "close"
        side = store.close_clip()
        if cutter.snap is not None:
            break
        model["closed"].append({"clip_id": side["clip_id"], "seq": seq, "sha256": side["sha256"],
                                "blocks": nblocks})
        model["open"] = None
    dev.on_write = None
    if store._w is not None:
        store._w.abandon()
    store.index.close_handle()
    ramdisk.umount(MNT)
    return dev, model


def record(jobs_path):
    with open(jobs_path) as f:
        jobs = json.loads(f.read())
    for job in jobs:
        random.seed(job["seed"])
        image = None
        cut = None
        if job.get("cut_u", -1) >= 0:
            dry = Cutter()
            dev, _ = workload(job, dry)
            at = int(job["cut_u"] * dry.n)
            cutter = Cutter(at)
            random.seed(job["seed"])
            dev, model = workload(job, cutter)
            image = cutter.snap
            cut = {"write": at, "of": dry.n, "op": cutter.op_at_cut}
        else:
            cutter = Cutter()
            dev, model = workload(job, cutter)
            model["open"] = None
        out = ramdisk.RAMBlockDev(BS, NBLK, image if image is not None else dev.data)
        out.save(job["image"])
        model["cut"] = cut
        print(json.dumps(model))


class CutLink:
    """The serial link, silent from the moment the power dies."""

    def __init__(self, inner, cutter):
        self.inner = inner
        self.cutter = cutter

    def wait(self, want_write, timeout_ms):
        return self.inner.wait(want_write, timeout_ms)

    def readinto(self, mv):
        return self.inner.readinto(mv)

    def write(self, mv):
        if self.cutter.snap is not None:
            return 0
        return self.inner.write(mv)


def serve(image, fd, badge, cut_at):
    dev = ramdisk.RAMBlockDev.load(image, BS)
    ramdisk.mount(dev, MNT)
    st = state.BadgeState(MNT + "/sync.json", badge)
    store = clipstore.ClipStore(MNT + "/store", KEY, badge=badge)
    events = [{"event": e["event"], "clip_id": e.get("clip_id"), "dropped_ms": e.get("dropped_ms")}
              for e in store.events]
    cutter = Cutter(cut_at)
    dev.on_write = cutter.hook
    srv = server.Server(store, st, on_enroll=lambda kek: 0,
                        info_fn=lambda: {"battery_pct": 80, "simulated": True})
    serial = CutLink(SerialLink.fd(fd), cutter)
    print(json.dumps({"ready": True, "events": events,
                      "clips": [c["clip_id"] for c in store.list_clips()]}))
    while True:
        link.serve(serial, srv, stop=lambda: cutter.snap is not None, idle_ms=0)
        if cutter.snap is not None:
            ramdisk.RAMBlockDev(BS, NBLK, cutter.snap).save(image)
            print(json.dumps({"cut": cutter.at, "op": cutter.op_at_cut}))
            sys.exit(0)
        print(json.dumps({"session_writes": cutter.n}))
        srv.reset()


def bootcut(image, badge, u, seed):
    base = ramdisk.RAMBlockDev.load(image, BS)

    def boot(cutter):
        dev = ramdisk.RAMBlockDev(BS, NBLK, bytes(base.data))
        dev.on_write = cutter.hook
        ramdisk.mount(dev, MNT)
        store = clipstore.ClipStore(MNT + "/store", KEY, badge=badge)
        dev.on_write = None
        store.index.close_handle()
        ramdisk.umount(MNT)

    random.seed(seed)
    dry = Cutter()
    boot(dry)
    at = int(u * dry.n) if dry.n else -1
    cutter = Cutter(at)
    if at >= 0:
        boot(cutter)
    if cutter.snap is not None:
        ramdisk.RAMBlockDev(BS, NBLK, cutter.snap).save(image)
    print(json.dumps({"boot_cut": at if cutter.snap is not None else None, "of": dry.n}))


def main(argv):
    if argv[0] == "record":
        record(argv[1])
    elif argv[0] == "bootcut":
        bootcut(argv[1], argv[2], float(argv[3]), int(argv[4]))
    else:
        serve(argv[1], int(argv[2]), argv[3], int(argv[4]) if len(argv) > 4 else -1)


if __name__ == "__main__":
    main(sys.argv[1:])
