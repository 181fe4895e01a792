"""Refusals: another branch, an unknown badge, a wrong key, a replayed session, an impostor
badge, a clip whose hash does not match. Each ends in a clear message and no clip lost."""

from __future__ import annotations

import json
import os

from badgekit.blelink import VirtualLink
from badgekit.sim.ble_badge import start_ble_badge
from companion.client import BadgeClient
from companion.errors import AuthError
from companion.keystore import KeyStore
from companion.spool import Spool
from companion.sync import enroll_badge, sync_badge
from companion.transport.ble import BleTransport
from firmware.sync import proto
from tests.sync.helpers import SerialBadge, cli, make_clips


def test_cli_refuses_other_branch_unknown_badge_and_wrong_key(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-0042", 2)
    ks, other = tmp_path / "keys.json", tmp_path / "other.json"
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    spool = tmp_path / "spool"
    with SerialBadge(tmp_path / "clips") as badge:
        r = cli("companion", "enroll", "--port", badge.port, "--agent", "A", "--branch", "b1",
                "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr

        def sync(*extra: str):
            return cli("companion", "sync", "--port", badge.port, "--spool", str(spool), *extra,
                       env=env)

        r = sync("--branch", "b2", "--keystore", str(ks))
        assert r.returncode == 1 and "belongs to branch b1, not b2" in r.stderr
        r = sync("--branch", "b1", "--keystore", str(other))
        assert r.returncode == 1 and "not in this key store" in r.stderr
        r = cli("companion", "enroll", "--port", badge.port, "--agent", "B", "--branch", "b2",
                "--keystore", str(other), env=env)
        # HELLO does not name the branch: a key store without the badge cannot know it
        assert r.returncode == 1 and "enrolled at another branch" in r.stderr

        d = json.loads(ks.read_text())
        d["badges"]["bk-0042"]["secret"] = "11" * 32
        ks.write_text(json.dumps(d))
        os.chmod(ks, 0o600)
        r = sync("--branch", "b1", "--keystore", str(ks))
        assert r.returncode == 1 and "authentication failed" in r.stderr
        for res in (r,):
            assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1

        os.chmod(ks, 0o644)
        r = sync("--branch", "b1", "--keystore", str(ks))
        assert r.returncode == 1 and "chmod 600" in r.stderr

        assert not list(spool.rglob("*.wav"))
        r = cli("companion", "status", "--port", badge.port, "--json", "--keystore", str(other),
                env=env)
        assert r.returncode == 1  # an enrolled badge tells nothing to a stranger
    out = badge.close()
    assert "Traceback" not in out


class Recorder(BleTransport):
    """Keeps every byte the companion sent."""

    sent: list[bytes]

    async def send(self, data: bytes) -> None:
        self.__dict__.setdefault("sent", []).append(data)
        await super().send(data)


async def _setup(tmp_path, n=3):
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    sides = make_clips(tmp_path / "c", "bk-0099", n, blocks_each=40)
    b = await start_ble_badge(link, tmp_path / "c", tmp_path / "w")
    ks = KeyStore(tmp_path / "keys.json")
    async with BleTransport(b.address, bumble_device=comp) as t:
        await enroll_badge(t, ks, branch="b1", agent="A")
    return link, comp, b, ks, sides


async def test_replayed_session_cannot_read_or_delete(tmp_path):
    _link, comp, b, ks, sides = await _setup(tmp_path)
    try:
        async with Recorder(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "s1"), ks, branch="b1", ack=False)
            assert rep.synced == 3
            async with BadgeClient(t) as c:  # the recorded session also acks a clip
                from companion.link import authenticate

                await authenticate(c, ks, "b1")
                assert await c.ack(sides[0]["clip_id"], sides[0]["sha256"])
            recorded = t.sent
        assert len(list(b.store.list_clips())) == 2
        async with BleTransport(b.address, bumble_device=comp) as t:
            replies = []

            async def collect():
                async for f in t.frames():
                    replies.append(f)

            task = __import__("asyncio").create_task(collect())
            for data in recorded:
                await t.send(data)
                await __import__("asyncio").sleep(0.05)
            task.cancel()
        kinds = [(f.typ, json.loads(f.payload).get("code") if f.typ == proto.ERROR else None)
                 for f in replies if f.typ != proto.READ | proto.REPLY]
        assert (proto.ERROR, proto.E_AUTH_FAILED) in kinds
        assert not any(f.typ == proto.ACK | proto.REPLY for f in replies)
        assert not any(f.typ == proto.READ | proto.REPLY for f in replies)
        assert len(list(b.store.list_clips())) == 2  # nothing deleted by the replay
    finally:
        await b.stop()


async def test_impostor_badge_is_caught(tmp_path):
    _link, comp, b, ks, _sides = await _setup(tmp_path, 1)
    srv = b.server

    def fake_auth(self, req):  # accepts anything, cannot prove the key
        from firmware.sync import auth

        self.session = auth.Mac(os.urandom(32))
        self.rx_seq = self.dec.seq
        return {"mac": os.urandom(32).hex()}

    from firmware.sync import server as fw_server

    fw_server._HANDLERS[proto.AUTH], real = fake_auth, fw_server._HANDLERS[proto.AUTH]
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            try:
                await sync_badge(t, Spool(tmp_path / "s"), ks, branch="b1")
                raise AssertionError("impostor accepted")
            except AuthError as exc:
                assert "failed to prove its identity" in str(exc)
        assert not list((tmp_path / "s").rglob("*.wav"))
    finally:
        fw_server._HANDLERS[proto.AUTH] = real
        await b.stop()
    assert srv.stats["frames"] > 0


async def test_hash_mismatch_keeps_clip_on_badge(tmp_path):
    _link, comp, b, ks, sides = await _setup(tmp_path, 3)
    try:
        bad = sides[1]["clip_id"]
        path = tmp_path / "w" / "store" / "clips" / f"{bad}.bkc"
        raw = bytearray(path.read_bytes())
        raw[-200] ^= 0x40  # a flipped bit in the flash (inside the audio)
        path.write_bytes(bytes(raw))
        b.store._drop_reader()
        spool = tmp_path / "spool"
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(spool), ks, branch="b1")
        st = {c.clip_id: c for c in rep.clips}
        assert st[bad].status == "rejected" and not st[bad].acked
        assert "stays on the badge" in st[bad].message
        assert st[sides[0]["clip_id"]].acked and st[sides[2]["clip_id"]].acked
        assert [c["clip_id"] for c in b.store.list_clips()] == [bad]
        assert list((spool / "bk-0099" / ".rejected").glob("*.wav"))
        assert not (spool / "bk-0099" / "bk-0099-s1" / f"{bad}.wav").exists()
    finally:
        await b.stop()


async def test_enrollment_cut_before_the_badge_stored_the_key(tmp_path):
    _link, comp, b, ks, _sides = await _setup(tmp_path, 1)
    try:
        real = ks.get("bk-0099")
        # the companion saved a new key, then the link dropped before the badge stored it
        ks.put("bk-0099", os.urandom(32), "b1", "B", previous=real.secret)
        assert "secret" not in repr(ks.get("bk-0099")) and real.secret.hex() not in repr(ks.get("bk-0099"))
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "s"), ks, branch="b1")
        assert rep.ok and rep.synced == 1
        assert ks.get("bk-0099").secret == real.secret and ks.get("bk-0099").previous is None
        async with BleTransport(b.address, bumble_device=comp) as t:  # re-enroll works again
            res = await enroll_badge(t, ks, branch="b1", agent="C")
        assert res.previous_agent == "A" and ks.get("bk-0099").previous is None
    finally:
        await b.stop()


async def test_unreadable_clip_is_reported_and_the_rest_synced(tmp_path):
    _link, comp, b, ks, sides = await _setup(tmp_path, 3)
    bad = sides[0]["clip_id"]
    real_read = b.store.read

    def flaky(clip_id, offset, length):
        if clip_id == bad and offset > 500:
            raise OSError(5, "flash read error")
        return real_read(clip_id, offset, length)

    b.store.read = flaky
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        st = {c.clip_id: c for c in rep.clips}
        assert st[bad].status == "failed" and not st[bad].acked
        assert "read failed" in st[bad].message and "stays on the badge" in st[bad].message
        assert all(st[s["clip_id"]].acked for s in sides[1:])
        assert [c["clip_id"] for c in b.store.list_clips()] == [bad]
        b.store.read = real_read  # the flash recovers: the next sync resumes the clip
        async with BleTransport(b.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(tmp_path / "spool"), ks, branch="b1")
        assert rep.ok and [c.status for c in rep.clips] == ["synced"]
        assert list(b.store.list_clips()) == []
    finally:
        await b.stop()


async def test_a_reused_clip_id_never_overwrites_the_spool(tmp_path):
    """A badge whose flash was wiped starts its numbers again: the spool keeps the first
    clip of that id, rejects the other, and the badge keeps it."""
    link, comp, b, ks, _sides = await _setup(tmp_path, 1)
    spool = tmp_path / "spool"
    try:
        async with BleTransport(b.address, bumble_device=comp) as t:
            assert (await sync_badge(t, Spool(spool), ks, branch="b1")).ok
    finally:
        await b.stop()
    first = next(spool.glob("*/*/*.wav")).read_bytes()
    make_clips(tmp_path / "c2", "bk-0099", 1, blocks_each=41)  # same id, other audio
    b2 = await start_ble_badge(link, tmp_path / "c2", tmp_path / "w2")  # the wiped badge
    try:
        async with BleTransport(b2.address, bumble_device=comp) as t:
            await enroll_badge(t, ks, branch="b1", agent="A")
        async with BleTransport(b2.address, bumble_device=comp) as t:
            rep = await sync_badge(t, Spool(spool), ks, branch="b1")
        (res,) = rep.clips
        assert res.status == "rejected" and not res.acked and "reused" in res.message
        assert next(spool.glob("*/*/*.wav")).read_bytes() == first
        assert len(list(b2.store.list_clips())) == 1
    finally:
        await b2.stop()
