"""Raw reads of the badge's hardware for the bring-up self-test (firmware/selftest.py).

Each probe raises `Unavailable` when the runtime has no such hardware (the MicroPython
unix port has no `machine.I2S`, `machine.ADC`, `machine.RTC` or `bluetooth`), so the
self-test can say "not available here" instead of pretending. Nothing here is used while
recording: the recording path has its own modules (hw/mic.py and friends).
"""

import struct
import sys
import time

from firmware import const
from firmware.hw import clock

__all__ = ["Unavailable", "on_badge", "mic_capture", "battery_volts", "rtc_seconds",
           "ext_rtc_seconds", "ble_advertise", "heap_bytes", "sd_mount"]

_RATE = const(16000)


class Unavailable(Exception):
    """This runtime has no such hardware (e.g. the unix port)."""


def on_badge():
    return sys.platform == "esp32"


def _machine():
    if not on_badge():
        raise Unavailable("no badge hardware on " + sys.platform)
    try:
        import machine
    except ImportError:
        raise Unavailable("no machine module")
    return machine


def mic_capture(board, ms=250):
    """Power the mic (privacy LED on), read `ms` of 32-bit I2S, return (rms, ptp, distinct).

    rms and ptp are in 24-bit sample units (full scale 8388608); the first 100 ms after
    power-up are discarded (ICS-43434 start-up).
    """
    machine = _machine()
    p = board["pins"]
    en = machine.Pin(p["mic_en"], machine.Pin.OUT)
    en.value(1 if board.get("mic_en_active_high", True) else 0)
    i2s = None
    try:
        i2s = machine.I2S(0, sck=machine.Pin(p["i2s_sck"]), ws=machine.Pin(p["i2s_ws"]),
                          sd=machine.Pin(p["i2s_sd"]), mode=machine.I2S.RX, bits=32,
                          format=machine.I2S.MONO, rate=_RATE, ibuf=16384)
        buf = bytearray(_RATE * 4 // 10)
        i2s.readinto(buf)  # 100 ms settle
        n = _RATE * ms // 1000
        buf = bytearray(n * 4)
        got = i2s.readinto(buf)
    finally:
        if i2s is not None:
            i2s.deinit()
        en.value(0 if board.get("mic_en_active_high", True) else 1)
    count = got // 4
    if count == 0:
        return 0.0, 0, 0
    total = 0
    acc = 0.0
    lo = 1 << 30
    hi = -(1 << 30)
    seen = set()  # type: set
    for i in range(count):
        v = struct.unpack_from("<i", buf, i * 4)[0] >> 8
        total += v
        acc += v * v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
        if len(seen) < 64:
            seen.add(v)
    mean = total / count
    var = acc / count - mean * mean
    rms = var ** 0.5 if var > 0 else 0.0
    return rms, hi - lo, len(seen)


def battery_volts(board, samples=16):
    """Battery voltage through the divider on the ADC1 pin."""
    machine = _machine()
    adc = machine.ADC(machine.Pin(board["pins"]["bat_adc"]), atten=machine.ADC.ATTN_11DB)
    uv = 0
    for _ in range(samples):
        uv += adc.read_uv()
    return uv / samples / 1e6 * board.get("bat_divider_ratio", 2.0)


def rtc_seconds():
    """Seconds since the epoch from the chip's RTC (also year, to see if it was ever set)."""
    _machine()
    dt = clock.rtc_datetime()
    return dt[0], clock.datetime_unix(dt)


def _bcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


def ext_rtc_seconds(board):
    """Seconds-of-day from the RV-3028 over I2C (registers 0x00-0x02, BCD)."""
    machine = _machine()
    p = board["pins"]
    if "i2c_sda" not in p:
        raise Unavailable("board has no I2C RTC")
    i2c = machine.I2C(0, sda=machine.Pin(p["i2c_sda"]), scl=machine.Pin(p["i2c_scl"]),
                      freq=100000)
    addr = board.get("i2c_addr", {}).get("rtc", 0x52)
    raw = i2c.readfrom_mem(addr, 0x00, 3)
    return _bcd(raw[2] & 0x3F) * 3600 + _bcd(raw[1] & 0x7F) * 60 + _bcd(raw[0] & 0x7F)


def ble_advertise(name="badgekit-selftest", ms=1500):
    """Advertise for `ms` and return the radio's MAC as hex (raises on any BLE error)."""
    if not on_badge():
        raise Unavailable("no BLE radio on " + sys.platform)
    try:
        import bluetooth
    except ImportError:
        raise Unavailable("no bluetooth module")
    ble = bluetooth.BLE()
    ble.active(True)
    nm = name.encode()
    adv = bytes((2, 0x01, 0x06, len(nm) + 1, 0x09)) + nm
    ble.gap_advertise(100000, adv)
    time.sleep_ms(ms)
    ble.gap_advertise(None)  # type: ignore[arg-type]  # None stops advertising
    mac = ble.config("mac")[1]
    ble.active(False)
    return ":".join("%02x" % b for b in mac)


def heap_bytes():
    """Size of the MicroPython heap (over 1 MiB only when it lives in PSRAM)."""
    if not on_badge():
        raise Unavailable("heap size says nothing about PSRAM on " + sys.platform)
    import gc
    gc.collect()
    return gc.mem_free() + gc.mem_alloc()


def sd_mount(board, mount="/sd"):
    """Power and mount the microSD card over SPI at `mount`; returns the mount point."""
    machine = _machine()
    p = board["pins"]
    if not board.get("features", {}).get("sd"):
        raise Unavailable("board revision has no microSD")
    import os
    en = machine.Pin(p["sd_en"], machine.Pin.OUT)
    en.value(0 if board.get("sd_en_active_low", True) else 1)
    time.sleep_ms(50)
    card = machine.SDCard(slot=2, sck=machine.Pin(p["sd_sck"]), mosi=machine.Pin(p["sd_mosi"]),
                          miso=machine.Pin(p["sd_miso"]), cs=machine.Pin(p["sd_cs"]))
    try:
        os.mount(card, mount)
    except OSError:
        pass  # already mounted
    return mount
