"""Board pin map: which GPIO does what on this badge's board revision.

The one source of truth is `pinmap.json` (hardware/pinmap.json in the repository; copied
to the badge's root by `badgekit hardware deploy`). The board revision comes from the
`rev` argument, else from a `hwrev` file beside the pin map (written at deploy), else
from the file's `default_rev`.

    from firmware.hw import pins
    board = pins.load()            # {"rev": "B", "pins": {"i2s_sck": 4, ...}, ...}
    sck = pins.pin("i2s_sck")      # 4; pins.pin("sd_cs") -> None on a board without SD

Only sanity checks run here (range, duplicates, required roles); the full check against
the ESP32-S3's constraints runs on the computer (hardware/pinmap.py and its tests).
"""

import json
import os

__all__ = ["PinMapError", "find", "load", "pin", "revisions", "REQUIRED"]

# Roles every revision must define (the recording path cannot run without them).
REQUIRED = ("i2s_sck", "i2s_ws", "i2s_sd", "mic_en", "button", "led", "bat_adc")

_cache = None


class PinMapError(Exception):
    """The pin map is missing, unreadable or names an impossible pin."""


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _dirname(path):
    i = path.rfind("/")
    if i < 0:
        return ""
    return path[:i] if i > 0 else "/"


def _join(a, b):
    if not a:
        return b
    return a + b if a.endswith("/") else a + "/" + b


def _candidates():
    out = ["pinmap.json", "/pinmap.json"]
    here = _dirname(globals().get("__file__", "") or "")
    if here:
        out.append(_join(here, "pinmap.json"))
        # running from the repository: firmware/hw/ -> hardware/pinmap.json
        repo = _dirname(_dirname(here))
        out.append(_join(repo, "hardware/pinmap.json") if repo else "hardware/pinmap.json")
    return out


def find(path=None):
    """Path of the pin map in use (explicit `path`, cwd, `/`, beside this module, repo)."""
    if path is not None:
        if not _exists(path):
            raise PinMapError("pin map not found: " + path)
        return path
    for cand in _candidates():
        if _exists(cand):
            return cand
    raise PinMapError("pin map not found (looked in: " + ", ".join(_candidates()) + ")")


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise PinMapError("cannot read pin map " + path + ": " + str(exc))


def _stored_rev(path):
    rev_file = _join(_dirname(path), "hwrev")
    if not _exists(rev_file):
        return None
    try:
        with open(rev_file) as f:
            text = f.read().strip()
    except OSError:
        return None
    return text or None


def _check(rev, board):
    pins = board.get("pins")
    if not isinstance(pins, dict):
        raise PinMapError("revision " + rev + " has no 'pins' table")
    seen = {}  # type: dict
    for role in pins:
        gpio = pins[role]
        if not isinstance(gpio, int) or isinstance(gpio, bool):
            raise PinMapError("revision " + rev + ": " + role + " is not a GPIO number")
        if gpio < 0 or gpio > 48 or 22 <= gpio <= 25:
            raise PinMapError("revision " + rev + ": " + role + " = GPIO" + str(gpio)
                              + " does not exist on the ESP32-S3")
        if gpio in seen:
            raise PinMapError("revision " + rev + ": GPIO" + str(gpio) + " used by both "
                              + seen[gpio] + " and " + role)
        seen[gpio] = role
    for role in REQUIRED:
        if role not in pins:
            raise PinMapError("revision " + rev + ": required role " + role + " is missing")


def revisions(path=None):
    """Board revisions the pin map knows, sorted."""
    data = _read_json(find(path))
    return sorted(data.get("revisions", {}))


def load(rev=None, path=None):
    """The board description for `rev` (see module docstring); raises PinMapError."""
    global _cache
    where = find(path)
    data = _read_json(where)
    revs = data.get("revisions")
    if not isinstance(revs, dict) or not revs:
        raise PinMapError("pin map " + where + " has no revisions")
    if rev is None:
        rev = _stored_rev(where) or data.get("default_rev")
    if rev not in revs:
        raise PinMapError("board revision " + str(rev) + " not in pin map (have: "
                          + ", ".join(sorted(revs)) + ")")
    board = dict(revs[rev])
    _check(rev, board)
    board["rev"] = rev
    board["path"] = where
    _cache = board
    return board


def pin(role, default=None):
    """GPIO number of `role` on the loaded board (loads the default board on first use)."""
    board = _cache if _cache is not None else load()
    return board["pins"].get(role, default)
