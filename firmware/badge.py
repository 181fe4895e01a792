"""The badge application: the program a badge runs from power-on.

`firmware/main.py` (installed as ``/main.py`` by `badgekit hardware deploy`) calls `main()`:

1. the button held at power-on: maintenance mode, straight back to the REPL;
2. `Badge.boot()`: event log (firmware.sync.state) -> pin map -> store filesystem
   (firmware.hw.storage) -> key slot + ClipStore (its boot recovery runs here) ->
   RecordingSession (a reset mid-meeting resumes the same session) -> button, LED -> sync
   servers. A part that fails is put in `errors` (error LED, INFO, event log) and the
   rest boots anyway: a badge without its card still answers the companion;
3. `firmware.badgetasks.run()`: recording, button/LED, USB serial sync, BLE sync and a
   supervisor as asyncio tasks, each restarted after a crash (logged).

The microphone is powered only while a session records: its supply also lights the red
privacy LED the customer sees. Details and the task layout: docs/badge.md.
"""

import os
import time

from firmware import badgestatus, const
from firmware.clips import keys as clipkeys, mac as clipmac, store as clipstore
from firmware.badgestatus import NoStore
from firmware.hw import button as hw_button
from firmware.hw import clock as hw_clock
from firmware.hw import led as hw_led
from firmware.hw import pins, storage
from firmware.session import RecordingSession
from firmware.sync import proto, server, state
from firmware.sync.checks import Reject

__all__ = ["Badge", "NoStore", "main", "recorder_opts", "DEFAULT_STATE_DIR"]

DEFAULT_STATE_DIR = "/badge"
_VAD_ON_DB10 = (80, 70, 60, 50)  # vad_sensitivity 0..3 -> voiced threshold (tenths of dB)
_MIC_IBUF = const(32768)  # I2S DMA buffer: 0.5 s of 32-bit slots rides out a slow SD write


def recorder_opts(config):
    """Recorder/gate options from the sync config (gain_db, vad_sensitivity, max_clip_s)."""
    q8 = int(256 * 10 ** (config.get("gain_db", 0) / 20) + 0.5)
    sens = config.get("vad_sensitivity", 2)
    return {"gain_q8": max(1, min(8192, q8)), "max_clip_ms": config.get("max_clip_s", 300) * 1000,
            "on_db10": _VAD_ON_DB10[max(0, min(3, sens))]}


def _badge_id():
    try:
        import binascii

        import machine

        return "BK-" + binascii.hexlify(machine.unique_id()).decode().upper()
    except (ImportError, AttributeError, OSError):
        return "BK-UNKNOWN"


class Badge:
    """One badge: its parts, its state and the decisions the tasks ask for.

    Options (all optional; the defaults are the real badge): ``badge_id``, ``rev`` (board
    revision), ``bdev`` (block device for the store instead of SD/flash), ``store_dir`` (a
    folder for the store, nothing mounted: simulators on a host), ``state_dir``
    (session, sync state, key slot), ``mic`` (a factory returning a mic backend with
    ``readinto``/``close``; default the I2S mic), ``serial`` ("usb", "uart:N", a file
    descriptor number, a link object or None), ``ble`` (True, False or a ``bluetooth.BLE``
    object), ``frame_us`` (the pace of mic reads), ``wdt_ms`` (watchdog; 0 = off),
    ``mic_retry_ms``, ``long_ms`` (long press), ``trace`` (print task crashes)."""

    def __init__(self, badge_id=None, rev=None, bdev=None, store_dir=None,
                 state_dir=DEFAULT_STATE_DIR, mic=None,
                 serial="usb", ble=True, frame_us=19900, wdt_ms=30000, mic_retry_ms=5000,
                 long_ms=1500, trace=False, clock=None, fw_root="/"):
        self.badge_id = badge_id or _badge_id()
        self.rev = rev
        self.bdev = bdev
        self.store_dir = store_dir
        self.state_dir = state_dir.rstrip("/")
        self.mic_factory = mic
        self.serial = serial
        self.ble = ble
        self.frame_us = frame_us
        self.wdt_ms = wdt_ms
        self.mic_retry_ms = mic_retry_ms
        self.long_ms = long_ms
        self.trace = trace
        self.clock = clock or hw_clock.now_unix_ms
        self.fw_root = fw_root  # where the firmware slots live (firmware.fwslots)
        self.fw = None  # firmware.fwstage.Stage once booted
        self.fw_checked = self.fw_trial = False
        self.fw_slot = None
        self.errors = {}  # part -> message: shown by the LED, INFO and the event log
        self.notes = {}  # part -> what is off and why (e.g. BLE on the unix port)
        self.tasks = {}  # task name -> {"restarts": n, "error": last crash}
        self.board = self.medium = self.store = self.keys = self.st = self.sess = None
        self.mic = self.button = self.led = self.link = self.usb_server = self.radio = None
        self.running = []  # names of the tasks started
        self.frames = 0  # mic frames recorded since boot
        self.late_max_us = 0  # worst lateness of a mic read (the I2S buffer must cover it)
        self.booted_ms = time.ticks_ms()
        self._early = []  # events before the event log is open

    # ---- boot ------------------------------------------------------------------------
    def boot(self):
        """Bring every part up in order; a part that fails is an error, not a crash."""
        self._step("state", self._open_state)
        self._step("pinmap", self._load_pins)
        self._step("store", self._open_store)
        if self.store is None:
            self.store = NoStore(self.errors.get("store", "no store"))
        else:
            self._step("session", self._open_session)
        self._step("firmware", self._open_firmware)
        self._step("button", self._open_button)
        self._step("led", self._open_led)
        self._step("sync", self._open_sync)
        self.log("boot", errors=len(self.errors), resumed=bool(self.sess and self.sess.resumed))
        return self

    def _step(self, part, fn):
        try:
            fn()
        except Exception as exc:  # a missing part must not stop the badge
            self.fail(part, exc)

    def _open_state(self):
        storage.makedirs(self.state_dir)
        self.st = state.BadgeState(self.state_dir + "/sync.json", self.badge_id)
        for kind, fields in self._early:
            self.st.log(kind, **fields)
        self._early = []

    def _load_pins(self):
        self.board = pins.load(self.rev)

    def _open_store(self):
        if self.store_dir is not None:  # a folder already there (a simulator on a host)
            self.medium = storage.Medium("folder", self.store_dir, self.store_dir)
        else:
            self.medium = storage.mount(self.board, self.bdev)
        if self.medium.formatted:
            self.log("store_formatted", medium=self.medium.kind)
        storage.makedirs(self.medium.store_root)
        self.keys = clipkeys.KeyFile(self.state_dir + "/keys.json")
        key, old, _src = self.keys.load()
        warn = self.st.config.get("storage_warn_pct", 80) if self.st else 80
        secret = self.st.secret if self.st else None  # enrolled: clips are sealed (v2)
        self.store = clipstore.ClipStore(self.medium.store_root, key, old_keys=old,
                                         badge=self.badge_id, warn_pct=warn,
                                         clip_key=clipmac.clip_key_of(secret) if secret else None)
        if old:
            self.keys.forget_old()  # the store finished a re-keying cut short
        for ev in self.store.events:
            self.log("store_" + str(ev.get("event")), clip=ev.get("clip_id"),
                     dropped_ms=ev.get("dropped_ms"))

    def _open_session(self):
        cfg = self.st.config if self.st else {}
        store = self.store
        if store is None:
            raise clipstore.StoreError("no store")
        self.sess = RecordingSession(self.badge_id, store, self.state_dir + "/session.json",
                            self.clock, max_session_s=cfg.get("max_session_min", 240) * 60,
                            storage_free_pct=self._free_pct,
                            low_storage_pct=100 - store.warn_pct,
                            recorder_opts=recorder_opts(cfg))
        if self.sess.resumed:
            self.log("session_resumed", session=self.sess.session)

    def _open_firmware(self):
        from firmware import fwbadge

        fwbadge.open_firmware(self)

    def _open_button(self):
        self.button = hw_button.Button(self.long_ms, self.rev)

    def _open_led(self):
        self.led = hw_led.Led(self.rev)

    def _open_sync(self):
        s = self.serial
        if s is not None:
            from firmware.hw.serial_link import SerialLink

            if s == "usb":
                self.link = SerialLink.usb()
                try:
                    import micropython

                    micropython.kbd_intr(-1)  # sync frames may hold 0x03: no Ctrl-C on USB
                except (ImportError, AttributeError):
                    pass
            elif isinstance(s, str) and s.startswith("uart:"):
                self.link = SerialLink.uart(int(s[5:]))
            elif isinstance(s, int):
                self.link = SerialLink.fd(s)
            else:
                self.link = s
            self.usb_server = self.make_server()
        if self.ble is False:
            self.notes["ble"] = "off (disabled)"
        elif self.ble is True:
            try:
                import bluetooth  # noqa: F401  # only to see whether this port has a radio
            except ImportError:
                self.ble = False
                self.notes["ble"] = "off: no bluetooth module on this port"

    def make_server(self):
        srv = server.Server(self.store, self.st, on_enroll=self._on_enroll, info_fn=self._sync_info)
        srv.fw = self.fw  # firmware updates (firmware.sync.fwsync)
        srv.fw_confirm = self.fw_confirm
        return srv

    def fw_confirm(self):
        from firmware import fwbadge

        fwbadge.confirm(self)

    def _on_enroll(self, kek):
        if self.sess is not None and self.sess.recording:
            raise Reject(proto.E_BUSY, "the badge is recording a meeting; enroll it after the "
                         "meeting (long-press to stop)")
        store = self.store
        if self.keys is None or store is None:
            raise Reject(proto.E_STORE, "no store: " + self.errors.get("store", "?"))
        self.keys.enroll(kek)
        n = store.set_key(kek)
        self.keys.forget_old()
        return n

    # ---- errors and the event log ----------------------------------------------------
    def log(self, kind, **fields):
        if self.st is not None:
            self.st.log(kind, **fields)
        else:
            self._early.append((kind, fields))

    def fail(self, part, err):
        if isinstance(err, str):
            msg = err
        elif isinstance(err, OSError) and err.args and isinstance(err.args[0], str):
            msg = err.args[0]  # our own errors (no SD card, store full) read as they are
        else:
            msg = "{}: {}".format(type(err).__name__, err)
        msg = msg[:120]
        if self.errors.get(part) != msg:
            self.errors[part] = msg
            self.log("error", part=part, error=msg)

    def clear(self, part):
        if self.errors.pop(part, None) is not None:
            self.log("recovered", part=part)

    def task_crashed(self, name, exc):
        t = self.tasks.setdefault(name, {"restarts": 0, "error": None})
        t["restarts"] += 1
        t["error"] = "{}: {}".format(type(exc).__name__, exc)[:120]
        self.log("task_crash", task=name, error=t["error"], restarts=t["restarts"])
        if self.trace:
            import sys

            sys.print_exception(exc)  # type: ignore[attr-defined]
        if name == "rec":
            self.recover_recording()

    # ---- microphone --------------------------------------------------------------------
    def open_mic(self):
        """Power and open the mic; False (error recorded) if it is not there."""
        try:
            if self.mic_factory is not None:
                self.mic = self.mic_factory()
            else:
                from firmware.hw.mic import I2SMic

                self.mic = I2SMic(rev=self.rev, ibuf=_MIC_IBUF)
        except Exception as exc:  # no I2S, no pin map, a mic that is not there
            self.mic = None
            self.fail("mic", exc)
            return False
        return True

    def close_mic(self):
        mic, self.mic = self.mic, None
        if mic is not None:
            try:
                mic.close()
            except Exception:  # closing a broken mic must not take the badge down
                pass

    def mic_dead(self, why):
        """The mic stopped delivering: close the open clip (no audio is lost that was
        heard), power the mic down; the recording task retries."""
        self.fail("mic", why)
        self.close_mic()
        rec = self.sess.rec if self.sess is not None else None
        if rec is not None:
            try:
                rec.finish()
            except OSError as exc:
                self.fail("store", exc)

    def recover_recording(self):
        """After a crash of the recording task: close what is open, resume the session
        from its state file (as a reboot would)."""
        sess = self.sess
        if sess is None:
            return
        if sess.rec is not None:
            try:
                sess.rec.finish()
            except Exception:  # the recorder is in an unknown state: the store closes it
                pass
        store = self.store
        if store is not None and getattr(store, "recording", False):
            try:
                store.close_clip()
            except Exception as exc:
                self.fail("store", exc)
        self.close_mic()
        self._step("session", self._open_session)

    # ---- decisions ---------------------------------------------------------------------
    def press(self, ev):
        """A button event: start/stop the session, unless the badge cannot record."""
        sess = self.sess
        if sess is None:
            self.log("start_refused", why=self.errors.get("store", "no session"))
            return False
        was = sess.recording
        if not was and "store" in self.errors:
            self.log("start_refused", why=self.errors["store"])
            return False
        done = sess.press(ev)
        if done and sess.recording != was:
            if sess.recording:
                self.log("session_start", session=sess.session)
            else:
                self.log("session_stop", session=sess.session, reason=sess.stop_reason)
            self.take_case()
        return done

    def take_case(self):
        """Stamp the case id the agent set on the meeting recording now (sync state)."""
        st, sess = self.st, self.sess
        if st is not None:
            st.take_case(sess.session if sess is not None and sess.recording else None)

    def _free_pct(self):
        medium = self.medium
        if medium is None:
            return 0
        st = os.statvfs(medium.store_root)
        return (100 * st[3]) // st[2] if st[2] else 0

    def apply_config(self):
        """Take config changes from the sync state (new sessions and clips use them)."""
        if self.st is None:
            return
        cfg = self.st.config
        self.take_case()
        store = self.store
        if self.sess is not None and store is not None:
            self.sess.recorder_opts = recorder_opts(cfg)
            self.sess.max_samples = cfg.get("max_session_min", 240) * 60 * 16000
            self.sess.low_storage_pct = 100 - store.warn_pct

    def mic_health(self):
        return badgestatus.mic_health(self)

    def led_state(self):
        return badgestatus.led_state(self)

    def info(self):
        """Hardware and recording facts for the sync INFO reply (firmware.badgestatus)."""
        from firmware import fwbadge

        out = badgestatus.info(self)
        out["firmware"] = fwbadge.status(self)
        return out

    def _sync_info(self):
        if self.st is not None and self.st.enrolled:  # INFO of an enrolled badge: a session
            self.fw_confirm()
        return self.info()

    def adv_status(self):
        return badgestatus.adv_status(self)

    def shutdown(self):
        """Leave cleanly (KeyboardInterrupt): close the open clip, power the mic down. The
        session's state stays as it is, so the next boot resumes a running meeting."""
        rec = self.sess.rec if self.sess is not None else None
        if rec is not None:
            try:
                rec.finish()
            except Exception:  # shutting down: the next boot's recovery closes it
                pass
        self.close_mic()
        if self.serial == "usb":
            try:
                import micropython

                micropython.kbd_intr(3)  # Ctrl-C works again at the REPL
            except (ImportError, AttributeError):
                pass


def maintenance_requested(rev=None):
    """True if the button is held at power-on (then the badge stays at the REPL)."""
    try:
        return hw_button.Button(rev=rev).pressed()
    except Exception:  # no pin map or no GPIO: boot normally
        return False


def main(extra=(), **opts):
    """Boot the badge and run it until interrupted (see module doc)."""
    if maintenance_requested(opts.get("rev")):
        print("badge: button held at power-on: maintenance mode, REPL")
        return None
    b = Badge(**opts).boot()
    from firmware import badgetasks

    try:
        badgetasks.run(b, extra)
    finally:
        b.shutdown()
    return b
