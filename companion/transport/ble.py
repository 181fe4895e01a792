"""BLE transport (bleak): the badge's sync service, frames over write + notify.

Writes go to the RX characteristic in pieces of (MTU - 3) bytes; the badge's frames
arrive as notifications on TX. With ``hci=`` (a bumble HCI transport spec, e.g.
``tcp-client:127.0.0.1:9001`` from `badgekit sim badge --ble`) or ``bumble_device=``
(a powered-on bumble Device, as in tests) bleak runs on the bumble backend
(companion.transport.bumble_backend); otherwise on the platform's Bluetooth stack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from companion.errors import LinkError
from companion.transport.base import Transport

__all__ = ["BleTransport", "SERVICE_UUID", "RX_UUID", "TX_UUID"]

from firmware.sync.adv import RX_UUID, SERVICE_UUID, TX_UUID


class BleTransport(Transport):
    def __init__(self, address: str, *, hci: str | None = None, bumble_device: Any = None,
                 mtu: int = 247, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.address = address
        self.hci = hci
        self.bumble_device = bumble_device
        self.want_mtu = mtu
        self.timeout_s = timeout_s
        self.name = f"ble:{address}"
        self.mtu = 23
        self.notifications = 0
        self._client: Any = None
        self._hci_transport: Any = None
        self._q: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def _bumble(self) -> Any:
        if self.bumble_device is not None:
            return self.bumble_device
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.transport import open_transport

        try:
            self._hci_transport = await open_transport(str(self.hci))
        except Exception as exc:  # noqa: BLE001 - bumble raises many types
            raise LinkError(f"cannot open BLE HCI transport {self.hci}: {exc}") from None
        dev = Device.with_hci("companion", Address("D0:D0:D0:D0:D0:D0"),
                              self._hci_transport.source, self._hci_transport.sink)
        await dev.power_on()
        return dev

    async def open(self) -> None:
        from bleak import BleakClient
        from bleak.exc import BleakError

        kw: dict[str, Any] = {}
        if self.hci or self.bumble_device is not None:
            from companion.transport.bumble_backend import BumbleClient

            kw = {"backend": BumbleClient, "bumble_device": await self._bumble(),
                  "mtu": self.want_mtu}
        self._client = BleakClient(self.address, disconnected_callback=self._gone,
                                   timeout=self.timeout_s, **kw)
        try:
            await self._client.connect()
            await self._client.start_notify(TX_UUID, self._notified)
        except (BleakError, OSError, TimeoutError) as exc:
            await self.close()
            raise LinkError(f"cannot connect to badge {self.address} over BLE: {exc}") from None
        self.mtu = int(self._client.mtu_size)

    def _notified(self, _char: Any, data: bytearray) -> None:
        self.bytes_in += len(data)
        self.notifications += 1
        self._q.put_nowait(bytes(data))

    def _gone(self, _client: Any) -> None:
        self._q.put_nowait(None)

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
            self._client = None
        if self._hci_transport is not None:
            with contextlib.suppress(Exception):
                await self._hci_transport.close()
            self._hci_transport = None
        self._q.put_nowait(None)

    async def send(self, data: bytes) -> None:
        from bleak.exc import BleakError

        if self._client is None:
            raise LinkError(f"{self.name} is closed")
        step = max(20, self.mtu - 3)
        try:
            for i in range(0, len(data), step):
                await self._client.write_gatt_char(RX_UUID, data[i:i + step], response=True)
        except (BleakError, OSError) as exc:
            raise LinkError(f"write to {self.name} failed: {exc}") from None
        self.bytes_out += len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            data = await self._q.get()
            if data is None:
                return
            yield data

    def chunk_hint(self, max_chunk: int) -> int:
        """Clip bytes per DATA frame so that frames fill whole notifications."""
        from firmware.sync import frame, proto

        per = max(20, self.mtu - 3)
        over = frame.OVERHEAD + proto.DATA_HDR
        k = max(1, (max_chunk + over) // per)
        return max(64, min(max_chunk, k * per - over))
