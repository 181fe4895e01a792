"""BLE advertising and GATT identifiers of the badge (pure: no `bluetooth` import).

Used by firmware.hw.radio on the badge and by the companion (scanning, the BLE
transport). Advertising data: flags, the name ``BK-<badge id>`` (shortened to fit),
and manufacturer data (company 0xFFFF) = ``status byte | badge id``; the scan
response carries the 128-bit sync service UUID. Status bits (``status_byte``):
0 enrolled, 1 clips waiting, 2 storage warning, 3 recording, 4 fault.
"""

import struct

from firmware import const

__all__ = ["SERVICE_UUID", "RX_UUID", "TX_UUID", "COMPANY_ID", "adv_payload", "parse_adv",
           "status_byte", "ST_ENROLLED", "ST_CLIPS", "ST_STORAGE", "ST_RECORDING", "ST_FAULT"]

SERVICE_UUID = "6b5a0001-b5e0-4c3e-9a6b-62616467656b"
RX_UUID = "6b5a0002-b5e0-4c3e-9a6b-62616467656b"
TX_UUID = "6b5a0003-b5e0-4c3e-9a6b-62616467656b"
COMPANY_ID = const(0xFFFF)
ST_ENROLLED = const(1)
ST_CLIPS = const(2)
ST_STORAGE = const(4)
ST_RECORDING = const(8)
ST_FAULT = const(16)


def status_byte(enrolled, clips_waiting, storage_warning, recording=False, fault=False):
    return (ST_ENROLLED if enrolled else 0) | (ST_CLIPS if clips_waiting else 0) \
        | (ST_STORAGE if storage_warning else 0) | (ST_RECORDING if recording else 0) \
        | (ST_FAULT if fault else 0)


def _ad(kind, data):
    return struct.pack("BB", len(data) + 1, kind) + data


def adv_payload(badge_id, status):
    """Advertising data (<= 31 bytes): flags, name, manufacturer data (status, id)."""
    bid = badge_id.encode()[:16]
    name = (b"BK-" + bid)[:max(0, 21 - len(bid))]
    return (_ad(0x01, b"\x06") + _ad(0x09, name)
            + _ad(0xFF, struct.pack("<HB", COMPANY_ID, status) + bid))


def parse_adv(data):
    """-> (badge id, status byte) from advertising data, or None if not a badge."""
    i = 0
    while i + 1 < len(data):
        n = data[i]
        if n == 0 or i + 1 + n > len(data):
            return None
        if data[i + 1] == 0xFF and n >= 4:
            company, status = struct.unpack("<HB", bytes(data[i + 2:i + 5]))
            if company == COMPANY_ID:
                try:
                    return bytes(data[i + 5:i + 1 + n]).decode(), status
                except UnicodeError:
                    return None
        i += 1 + n
    return None


def _uuid128_le(s):
    h = s.replace("-", "")
    return bytes(int(h[i:i + 2], 16) for i in range(30, -2, -2))
