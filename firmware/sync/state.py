"""The badge's sync state: enrollment (branch, agent, secret), config, clock, event log,
and the customer/case id the agent set for a meeting.

Kept in one small JSON file written atomically (``.tmp`` + rename). On the badge the
file lives in the encrypted NVS partition next to the clip key (firmware.clips.keys);
in the simulator on the store's filesystem. The secret never leaves the badge: no
message reads it back.
"""

import json
import os

from firmware import const
from firmware.hw import clock

__all__ = ["BadgeState", "CONFIG_DEFAULTS", "CASE_ID_MAX", "case_error", "config_error"]

# key -> (default, min, max); every value is an int (units in the key name)
CONFIG_DEFAULTS = {
    "gain_db": (0, -12, 30),
    "vad_sensitivity": (2, 0, 3),
    "max_clip_s": (300, 10, 3600),
    "max_session_min": (240, 1, 1440),
    "storage_warn_pct": (80, 10, 99),
}

_MAX_EVENTS = const(32)

CASE_ID_MAX = const(32)  # characters of a case id: letters, digits, "-", "_", "."
_MAX_CASES = const(8)  # tagged sessions remembered until they are synced (LIST reply)
_CASE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def case_error(value):
    """None if ``value`` is a usable case id ("" clears it), else a message."""
    if not isinstance(value, str):
        return "case_id must be text"
    if len(value) > CASE_ID_MAX:
        return "case_id must be at most {} characters".format(CASE_ID_MAX)
    for c in value:
        if c not in _CASE_CHARS:
            return "case_id may hold only letters, digits, '-', '_' and '.'"
    if value and value[0] in "-_.":
        return "case_id must start with a letter or digit"
    return None


def config_error(key, value):
    """None if ``key=value`` is a valid config setting, else a message."""
    if key == "case_id":
        return case_error(value)
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
        self.case_id = ""  # pending case id: for the meeting recording now or the next one
        self.case_session = None  # the session that took it
        self.cases = []  # [session, case id] of recent tagged meetings, oldest first
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
        self.case_id = d.get("case_id") or ""
        self.case_session = d.get("case_session")
        self.cases = d.get("cases") or []

    def save(self):
        import binascii

        d = {"branch": self.branch, "agent": self.agent,
             "secret": binascii.hexlify(self.secret).decode() if self.secret else None,
             "clock_offset_s": self.clock_offset_s, "config": self.config,
             "events": self.events, "last_sync": self.last_sync, "case_id": self.case_id,
             "case_session": self.case_session, "cases": self.cases}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(d))
        os.rename(tmp, self.path)

    def now(self):
        """Unix seconds (the badge clock, plus the offset a port without an RTC keeps)."""
        return clock.now_unix() + self.clock_offset_s

    def set_time(self, epoch):
        """Set the badge clock to Unix seconds ``epoch`` (the RTC on the badge; an offset
        on the simulator)."""
        drift = self.now() - epoch
        if clock.set_unix(epoch):
            self.clock_offset_s = 0
        else:
            self.clock_offset_s = epoch - clock.now_unix()
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

    # -- case id ------------------------------------------------------------------------

    def set_case(self, case_id):
        """The agent set a case id (checked with ``case_error``; "" clears it). It applies
        to the meeting recording now, else to the next one started."""
        self.case_id = case_id
        self.case_session = None

    def case_of(self, session):
        for s, c in self.cases:
            if s == session:
                return c
        return None

    def take_case(self, session):
        """Stamp the pending case id on its meeting; ``session`` is the one recording now,
        or None while idle. Once that meeting has ended the id is used up and cleared, so
        a forgotten id never groups another customer's meeting. Returns the id stamped."""
        cid = self.case_id
        if not cid:
            return None
        if session is not None and self.case_session in (None, session):
            if self.case_session is None:
                self.case_session = session
                self.cases = [e for e in self.cases if e[0] != session] + [[session, cid]]
                self.cases = self.cases[-_MAX_CASES:]
                self.log("case_tagged", session=session, case_id=cid)
            return cid
        if self.case_session is not None:
            self.case_id = ""
            self.case_session = None
            self.log("case_done")
        return None
