"""Boot-time consistency for the clip store: recovery, quarantine, index repair, status.

``boot(store)`` runs when a ClipStore is constructed, in this order (every step is
idempotent, so a power cut during boot is repaired by the next boot):

1. probe writability (a read-only filesystem is served as-is, nothing is changed);
2. load the index; a missing or corrupt log is rebuilt from the clip files;
3. remove leftovers of interrupted copies (``*.rec``, ``index.tmp``, ``tip.tmp``);
4. every clip file: finish a delete an ACK record asked for; add a closed clip the index
   lacks; close an open clip (power cut) at its last whole block with a ``recovered``
   trailer; quarantine a corrupt one (file moved to ``q/`` with a reason record); a file
   whose hash differs from the index is quarantined too;
5. a closed clip in the index without a file is recorded ``missing`` (never expected:
   the store deletes only after an ack);
6. compact the index and refresh the ``tip`` copy.
"""

import hashlib
import os

from firmware import aesctr
from firmware.clips import file as clipfile, fmt as clipfmt
from firmware.clips.index import ACKED, CLOSED, MISSING, QUARANTINED, SYNCED, IndexCorruptError
from firmware.clips.sink import write_json

__all__ = ["boot", "recover_one", "quarantine", "delete_files", "verify_one", "status",
           "scrub", "rewrap_all", "quarantine_read", "REASONS"]

REASONS = {1: "corrupt header", 2: "corrupt audio block", 3: "differs from the index",
           4: "hash mismatch", 5: "file name and header disagree", 6: "unreadable"}


def _ls(d):
    try:
        return os.listdir(d)
    except OSError:
        return []


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _probe(store):
    for d in (store.root, store.cdir, store.qdir):
        try:
            os.mkdir(d)
        except OSError as exc:
            if exc.args and exc.args[0] == 30:
                return False
    p = store.root + "/.probe"
    try:
        f = open(p, "wb")
        f.close()
        os.remove(p)
    except OSError as exc:
        if exc.args and exc.args[0] == 30:
            return False
        raise
    return True


def _seq(name):
    try:
        return int(name[name.rfind("-") + 1:-4])
    except ValueError:
        return -1


def boot(store):
    idx = store.index
    store.readonly = not _probe(store)
    rebuilt = False
    try:
        if not idx.load():
            rebuilt = True
            if idx.records == 0 and _ls(store.cdir):
                store.event("index_rebuilt", reason="index missing")
    except (IndexCorruptError, ValueError) as exc:
        rebuilt = True
        idx.reset()
        store.event("index_rebuilt", reason=str(exc))
    idx.read_tip()
    if not store.readonly:
        for n in _ls(store.cdir):
            if n.endswith(".rec"):
                _rm(store.cdir + "/" + n)
        _rm(store.root + "/index.tmp")
        _rm(store.root + "/tip.tmp")
    present = set()
    for n in sorted(_ls(store.qdir)):
        if n.endswith(".bkc"):
            seq = _seq(n)
            if seq < 0:
                continue
            store.names[seq] = n
            present.add(seq)
            e = idx.entries.get(seq)
            if e is not None and e.state == ACKED:
                if not store.readonly:
                    delete_files(store, seq, store.qdir + "/" + n)
                continue
            if (e is None or e.state != QUARANTINED) and not store.readonly:
                idx.add(4, seq, reason=6)
    for n in sorted(_ls(store.cdir)):
        if n.endswith(".bkc"):
            seq = _seq(n)
            if seq >= 0:
                present.add(seq)
                _boot_file(store, seq, n)
    for seq in sorted(idx.entries):
        e = idx.entries[seq]
        if e.state in (CLOSED, SYNCED) and seq not in present and not store.readonly:
            idx.add(5, seq, e.sha256)
            store.event("missing", store.clip_id(seq), detail="file gone without an ack")
    if rebuilt and not idx.entries and idx.tip_seq >= 0:
        idx.floor = idx.tip_seq
    elif rebuilt and idx.entries:
        idx.floor = max(idx.floor, min(idx.entries) - 1)
    if not store.readonly and (rebuilt or idx.needs_compaction() or store.events):
        idx.compact()
        if idx.tip_seq >= 0:
            idx.write_tip()


def _boot_file(store, seq, name):
    idx = store.index
    path = store.cdir + "/" + name
    store.names[seq] = name
    e = idx.entries.get(seq)
    if e is not None and e.state == ACKED:
        if not store.readonly:  # the ack is durable: finish the delete it asked for
            delete_files(store, seq, path)
            store.event("ack_completed", name[:-4])
        return
    ins = clipfile.inspect(path, store.keys)
    if ins.kind == "locked":
        store.locked.append(name[:-4])
        return
    if ins.header is not None and ins.header.seq != seq:
        ins.kind, ins.reason = "corrupt", REASONS[5]
    if store.readonly:
        if ins.kind == "closed" and e is None:
            idx._apply((1, ins.trailer.flags, 0, seq, ins.trailer.samples, ins.trailer.data_len,
                        ins.trailer.dropped_ms, _raw(ins.trailer.sha256), ins.header.start_epoch,
                        0))
        elif ins.kind != "closed":
            store.pending.append(name[:-4])
        return
    if ins.kind == "empty":
        _rm(path)
        store.event("empty_removed", name[:-4], detail=ins.reason)
        return
    if ins.kind == "corrupt":
        quarantine(store, seq, name, 1 if "header" in ins.reason else 6, ins.reason)
        return
    if ins.kind == "open":
        recover_one(store, seq, name)
        return
    t = ins.trailer
    if store.badge is None:
        store.badge = ins.header.badge
    if e is None or e.state == MISSING:
        idx.add(1, seq, t.sha256, t.samples, t.data_len, t.flags, t.dropped_ms,
                ins.header.start_epoch)
    elif e.sha256 != t.sha256 and e.state != QUARANTINED:
        quarantine(store, seq, name, 3, "trailer " + t.sha256[:16] + " index " + e.sha256[:16])


def _raw(hexsha):
    import binascii

    return binascii.unhexlify(hexsha)


def recover_one(store, seq, name):
    """Close a clip a power cut (or a write error) left open; quarantine if corrupt."""
    path = store.cdir + "/" + name
    rate = 16000
    try:
        ins = clipfile.inspect(path, store.keys)
        if ins.kind == "empty":
            _rm(path)
            store.event("empty_removed", name[:-4], detail=ins.reason)
            return None
        if ins.kind == "corrupt":
            quarantine(store, seq, name, 1, ins.reason)
            return None
        if ins.header is not None:
            rate = ins.header.sample_rate
        bound = store.flush_ms + 1000 * clipfmt.SAMPLES_PER_BLOCK // rate
        t, why = clipfile.recover(path, store.keys, bound, getattr(store, "sealer", None))
        if t is None:
            if ins.kind == "open":
                quarantine(store, seq, name, 2, why)
            return None
        store.index.add(1, seq, t.sha256, t.samples, t.data_len, t.flags, t.dropped_ms,
                        ins.header.start_epoch)
        store.index.write_tip()
    except OSError as e:
        store.pending.append(name[:-4])
        store.event("recovery_failed", name[:-4], detail=str(e))
        return None
    store.event("recovered", name[:-4], samples=t.samples, dropped_ms=t.dropped_ms)
    return t


def quarantine(store, seq, name, code, detail):
    """Move a clip file to ``q/`` with a reason record; it stays until acknowledged."""
    cid = name[:-4]
    reason = REASONS.get(code, "unknown") + (": " + detail if detail else "")
    write_json(store.qdir + "/" + cid + ".json", {"clip_id": cid, "seq": seq, "reason": reason})
    os.rename(store.cdir + "/" + name, store.qdir + "/" + name)
    e = store.index.entries.get(seq)
    store.index.add(4, seq, e.sha256 if e else None, reason=code)
    store.names[seq] = name
    store.event("quarantined", cid, reason=reason)


def delete_files(store, seq, path):
    _rm(path)
    if "/q/" in path:
        _rm(path[:-4] + ".json")


def verify_one(store, seq):
    e = store.index.entries.get(seq)
    if e is None or e.state not in (CLOSED, SYNCED):
        return False
    name = store.names.get(seq)
    store._drop_reader()
    try:
        r = clipfile.Reader(store.cdir + "/" + name, store.keys)
    except OSError:
        quarantine(store, seq, name, 6, "file header")
        return False
    try:
        raw = r.read(0, clipfmt.HEADER_SIZE)
        h = hashlib.sha256(raw)
        pos, end = clipfmt.HEADER_SIZE, clipfmt.HEADER_SIZE + e.data_len
        while pos < end:
            n = min(4096, end - pos)
            h.update(r.read(pos, n))
            pos += n
        ok = clipfmt.hexhash(h.digest()) == e.sha256
    finally:
        r.close()
    if not ok:
        quarantine(store, seq, name, 4, "stored " + e.sha256[:16])
    return ok


def quarantine_read(store, seq, offset=0, length=-1):
    """A quarantined clip as found: its decrypted clip stream (plaintext, like everything
    leaving the badge), or the raw file if its file header is unreadable. With the
    default ``length`` returns the size instead."""
    path = store._path(seq)
    try:
        r = clipfile.Reader(path, store.keys)
    except OSError:
        r = None
    try:
        if r is not None:
            if length < 0:
                return r.size
            return r.read(offset, max(0, min(length, r.size - offset)))
        if length < 0:
            return os.stat(path)[6]
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(length)
    finally:
        if r is not None:
            r.close()


def scrub(store):
    bad = []
    for seq in sorted(store.index.entries):
        if store.index.entries[seq].state in (CLOSED, SYNCED):
            cid = store.clip_id(seq)
            if not verify_one(store, seq):
                bad.append(cid)
    return bad


def rewrap_all(store, new_key):
    """Re-wrap every held clip's data key under ``new_key`` (idempotent per file)."""
    store.keys[aesctr.key_id(new_key)] = new_key
    n = 0
    for seq in sorted(store.index.entries):
        if store.index.entries[seq].state in (CLOSED, SYNCED, QUARANTINED):
            try:
                if clipfile.rewrap(store._path(seq), store.keys, new_key):
                    n += 1
            except clipfile.ClipFileError:
                pass  # a quarantined file without a readable header stays as it is
    store.kek = new_key
    return n


def status(store):
    """Space, counts, unsynced audio, warnings and this boot's recoveries."""
    bsize, total, free = store._statvfs()
    used = total - free
    counts = {"closed": 0, "synced": 0, "quarantined": 0, "missing": 0, "recovered": 0}
    unsynced = unacked = 0
    for e in store.index.entries.values():
        if e.state == CLOSED:
            counts["closed"] += 1
            unsynced += e.samples
        if e.state in (CLOSED, SYNCED):
            unacked += e.samples
            if e.flags & clipfmt.FLAG_RECOVERED:
                counts["recovered"] += 1
        if e.state == SYNCED:
            counts["synced"] += 1
        elif e.state == QUARANTINED:
            counts["quarantined"] += 1
        elif e.state == MISSING:
            counts["missing"] += 1
    pct = (100 * used) // total if total else 100
    warnings = []
    if pct >= store.warn_pct:
        warnings.append("store {}% full".format(pct))
    if store.full:
        warnings.append("store full: recording refused until the badge is synced")
    if store.readonly:
        warnings.append("filesystem is read-only")
    if store.fault:
        warnings.append(store.fault)
    if store.clock_warning:
        warnings.append(store.clock_warning)
    for k in ("quarantined", "missing"):
        if counts[k]:
            warnings.append("{} clip(s) {}".format(counts[k], k))
    if store.pending:
        warnings.append("{} clip(s) await recovery".format(len(store.pending)))
    if store.locked:
        warnings.append("{} clip(s) under an unknown key".format(len(store.locked)))
    rate_bps = (16000 * clipfmt.BLOCK_ALIGN) // clipfmt.SAMPLES_PER_BLOCK
    room = max(0, free - store.reserve)
    return {
        "badge": store.badge, "bytes_total": total, "bytes_used": used, "bytes_free": free,
        "used_pct": pct, "warn_pct": store.warn_pct, "warning": bool(warnings),
        "warnings": warnings, "full": store.full, "readonly": store.readonly,
        "fault": store.fault, "recording": store.recording, "clips": counts,
        "unsynced_seconds": unsynced / 16000, "unacked_seconds": unacked / 16000,
        "record_seconds_left": room // rate_bps, "next_seq": store.next_seq(),
        "tip_sha256": store.index.tip_sha,
        "recoveries": [ev for ev in store.events if ev["event"] == "recovered"],
        "events": list(store.events), "pending_recovery": list(store.pending),
        "locked": list(store.locked),
        "key_id": clipfmt.hexhash(aesctr.key_id(store.kek)),
        "sealing": store.sealer is not None,
    }
