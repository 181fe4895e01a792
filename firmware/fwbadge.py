"""Firmware updates in the badge application: open the slots at boot, check a trial
firmware, confirm it, report it, and reboot into a new one.

Called by firmware.badge (``Badge.fw``: a firmware.fwstage.Stage shared by the USB and
BLE servers). On a trial boot (firmware.fwslots) the new firmware runs its boot
self-test (`firmware.selftest.boot_checks`: pin map, every module imports, the
filesystem takes a write); a failure rolls back and reboots at once, with the failed
check as the reason. A passing trial firmware is confirmed by the first authenticated
sync session (INFO or FW_STATUS in a session). After an update is committed, the
``watch`` task reboots the badge into it (`tick`).
"""

from firmware import fwslots, fwstage
from firmware.version import VERSION

__all__ = ["open_firmware", "confirm", "status", "tick", "reboot"]


def open_firmware(b):
    """Boot step ``firmware`` (after the store): slots, the trial check."""
    slots = fwslots.Slots(b.fw_root)
    rev = b.board["rev"] if b.board else (b.rev or "?")
    root = b.medium.store_root if b.medium is not None else None
    b.fw = fwstage.Stage(slots, VERSION, rev, b.store, root)
    b.fw_trial = slots.rec.get("state") == "trial"  # this boot runs a firmware on trial
    b.fw_slot = slots.rec.get("active")
    b.fw_checked = not b.fw_trial
    last = slots.rec.get("last")
    if last and last.get("event") == "rolled_back" and not last.get("logged"):
        b.log("fw_rolled_back", version=last.get("from"), to=last.get("to"), why=last.get("why"))
        last["logged"] = True
        slots.save()
    if b.fw_checked:
        return
    from firmware import selftest

    bad = [r for r in selftest.boot_checks(b.rev) if r.status == selftest.FAIL]
    if bad:
        why = "self-test failed: {}: {}".format(bad[0].check, bad[0].detail)[:160]
        slots.rollback(why)
        b.log("fw_selftest_failed", version=VERSION, why=why)
        reboot(b)
    b.fw_checked = True
    b.log("fw_trial", version=VERSION, boots_left=slots.rec.get("boots_left"))


def confirm(b):
    """An authenticated session on a trial firmware that passed its self-test: keep it."""
    st = b.fw
    if st is None or not (b.fw_trial and b.fw_checked) or st.reboot_due:
        return  # only the trial firmware itself, once its self-test passed
    if st.slots.rec.get("active") == b.fw_slot and st.slots.confirm():
        b.fw_trial = False
        st._discard()  # a bundle left by a power cut after the switch: no longer needed
        b.log("fw_confirmed", version=VERSION)


def status(b):
    st = b.fw
    if st is None:
        return {"version": VERSION, "slot": "?", "state": "unknown"}
    return st.slots.status(VERSION)


def tick(b):
    """From the watch task: reboot into a committed update, once the commit reply is out
    (a reset with the reply still in the buffer would leave the companion waiting)."""
    st = b.fw
    if st is None or not st.reboot_due:
        return
    import time

    from firmware.sync.link import ticks_ms

    diff = getattr(time, "ticks_diff", None)  # MicroPython's ticks wrap around
    now = ticks_ms()
    if (diff(now, st.reboot_at) if diff is not None else now - st.reboot_at) < 0:
        return
    for srv in (b.usb_server, b.radio.server if b.radio is not None else None):
        if srv is not None and srv.pending() is not None:
            return  # still sending: the next tick
    st.reboot_due = False
    reboot(b)


def reboot(b):
    try:
        b.shutdown()
    finally:
        import machine

        machine.reset()
