"""On-badge self-test: is this unit built right and ready to record?

Checks: pin map, firmware modules import, flash writable (on the unix port: the host
folder it runs in, reported as "filesystem", with "flash" itself n/a), microSD, microphone gives
non-silent audio, RTC running (chip and RV-3028), BLE advertising, battery reading
plausible, PSRAM heap. A check the runtime cannot do (the unix port has no I2S, ADC,
RTC or radio) is reported as "n/a" ("not available here"), never as passed.

Each result is printed as one line `SELFTEST {"check": ..., "status": "pass"|"fail"|"n/a",
"detail": ...}` and a last line `SELFTEST-END {"pass": n, "fail": n, "n/a": n}`, which
`badgekit hardware deploy` and `selftest` turn into a table.

    import firmware.selftest as t
    t.main()          # or t.main(rev="B")
"""

import json
import os
import sys
import time

from firmware import const
from firmware.hw import pins, probe

__all__ = ["Result", "PASS", "FAIL", "NA", "judge_audio", "judge_battery", "judge_clock",
           "run", "boot_checks", "main"]

PASS = "pass"
FAIL = "fail"
NA = "n/a"

_FULL_SCALE = const(8388608)  # 24-bit samples
_MIN_RMS_DBFS = -95.0  # below the ICS-43434 noise floor (~ -91 dBFS): a dead mic
_TEST_BYTES = const(4096)


class Result:
    """Outcome of one check."""

    def __init__(self, check, status, detail=""):
        self.check = check
        self.status = status
        self.detail = detail

    def as_dict(self):
        return {"check": self.check, "status": self.status, "detail": self.detail}


def _dbfs(rms):
    if rms <= 0:
        return -200.0
    import math
    return 20 * math.log10(rms / _FULL_SCALE)


def judge_audio(rms, ptp, distinct):
    """(ok, detail) for a capture: a live mic is neither constant nor silent nor railed."""
    level = _dbfs(rms)
    detail = "rms %.1f dBFS, peak-to-peak %d, %d distinct values" % (level, ptp, distinct)
    if distinct < 2:
        return False, "constant output (" + detail + "): data line stuck or mic unpowered"
    if level < _MIN_RMS_DBFS:
        return False, "silent (" + detail + ")"
    if ptp >= 2 * _FULL_SCALE - 2:
        return False, "railed at full scale (" + detail + ")"
    return True, detail


def judge_battery(volts):
    """(ok, detail) for a battery reading through the divider."""
    detail = "%.2f V" % volts
    if volts < 0.5:
        return False, detail + ": no cell or divider open"
    if volts < 3.0:
        return False, detail + ": below the protection cut-off, charge before use"
    if volts > 4.35:
        return False, detail + ": above a Li-Po's maximum, check the divider ratio"
    return True, detail


def judge_clock(year, t0, t1, elapsed_ms):
    """(ok, detail): the clock advanced like the tick counter and has been set."""
    step = t1 - t0
    want = elapsed_ms / 1000
    detail = "advanced %d s in %.2f s, year %d" % (step, want, year)
    if abs(step - want) > 1.0:
        return False, "not running (" + detail + ")"
    if year < 2024:
        return False, "running but never set (" + detail + "): sync sets the time"
    return True, detail


def _guard(name, fn):
    try:
        return fn()
    except probe.Unavailable as exc:
        return Result(name, NA, "not available here: " + str(exc))
    except Exception as exc:  # a bring-up tool reports every fault as a failed check
        return Result(name, FAIL, "%s: %s" % (type(exc).__name__, exc))


def _check_pinmap(rev):
    board = pins.load(rev)
    return Result("pinmap", PASS, "rev %s, %s, %d pins (%s)" % (
        board["rev"], board.get("module", "?"), len(board["pins"]), board["path"])), board


def _firmware_dir():
    import firmware
    f = getattr(firmware, "__file__", "") or ""
    i = f.rfind("/")
    return f[:i] if i > 0 else "firmware"


def _module_names(folder, prefix):
    names = []
    for entry in sorted(os.listdir(folder)):
        if entry.endswith(".py") or entry.endswith(".mpy"):
            stem = prefix + entry[:entry.rfind(".")]
            if not stem.endswith("__init__") and stem != "selftest" and stem not in names:
                names.append(stem)
    return names


def _check_modules():
    """Import every firmware module: all of them on the badge, all but hw/ elsewhere."""
    top = _firmware_dir()
    names = _module_names(top, "")
    for entry in sorted(os.listdir(top)):
        sub = top + "/" + entry
        if entry == "hw" and not probe.on_badge():
            continue
        try:
            inner = os.listdir(sub)
        except OSError:
            continue  # a file, not a package
        if "__init__.py" in inner or "__init__.mpy" in inner:
            names += _module_names(sub, entry + ".")
    bad = []
    for name in names:
        try:
            __import__("firmware." + name)
        except Exception as exc:  # report, keep going
            bad.append("%s (%s: %s)" % (name, type(exc).__name__, exc))
    if bad:
        return Result("modules", FAIL, "cannot import: " + "; ".join(bad))
    return Result("modules", PASS, "%d firmware modules import" % len(names))


def _check_write(name, folder):
    path = folder.rstrip("/") + "/.selftest.tmp"
    data = bytes((i * 7 + 3) & 0xFF for i in range(_TEST_BYTES))
    with open(path, "wb") as f:
        f.write(data)
    with open(path, "rb") as f:
        back = f.read()
    os.remove(path)
    if back != data:
        return Result(name, FAIL, "read back differs in " + folder)
    st = os.statvfs(folder)
    free = st[0] * st[3]
    return Result(name, PASS, "wrote and read back %d B in %s, %d KiB free"
                  % (_TEST_BYTES, folder, free // 1024))


def _check_flash():
    if not probe.on_badge():
        raise probe.Unavailable("no badge flash on " + sys.platform)
    return _check_write("flash", "/")


def _check_filesystem():
    return _check_write("filesystem", os.getcwd() or ".")


def _check_sd(board):
    return _check_write("microsd", probe.sd_mount(board))


def _check_mic(board):
    rms, ptp, distinct = probe.mic_capture(board)
    ok, detail = judge_audio(rms, ptp, distinct)
    return Result("mic", PASS if ok else FAIL, detail)


def _check_rtc():
    year, t0 = probe.rtc_seconds()
    start = time.ticks_ms()
    time.sleep_ms(1100)
    year, t1 = probe.rtc_seconds()
    ok, detail = judge_clock(year, t0, t1, time.ticks_diff(time.ticks_ms(), start))
    return Result("rtc", PASS if ok else FAIL, detail)


def _check_ext_rtc(board):
    if not board.get("features", {}).get("ext_rtc"):
        raise probe.Unavailable("board revision has no external RTC")
    s0 = probe.ext_rtc_seconds(board)
    time.sleep_ms(1100)
    s1 = probe.ext_rtc_seconds(board)
    step = (s1 - s0) % 86400
    if step < 1 or step > 2:
        return Result("ext_rtc", FAIL, "RV-3028 advanced %d s in 1.1 s" % step)
    return Result("ext_rtc", PASS, "RV-3028 advanced %d s in 1.1 s" % step)


def _check_ble():
    mac = probe.ble_advertise()
    return Result("ble", PASS, "advertised as badgekit-selftest from " + mac)


def _check_battery(board):
    ok, detail = judge_battery(probe.battery_volts(board))
    return Result("battery", PASS if ok else FAIL, detail)


def _check_psram():
    size = probe.heap_bytes()
    if size < 1024 * 1024:
        return Result("psram", FAIL, "heap %d KiB: PSRAM not in use" % (size // 1024))
    return Result("psram", PASS, "heap %d KiB (PSRAM)" % (size // 1024))


def run(rev=None):
    """Run every check; yields Result objects in order."""
    try:
        first, board = _check_pinmap(rev)
    except Exception as exc:
        first, board = Result("pinmap", FAIL, str(exc)), None
    yield first
    yield _guard("modules", _check_modules)
    if not probe.on_badge():
        yield _guard("filesystem", _check_filesystem)
    yield _guard("flash", _check_flash)
    yield _guard("psram", _check_psram)
    hw = (
        ("microsd", lambda: _check_sd(board)),
        ("mic", lambda: _check_mic(board)),
        ("rtc", _check_rtc),
        ("ext_rtc", lambda: _check_ext_rtc(board)),
        ("ble", _check_ble),
        ("battery", lambda: _check_battery(board)),
    )
    for name, fn in hw:
        if board is None and name != "rtc" and name != "ble":
            yield Result(name, FAIL, "no pin map")
        else:
            yield _guard(name, fn)


def boot_checks(rev=None):
    """The checks a new firmware on trial runs at boot (firmware.fwbadge): pin map, every
    module imports, the filesystem takes a write. No mic (its supply lights the privacy
    LED), no radio, no waiting for the clock."""
    try:
        first, _board = _check_pinmap(rev)
    except Exception as exc:
        first = Result("pinmap", FAIL, str(exc))
    yield first
    yield _guard("modules", _check_modules)
    if probe.on_badge():
        yield _guard("flash", _check_flash)
    else:
        yield _guard("filesystem", _check_filesystem)


def main(rev=None):
    """Print every result as a SELFTEST line; return the number of failed checks."""
    counts = {PASS: 0, FAIL: 0, NA: 0}
    for r in run(rev):
        counts[r.status] += 1
        print("SELFTEST " + json.dumps(r.as_dict()))
    print("SELFTEST-END " + json.dumps(counts))
    return counts[FAIL]


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
