"""Clip store scenarios, run under the MicroPython unix port (one per process).

    micropython tests/store/mp_scenarios.py NAME

Each scenario drives firmware.clips.store on vfs.VfsLfs2 over a RAM block device and
prints one JSON object of facts; tests/store/test_store.py asserts on them.
"""

import io
import json
import os
import sys

from firmware import ramdisk
from firmware.clips import fmt as clipfmt
from firmware.clips import keys as clipkeys
from firmware.clips import store as clipstore

K = b"scenario-key-016"
K2 = b"enrolled-key-0032-bytes-long!!!!"
MNT = "/flash"
ROOT = MNT + "/store"


def blk(seq, i):
    b = bytearray(256)
    b[0], b[1], b[2] = (seq * 13 + i) & 0xFF, i & 0x7F, (seq + i) % 89
    for j in range(4, 256):
        b[j] = (j * 31 + i * 7 + seq * 101) & 0xFF
    return bytes(b)


def meta(epoch=1764000000, session="s1"):
    return {"badge": "bk07", "session": session, "start_epoch": epoch, "start_ms": 250,
            "session_offset_samples": 0, "offset_samples": 0, "sample_rate": 16000}


def fresh(nblk=128, **kw):
    ramdisk.umount(MNT)
    dev = ramdisk.RAMBlockDev(4096, nblk)
    ramdisk.mount(dev, MNT, mkfs=True)
    return dev, clipstore.ClipStore(ROOT, kw.pop("key", K), **kw)


def reboot(dev, store=None, readonly=False, **kw):
    """Power cut: keep the flash as it is now, drop every handle, boot again."""
    data = bytes(dev.data)
    dev.on_write = None
    if store is not None:
        if store._w is not None:
            store._w.abandon()
        store._drop_reader()
        store.index.close_handle()
    ramdisk.umount(MNT)
    dev2 = ramdisk.RAMBlockDev(4096, dev.n, data)
    ramdisk.mount(dev2, MNT, readonly=readonly)
    return dev2, clipstore.ClipStore(ROOT, kw.pop("key", K), **kw)


def record(store, nblocks, epoch=1764000000, close=True, samples=None):
    store.open_clip(meta(epoch))
    seq = store._w.hdr.seq
    for i in range(nblocks):
        store.write_block(blk(seq, i))
    if close:
        return store.close_clip(samples)
    return seq


def wav(store, cid, chunk=0):
    size = [c for c in store.list_clips() if c["clip_id"] == cid][0]["size"]
    if not chunk:
        return store.read(cid, 0, size + 10)
    out = b""
    while len(out) < size:
        out += store.read(cid, len(out), chunk)
    return out


def verify(store, cid, prev=None):
    return clipfmt.verify_wav(io.BytesIO(wav(store, cid)), prev_sha256=prev)


def err(fn, *a):
    try:
        fn(*a)
    except Exception as e:
        return type(e).__name__
    return None


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def poke(path, pos, data):
    f = open(path, "r+b")
    f.seek(pos)
    f.write(data)
    f.close()


# ---- scenarios ---------------------------------------------------------------------
def basic():
    dev, s = fresh()
    sides = [record(s, n, samples=n * 505 - 17) for n in (40, 7, 90)]
    ids = [c["clip_id"] for c in s.list_clips()]
    prev = clipfmt.ZERO_HASH
    chained = True
    for k in range(len(ids)):
        info = verify(s, ids[k], prev)
        chained = chained and info.sha256 == sides[k]["sha256"]
        prev = info.sha256
    ranged = wav(s, ids[2], chunk=1000) == wav(s, ids[2])
    odd = s.read(ids[0], 263, 3) == wav(s, ids[0])[263:266]
    mismatch = err(s.ack, ids[0], "0" * 64)
    after_bad_ack = len(list(s.list_clips()))
    acked = s.ack(ids[0], sides[0]["sha256"])
    again = s.ack(ids[0], sides[0]["sha256"])
    dev, s = reboot(dev, s)
    left = [c["clip_id"] for c in s.list_clips()]
    st = s.status()
    side = s.info(ids[1])
    nf = err(s.read, "bk07-00000099", 0, 10)
    return {"ids": ids, "chained": chained, "ranged": ranged, "odd": odd, "mismatch": mismatch,
            "after_bad_ack": after_bad_ack, "acked": acked, "again": again, "left": left,
            "files": sorted(os.listdir(ROOT + "/clips")), "closed": st["clips"]["closed"],
            "unsynced_seconds": st["unsynced_seconds"], "sidecar": side,
            "next_seq": st["next_seq"], "not_found": nf, "samples0": sides[0]["samples"]}


def at_rest():
    dev, s = fresh()
    record(s, 60)
    image = bytes(dev.data)
    leaks = sum(1 for i in range(60) if blk(0, i)[8:40] in image)
    hdr_leak = b"bk07" in image.replace(b"bk07-00000000", b"")
    dev, s = reboot(dev, s, key=b"wrong-key-000016")
    st = s.status()
    locked = st["locked"]
    files = sorted(os.listdir(ROOT + "/clips"))
    dev, s = reboot(dev, s)
    ok = verify(s, "bk07-00000000").trailer.samples
    return {"leaks": leaks, "hdr_leak": hdr_leak, "locked": locked, "files": files,
            "samples": ok, "warnings": st["warnings"]}


def enroll():
    ramdisk.umount(MNT)
    dev = ramdisk.RAMBlockDev(4096, 128)
    ramdisk.mount(dev, MNT, mkfs=True)
    kf = clipkeys.KeyFile(MNT + "/nvs-keys.json")  # stands in for the badge's NVS
    key, old, src = kf.load()
    s = clipstore.ClipStore(ROOT, key, old_keys=old)
    a = record(s, 20)
    b = record(s, 30)
    kf.enroll(K2)
    key2, old2, src2 = kf.load()
    n = s.set_key(key2)
    kf.forget_old()
    c = record(s, 10)
    dev, s = reboot(dev, s, key=K2)
    hashes = [verify(s, x["clip_id"]).sha256 for x in (a, b, c)]
    dev, s = reboot(dev, s, key=key)
    locked_with_old = s.status()["locked"]
    return {"src": src, "src2": src2, "rewrapped": n, "old_kept": len(old2),
            "ok": hashes == [a["sha256"], b["sha256"], c["sha256"]],
            "locked_with_old": locked_with_old, "final_old": len(kf.load()[1])}


def recover():
    dev, s = fresh()
    a = record(s, 50)
    seq = record(s, 77, close=False)
    dev, s = reboot(dev, s)
    st = s.status()
    info = verify(s, clipfmt.clip_id("bk07", seq), a["sha256"])
    nxt = record(s, 5)
    # a torn tail (a filesystem without atomic appends): extra half block on an open clip
    seq2 = record(s, 33, close=False)
    s._w.sync()
    path = ROOT + "/clips/" + clipfmt.clip_id("bk07", seq2) + ".bkc"
    s._w.f.write(b"\x55" * 100)
    s._w.sync()
    dev, s = reboot(dev, s)
    info2 = verify(s, clipfmt.clip_id("bk07", seq2), nxt["sha256"])
    return {"events": st["recoveries"], "recovered": info.trailer.recovered,
            "blocks": info.trailer.data_len // 256, "dropped_ms": info.trailer.dropped_ms,
            "next_prev_ok": nxt["prev_sha256"] == info.sha256, "count": st["clips"]["recovered"],
            "torn_blocks": info2.trailer.data_len // 256, "torn_recovered": info2.trailer.recovered,
            "no_rec_left": [n for n in os.listdir(ROOT + "/clips") if n.endswith(".rec")],
            "torn_path_exists": path.split("/")[-1] in os.listdir(ROOT + "/clips")}


def quarantine():
    dev, s = fresh()
    a = record(s, 20)
    b = record(s, 20)
    c = record(s, 20)
    # corrupt b's clip header on flash (encrypted bytes: any flip breaks the magic/fields)
    poke(ROOT + "/clips/bk07-00000001.bkc", 48 + 2, b"\x00\x00\x00\x00")
    # corrupt one audio block of c (caught by scrub: hash mismatch)
    poke(ROOT + "/clips/bk07-00000002.bkc", 48 + 136 + 256 * 5 + 40, b"\xff" * 8)
    dev, s = reboot(dev, s)
    st1 = s.status()
    bad = s.scrub()
    lst = {x["clip_id"]: x["state"] for x in s.list_clips()}
    qfiles = sorted(os.listdir(ROOT + "/q"))
    reason = json.loads(file_bytes(ROOT + "/q/bk07-00000001.json"))["reason"]
    raw = s.read("bk07-00000001", 0, 1 << 20)
    craw = s.read("bk07-00000002", 100, 1 << 20)
    plain = raw[136:136 + 256] == blk(1, 0) and craw[36:36 + 256] == blk(2, 0)
    q_size = [x["size"] for x in s.list_clips() if x["clip_id"] == "bk07-00000001"]
    d = record(s, 5)
    dev, s = reboot(dev, s)
    lst2 = {x["clip_id"]: x["state"] for x in s.list_clips()}
    acked = s.ack("bk07-00000001")
    qleft = sorted(os.listdir(ROOT + "/q"))
    # an open clip with a corrupt block is quarantined by recovery, not closed over it
    seq = record(s, 12, close=False)
    s._w.sync()
    dev, s = reboot(dev, s)
    cid = clipfmt.clip_id("bk07", seq)
    return {"boot_events": [e["event"] for e in st1["events"]], "scrub": bad, "states": lst,
            "qfiles": qfiles, "reason": reason, "raw_len": len(raw), "plain": plain,
            "q_size": q_size,
            "d_prev_is_c": d["prev_sha256"] == c["sha256"], "states2": lst2, "acked": acked,
            "qleft": qleft, "a_ok": verify(s, "bk07-00000000").sha256 == a["sha256"],
            "b_sha": b["sha256"][:8], "open_recovered": [e["clip_id"] for e in s.status()["recoveries"]] == [cid],
            "warnings": st1["warnings"]}


def corrupt_open_block():
    dev, s = fresh()
    record(s, 10)
    seq = record(s, 40, close=False)
    s._w.sync()
    s._w.abandon()
    path = ROOT + "/clips/" + clipfmt.clip_id("bk07", seq) + ".bkc"
    # decrypt-flip-encrypt is not needed: find the block whose step index is > 88 after a flip
    from firmware.clips import file as clipfile

    r = clipfile.Reader(path, {__import__("firmware.aesctr").aesctr.key_id(K): K})
    pos = 136 + 256 * 17 + 2
    plain = r.read(pos, 1)[0]
    ks = r.ctr.apply(pos, bytes([plain]))[0] ^ plain ^ 0
    r.close()
    poke(path, 48 + pos, bytes([ks ^ 0xF0]))  # step index becomes plain^... >= 0xF0 > 88
    s._w = None
    dev, s = reboot(dev, s)
    st = s.status()
    return {"quarantined": st["clips"]["quarantined"], "events": [e["event"] for e in st["events"]],
            "q": sorted(os.listdir(ROOT + "/q")), "next_seq": s.next_seq()}


def index_repair():
    dev, s = fresh()
    a = record(s, 10)
    record(s, 10)
    s.ack(a["clip_id"])
    c = record(s, 10)
    s.index.close_handle()
    os.remove(ROOT + "/index.log")
    dev, s = reboot(dev, s)
    lost = {"events": [e["event"] for e in s.status()["events"]], "ids": [x["clip_id"] for x in s.list_clips()],
            "next_seq": s.next_seq(), "tip_ok": s.index.tip_sha == c["sha256"]}
    d = record(s, 4)
    # flip one byte in the middle of the log: CRC fails, the log is rebuilt
    s.index.close_handle()
    poke(ROOT + "/index.log", 70, b"\x01")
    dev, s = reboot(dev, s)
    corrupt = {"events": [e["event"] for e in s.status()["events"]],
               "ids": [x["clip_id"] for x in s.list_clips()], "prev_ok": d["prev_sha256"] == c["sha256"]}
    # everything acked and deleted, index lost: the tip copy still chains the next clip
    for x in list(s.list_clips()):
        s.ack(x["clip_id"])
    s.index.close_handle()
    os.remove(ROOT + "/index.log")
    dev, s = reboot(dev, s)
    e = record(s, 3)
    # a file deleted behind the store's back is reported missing, not ignored
    f = record(s, 3)
    os.remove(ROOT + "/clips/" + f["clip_id"] + ".bkc")
    dev, s = reboot(dev, s)
    st = s.status()
    # a file replaced by another clip's file differs from the index: quarantined
    g = record(s, 3)
    h = record(s, 3)
    os.rename(ROOT + "/clips/" + g["clip_id"] + ".bkc", ROOT + "/clips/" + h["clip_id"] + ".bkc")
    dev, s = reboot(dev, s)
    st2 = s.status()
    return {"lost": lost, "corrupt": corrupt, "after_all_acked_prev_ok": e["prev_sha256"] == d["sha256"],
            "e_seq": e["seq"], "missing": st["clips"]["missing"], "missing_warn": st["warnings"],
            "replaced_events": [(x["event"], x.get("clip_id")) for x in st2["events"]], "h": h["clip_id"],
            "g_state": [x["state"] for x in s.list_clips() if x["clip_id"] == g["clip_id"]]}


def ack_cut():
    dev, s = fresh()
    a = record(s, 10)
    record(s, 10)
    seq = a["seq"]
    s.index.add(3, seq, a["sha256"])  # the ack record is durable, the power dies before the delete
    dev, s = reboot(dev, s)
    st = s.status()
    return {"events": [(e["event"], e.get("clip_id")) for e in st["events"]],
            "files": sorted(os.listdir(ROOT + "/clips")), "ids": [x["clip_id"] for x in s.list_clips()]}


def compaction():
    """Hundreds of index records: the log is compacted (tmp + rename) and still right."""
    dev, s = fresh()
    sizes = []
    last = None
    for n in range(150):
        last = record(s, 1)
        s.mark_synced(last["clip_id"])
        if n < 145:
            s.ack(last["clip_id"], last["sha256"])
        sizes.append(s.index.records)
    dev, s = reboot(dev, s)
    ids = [x["clip_id"] for x in s.list_clips()]
    states = sorted(set(x["state"] for x in s.list_clips()))
    nxt = record(s, 2)
    return {"max_records": max(sizes), "records_now": s.index.records, "ids": ids,
            "states": states, "floor": s.index.floor, "chain_ok": nxt["prev_sha256"] == last["sha256"],
            "next_seq": nxt["seq"], "files": len(os.listdir(ROOT + "/clips"))}


def main(name, *args):
    out = globals()[name](*args)
    ramdisk.umount(MNT)
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
