"""The badge's sync state: enrollment (branch, agent, secret), config, clock, event log.

Kept in one small JSON file written atomically (``.tmp`` + rename). On the badge the
file lives in the encrypted NVS partition next to the clip key (firmware.clipkeys);
in the simulator on the store's filesystem. The secret never leaves the badge: no
message reads it back.
"""

import json
import os
import time

__all__ = ["BadgeState", "CONFIG_DEFAULTS", "config_error"]

# key -> (default, min, max); every value is an int (units in the key name)
CONFIG_DEFAULTS = {
    "gain_db": (0, -12, 30),
    "vad_sensitivity": (2, 0, 3),
    "max_clip_s": (300, 10, 3600),
    "max_session_min": (240, 1, 1440),
    "storage_warn_pct": (80, 10, 99),
}

_MAX_EVENTS = 32


def config_error(key, value):
    """None if ``key=value`` is a valid config setting, else a message."""
    spec = CONFIG_DEFAULTS.get(key)
    if spec is None:
        return "unknown config key " + str(key)
    if not isinstance(value, int) or isinstance(value, bool):
        return key + " must be an integer"
    if value < spec[1] or value > spec[2]:
        return "{} must be {}..{}".format(key, spec[1], spec[2])
    return None


class BadgeState:
    def __init__(self, path, badge_id):
        self.path = path
        self.badge = badge_id
        self.branch = None
        self.agent = None
        self.secret = None  # bytes once enrolled
        self.clock_offset_s = 0
        self.config = {}
        for k in CONFIG_DEFAULTS:
            self.config[k] = CONFIG_DEFAULTS[k][0]
        self.events = []
        self.last_sync = 0
        self.load()

    @property
    def enrolled(self):
        return self.secret is not None

    def load(self):
        try:
            with open(self.path) as f:
                d = json.loads(f.read())
        except (OSError, ValueError):
            return
        import binascii

        self.branch = d.get("branch")
        self.agent = d.get("agent")
        s = d.get("secret")
        self.secret = binascii.unhexlify(s) if s else None
        self.clock_offset_s = d.get("clock_offset_s", 0)
        self.config.update(d.get("config", {}))
        self.events = d.get("events", [])
        self.last_sync = d.get("last_sync", 0)

    def save(self):
        import binascii

        d = {"branch": self.branch, "agent": self.agent,
             "secret": binascii.hexlify(self.secret).decode() if self.secret else None,
             "clock_offset_s": self.clock_offset_s, "config": self.config,
             "events": self.events, "last_sync": self.last_sync}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(d))
        os.rename(tmp, self.path)

    def now(self):
        return int(time.time()) + self.clock_offset_s

    def set_time(self, epoch):
        """Set the badge clock (the RTC on the badge; an offset on the simulator)."""
        drift = self.now() - epoch
        try:
            import machine  # the badge: set the RTC itself

            tm = time.gmtime(epoch)
            machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
            self.clock_offset_s = 0
        except (ImportError, AttributeError, OSError):
            self.clock_offset_s = epoch - int(time.time())
        self.log("time_set", drift_s=drift)
        return drift

    def log(self, kind, **fields):
        fields["event"] = kind
        fields["t"] = self.now()
        self.events.append(fields)
        if len(self.events) > _MAX_EVENTS:
            self.events = self.events[-_MAX_EVENTS:]
        try:
            self.save()
        except OSError:
            pass
