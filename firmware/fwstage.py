"""Receive a firmware bundle, verify it, unpack it into the inactive slot, switch.

The companion streams the bundle (firmware.sync.fwsync): ``begin`` names it (size and
SHA-256) and answers the byte offset to continue from, ``write`` appends at exactly that
offset, ``commit`` verifies and switches. The bundle lands in ``/fw/incoming.bin``
(flushed every 16 KiB and at commit, so after a power cut the file's committed length is
where the transfer resumes), described by ``/fw/incoming.json``.

``commit``: SHA-256 of the whole file against what ``begin`` announced (a transfer
check), then the bundle itself: layout, the release key's Ed25519 signature, hardware
revision, architecture, version rules (no downgrade, no replay of an older or the same
release, the running version at least the bundle's minimum), then every file unpacked
into the inactive slot with its hash checked, the manifest written last, and only then
the boot record switched (firmware.fwslots, atomic). A refusal at any step leaves the
running firmware and its boot record as they were. Recording, clips and keys are never
touched; an update is refused while recording and when it would leave a store with
unsynced clips short of space (`space_refusal`).
"""

import hashlib
import json
import os
import sys

from firmware import const, fwbundle, fwslots

__all__ = ["Stage", "UpdateRefused", "space_refusal", "MARGIN_PCT", "arch_name"]

MARGIN_PCT = const(20)  # an update must leave this much of the store's filesystem free
_FLUSH = const(16384)
_REBOOT_DELAY_MS = const(800)  # the commit reply leaves before the reset (firmware.fwbadge.tick)
_ARCHS = ("bytecode", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
          "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")


class UpdateRefused(Exception):
    """The update cannot start or cannot be installed; ``code`` is a sync error code."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def arch_name():
    """The native architecture .mpy files must have to run here (sys.implementation._mpy)."""
    mpy = getattr(sys.implementation, "_mpy", 0)
    a = (mpy >> 10) & 0xF
    return _ARCHS[a] if a < len(_ARCHS) else "arch{}".format(a)


def space_refusal(fs_free, need, store_free, store_total, unsynced, same_fs):
    """None if an update needing ``need`` bytes may start, else the reason.

    ``fs_free``: free bytes where the slots live; ``store_*``: the clip store's medium;
    ``same_fs``: both on one filesystem (a badge without a microSD card)."""
    if need > fs_free:
        return "not enough space for the update: needs {} KiB, {} KiB free".format(
            need // 1024, fs_free // 1024)
    if unsynced and store_total:
        left = store_free - need if same_fs else store_free
        if left * 100 < store_total * MARGIN_PCT:
            return ("{} unsynced clip(s) and the store would be under {} % free: sync the "
                    "clips first".format(unsynced, MARGIN_PCT))
    return None


def _statvfs(path):
    st = os.statvfs(path)
    return st[0] * st[4], st[0] * st[2], (st[0], st[2])  # free, total, identity


class Stage:
    """The receiving end of an update on one badge (shared by its USB and BLE servers).

    ``slots``: firmware.fwslots.Slots; ``running``: the version running now; ``rev``: the
    board revision; ``store``: the clip store (``recording``, ``status()``) or None;
    ``store_root``: where the store lives (space check)."""

    def __init__(self, slots, running, rev, store=None, store_root=None):
        self.slots = slots
        self.running = running
        self.rev = rev
        self.store = store
        self.store_root = store_root
        self.inc = slots.dir + "/incoming.bin"
        self.meta_path = slots.dir + "/incoming.json"
        self.f = None
        self.meta = None
        self.offset = 0
        self.unflushed = 0
        self.reboot_due = False
        self.reboot_at = 0
        self.verify_ms = None

    # ---- transfer ----------------------------------------------------------------------
    def _close(self):
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None

    def _read_meta(self):
        try:
            with open(self.meta_path) as f:
                m = json.loads(f.read())
            return m if isinstance(m, dict) else None
        except (OSError, ValueError):
            return None

    def _check_start(self, size):
        st = self.store
        if st is not None and getattr(st, "recording", False):
            raise UpdateRefused("busy", "the badge is recording a meeting; update it after "
                                "the meeting")
        if self.slots.rec.get("state") == "trial":
            raise UpdateRefused("busy", "the running firmware is still on trial; sync once "
                                "to confirm it, then update")
        if self.slots.public_key() is None:
            raise UpdateRefused("update", "this badge has no release key (set at deploy time)")
        fw_free, _t, fw_id = _statvfs(self.slots.dir)
        unsynced = 0
        s_free = s_total = 0
        same = False
        if st is not None and self.store_root:
            try:
                unsynced = st.status()["clips"]["closed"]
                s_free, s_total, s_id = _statvfs(self.store_root)
                same = s_id == fw_id
            except (OSError, KeyError, TypeError):
                pass
        why = space_refusal(fw_free, 2 * size, s_free, s_total, unsynced, same)
        if why:
            raise UpdateRefused("store", why)

    def begin(self, size, sha256, version):
        """Start or resume the transfer of a bundle; returns the offset to send from."""
        if size <= fwbundle.HEADER or size > fwbundle.MAX_BUNDLE + fwbundle.MAX_MANIFEST:
            raise UpdateRefused("bad_payload", "bundle size {} out of range".format(size))
        self._close()
        fwslots._mkdir(self.slots.dir)
        m = self._read_meta()
        have = 0
        if m is not None and m.get("sha256") == sha256 and m.get("size") == size:
            try:
                have = min(os.stat(self.inc)[6], size)
            except OSError:
                have = 0
        if have == 0:
            self._check_start(size)
            fwslots.rmtree(self.inc)
            m = {"sha256": sha256, "size": size, "version": version}
            tmp = self.meta_path + ".tmp"
            with open(tmp, "w") as f:
                f.write(json.dumps(m))
            os.rename(tmp, self.meta_path)
            open(self.inc, "wb").close()
        elif self.store is not None and getattr(self.store, "recording", False):
            raise UpdateRefused("busy", "the badge is recording a meeting; update it after "
                                "the meeting")
        self.meta = m
        self.offset = have
        self.unflushed = 0
        return have

    def write(self, offset, data):
        m = self.meta
        if m is None:
            raise UpdateRefused("update", "no update in progress: begin first")
        if offset != self.offset:
            raise UpdateRefused("offset", "offset {}, expected {}".format(offset, self.offset))
        if offset + len(data) > m["size"]:
            raise UpdateRefused("bad_payload", "data beyond the bundle's announced size")
        if self.f is None:
            self.f = open(self.inc, "ab")
        self.f.write(data)
        self.offset += len(data)
        self.unflushed += len(data)
        if self.unflushed >= _FLUSH:
            self.f.flush()
            self.unflushed = 0
        return self.offset

    # ---- install -----------------------------------------------------------------------
    def commit(self):
        """Verify the received bundle and switch to it (on trial at the next boot)."""
        m = self.meta
        if m is None:
            raise UpdateRefused("update", "no update in progress: begin first")
        self._close()
        size = m["size"]
        if self.offset != size:
            raise UpdateRefused("update", "bundle incomplete: {} of {} bytes".format(
                self.offset, size))
        h = hashlib.sha256()
        buf = bytearray(2048)
        with open(self.inc, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(memoryview(buf)[:n])
        import binascii

        if binascii.hexlify(h.digest()).decode() != m["sha256"]:
            self._discard()
            raise UpdateRefused("hash_mismatch", "the received bundle differs from the one "
                                "announced (transfer damaged): send it again")
        try:
            manifest, slot, ms = self._install(size)
        except fwbundle.BundleError as e:
            self._discard()
            raise UpdateRefused("update", str(e))
        self._discard()
        self.verify_ms = ms
        self.reboot_due = True
        from firmware.sync.link import ticks_ms

        self.reboot_at = ticks_ms() + _REBOOT_DELAY_MS
        return {"version": manifest["version"], "slot": slot, "verify_ms": ms,
                "previous": self.running}

    def _discard(self):
        self.meta = None
        self.offset = 0
        fwslots.rmtree(self.inc)
        fwslots.rmtree(self.meta_path)

    def _check_release(self, man):
        v = fwbundle.parse_version(man["version"])
        lo = fwbundle.parse_version(man["min_version"])
        try:
            run = fwbundle.parse_version(self.running)
        except fwbundle.BundleError:
            run = (0, 0, 0)
        if self.rev not in man["hw"]:
            raise fwbundle.BundleError("bundle is for hardware revision {}, this badge is {}"
                                       .format("/".join(man["hw"]), self.rev))
        arch = arch_name()
        if man["arch"] not in ("bytecode", arch):
            raise fwbundle.BundleError("bundle is built for {}, this badge runs {}"
                                       .format(man["arch"], arch))
        if v <= run:
            raise fwbundle.BundleError("bundle version {} is not newer than the running {}: "
                                       "refused (downgrade or replay)".format(
                                           man["version"], self.running))
        if run < lo:
            raise fwbundle.BundleError("bundle needs at least version {} to update from, this "
                                       "badge runs {}".format(man["min_version"], self.running))

    def _install(self, size):
        import time

        slots = self.slots
        key = slots.public_key()
        if key is None:
            raise fwbundle.BundleError("this badge has no release key (set at deploy time)")
        slot = slots.inactive()
        d = slots.slot_dir(slot)
        with open(self.inc, "rb") as f:
            hm, man, sig = fwbundle.read_head(f, size)
            t0 = time.ticks_ms() if hasattr(time, "ticks_ms") else 0
            fwbundle.verify_signature(hm, sig, key)
            ms = time.ticks_diff(time.ticks_ms(), t0) if hasattr(time, "ticks_ms") else 0
            self._check_release(man)
            fwslots.rmtree(d)
            fwslots._mkdir(d)
            fwslots._mkdir(d + "/firmware")
            out = [None]  # type: list

            def write(path, chunk):
                if chunk is None:
                    if out[0] is not None:
                        out[0].close()
                    parts = path.split("/")
                    if len(parts) == 3:
                        fwslots._mkdir(d + "/" + parts[0] + "/" + parts[1])
                    out[0] = open(d + "/" + path, "wb")
                else:
                    out[0].write(chunk)

            try:
                fwbundle.copy_files(f, man, write)
            except fwbundle.BundleError:
                out[0], last = None, out[0]
                if last is not None:
                    last.close()
                fwslots.rmtree(d)
                raise
            finally:
                if out[0] is not None:
                    out[0].close()
        import binascii

        with open(d + "/manifest.json", "w") as mf:  # last: it marks the slot complete
            mf.write(json.dumps({"manifest": hm[fwbundle.HEADER:].decode(),
                                 "sig": binascii.hexlify(sig).decode()}))
        slots.switch(slot, man["version"])
        return man, slot, ms
