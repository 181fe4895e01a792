"""Checks of the power-cut campaign (bench/powercut_engine.py): reboot a copy, verify it.

Runs under the MicroPython unix port. ``Checker.check`` mounts a copy of the device taken
at a cut, boots the store on it and compares it with the model of what the recorder and
the sync server did; ``is_meta_block`` tells littlefs metadata blocks from data blocks.
"""

import hashlib
import io
import os
import random

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import mac as clipmac
from firmware.clips import store as clipstore
from firmware.clips.index import ACKED

KEY = b"powercut-key-016"
CLIP_KEY = clipmac.clip_key_of(b"powercut-enrollment-secret-32byt")  # an enrolled badge
BS = 4096
NBLK = 128
BLOCKS_PER_S = 16000 / clipfmt.SAMPLES_PER_BLOCK
_PAT = [bytes(((k * 73 + j * 29) ^ (j >> 3)) & 0xFF for j in range(252)) for k in range(61)]


def blk(seq, i):
    """The recorder's block ``i`` of clip ``seq``: valid IMA ADPCM block header, known data."""
    b = bytearray(4)
    v = (seq * 977 + i * 31) & 0x7FFF
    b[0], b[1], b[2] = v & 0xFF, v >> 8, (seq + i) % 89
    return bytes(b) + _PAT[(seq * 7 + i) % 61]


def is_meta_block(data, block):
    """True if ``block`` holds a valid littlefs metadata commit (rev + tags + CRC)."""
    import binascii

    base = block * BS
    ptag, off = 0xFFFFFFFF, 4
    while off + 8 <= BS:
        raw = data[base + off:base + off + 4]
        tag = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) ^ ptag
        if tag & 0x80000000:
            return False
        size = tag & 0x3FF
        t3 = (tag >> 20) & 0x7FF
        if 0x500 <= t3 < 0x5FF:
            c = data[base + off + 4:base + off + 8]
            stored = c[0] | (c[1] << 8) | (c[2] << 16) | (c[3] << 24)
            return (binascii.crc32(data[base:base + off + 4]) ^ 0xFFFFFFFF) == stored
        off += 4 + (0 if size == 0x3FF else size)
        ptag = tag
    return False


class Checker:
    def __init__(self, nested_share=3):
        self.nested_share = nested_share
        self.cuts = 0
        self.by_op = {}
        self.by_kind = {}
        self.nested = 0
        self.verified = 0
        self.lost = []
        self.failures = []
        self.nfail = 0
        self.where = None  # (write index, prog|erase, block, offset, length, bytes applied)

    def fail(self, msg):
        self.nfail += 1
        if len(self.failures) < 20:
            self.failures.append(msg)

    def check(self, snap, model, cls, nested_ok=True, op=None):
        self.cuts += 1
        op = op or (model.inflight[0] if model.inflight else "idle")
        self.by_op[op] = self.by_op.get(op, 0) + 1
        self.by_kind[cls] = self.by_kind.get(cls, 0) + 1
        if nested_ok and model.open is not None and (self.cuts % self.nested_share) == 0:
            self.nested_cut(snap, model)
        try:
            self.verify(snap, model)
        except Exception as e:  # any escape is a campaign failure, reported
            self.fail(f"{op} {cls}: {type(e).__name__} {e}")
        ramdisk.umount("/v")

    def nested_cut(self, snap, model):
        """Cut again inside the recovery boot of this copy, then check that copy."""
        counter = [0]

        def count(dev, kind, block, off, buf):
            counter[0] += 1

        def boot(on_write, what):
            dev = ramdisk.RAMBlockDev(BS, NBLK, bytes(snap))
            dev.on_write = on_write
            try:
                ramdisk.mount(dev, "/n")
                s = clipstore.ClipStore("/n/store", KEY, clip_key=CLIP_KEY)
                s.index.close_handle()
            except Exception as e:
                self.fail(f"{what}: {e}")
            ramdisk.umount("/n")

        boot(count, "nested dry boot")
        if counter[0] == 0:
            return
        target = random.randint(0, counter[0] - 1)
        got = []

        def cut(dev, kind, block, off, buf):
            if counter[0] == target:
                s2 = bytearray(dev.data)
                a = block * BS + off
                if kind == 0:
                    n = random.randint(0, len(buf))
                    s2[a:a + n] = bytes(buf)[:n]
                else:
                    n = random.randint(0, BS)
                    s2[a:a + n] = b"\xff" * n
                got.append(s2)
            counter[0] += 1

        counter[0] = 0
        boot(cut, "nested boot")
        if got:
            self.nested += 1
            self.where = ("nested", target)
            self.check(got[0], model, "recovery", nested_ok=False, op="recovery")

    def verify(self, snap, model):
        dev = ramdisk.RAMBlockDev(BS, NBLK, snap)
        try:
            ramdisk.mount(dev, "/v")
        except OSError as e:
            self.fail(f"mount failed: {e} (op {model.inflight}, cut {self.where})")
            return
        s = clipstore.ClipStore("/v/store", KEY, clip_key=CLIP_KEY)
        st = s.status()
        if st["clips"]["missing"] or st["clips"]["quarantined"] or st["pending_recovery"]:
            self.fail("unexpected state {}".format(st["clips"]))
        entries = s.index.entries
        files = set(os.listdir("/v/store/clips"))
        infl = model.inflight or ("idle",)
        # no acked-but-present, no gone-without-ack
        for seq, e in entries.items():
            present = (clipfmt.clip_id("pc01", seq) + ".bkc") in files
            if e.state == ACKED and present:
                self.fail(f"clip {seq} acknowledged but not deleted")
        for seq in model.acked:
            if (clipfmt.clip_id("pc01", seq) + ".bkc") in files:
                self.fail(f"acked clip {seq} still on flash")
        expect = dict(model.closed)
        for seq, sha in expect.items():
            name = clipfmt.clip_id("pc01", seq) + ".bkc"
            e = entries.get(seq)
            acked_now = e is None and seq <= s.index.floor or (e is not None and e.state == ACKED)
            if infl[0] == "ack" and infl[1] == seq and acked_now:
                if name in files:
                    self.fail(f"ack of {seq} half done")
                continue
            if name not in files or e is None or e.state == ACKED:
                self.fail(f"closed clip {seq} lost (state {e and e.state})")
                continue
            info = self.wav(s, seq)
            if info.sha256 != sha:
                self.fail(f"clip {seq} hash {info.sha256[:12]} != {sha[:12]}")
            self.chain(info, model)
            self.verified += 1
        if model.open is not None:
            self.check_open(s, model, files)
        s._drop_reader()
        s.index.close_handle()

    def wav(self, s, seq):
        cid = clipfmt.clip_id("pc01", seq)
        data = s.read(cid, 0, 1 << 24)
        info = clipfmt.verify_wav(io.BytesIO(data))
        seal = clipmac.check(info, CLIP_KEY)  # closed or recovered: sealed by the badge
        if seal.status != clipmac.AUTHENTICATED:
            self.fail(f"clip {seq} seal: {seal.status} ({seal.reason})")
        return info

    def chain(self, info, model):
        seq = info.header.seq
        want = model.sha_of.get(seq - 1, clipfmt.ZERO_HASH) if seq else clipfmt.ZERO_HASH
        if info.header.prev_sha256 != want:
            self.fail(f"chain broken at {seq}")

    def check_open(self, s, model, files):
        seq, written = model.open
        name = clipfmt.clip_id("pc01", seq) + ".bkc"
        if name not in files:
            if written > BLOCKS_PER_S:
                self.fail(f"open clip {seq} with {written} blocks vanished")
            else:
                self.lost.append(written / BLOCKS_PER_S)
            return
        info = self.wav(s, seq)
        self.chain(info, model)
        r = info.trailer.data_len // clipfmt.BLOCK_ALIGN
        h = hashlib.sha256(info.header.raw)
        for i in range(r):
            h.update(blk(seq, i))
        if clipfmt.hexhash(h.digest()) != info.sha256:
            self.fail(f"recovered clip {seq} is not a prefix of what was recorded")
        if r > written:
            self.fail(f"clip {seq} has more blocks than were written")
        lost = (written - r) / BLOCKS_PER_S
        if lost > 1.0:
            self.fail(f"clip {seq} lost {lost:.2f} s")
        self.lost.append(lost)
        self.verified += 1


