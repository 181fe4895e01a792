"""Power-cut campaign for the clip store; runs under the MicroPython unix port.

    micropython -X heapsize=96M bench/powercut_engine.py CUTS SEED

A deterministic workload (record clips, sync-ack and delete some, clean reboots, power
cuts mid-clip followed by boot recovery) runs on ``vfs.VfsLfs2`` over a RAM block
device. A dry run counts the device writes (programs and erases) and labels each with
the store operation in flight; CUTS write indices are then drawn (two fifths uniform,
a fifth each among writes of boot recovery, of ack deletion and of littlefs metadata
commits). In the
real run the device hook copies the device at each chosen write, with a random prefix
of that write applied (a torn program or erase), and the campaign "reboots" every copy:
mount, ClipStore boot, then checks against the model of what the recorder did:

- the filesystem mounts and the store boots;
- every clip closed before the cut is there and its WAV verifies (hash, chain, and the
  seal of clip format version 2: the store is an enrolled badge's);
- the clip open at the cut is recovered with <= 1 s lost, its audio an exact prefix;
- hash chain: every clip names its predecessor's hash (gaps only for quarantines);
- no clip is acknowledged but still present, none gone without an ack.

A third of the copies taken while a clip was open are cut again during their own
recovery boot (nested cut) and rebooted once more. Prints one JSON line of counts.
"""

import json
import random
import sys

from powercut_checks import BS, CLIP_KEY, KEY, NBLK, Checker, blk, is_meta_block

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import store as clipstore

RATE = 16000
FLUSH_MS = 500  # the store's flush interval (argv 4); the campaign must catch a lax one
def meta(seq):
    return {"badge": "pc01", "session": f"s{seq // 4}", "start_epoch": 1764000000 + seq * 60,
            "start_ms": 0, "session_offset_samples": 0, "offset_samples": 0, "sample_rate": RATE}


class Rng:
    """xorshift32: the workload's own stream, untouched by the harness's draws."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def randint(self, a, b):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return a + x % (b - a + 1)


class Model:
    """What the recorder and the sync server did, as far as they know."""

    def __init__(self):
        self.closed = {}  # seq -> sha (closed, not acked)
        self.sha_of = {}  # seq -> final sha of every clip ever closed
        self.acked = set()
        self.open = None  # [seq, blocks handed to write_block]
        self.inflight = None
        self.next_seq = 0

    def capture(self):
        m = Model()
        m.closed = dict(self.closed)
        m.sha_of = dict(self.sha_of)
        m.acked = set(self.acked)
        m.open = list(self.open) if self.open else None
        m.inflight = self.inflight
        m.next_seq = self.next_seq
        return m


class Run:
    def __init__(self, seed, points=None):
        self.rng = Rng(seed)
        self.m = Model()
        self.points = points
        self.pi = 0
        self.w = 0
        self.labels = []  # dry run: label of each write
        self.snaps = []
        self.dev = None
        self.store = None

    # ---- device hook -----------------------------------------------------------------
    def hook(self, dev, kind, block, off, buf):
        w = self.w
        self.w += 1
        if not self.points:
            lab = self.m.inflight[0] if self.m.inflight else "idle"
            if kind == 0 and lab not in ("boot", "ack", "mkfs"):
                full = bytearray(dev.data[block * BS:(block + 1) * BS])
                full[off:off + len(buf)] = buf
                if is_meta_block(full, 0):
                    lab = "meta"
            self.labels.append(lab)
            return
        while self.pi < len(self.points) and self.points[self.pi] == w:
            self.pi += 1
            snap = bytearray(dev.data)
            a = block * BS + off
            if kind == 0:
                n = random.randint(0, len(buf))
                snap[a:a + n] = bytes(buf)[:n]
                full = bytearray(snap)
                full[a:a + len(buf)] = buf
                cls = "meta" if is_meta_block(full, block) else "data"
            else:
                n = random.randint(0, BS)
                snap[a:a + n] = b"\xff" * n
                cls = "erase"
            where = (w, "prog" if kind == 0 else "erase", block, off, 0 if kind else len(buf), n)
            self.snaps.append((snap, self.m.capture(), cls, where))

    def newdev(self, data=None):
        if self.dev is not None:
            self.dev.on_write = None
        self.dev = ramdisk.RAMBlockDev(BS, NBLK, data)
        self.dev.on_write = self.hook

    # ---- workload --------------------------------------------------------------------
    def boot(self, fresh=False):
        ramdisk.umount("/flash")
        self.m.inflight = ("mkfs",) if fresh else ("boot",)  # formatting is the factory's
        ramdisk.mount(self.dev, "/flash", mkfs=fresh)
        self.m.inflight = ("boot",)
        self.store = clipstore.ClipStore("/flash/store", KEY, flush_ms=FLUSH_MS,
                                         clip_key=CLIP_KEY)
        self.m.inflight = None
        for ev in self.store.events:
            if ev["event"] == "recovered":
                seq = int(ev["clip_id"][-8:])
                sha = self.store.index.entries[seq].sha256
                self.m.closed[seq] = sha
                self.m.sha_of[seq] = sha
        if self.m.open is not None:
            seq = self.m.open[0]
            if seq not in self.m.closed:
                self.m.next_seq = seq  # nothing reached flash: the seq is reused
            self.m.open = None
        self.m.next_seq = self.store.next_seq()

    def clip(self, nblocks, cut_inside=False):
        m = self.m
        seq = m.next_seq
        m.inflight = ("open", seq)
        self.store.open_clip(meta(seq))
        m.open = [seq, 0]
        h = None
        for i in range(nblocks):
            m.open[1] += 1
            m.inflight = ("write", seq)
            self.store.write_block(blk(seq, i))
            m.inflight = None
            self.drain()
        if cut_inside:
            return
        m.inflight = ("close", seq)
        side = self.store.close_clip()
        h = side["sha256"]
        m.inflight = None
        m.closed[seq] = h
        m.sha_of[seq] = h
        m.open = None
        m.next_seq = seq + 1
        self.drain()

    def ack_oldest(self, n):
        for seq in sorted(self.m.closed)[:n]:
            sha = self.m.closed[seq]
            self.m.inflight = ("ack", seq)
            self.store.ack(clipfmt.clip_id("pc01", seq), sha)
            self.m.inflight = None
            del self.m.closed[seq]
            self.m.acked.add(seq)
            self.drain()

    def unclean_reboot(self):
        data = bytes(self.dev.data)  # the flash as the power died
        self.dev.on_write = None
        if self.store._w is not None:  # the dead instance's handles write to the old copy
            self.store._w.abandon()
        self.store.index.close_handle()
        self.newdev(data)
        self.boot()
        self.drain()

    def workload(self, rounds):
        self.newdev()
        self.boot(fresh=True)
        for r in range(rounds):
            k = r % 6
            self.clip(self.rng.randint(8, 70), cut_inside=(k == 4))
            if k == 4:
                self.unclean_reboot()
            elif k == 5:
                self.store.index.close_handle()
                self.boot()
                self.drain()
            if len(self.m.closed) > 3:
                self.ack_oldest(self.rng.randint(1, 3))
        ramdisk.umount("/flash")

    def drain(self):
        while self.snaps:
            snap, model, cls, where = self.snaps.pop(0)
            self.checker.where = where
            self.checker.check(snap, model, cls)


def main(cuts, seed, rounds):
    dry = Run(seed)
    dry.points = []
    dry.checker = None
    dry.workload(rounds)
    labels = dry.labels
    total = len(labels)
    random.seed(seed + 1)
    pool_boot = [i for i in range(total) if labels[i] == "boot"]
    pool_ack = [i for i in range(total) if labels[i] == "ack"]
    pool_meta = [i for i in range(total) if labels[i] == "meta"]
    chosen = set()
    for pool, n in ((pool_boot, cuts // 5), (pool_ack, cuts // 5), (pool_meta, cuts // 5)):
        for _ in range(min(n, len(pool))):
            chosen.add(pool[random.randint(0, len(pool) - 1)])
    usable = [i for i in range(total) if labels[i] != "mkfs"]
    while len(chosen) < min(cuts, len(usable)):
        chosen.add(usable[random.randint(0, len(usable) - 1)])
    print(json.dumps({"pools": {"boot": len(pool_boot), "ack": len(pool_ack), "meta": len(pool_meta)}}))
    run = Run(seed, sorted(chosen))
    run.checker = Checker()
    run.workload(rounds)
    c = run.checker
    lost = c.lost or [0.0]
    out = {"writes": total, "cuts": c.cuts, "primary_cuts": c.cuts - c.nested, "nested_recovery_cuts": c.nested, "by_op": c.by_op,
           "by_kind": c.by_kind, "clips_verified": c.verified,
           "lost_s_max": max(lost), "lost_s_mean": sum(lost) / len(lost),
           "open_clips_checked": len(c.lost), "failures": c.failures,
           "failure_count": c.nfail}
    print(json.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) > 3:
        FLUSH_MS = int(a[3])
    main(int(a[0]) if a else 100, int(a[1]) if len(a) > 1 else 1, int(a[2]) if len(a) > 2 else 24)
