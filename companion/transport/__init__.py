"""Transports to a badge: USB serial (pyserial) and BLE (bleak). Imported lazily.

``open_transport(port=..., ble=..., hci=...)`` builds the one that fits; only the chosen
backend's libraries load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from companion.transport.base import Transport

__all__ = ["make_transport"]


def make_transport(port: str | None = None, ble: str | None = None,
                   hci: str | None = None) -> Transport:
    """A serial transport for ``port``, or a BLE transport for the address ``ble``.

    ``hci`` (BLE only): a bumble HCI transport spec (e.g. ``tcp-client:127.0.0.1:9001``
    for `badgekit sim badge --ble`, or ``usb:0`` for a dongle); without it bleak uses the
    system's Bluetooth stack."""
    if bool(port) == bool(ble):
        raise ValueError("name exactly one of a serial port or a BLE address")
    if port:
        from companion.transport.serial import SerialTransport

        return SerialTransport(port)
    from companion.transport.ble import BleTransport

    return BleTransport(str(ble), hci=hci)
