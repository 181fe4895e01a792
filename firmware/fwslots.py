"""A/B firmware slots on the badge's filesystem, the boot record, trial boots, rollback.

Layout under the badge's root (``/`` on a badge, a folder in tests)::

    /lib/firmware/      the factory firmware `badgekit hardware deploy` installs
    /fw/a/firmware/     slot a: one verified release (firmware.fwstage unpacks it)
    /fw/a/manifest.json its signed manifest (version, files, hashes)
    /fw/b/...           slot b
    /fw/boot.json       the boot record
    /fw/release.pub     the release public key (hex), written by deploy

Boot record: ``{"active": "a"|"b"|null (factory), "previous": slot or null,
"state": "confirmed"|"trial", "boots_left": n, "version": v, "previous_version": v,
"last": {"event": "updated"|"rolled_back"|"confirmed", ...}}``. It is replaced whole
(write ``boot.json.tmp``, then rename: atomic on littlefs), so a power cut leaves
either the old record or the new one, never a mix, like the clip store's index.

A new slot boots on trial for `TRIAL_BOOTS` boots. Each trial boot counts down
*before* the slot runs, so a firmware that crashes or hangs (watchdog) uses its boots
up; the next boot returns to the previous slot and records why (`last`, INFO
``firmware``). A running trial firmware whose boot self-test fails rolls back at
once; an authenticated sync session confirms it (firmware.fwsync).
"""

import json
import os

from firmware import const

__all__ = ["TRIAL_BOOTS", "SLOTS", "Slots", "rmtree", "exists"]

TRIAL_BOOTS = const(3)
SLOTS = ("a", "b")


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def rmtree(path):
    """Remove a file or a folder and everything in it (no error if it is not there)."""
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & 0x4000:
        for name in os.listdir(path):
            rmtree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass


class Slots:
    """The slots and boot record under ``root``."""

    def __init__(self, root="/"):
        self.root = root.rstrip("/")
        self.dir = self.root + "/fw"
        self.record_path = self.dir + "/boot.json"
        self.rec = self.load()

    # ---- record ------------------------------------------------------------------------
    def load(self):
        try:
            with open(self.record_path) as f:
                rec = json.loads(f.read())
            if isinstance(rec, dict) and rec.get("active") in (None, "a", "b"):
                return rec
        except (OSError, ValueError):
            pass
        return {"active": None, "previous": None, "state": "confirmed", "boots_left": 0,
                "version": None, "previous_version": None, "last": None}

    def save(self):
        _mkdir(self.dir)
        tmp = self.record_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.rec))
        os.rename(tmp, self.record_path)

    # ---- paths ---------------------------------------------------------------------------
    def slot_dir(self, slot):
        return self.dir + "/" + slot

    def slot_ok(self, slot):
        """A slot is bootable when its package and manifest are there (unpacked whole)."""
        if slot is None:
            return True
        d = self.slot_dir(slot)
        return exists(d + "/manifest.json") and (exists(d + "/firmware/__init__.mpy")
                                                  or exists(d + "/firmware/__init__.py"))

    def inactive(self):
        """The slot an update may write: never the active one nor the rollback target."""
        a = self.rec.get("active")
        return "b" if a == "a" else "a"

    def public_key(self):
        try:
            with open(self.dir + "/release.pub") as f:
                text = f.read().strip()
            import binascii

            key = binascii.unhexlify(text)
            return key if len(key) == 32 else None
        except (OSError, ValueError):
            return None

    # ---- boot ----------------------------------------------------------------------------
    def choose(self):
        """The boot decision (called once per boot, before any firmware runs): count a trial
        boot down, or roll back. Returns the slot to run (None: the factory firmware)."""
        rec = self.rec
        active = rec.get("active")
        if active is not None and not self.slot_ok(active):
            self._rollback("slot {} is incomplete".format(active))
        elif rec.get("state") == "trial":
            if rec.get("boots_left", 0) <= 0:
                self._rollback("not confirmed within {} boots (no passing self-test and "
                               "sync)".format(TRIAL_BOOTS))
            else:
                rec["boots_left"] = rec.get("boots_left", 0) - 1
                self.save()
        return rec.get("active")

    def _rollback(self, why):
        rec = self.rec
        prev = rec.get("previous")
        if not self.slot_ok(prev):
            prev = None  # the factory firmware is always there
        rec["last"] = {"event": "rolled_back", "from": rec.get("version"),
                       "to": rec.get("previous_version"), "why": why}
        rec["active"] = prev
        rec["version"] = rec.get("previous_version") if prev is not None else None
        rec["previous"] = None
        rec["previous_version"] = None
        rec["state"] = "confirmed"
        rec["boots_left"] = 0
        self.save()

    def rollback(self, why):
        """The running trial firmware failed (its self-test): go back at the next boot."""
        if self.rec.get("state") == "trial":
            self._rollback(why)
            return True
        return False

    def confirm(self):
        """The running trial firmware proved itself; True if this changed the record."""
        rec = self.rec
        if rec.get("state") != "trial":
            return False
        rec["state"] = "confirmed"
        rec["boots_left"] = 0
        rec["last"] = {"event": "confirmed", "version": rec.get("version")}
        self.save()
        return True

    def switch(self, slot, version):
        """Make the freshly unpacked ``slot`` the active one, on trial (atomic)."""
        rec = self.rec
        rec["previous"] = rec.get("active")
        rec["previous_version"] = rec.get("version") or _factory_version(self)
        rec["active"] = slot
        rec["version"] = version
        rec["state"] = "trial"
        rec["boots_left"] = TRIAL_BOOTS
        rec["last"] = {"event": "updated", "from": rec["previous_version"], "to": version}
        self.save()

    def status(self, running):
        rec = self.rec
        out = {"version": running, "slot": rec.get("active") or "factory",
               "state": rec.get("state"), "last": rec.get("last")}
        if rec.get("state") == "trial":
            out["boots_left"] = rec.get("boots_left", 0)
        return out


def _factory_version(slots):
    """The version of the firmware running when no slot is active (the factory one)."""
    try:
        from firmware.version import VERSION

        return VERSION
    except ImportError:
        return None
