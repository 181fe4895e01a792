"""A simulated badge on the bumble BLE link: the firmware's radio module on the shim.

``start_ble_badge(link, clips, work)`` loads clip WAVs into a firmware ClipStore (on a
host folder; CPython runs the same store code as the badge), builds the firmware sync
server and runs firmware.hw.radio.Radio on a new device of ``link`` (a
badgekit.blelink.VirtualLink) through badgekit.sim.bluetooth_shim. ``run_ble_badge``
is `badgekit sim badge --ble`: it also offers a second controller on the link to other
processes as an HCI transport (``tcp-server``), so `badgekit companion ... --ble ADDR
--hci tcp-client:127.0.0.1:PORT` reaches the badge through the real stack.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SimBleBadge", "start_ble_badge", "run_ble_badge"]


@dataclass
class SimBleBadge:
    """A running simulated BLE badge."""

    badge: str
    address: str
    radio: Any
    server: Any
    store: Any
    task: asyncio.Task[None]
    clips: list[str]
    stopping: bool = False

    async def stop(self) -> None:
        """Stop serving (the radio loop ends at its next turn)."""
        self.stopping = True
        self.radio.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 5)
        except (TimeoutError, Exception):  # noqa: BLE001 - stop regardless
            self.task.cancel()


async def start_ble_badge(link: Any, clips: Path, work: Path, badge: str | None = None,
                          max_inflight: int = 8, auth_timeout_ms: int = 30000,
                          state_dir: Path | None = None) -> SimBleBadge:
    """``state_dir``: the badge's enrollment and store key kept across runs
    (badgekit/sim/badge_mp.py ``--state``); enrolled, it stores its clips sealed."""
    from badgekit.sim import bluetooth_shim

    bluetooth_shim.install()
    from badgekit.sim.badge_mp import _badge_of, _wavs, fill
    from firmware.clips import keys as clipkeys
    from firmware.clips import mac as clipmac
    from firmware.clips import store as clipstore
    from firmware.hw import radio as fw_radio
    from firmware.sync import server, state

    names = _wavs(str(clips))
    badge = badge or _badge_of(str(clips), names) or "badge-sim"
    (work / "store").mkdir(parents=True, exist_ok=True)
    keys = clipkeys.KeyFile(str(state_dir / "keys.json") if state_dir else str(work / "nvs-key.json"))
    key, _old, _src = keys.load()
    st = state.BadgeState(str((state_dir or work) / "sync.json"), badge)
    store = clipstore.ClipStore(str(work / "store"), key, badge=badge,
                                clip_key=clipmac.clip_key_of(st.secret) if st.secret else None)
    stored, _differ = fill(store, str(clips), names)

    def on_enroll(kek: bytes) -> int:
        keys.enroll(kek)
        n = store.set_key(kek)
        keys.forget_old()
        return n

    def info() -> dict[str, Any]:
        return {"battery_pct": 87, "battery_mv": 4050, "charging": False, "mic": "ok",
                "simulated": True}

    srv = server.Server(store, st, on_enroll=on_enroll, info_fn=info)
    device = link.add_device(f"BK-{badge}")
    await device.power_on()
    ble = bluetooth_shim.BLE(device, max_inflight=max_inflight)

    def status() -> int:
        s = store.status()
        return fw_radio.status_byte(st.enrolled, s["clips"]["closed"] > 0, s["warning"])

    rad = fw_radio.Radio(srv, badge, status_fn=status, ble=ble, auth_timeout_ms=auth_timeout_ms)
    box: list[SimBleBadge] = []
    task = asyncio.get_running_loop().create_task(rad.serve(stop=lambda: box[0].stopping))
    box.append(SimBleBadge(badge, str(device.public_address).split("/")[0], rad, srv, store, task,
                           stored))
    return box[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(clips: Path, badge: str | None, state_dir: Path | None = None) -> None:
    from bumble.controller import Controller
    from bumble.transport import open_transport

    from badgekit.blelink import VirtualLink

    work = Path(tempfile.mkdtemp(prefix="badgekit-bleb-"))
    try:
        link = VirtualLink()
        b = await start_ble_badge(link, clips, work, badge, state_dir=state_dir)
        port = _free_port()
        hci = await open_transport(f"tcp-server:127.0.0.1:{port}")
        Controller("companion-hci", host_source=hci.source, host_sink=hci.sink, link=link.link,
                   public_address="D0:D0:D0:D0:D0:D0")
        print(f"ble: {b.address} hci: tcp-client:127.0.0.1:{port}", flush=True)
        print(f'{{"ready": true, "badge": "{b.badge}", "clips": {len(b.clips)}}}', flush=True)
        await b.task
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_ble_badge(clips: Path, badge: str | None, state_dir: Path | None = None) -> int:
    try:
        asyncio.run(_serve(clips, badge, state_dir))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - one line for the user
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if os.environ.get("BADGEKIT_BLE_DEBUG"):
    import logging

    logging.basicConfig(level=logging.DEBUG)
