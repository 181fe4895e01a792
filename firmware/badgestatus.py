"""What the badge shows: the LED state, the facts in the sync INFO reply, the status byte
it advertises over BLE, and `NoStore` (answers INFO when the store's medium is missing).

Functions of a firmware.badge.Badge ``b``; no hardware is touched here.
"""

import time

from firmware import const
from firmware.clips import store as clipstore
from firmware.hw import led as hw_led
from firmware.sync.adv import status_byte

__all__ = ["NoStore", "mic_health", "led_state", "error_list", "battery", "info", "adv_status"]

_MAX_ERRORS = const(6)


class NoStore:
    """Stands in for the ClipStore when its medium is missing: INFO tells why, nothing else."""

    recording = False
    warn_pct = 80

    def __init__(self, why):
        self.why = why

    def status(self):
        return {"fault": self.why, "warning": True, "warnings": [self.why], "full": False,
                "readonly": True, "recording": False, "clips": {"closed": 0}}

    def list_clips(self):
        return iter(())

    def read(self, clip_id, offset, length):
        raise clipstore.ClipNotFoundError(clip_id)

    def info(self, clip_id):
        raise clipstore.ClipNotFoundError(clip_id)

    def ack(self, clip_id, sha256=None):
        raise clipstore.ClipNotFoundError(clip_id)

    def mark_synced(self, clip_id):
        pass

    def set_key(self, new_key):
        raise clipstore.StoreReadOnlyError(self.why)



def mic_health(b):
    if "mic" in b.errors:
        return {"code": "error", "text": b.errors["mic"]}
    rec = b.sess.rec if b.sess is not None else None
    if rec is None:
        return {"code": "off", "text": "mic off (not recording)"}
    h = rec.health()
    return {"code": h.code, "text": h.text, "silent_s": h.silent_s}


def led_state(b):
    if b.errors.get("store") or b.errors.get("mic"):
        return hw_led.ERROR
    if b.sess is None:
        return hw_led.ERROR
    if mic_health(b)["code"] == "mic_silent":
        return hw_led.ERROR
    return b.sess.led_state()


def error_list(b):
    out = []
    for part in b.errors:
        out.append(part + ": " + b.errors[part])
    return out


def battery(b):
    """(mV, percent) from the battery ADC (firmware.hw.probe), or None where there is none.
    The percentage is a linear estimate between 3.30 V (empty) and 4.15 V (full)."""
    if b.board is None:
        return None
    try:
        from firmware.hw import probe

        mv = int(probe.battery_volts(b.board, samples=4) * 1000)
    except Exception:  # the unix port, no ADC, no divider: INFO simply has no battery
        return None
    pct = (mv - 3300) * 100 // 850
    return mv, max(0, min(100, pct))


def info(b):
    """Hardware and recording facts for the sync INFO reply (kept small: one frame)."""
    sess = b.sess
    rec = {"state": "unavailable"}  # type: dict
    if sess is not None:
        rec = {"state": "recording" if sess.recording else "idle", "session": sess.session,
               "resumed": sess.resumed, "stop_reason": sess.stop_reason,
               "frames": b.frames, "late_max_ms": b.late_max_us // 1000}
        if b.st is not None:
            rec["case_id"] = b.st.case_of(sess.session) if sess.session else None
            rec["case_pending"] = b.st.case_id or None
    store = b.store
    warnings = store.status().get("warnings", []) if store is not None else []
    out = {}  # type: dict
    out["mic"] = mic_health(b)
    out["led"] = b.led_state()
    out["recording"] = rec
    errs = error_list(b) + warnings
    out["errors"] = [e[:100] for e in errs[:_MAX_ERRORS]]  # INFO must fit one reply frame
    out["ble"] = b.notes.get("ble", "on")
    out["uptime_s"] = time.ticks_diff(time.ticks_ms(), b.booted_ms) // 1000
    if b.medium is not None:
        out["store_medium"] = b.medium.kind
    bat = battery(b)
    if bat is not None:
        out["battery_mv"], out["battery_pct"] = bat
    crashed = {}
    for name in b.tasks:
        if b.tasks[name]["restarts"]:
            crashed[name] = b.tasks[name]["restarts"]
    if crashed:
        out["task_restarts"] = crashed
    return out


def adv_status(b):
    store = b.store
    s = store.status() if store is not None else NoStore("no store").status()
    return status_byte(b.st is not None and b.st.enrolled,
                       s["clips"].get("closed", 0) > 0, s["warning"],
                       bool(b.sess and b.sess.recording), bool(b.errors))
