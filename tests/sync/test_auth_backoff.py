"""The badge's AUTH back-off (per link, counted in status) and its minimal HELLO.

Real parts: the firmware's sync server under the MicroPython unix port on a pty, the
companion's client over pyserial.
"""

from __future__ import annotations

import asyncio
import re

from companion.client import BadgeClient
from companion.errors import AuthError
from companion.keystore import KeyStore
from companion.link import Target, make_transport
from companion.sync import enroll_badge
from firmware.sync import proto
from tests.sync.helpers import SerialBadge, make_clips

BRANCH, AGENT = "branch-sh-0071", "Agent Zed Hu"


async def _enroll(port: str, ks: KeyStore) -> None:
    async with make_transport(Target("serial", port)) as t:
        await enroll_badge(t, ks, branch=BRANCH, agent=AGENT)


async def _try(client: BadgeClient, secret: bytes) -> tuple[str, int | None]:
    """One HELLO + AUTH; returns (outcome, retry ms the badge named)."""
    await client.hello()
    try:
        await client.authenticate(secret)
        return "ok", None
    except AuthError as exc:
        m = re.search(r"retry in (\d+) ms", str(exc))
        return ("backoff" if m else "failed"), int(m.group(1)) if m else None


async def test_auth_failures_back_off_exponentially_per_link_and_are_counted(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-0b0f", 1)
    ks = KeyStore(tmp_path / "keys.json")
    wrong = bytes(32)
    with SerialBadge(tmp_path / "clips") as badge:
        await _enroll(badge.port, ks)
        key = ks.get("bk-0b0f")
        assert key is not None
        waits = []
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            for _ in range(3):
                assert await _try(c, wrong) == ("failed", None)
                outcome, wait = await _try(c, wrong)  # at once: refused, not even checked
                assert outcome == "backoff" and wait is not None
                waits.append(wait)
                refused_ok = await _try(c, key.secret)  # the right key waits too
                assert refused_ok[0] == "backoff"
                await asyncio.sleep((wait + 100) / 1000)
        # what is left of a back-off that doubles with each failure in a row (0.5, 1, 2 s)
        assert 0 < waits[0] <= 500 and 0 < waits[1] <= 1000 and 0 < waits[2] <= 2000
        # a reopened link is the same link: the back-off holds
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            assert (await _try(c, wrong))[0] == "failed"
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            outcome, wait = await _try(c, key.secret)
            assert outcome == "backoff" and wait is not None and 0 < wait <= 4000
            await asyncio.sleep((wait + 100) / 1000)
            assert (await _try(c, key.secret))[0] == "ok"
            info = await c.info()
            logs = await c.logs()
        assert info["auth"]["failures"] == 4 and info["auth"]["in_a_row"] == 0
        assert info["auth"]["refused"] == 7 and info["auth"]["backoff_ms"] == 0
        # the branch tool's scan shows it to staff
        from companion.attention import BadgeReport, assess
        from companion.scan import report_from_info
        from companion.settings import AttentionSettings

        rep = BadgeReport("bk-0b0f", "serial", badge.port, enrolled=True)
        report_from_info(rep, info, 0.0, 0.0)
        issue = [i for i in assess(rep, AttentionSettings()) if i.code == "auth_failures"]
        assert issue and issue[0].message == "4 failed authentication(s)"
        fails = [e for e in logs if e["event"] == "auth_failed"]
        assert [e["in_a_row"] for e in fails] == [1, 2, 3, 4]
        assert [e["backoff_ms"] for e in fails] == [500, 1000, 2000, 4000]
    assert "Traceback" not in badge.close()


async def test_hello_reveals_only_badge_id_and_protocol_version(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-4e11", 1)
    ks = KeyStore(tmp_path / "keys.json")
    with SerialBadge(tmp_path / "clips") as badge:
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            fresh = await c.request(proto.HELLO, {"v": proto.VERSION, "nonce": "00" * 16})
        assert fresh["enrolled"] is False  # unenrolled: nothing to hide, anyone may enroll it
        await _enroll(badge.port, ks)
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            seen: list[bytes] = []
            frames = t.frames

            async def spy():  # every byte the badge sends before authentication
                async for f in frames():
                    seen.append(bytes(f.payload))
                    yield f

            t.frames = spy  # type: ignore[method-assign]
            r = await c.request(proto.HELLO, {"v": proto.VERSION, "nonce": "11" * 16})
            assert set(r) == {"v", "badge", "nonce", "max_chunk", "max_request"}
            assert (r["badge"], r["v"]) == ("bk-4e11", proto.VERSION)
            raw = b"".join(seen)
            for secret_word in (BRANCH, AGENT, "branch", "agent", "fw", "enrolled"):
                assert secret_word.encode() not in raw, secret_word
            # INFO without a session tells nothing either
            try:
                await c.info()
                raise AssertionError("INFO answered without a session")
            except Exception as exc:  # noqa: BLE001 - the refusal is the point
                assert proto.E_AUTH_REQUIRED in str(exc)
            h = await c.hello()
            assert (h.badge, h.enrolled, h.branch, h.agent) == ("bk-4e11", True, None, None)
            key = ks.get("bk-4e11")
            assert key is not None
            full = await c.authenticate(key.secret)  # told only after AUTH, MAC'd
            assert (full.branch, full.agent, full.enrolled) == (BRANCH, AGENT, True) and full.fw


async def test_ble_link_hides_branch_and_backs_off(tmp_path):
    """The same over BLE (the firmware's radio module on bumble's virtual controllers)."""
    from badgekit.blelink import VirtualLink
    from badgekit.sim.ble_badge import start_ble_badge
    from companion.transport.ble import BleTransport

    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    make_clips(tmp_path / "c", "bk-b1e0", 1)
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w")
    ks = KeyStore(tmp_path / "keys.json")
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch=BRANCH, agent=AGENT)
        async with BleTransport(b.address, bumble_device=comp) as t, BadgeClient(t) as c:
            r = await c.request(proto.HELLO, {"v": proto.VERSION, "nonce": "22" * 16})
            assert set(r) == {"v", "badge", "nonce", "max_chunk", "max_request"}
            assert await _try(c, bytes(32)) == ("failed", None)
            assert (await _try(c, bytes(32)))[0] == "backoff"
        assert b.server.backoff.status()["failures"] == 1
    finally:
        await b.stop()
