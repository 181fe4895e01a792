"""USB serial transport (pyserial): a badge on /dev/ttyACM*, or a simulated one on a pty.

Reads come from the port's file descriptor through the event loop (``add_reader``),
so many badges on many ports sync concurrently in one loop without threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from companion.errors import LinkError
from companion.transport.base import Transport

__all__ = ["SerialTransport"]


class SerialTransport(Transport):
    reopenable = True

    def __init__(self, port: str, baud: int = 921600) -> None:
        super().__init__()
        self.port = port
        self.baud = baud
        self.name = f"serial:{port}"
        self._ser: Any = None
        self._q: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def open(self) -> None:
        import serial

        try:
            self._ser = serial.Serial(self.port, self.baud, timeout=0, write_timeout=10,
                                      exclusive=True)  # one companion per port at a time
        except (serial.SerialException, OSError, ValueError) as exc:
            if "exclusively lock" in str(exc):  # held by another companion (exclusive=True)
                raise LinkError(f"{self.port} is busy: another companion is using this badge "
                                "(a sync in progress?); try again when it is done") from None
            raise LinkError(f"cannot open serial port {self.port}: {exc}") from None
        ser = self._ser
        self._q = asyncio.Queue()  # a reopen: not the end mark of the last link
        ser.reset_input_buffer()
        asyncio.get_running_loop().add_reader(ser.fileno(), self._readable)

    def _readable(self) -> None:
        ser = self._ser
        try:
            data = ser.read(65536) if ser is not None else b""
        except Exception:  # noqa: BLE001 - the port vanished (unplugged badge)
            data = b""
        if not data:
            self._stop_reader()
            self._q.put_nowait(None)
            return
        self.bytes_in += len(data)
        self._q.put_nowait(data)

    def _stop_reader(self) -> None:
        if self._ser is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._ser.fileno())
            except (ValueError, OSError, RuntimeError):
                pass

    async def close(self) -> None:
        if self._ser is not None:
            self._stop_reader()
            self._ser.close()
            self._ser = None
        self._q.put_nowait(None)

    async def send(self, data: bytes) -> None:
        ser = self._ser
        if ser is None:
            raise LinkError(f"{self.port} is closed")
        try:
            await asyncio.to_thread(ser.write, data)
        except Exception as exc:  # noqa: BLE001 - serial raises several unrelated types
            raise LinkError(f"write to {self.port} failed: {exc}") from None
        self.bytes_out += len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            data = await self._q.get()
            if data is None:
                return
            yield data
