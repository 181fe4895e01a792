"""The boot loader's half in Python: pick the firmware slot before any firmware runs.

`firmware/main.py` (the badge's ``/main.py``) calls `start()` first, from the factory
firmware in ``/lib/firmware``: it asks firmware.fwslots for the boot decision (a trial
boot counted down, or a rollback), puts the chosen slot first on ``sys.path`` and
forgets the firmware modules loaded so far, so every later ``import firmware.x``
comes from the slot. If the slot's firmware then fails before it is up, `failed()`
resets the badge while it is on trial, so the next boot counts down or rolls back
instead of sitting at the REPL.
"""

import sys

__all__ = ["start", "failed"]


def start(root="/"):
    """Choose and activate the slot; returns it ("a", "b", or None for the factory one)."""
    from firmware import fwslots

    try:
        s = fwslots.Slots(root)
        slot = s.choose()
    except Exception as e:  # a damaged filesystem must not stop the factory firmware
        print("fwboot: boot record unusable ({}): factory firmware".format(e))
        return None
    if slot is not None:
        sys.path.insert(0, s.slot_dir(slot))
        for name in list(sys.modules):
            if name == "firmware" or name.startswith("firmware."):
                del sys.modules[name]
    return slot


def failed(root, exc):
    """The firmware died before it was up: on a trial boot, reset (the next boot counts
    the trial down or rolls back); otherwise report and return to the REPL."""
    print("badge: firmware failed: {}: {}".format(type(exc).__name__, exc))
    try:
        import firmware.fwslots as fwslots  # from the slot if it loads, else the factory

        trial = fwslots.Slots(root).rec.get("state") == "trial"
    except Exception:
        trial = True
    if trial:
        import machine

        machine.reset()
