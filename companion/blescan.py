"""Find badges over BLE: their advertisements carry the badge id and a status byte.

A badge advertises manufacturer data (company ``0xFFFF``) = ``status byte | badge id``;
the format and status bits are firmware.sync.adv's (the badge builds its advertisement
with the same module): 0 enrolled, 1 clips waiting, 2 storage warning, 3 recording, 4 fault. `discover()` listens for ``timeout_s`` and returns one `Advert`
per badge, strongest signal first.

Two radios: with an HCI transport spec (``hci=``, e.g. ``tcp-client:127.0.0.1:PORT`` of
`badgekit sim badge --ble`, or ``usb:0`` for a dongle) the scan runs on a bumble host
stack (`radio()` opens it once, and the same device then connects to each badge);
without, bleak's ``BleakScanner`` uses the platform's Bluetooth.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from firmware.sync.adv import (
    COMPANY_ID,
    ST_CLIPS,
    ST_ENROLLED,
    ST_FAULT,
    ST_RECORDING,
    ST_STORAGE,
    parse_adv,
)

__all__ = ["Advert", "discover", "radio", "COMPANY_ID", "ST_ENROLLED", "ST_CLIPS", "ST_STORAGE",
           "ST_RECORDING", "ST_FAULT"]


@dataclass(frozen=True)
class Advert:
    """One badge heard over the air."""

    address: str
    badge_id: str
    status: int
    rssi: int | None = None

    def flag(self, bit: int) -> bool:
        return bool(self.status & bit)


@asynccontextmanager
async def radio(hci: str) -> AsyncIterator[Any]:
    """A powered-on bumble Device on the HCI transport ``hci``; closed on exit."""
    from bumble.device import Device
    from bumble.hci import Address
    from bumble.transport import open_transport

    transport = await open_transport(hci)
    try:
        dev = Device.with_hci("badgekit-companion", Address("D0:D0:D0:D0:D0:D1"),
                              transport.source, transport.sink)
        await dev.power_on()
        yield dev
    finally:
        try:
            await transport.close()
        except Exception:  # noqa: BLE001 - a transport that is already gone
            pass


async def _discover_bumble(dev: Any, timeout_s: float) -> list[Advert]:
    found: dict[str, Advert] = {}

    def on_adv(adv: Any) -> None:
        raw = bytes(adv.data_bytes) if hasattr(adv, "data_bytes") else bytes(adv.data.to_bytes())
        got = parse_adv(raw)
        if got:
            addr = str(adv.address).split("/")[0]
            found[addr] = Advert(addr, got[0], got[1], getattr(adv, "rssi", None))

    dev.on("advertisement", on_adv)
    try:
        await dev.start_scanning(filter_duplicates=False)
        await asyncio.sleep(timeout_s)
        await dev.stop_scanning()
    finally:
        dev.remove_listener("advertisement", on_adv)
    return list(found.values())


async def _discover_bleak(timeout_s: float) -> list[Advert]:
    from bleak import BleakScanner

    seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    out = []
    for dev, adv in seen.values():
        data = adv.manufacturer_data.get(COMPANY_ID)
        # bleak hands over the bytes after the company id: rebuild the AD structure
        got = parse_adv(bytes([len(data) + 3, 0xFF]) + struct.pack("<H", COMPANY_ID)
                        + bytes(data)) if data else None
        if got:
            out.append(Advert(dev.address, got[0], got[1], adv.rssi))
    return out


async def discover(timeout_s: float = 4.0, device: Any = None) -> list[Advert]:
    """Badges advertising within ``timeout_s``: on ``device`` (bumble) or the system radio."""
    ads = await (_discover_bumble(device, timeout_s) if device is not None
                 else _discover_bleak(timeout_s))
    return sorted(ads, key=lambda a: (-(a.rssi if a.rssi is not None else -999), a.badge_id))
