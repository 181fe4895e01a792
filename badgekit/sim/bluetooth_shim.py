"""MicroPython's `bluetooth` module, peripheral role, built on a bumble device.

So firmware/hw/radio.py runs unmodified under CPython: ``install()`` puts this module in
``sys.modules["bluetooth"]``; ``BLE(device)`` binds one radio to one bumble ``Device``
(badgekit.blelink.VirtualLink gives a device per simulated badge). Implemented: the
calls the firmware uses (``active``, ``config(mtu=, gap_name=)``, ``irq``,
``gatts_register_services``, ``gatts_set_buffer``, ``gatts_read``, ``gatts_write``,
``gatts_notify``, ``gap_advertise``, ``gap_disconnect``) with MicroPython's IRQ codes
and argument shapes. Bumble's real ATT/GATT stack carries every byte.

Flow control as on the badge's NimBLE stack: at most ``max_inflight`` notifications
may be queued in the host at once; one more raises ``OSError(ENOMEM)``.
Must be used from inside a running asyncio loop (the bumble device's).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from bumble.att import Attribute, AttributeValue
from bumble.core import UUID as _BUUID
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

__all__ = ["BLE", "UUID", "install", "FLAG_READ", "FLAG_WRITE_NO_RESPONSE", "FLAG_WRITE",
           "FLAG_NOTIFY", "FLAG_INDICATE"]

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_MTU_EXCHANGED = 21
_ENOMEM = 12


class UUID:
    """`bluetooth.UUID`: a 16-bit int or a 128-bit string."""

    def __init__(self, value: int | str) -> None:
        self.value = value

    def bumble(self) -> _BUUID:
        if isinstance(self.value, int):
            return _BUUID.from_16_bits(self.value)
        return _BUUID(self.value)

    def __str__(self) -> str:
        return str(self.value)


def install() -> None:
    """Make ``import bluetooth`` give this module (CPython only)."""
    sys.modules["bluetooth"] = sys.modules[__name__]


class BLE:
    """One radio on one bumble ``Device``."""

    def __init__(self, device: Device | None = None, max_inflight: int = 8) -> None:
        if device is None:
            raise ValueError("the shim needs a bumble Device: BLE(device)")
        self.device = device
        self.max_inflight = max_inflight
        self._active = False
        self._irq: Callable[[int, Any], Any] | None = None
        self._values: dict[int, bytearray] = {}
        self._append: set[int] = set()
        self._chars: dict[int, Characteristic] = {}
        self._conns: dict[int, Connection] = {}
        self._inflight = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.notify_errors = 0
        device.on("connection", self._on_connection)

    # ---- configuration -------------------------------------------------------------
    def active(self, on: bool | None = None) -> bool:
        if on is not None:
            self._active = bool(on)
        return self._active

    def config(self, *args: str, **kw: Any) -> Any:
        if args:
            key = args[0]
            if key == "mtu":
                return self.device.gatt_server.max_mtu
            if key == "gap_name":
                return (self.device.name or "").encode()
            if key == "mac":
                return (0, bytes(self.device.public_address.address_bytes[::-1]))
            raise ValueError(f"unsupported config {key}")
        if "mtu" in kw:
            self.device.gatt_server.max_mtu = int(kw["mtu"])
        if "gap_name" in kw:
            self.device.name = str(kw["gap_name"])
        return None

    def irq(self, handler: Callable[[int, Any], Any]) -> None:
        self._irq = handler

    def _fire(self, event: int, data: Any) -> None:
        if self._irq is not None:
            self._irq(event, data)

    # ---- GATT server ---------------------------------------------------------------
    def gatts_register_services(self, services: Any) -> tuple[tuple[int, ...], ...]:
        out = []
        for svc_uuid, chars in services:
            made = []
            for c in chars:
                made.append(self._characteristic(c[0], c[1]))
            service = Service(svc_uuid.bumble(), made)
            self.device.add_service(service)
            handles = []
            for ch in made:
                h = ch.handle
                self._chars[h] = ch
                self._values[h] = bytearray()
                handles.append(h)
            out.append(tuple(handles))
        return tuple(out)

    def _characteristic(self, uuid: UUID, flags: int) -> Characteristic:
        props = Characteristic.Properties(0)
        perms = Attribute.Permissions(0)
        if flags & FLAG_READ:
            props |= Characteristic.Properties.READ
            perms |= Attribute.Permissions.READABLE
        if flags & FLAG_WRITE:
            props |= Characteristic.Properties.WRITE
        if flags & FLAG_WRITE_NO_RESPONSE:
            props |= Characteristic.Properties.WRITE_WITHOUT_RESPONSE
        if flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
            perms |= Attribute.Permissions.WRITEABLE
        if flags & FLAG_NOTIFY:
            props |= Characteristic.Properties.NOTIFY
        if flags & FLAG_INDICATE:
            props |= Characteristic.Properties.INDICATE
        holder: list[Characteristic] = []

        def read(_conn: Connection) -> bytes:
            return bytes(self._values.get(holder[0].handle, b""))

        def write(conn: Connection, value: bytes) -> None:
            h = holder[0].handle
            buf = self._values[h]
            if h in self._append:
                buf.extend(value)
            else:
                buf[:] = value
            self._fire(_IRQ_GATTS_WRITE, (conn.handle, h))

        value: Any = AttributeValue(read=read, write=write)
        ch: Characteristic = Characteristic(uuid.bumble(), props, perms, value)
        holder.append(ch)
        return ch

    def gatts_set_buffer(self, handle: int, size: int, append: bool = False) -> None:
        if append:
            self._append.add(handle)
        else:
            self._append.discard(handle)

    def gatts_read(self, handle: int) -> bytes:
        buf = self._values[handle]
        out = bytes(buf)
        if handle in self._append:
            buf[:] = b""
        return out

    def gatts_write(self, handle: int, data: bytes, send_update: bool = False) -> None:
        self._values[handle][:] = bytes(data)

    def gatts_notify(self, conn_handle: int, value_handle: int, data: Any = None) -> None:
        conn = self._conns.get(conn_handle)
        if conn is None:
            raise OSError(107, "not connected")  # ENOTCONN
        if self._inflight >= self.max_inflight:
            raise OSError(_ENOMEM, "no notification buffer")
        payload = bytes(data) if data is not None else bytes(self._values[value_handle])
        self._inflight += 1
        task = asyncio.get_running_loop().create_task(
            self.device.notify_subscriber(conn, self._chars[value_handle], payload, force=True))
        self._tasks.add(task)
        task.add_done_callback(self._notified)

    def _notified(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        if not task.cancelled() and task.exception() is not None:
            self.notify_errors += 1

    # ---- GAP -----------------------------------------------------------------------
    def gap_advertise(self, interval_us: int | None, adv_data: bytes | None = None,
                      resp_data: bytes | None = None, connectable: bool = True) -> None:
        async def go() -> None:
            if self.device.is_advertising:
                await self.device.stop_advertising()
            if interval_us is not None:
                await self.device.start_advertising(advertising_data=adv_data,
                                                    scan_response_data=resp_data)

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def gap_disconnect(self, conn_handle: int) -> bool:
        conn = self._conns.get(conn_handle)
        if conn is None:
            return False
        task = asyncio.get_running_loop().create_task(conn.disconnect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    # ---- bumble events -------------------------------------------------------------
    def _on_connection(self, conn: Connection) -> None:
        self._conns[conn.handle] = conn
        addr = bytes(conn.peer_address.address_bytes[::-1])
        conn.on("disconnection", lambda _reason: self._on_disconnection(conn))
        conn.on("connection_att_mtu_update", lambda: self._fire(_IRQ_MTU_EXCHANGED,
                                                                 (conn.handle, conn.att_mtu)))
        self._fire(_IRQ_CENTRAL_CONNECT, (conn.handle, 0, addr))

    def _on_disconnection(self, conn: Connection) -> None:
        self._conns.pop(conn.handle, None)
        self._fire(_IRQ_CENTRAL_DISCONNECT, (conn.handle, 0, b""))
