# mypy: ignore-errors
"""MicroPython side of the badge tests: firmware/badge.py on the unix port.

    micropython tests/badge/badge_harness.py < CONFIG_JSON_LINE + commands   (MICROPYPATH: repo + fakehw)

The `machine` module is the stand-in of tests/firmware/fakehw (imported, not copied),
with its RTC made to run (host time plus whatever the companion sets). The store lives
on a file-backed block device that survives a killed process (the badge's flash across
a reset). The mic is a real speech WAV, looped (``"mic": "wav"``), or the default I2S
mic on the stand-in's I2S with no audio (``"dead"``) or without I2S at all (``"none"``).
Sync runs on the pty master given as ``fd``. Commands on stdin after the config line, one per line:
``press MS`` (hold the button MS ms), ``status`` (prints one JSON line), ``crash``
(the next mic read raises), ``reset_late`` (zero the worst mic-read lateness).
The first stdout line is ``{"ready": ...}``.
"""

import json
import sys

import machine

from badgekit.sim.badge_mp import FileBlockDev
from tests.badge import mp_parts
from tests.badge.mp_parts import LoopMic, RunningRTC

machine.RTC = RunningRTC


def main(cfg):
    from firmware import badge, badgetasks
    from firmware.hw import pins

    board = pins.load(cfg.get("rev"))
    gpio = board["pins"]["button"]
    if cfg.get("hold_button"):
        machine.Pin.levels[gpio] = 0
    mic = None
    if cfg.get("mic") == "wav":
        def mic():
            return LoopMic(cfg["wav"])
    elif cfg.get("mic") == "none":
        del machine.I2S
    dev = FileBlockDev(cfg["flash"], cfg.get("blocks", 512), keep=True) if cfg.get("flash") else None
    opts = {"badge_id": cfg["badge"], "rev": cfg.get("rev"), "bdev": dev,
            "state_dir": cfg["state_dir"], "mic": mic, "serial": cfg["fd"], "ble": True,
            "frame_us": cfg.get("frame_us", 19900), "wdt_ms": 0,
            "mic_retry_ms": cfg.get("mic_retry_ms", 500), "long_ms": 600, "trace": True}
    if badge.maintenance_requested(cfg.get("rev")):
        print(json.dumps({"maintenance": True}))
        return
    b = badge.Badge(**opts).boot()
    print(json.dumps({"ready": True, "status": status(b)}))

    def more(b, words):
        if words[0] == "reset_late":
            b.late_max_us = 0
        elif words[0] == "crash":
            LoopMic.crash = True

    control = mp_parts.control(gpio, status, more)

    try:
        badgetasks.run(b, [("control", control)])
    finally:
        b.shutdown()


def status(b):
    led_sets = [e[2] for e in machine.LOG if e[0] == "set" and e[1] == pins.pin("led")]
    del machine.LOG[:]
    s = b.info()
    s["store"] = b.store.status()
    for k in ("events", "recoveries"):
        s["store"].pop(k, None)
    s["store_open_clip"] = bool(getattr(b.store, "recording", False))
    s["led_state"] = b.led.state if b.led is not None else None
    s["led_gpio_writes"] = len(led_sets)
    s["mic_powered"] = b.mic is not None
    s["tasks"] = b.tasks
    s["running"] = b.running
    s["events"] = b.st.events if b.st is not None else []
    return s


from firmware.hw import pins  # noqa: E402

main(json.loads(sys.stdin.readline()))  # the config: first line on stdin
