# mypy: ignore-errors
"""Power cuts during a firmware update, under the MicroPython unix port on littlefs2.

    micropython tests/update/mp_powercut.py BUNDLE PUBKEY_HEX VERSION EVERY

The badge's filesystem is a littlefs2 RAM block device (firmware.ramdisk) holding the
release key, the clip store with three unsynced clips, and the firmware slots: the
layout of a badge without a microSD card, where the update and the clips share one
flash. The update runs as the badge runs it (firmware.fwstage: begin, 508-byte writes,
commit = verify + unpack + switch; then firmware.fwslots: the trial boot's count-down
and the confirmation). A dry run counts the device writes (programs and erases) and
labels each with its stage; then the flash is cut at every EVERY-th write (a copy taken
at that write with a random prefix of it applied: a torn program or erase), and every
copy is booted:

- littlefs mounts, the boot loader's decision (fwslots.choose) is a working firmware:
  the factory one, or a slot whose every file matches its signed manifest's hash;
- the new slot is active only if the cut came after the boot record's switch;
- the clip store boots with all three clips, each verifying (hash, chain);
- the update then finishes from there (resuming the transfer from the badge's offset)
  and the badge ends on the new firmware, confirmed, clips still all there.

Prints one JSON line of counts.
"""

import hashlib
import io
import json
import sys

from firmware import fwslots, fwstage, ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import store as clipstore

MNT = "/pc"
KEY = b"update-cut-k-016"
NBLK = 200


class PowerCut(Exception):
    pass


def blk(seq, i):
    return bytes(((j * 31 + i * 7 + seq * 101) & 0xFF) for j in range(256))


def meta(n):
    return {"badge": "pc", "session": "s1", "start_epoch": 1764000000 + n * 60, "start_ms": 0,
            "session_offset_samples": 0, "offset_samples": 0, "sample_rate": 16000}


def hexs(b):
    import binascii

    return binascii.hexlify(b).decode()


_open = []  # stores and stages whose files must be closed before their flash goes away


def drop_all():
    """Close every handle on the mounted flash (a finaliser must never run on an
    unmounted littlefs: it would call the block device with the heap locked)."""
    while _open:
        o = _open.pop()
        try:
            if isinstance(o, fwstage.Stage):
                o._close()
            else:
                if o._w is not None:
                    o._w.abandon()
                o._drop_reader()
                o.index.close_handle()
        except Exception:
            pass


def fresh(pub_hex):
    drop_all()
    ramdisk.umount(MNT)
    dev = ramdisk.RAMBlockDev(4096, NBLK)
    ramdisk.mount(dev, MNT, mkfs=True)
    fwslots._mkdir(MNT + "/fw")
    with open(MNT + "/fw/release.pub", "w") as f:
        f.write(pub_hex)
    s = clipstore.ClipStore(MNT + "/store", KEY)
    _open.append(s)
    clips = []
    for n in range(3):
        s.open_clip(meta(n))
        seq = s._w.hdr.seq
        for i in range(12):
            s.write_block(blk(seq, i))
        c = s.close_clip()
        clips.append((c["clip_id"], c["sha256"]))
    return dev, s, clips


class Update:
    """The update, stage by stage, as the badge does it."""

    def __init__(self, data, version):
        self.data = data
        self.version = version
        self.sha = hexs(hashlib.sha256(data).digest())
        self.stage = "start"
        self.resumed = 0

    def run(self, store, running="0.1.0"):
        self.stage = "transfer"
        slots = fwslots.Slots(MNT)
        if slots.rec.get("active") is None:
            st = fwstage.Stage(slots, running, "A", store, MNT + "/store")
            _open.append(st)
            off = st.begin(len(self.data), self.sha, self.version)
            self.resumed = off
            while off < len(self.data):
                off = st.write(off, self.data[off:off + 508])
            self.stage = "switch"
            st.commit()
        self.stage = "boot"
        slots = fwslots.Slots(MNT)
        slot = slots.choose()  # the trial boot: count down before the slot runs
        self.stage = "confirm"
        slots.confirm()  # its self-test passed and a sync session came
        self.stage = "done"
        return slot


def check_slot(slot, version):
    """The chosen firmware works: the factory one, or a slot matching its manifest."""
    if slot is None:
        return None
    d = MNT + "/fw/" + slot
    with open(d + "/manifest.json") as f:
        man = json.loads(json.loads(f.read())["manifest"])
    if man["version"] != version:
        return "slot {} holds {}".format(slot, man["version"])
    for path, size, sha in man["files"]:
        with open(d + "/" + path, "rb") as f:
            data = f.read()
        if len(data) != size or hexs(hashlib.sha256(data).digest()) != sha:
            return f"slot {slot}: {path} does not match its manifest"
    return None


def check_clips(clips):
    s = clipstore.ClipStore(MNT + "/store", KEY)
    _open.append(s)
    listed = {c["clip_id"]: c["sha256"] for c in s.list_clips()}
    prev = None
    for cid, sha in clips:
        if listed.get(cid) != sha:
            return s, f"clip {cid} lost or changed"
        size = [c for c in s.list_clips() if c["clip_id"] == cid][0]["size"]
        info = clipfmt.verify_wav(io.BytesIO(s.read(cid, 0, size + 10)), prev_sha256=prev)
        prev = info.sha256
    return s, None


def main():
    bundle_path, pub_hex, version, every = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(bundle_path, "rb") as f:
        data = f.read()
    # dry run: count and label the writes
    labels = []
    dev, store, clips = fresh(pub_hex)
    up = Update(data, version)
    dev.on_write = lambda d, kind, block, off, buf: labels.append(up.stage)
    assert up.run(store) == "a"
    dev.on_write = None
    counts = {}
    for x in labels:
        counts[x] = counts.get(x, 0) + 1
    total = len(labels)
    out = {"writes": total, "writes_by_stage": counts, "cuts": 0, "by_stage": {}, "failures": [], "resumed_max": 0,
           "finished": 0, "new_active_after_cut": 0, "resumed_mid_transfer": 0}
    seed = [12345]

    def rnd(n):
        seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return seed[0] % n if n else 0

    last_switch = max(i for i in range(total) if labels[i] == "switch")
    points = [k for k in range(total) if k % every == 0 or labels[k] in ("boot", "confirm")
              or last_switch - 24 <= k <= last_switch]
    for k in points:
        dev, store, clips = fresh(pub_hex)
        up = Update(data, version)
        snap = []

        base = dev.writes  # the writes of setting the badge up are not counted

        def hook(d, kind, block, off, buf, k=k, base=base, snap=snap):
            if d.writes - base == k:
                img = bytearray(d.data)
                a = block * d.bs + off
                if kind == 1:  # a torn erase: part of the block already 0xFF
                    n = rnd(d.bs)
                    img[a:a + n] = b"\xff" * n
                else:
                    n = rnd(len(buf) + 1)
                    img[a:a + n] = buf[:n]
                snap.append(bytes(img))
                raise PowerCut()

        dev.on_write = hook
        try:
            up.run(store)
        except PowerCut:
            pass
        except OSError:  # littlefs saw the device fail under it: the cut came mid-operation
            pass
        dev.on_write = None
        drop_all()
        if not snap:
            continue
        out["cuts"] += 1
        stage = up.stage
        out["by_stage"][stage] = out["by_stage"].get(stage, 0) + 1
        ramdisk.umount(MNT)
        dev2 = ramdisk.RAMBlockDev(4096, NBLK, snap[0])
        try:
            ramdisk.mount(dev2, MNT)
        except OSError as e:
            out["failures"].append(f"cut {k} ({stage}): mount failed: {e}")
            continue
        slot = fwslots.Slots(MNT).choose()
        err = check_slot(slot, version)
        if slot is not None:
            out["new_active_after_cut"] += 1
            if stage == "transfer":
                err = err or f"cut {k} in transfer, yet slot {slot} is active"
        s2, cerr = check_clips(clips)
        for e in (err, cerr):
            if e:
                out["failures"].append(f"cut {k} ({stage}): {e}")
        # finish the update from here: resume, switch, trial boot, confirm
        up2 = Update(data, version)
        try:
            final = up2.run(s2)
        except Exception as e:
            out["failures"].append(f"cut {k} ({stage}): could not finish: {type(e).__name__}: {e}")
            continue
        out["resumed_max"] = max(out["resumed_max"], up2.resumed)
        if stage == "transfer" and 0 < up2.resumed < len(data):
            out["resumed_mid_transfer"] += 1
        rec = fwslots.Slots(MNT).rec
        e = check_slot(final, version) or (None if final and rec["state"] == "confirmed" and
                                           rec["version"] == version else "did not end on "
                                           f"the new firmware: {rec}")
        _s3, e2 = check_clips(clips)
        for x in (e, e2):
            if x:
                out["failures"].append(f"cut {k} ({stage}) after finishing: {x}")
        out["finished"] += 1
    drop_all()
    print(json.dumps(out))


main()
