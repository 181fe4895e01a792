"""A firmware update over BLE: the badge application under CPython on the bumble
`bluetooth` shim (the unix port has no radio) receives, verifies and installs a signed
bundle pushed by the companion (bleak on the bumble backend, one LocalLink); the
badge's filesystem is then booted under the real MicroPython unix port, which runs the
new slot on trial until a sync session confirms it."""

from __future__ import annotations

import hashlib
import json
import time

from companion.errors import BadgeReplyError
from companion.keystore import KeyStore
from companion.link import Target, connect
from companion.settings import load
from companion.sync import enroll_badge
from companion.transport.ble import BleTransport
from companion.update import UpdateResult, _transfer, read_bundle
from firmware.sync import fwsync
from tests.badge.test_badge_ble import _until, port_shims  # noqa: F401
from tests.update.helpers import HOST_ARCH, FwBadge, ble_badge


async def test_update_over_ble_then_the_new_slot_boots_on_trial(
        tmp_path, releases, port_shims, companion_settings, monkeypatch):  # noqa: F811
    from firmware import fwstage

    # CPython runs the radio side; the slot must suit the MicroPython that boots it next
    monkeypatch.setattr(fwstage, "arch_name", lambda: HOST_ARCH)
    resets: list[float] = []
    port_shims.reset = lambda: resets.append(time.monotonic())
    work = tmp_path / "badge"
    root = work / "root"
    ks = tmp_path / "keys.json"
    s = load(companion_settings)
    good = read_bundle(releases.bundle("0.2.0"))
    async with ble_badge(work, releases.public) as (b, comp, addr):
        assert b.errors == {}
        target = Target("ble", addr, None, str(ks), comp)
        async with BleTransport(addr, bumble_device=comp) as t:
            await enroll_badge(t, KeyStore(ks), branch="b-up-01", agent="agent-ma", set_time=False)
        wrong = releases.bundle("0.3.0", key=releases.other_key, name="wrong-key.bkfw")
        async with connect(target, s) as sess:  # a bundle signed by another key: refused
            res = UpdateResult(addr, "ble")
            try:
                await _transfer(sess, "ble", read_bundle(wrong), res, None, addr)
                raise AssertionError("a bundle with a wrong key was installed")
            except BadgeReplyError as exc:
                assert "signature does not verify" in exc.badge_message
        assert not (root / "fw" / "boot.json").exists() and not resets
        async with connect(target, s) as sess:
            res = UpdateResult(addr, "ble")
            reply = await _transfer(sess, "ble", good, res, None, addr)
            assert reply["version"] == "0.2.0" and reply["slot"] == "a" and reply["reboot"]
            st = await sess.client.request(fwsync.FW_STATUS)
            assert st["version"] == "0.1.0"  # not confirmed: the old firmware is still running
        assert res.sent_bytes == len(good.data)
        await _until(lambda: bool(resets), what="the reboot into the new firmware")
    rec = json.loads((root / "fw" / "boot.json").read_text())
    assert rec["active"] == "a" and rec["state"] == "trial" and rec["version"] == "0.2.0"
    man = json.loads(json.loads((root / "fw" / "a" / "manifest.json").read_text())["manifest"])
    for path, _size, sha in man["files"]:
        assert hashlib.sha256((root / "fw" / "a" / path).read_bytes()).hexdigest() == sha

    # the next boot: the same filesystem under the real MicroPython unix port
    with FwBadge(work, None, badge="BK-UPD02") as fb:
        first = fb.wait_boots(1)
        assert first["firmware"]["version"] == "0.2.0" and first["firmware"]["state"] == "trial"
        async with connect(Target("serial", fb.port, None, str(ks)), s) as sess:
            st = await sess.client.request(fwsync.FW_STATUS)
        assert st["version"] == "0.2.0" and st["state"] == "confirmed"
