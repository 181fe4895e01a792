"""BLE: the firmware radio on the bumble `bluetooth` shim, bleak on the bumble backend."""

from __future__ import annotations

import asyncio

from badgekit.blelink import VirtualLink
from badgekit.sim.ble_badge import start_ble_badge
from companion.client import BadgeClient
from companion.keystore import KeyStore
from companion.link import authenticate
from companion.spool import Spool
from companion.sync import enroll_badge, sync_badge
from companion.transport.ble import BleTransport
from firmware.sync.adv import parse_adv
from tests.sync.helpers import check_spool, make_clips


async def test_four_badges_sync_concurrently_over_ble(tmp_path):
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    ks, spool = KeyStore(tmp_path / "keys.json"), Spool(tmp_path / "spool")
    badges, sides = [], []
    for i in range(4):
        sides += make_clips(tmp_path / f"c{i}", f"bk-10{i}", 3, blocks_each=200)
        badges.append(await start_ble_badge(link, tmp_path / f"c{i}", tmp_path / f"w{i}"))
    try:
        for b in badges:
            async with BleTransport(b.address, bumble_device=comp) as t:
                await enroll_badge(t, ks, branch="b-01", agent=f"agent {b.badge}")
        seen: dict[str, set[int]] = {b.badge: set() for b in badges}
        running: set[str] = set()
        overlap = [0]

        async def one(b):
            def prog(p):
                seen[p.badge].add(p.done_bytes)
                running.add(p.badge)
                overlap[0] = max(overlap[0], len(running))

            async with BleTransport(b.address, bumble_device=comp) as t:
                assert t.mtu == 247
                rep = await sync_badge(t, spool, ks, branch="b-01", progress=prog)
            running.discard(b.badge)
            return rep, t

        out = await asyncio.gather(*(one(b) for b in badges))
        assert overlap[0] >= 2  # the syncs really ran at the same time
        for rep, _t in out:
            assert rep.ok and rep.synced == 3 and all(c.acked for c in rep.clips)
            assert rep.clip_bytes / rep.wire_bytes_in > 0.9
            assert len(seen[rep.badge]) > 3  # live progress, several updates per badge
        check_spool(tmp_path / "spool", sides)
        for b in badges:
            assert list(b.store.list_clips()) == []  # acked clips deleted on the badge
            assert b.radio.stats["notifications"] > 0
    finally:
        for b in badges:
            await b.stop()


async def test_advertising_carries_badge_id_and_status(tmp_path):
    link = VirtualLink()
    make_clips(tmp_path / "c", "bk-adv", 1)
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w")
    scanner = link.add_device("scanner")
    await scanner.power_on()
    found = asyncio.get_running_loop().create_future()

    def on_adv(adv):
        parsed = parse_adv(bytes(adv.data_bytes))
        if parsed and not found.done():
            found.set_result(parsed)

    scanner.on("advertisement", on_adv)
    await scanner.start_scanning()
    try:
        badge, status = await asyncio.wait_for(found, 10)
        assert badge == "bk-adv" and status & 2 and not status & 1  # clips waiting, unenrolled
    finally:
        await scanner.stop_scanning()
        await b.stop()


async def test_many_clips_list_in_pages_that_fit_a_frame(tmp_path):
    from companion.sync import badge_status

    sides = make_clips(tmp_path / "c", "bk-a-rather-long-badge-id", 30, blocks_each=2)
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w")
    ks = KeyStore(tmp_path / "keys.json")
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b1", agent="x" * 60)
        async with BleTransport(b.address, bumble_device=comp) as t:
            st = await badge_status(t, ks, "b1")
        assert len(st["clips_unsynced"]) == 30 and st["storage"]["clips"]["closed"] == 30
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        assert rep.ok and rep.synced == 30
        check_spool(tmp_path / "spool", sides)
    finally:
        await b.stop()


async def test_notifications_paced_by_flow_control(tmp_path):
    """With one notification buffer the radio must wait for the stack again and again;
    nothing is lost or reordered."""
    sides = make_clips(tmp_path / "c", "bk-fc", 2, blocks_each=80)
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w", max_inflight=1)
    ks = KeyStore(tmp_path / "keys.json")
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b1", agent="A")
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        assert rep.ok and rep.synced == 2
        assert b.radio.stats["busy"] > 0  # the stack said "no buffer" and the radio waited
        check_spool(tmp_path / "spool", sides)
    finally:
        await b.stop()


async def test_a_central_that_never_authenticates_is_dropped(tmp_path):
    make_clips(tmp_path / "c", "bk-idle", 1)
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w", auth_timeout_ms=300)
    ks = KeyStore(tmp_path / "keys.json")
    try:
        t = BleTransport(b.address, bumble_device=comp)
        await t.open()  # connects, subscribes, says nothing
        chunks = [c async for c in t.chunks()]  # ends when the badge drops the link
        assert chunks == [] and b.radio.stats.get("dropped", 0) >= 1
        await t.close()
        async with BleTransport(b.address, bumble_device=comp) as t:  # the badge is free again
            await enroll_badge(t, ks, branch="b1", agent="A")
            async with BadgeClient(t) as c:
                await authenticate(c, ks, "b1")
                await asyncio.sleep(0.6)  # an authenticated session is not dropped
                assert (await c.info())["enrolled"]
    finally:
        await b.stop()


async def test_a_second_central_is_refused_while_a_session_is_open(tmp_path):
    """One central at a time: a newcomer is disconnected, the open session carries on."""
    from bumble.hci import Address

    sides = make_clips(tmp_path / "c", "bk-one", 2, blocks_each=40)
    link = VirtualLink()
    comp, other = link.add_device("companion"), link.add_device("second-phone")
    await comp.power_on()
    await other.power_on()
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w")
    ks = KeyStore(tmp_path / "keys.json")
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b1", agent="A")
        async with BleTransport(b.address, bumble_device=comp) as t:
            mtu = t.mtu
            async with BadgeClient(t) as c:
                await authenticate(c, ks, "b1")
                session = b.radio.server.session
                assert session is not None
                # the badge advertises while connected (a status refresh does, and the
                # stack allows several connections), so a second phone gets through
                b.radio.advertise()
                conn = await asyncio.wait_for(other.connect(Address(b.address)), 10)
                assert conn is not None
                deadline = asyncio.get_running_loop().time() + 10
                while other.connections:  # the badge hangs up on the newcomer
                    assert asyncio.get_running_loop().time() < deadline, "newcomer kept"
                    await asyncio.sleep(0.02)
                assert b.radio.stats["refused"] == 1
                assert b.radio.server.session is session and b.radio.mtu == mtu == 247
                info = await c.info()  # the first session still answers, authenticated
                assert info["enrolled"] and info["storage"]["clips"]["closed"] == 2
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        assert rep.ok and rep.synced == 2
        check_spool(tmp_path / "spool", sides)
    finally:
        await b.stop()
