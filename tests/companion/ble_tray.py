"""Several simulated BLE badges on one bumble link, reached through one HCI transport.

    python -m tests.companion.ble_tray CLIPS_DIR [CLIPS_DIR ...]

Like `badgekit sim badge --ble`, but a whole tray on one link, as a branch PC's one radio
sees it: prints ``hci: tcp-client:127.0.0.1:PORT`` then ``ble: <address> <badge>`` per
badge, and serves until killed.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(folders: list[Path]) -> None:
    from bumble.controller import Controller
    from bumble.transport import open_transport

    from badgekit.blelink import VirtualLink
    from badgekit.sim.ble_badge import start_ble_badge

    work = Path(tempfile.mkdtemp(prefix="badgekit-bletray-"))
    try:
        link = VirtualLink()
        badges = []
        for i, folder in enumerate(folders):
            (work / str(i)).mkdir()
            badges.append(await start_ble_badge(link, folder, work / str(i)))
        port = _free_port()
        hci = await open_transport(f"tcp-server:127.0.0.1:{port}")
        Controller("companion-hci", host_source=hci.source, host_sink=hci.sink, link=link.link,
                   public_address="D0:D0:D0:D0:D0:D0")
        print(f"hci: tcp-client:127.0.0.1:{port}", flush=True)
        for b in badges:
            print(f"ble: {b.address} {b.badge}", flush=True)
        await asyncio.gather(*(b.task for b in badges))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(_serve([Path(p) for p in sys.argv[1:]]))
