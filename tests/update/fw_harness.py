# mypy: ignore-errors
"""MicroPython side of the update tests: one boot of a badge, from its boot loader on.

    micropython tests/update/fw_harness.py < CONFIG_JSON_LINE + commands   (cwd: the badge root)

Does what the badge's ``/main.py`` does (firmware.main.run): firmware.fwboot picks the
slot under ``root`` (trial count, rollback) and puts it first on the import path; then
the badge application (firmware.badge) of that slot boots and runs, with the stand-in
`machine` of tests/firmware/fakehw, whose ``reset()`` prints ``{"reset": true}`` and
ends the process with exit code 75 (the test starts the next boot). The store is on a
file block device that outlives the process; sync on the pty master ``fd``; the mic a
real speech WAV, looped. Commands on stdin: ``press MS``, ``status``.
"""

import json
import sys

cfg = json.loads(sys.stdin.readline())

from firmware import fwboot  # noqa: E402  # the factory loader, before any slot module

slot = fwboot.start(cfg["root"])

import machine  # noqa: E402


def _reset():
    print(json.dumps({"reset": True}))
    raise SystemExit(75)


machine.reset = _reset

from tests.badge import mp_parts  # noqa: E402
from tests.badge.mp_parts import LoopMic, RunningRTC  # noqa: E402

machine.RTC = RunningRTC


def status(b):
    s = b.info()
    s["store"] = b.store.status()
    for k in ("events", "recoveries"):
        s["store"].pop(k, None)
    s["events"] = b.st.events if b.st is not None else []
    s["slot"] = slot
    return s


def main():
    from badgekit.sim.badge_mp import FileBlockDev
    from firmware import badge, badgetasks
    from firmware.hw import pins

    gpio = pins.load(cfg.get("rev"))["pins"]["button"]
    mic = None
    if cfg.get("wav"):
        def mic():
            return LoopMic(cfg["wav"])
    dev = FileBlockDev(cfg["flash"], cfg.get("blocks", 512), keep=True)
    b = badge.Badge(badge_id=cfg["badge"], rev=cfg.get("rev"), bdev=dev,
                    state_dir=cfg["state_dir"], mic=mic, serial=cfg["fd"], ble=False,
                    frame_us=cfg.get("frame_us", 5000), wdt_ms=0, long_ms=600, trace=True,
                    fw_root=cfg["root"]).boot()
    print(json.dumps({"ready": True, "status": status(b)}))

    control = mp_parts.control(gpio, status)

    try:
        badgetasks.run(b, [("control", control)])
    finally:
        b.shutdown()


try:
    main()
except (KeyboardInterrupt, SystemExit):
    raise
except Exception as exc:  # what /main.py does: a slot that cannot start resets on trial
    fwboot.failed(cfg["root"], exc)
