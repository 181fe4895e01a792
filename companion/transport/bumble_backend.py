"""A bleak client backend on a bumble host stack (``BleakClient(..., backend=BumbleClient)``).

bleak picks a backend per platform and accepts ``backend=`` for custom ones. This one
drives a bumble ``Device`` (a virtual controller on a ``LocalLink``, a controller offered
over an HCI transport such as ``tcp-client:127.0.0.1:PORT``, or a USB dongle), so the
companion's BLE code runs the same bleak calls against the simulator as against a
real radio. Pass ``bumble_device=`` (a powered-on Device) to ``BleakClient``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

__all__ = ["BumbleClient"]

_PROPS = {0x02: "read", 0x04: "write-without-response", 0x08: "write", 0x10: "notify",
          0x20: "indicate"}


class BumbleClient(BaseBleakClient):
    def __init__(self, address_or_ble_device: Any, *, bumble_device: Any = None,
                 mtu: int = 247, **kwargs: Any) -> None:
        kwargs.pop("bluez", None)
        kwargs.pop("winrt", None)
        kwargs.pop("services", None)
        super().__init__(address_or_ble_device, disconnected_callback=kwargs.pop(
            "disconnected_callback", None), timeout=kwargs.pop("timeout", 10.0))
        if bumble_device is None:
            raise BleakError("BumbleClient needs bumble_device= (a powered-on bumble Device)")
        self.device = bumble_device
        self.want_mtu = mtu
        self.connection: Any = None
        self.peer: Any = None
        self._subs: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return str(self.address)

    @property
    def mtu_size(self) -> int:
        return int(self.connection.att_mtu) if self.connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self.connection is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        from bumble.device import Peer
        from bumble.hci import Address

        # a controller creates one connection at a time; several badges wait their turn
        lock = getattr(self.device, "_badgekit_connect_lock", None)
        if lock is None:
            lock = asyncio.Lock()
            self.device._badgekit_connect_lock = lock
        try:
            async with lock:
                self.connection = await asyncio.wait_for(
                    self.device.connect(Address(self.address)), self._timeout)
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - bumble raises many types
            raise BleakError(f"cannot connect to {self.address}: {exc or 'timeout'}") from None
        self.connection.on("disconnection", self._on_disconnection)
        self.peer = Peer(self.connection)
        await self.peer.request_mtu(self.want_mtu)
        await self.peer.discover_services()
        coll = BleakGATTServiceCollection()
        for svc in self.peer.services:
            await svc.discover_characteristics()
            bs = BleakGATTService(svc, svc.handle, str(svc.uuid).lower())
            coll.add_service(bs)
            for ch in svc.characteristics:
                props: list[Any] = [v for k, v in _PROPS.items() if int(ch.properties) & k]
                bc = BleakGATTCharacteristic(ch, ch.handle, str(ch.uuid).lower(), props,
                                             lambda: self.mtu_size - 3, bs)
                coll.add_characteristic(bc)
        self.services = coll

    def _on_disconnection(self, _reason: Any) -> None:
        self.connection = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        conn = self.connection
        if conn is not None:
            try:
                await conn.disconnect()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.connection = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the sync protocol authenticates itself; no pairing")

    async def unpair(self) -> None:
        raise NotImplementedError("the sync protocol authenticates itself; no pairing")

    def _need(self) -> Any:
        if self.peer is None or self.connection is None:
            raise BleakError("not connected")
        return self.peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        return bytearray(await self._need().read_value(characteristic.obj))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        return bytearray(await self._need().read_value(descriptor.handle))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        await self._need().write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._need().write_value(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        def sub(value: bytes) -> None:
            callback(bytearray(value))

        self._subs[characteristic.handle] = sub
        await self._need().subscribe(characteristic.obj, sub)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        sub = self._subs.pop(characteristic.handle, None)
        await self._need().unsubscribe(characteristic.obj, sub)
