"""A virtual Bluetooth LE radio: bumble controllers on one `LocalLink`.

Each `VirtualLink.add_device()` gives a real bumble host stack (HCI, L2CAP, ATT, GATT,
SMP) on its own virtual controller; all controllers share one link, so a badge's GATT
server and a companion's client talk through the real protocol stack with no radio.
Must be used from inside a running asyncio loop.
"""

from __future__ import annotations

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["VirtualLink"]


class VirtualLink:
    """A shared link; devices get addresses F0:F0:.., F1:F1:.., ..."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self.devices: list[Device] = []

    def add_device(self, name: str | None = None) -> Device:
        i = len(self.devices)
        address = ":".join([f"{0xC0 + i:02X}"] * 6)
        controller = Controller(f"ctrl{i}", link=self.link, public_address=address)
        device = Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))
        if name:
            device.name = name
        self.devices.append(device)
        return device
