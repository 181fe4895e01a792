"""companion.link: one `connect(target)` for a badge on a pty and on a simulated BLE link."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from companion.errors import CompanionError, OpsError, UsageError
from companion.link import Session, Target, connect


def _settings(companion):
    from companion.settings import load

    return load(Path(companion.env["BADGEKIT_COMPANION_SETTINGS"]))


async def _open(target: Target, settings, **kw) -> Session:
    async with connect(target, settings, **kw) as s:
        info = await s.client.info() if s.authenticated else {}
        assert not info or info.get("badge", s.badge) == s.badge
        return s


def _check(companion, target: Target, badge: str) -> None:
    s = _settings(companion)
    before = asyncio.run(_open(target, s, need_auth=False))
    assert (before.badge, before.enrolled, before.authenticated) == (badge, False, False)
    with pytest.raises(OpsError, match="not enrolled"):
        asyncio.run(_open(target, s))

    ble = ["--ble", target.address, "--hci", target.hci] if target.kind == "ble" else []
    res = companion("enroll", *(ble or ["--port", target.address]), "--agent", "Ana Ruiz")
    assert res.exit_code == 0, res.output
    sess = asyncio.run(_open(target, s))
    assert sess.authenticated and sess.badge == badge
    assert (sess.branch, sess.agent) == ("branch-01", "Ana Ruiz")

    where = ble or ["--port", target.address]
    loud, quiet = companion("set-time", *where, "-v"), companion("set-time", *where, "-q")
    assert loud.exit_code == quiet.exit_code == 0, (loud.output, quiet.output)
    assert f"INFO companion.link: {target}: authenticated (branch branch-01" in loud.stderr
    assert "INFO" not in quiet.stderr and "clock set" in quiet.stdout

    other = dataclasses.replace(s, branch=dataclasses.replace(s.branch, id="branch-99"))
    with pytest.raises(OpsError, match="refused") as e:
        asyncio.run(_open(target, other))
    assert e.value.exit_code == 1 and isinstance(e.value, CompanionError)


def test_connect_over_a_pty_serial_link(tray, companion):
    b = tray("link-pty", 1)
    target = Target.parse(f"serial:{b.port}", keystore=companion.env["BADGEKIT_KEYSTORE"])
    assert target == Target("serial", b.port, None, companion.env["BADGEKIT_KEYSTORE"])
    _check(companion, target, "link-pty")


def test_connect_over_the_simulated_ble_link(tray, companion):
    b = tray("link-air", 1, ble=True)
    target = Target.from_options(None, b.ble_address, b.hci, companion.env["BADGEKIT_KEYSTORE"])
    assert (target.kind, target.hci) == ("ble", b.hci)
    _check(companion, target, "link-air")


def test_a_silent_port_is_one_line_not_a_badge(tmp_path):
    import os

    master, slave = os.openpty()
    try:
        target = Target("serial", os.ttyname(slave), None, str(tmp_path / "ks.json"))
        with pytest.raises(OpsError, match="not a badge"):
            asyncio.run(_open(target, None, timeout_s=0.5))
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("port,ble,words", [("/dev/a", "AA:BB", "both"), (None, None, "exactly one")])
def test_targets_from_options_refuse_both_or_neither_with_exit_2(port, ble, words):
    with pytest.raises(UsageError, match=words) as e:
        Target.from_options(port, ble)
    assert e.value.exit_code == 2


def test_parse_names_the_kind():
    assert Target.parse("ble:AA:BB:CC:DD:EE:FF", hci="usb:0") == Target("ble", "AA:BB:CC:DD:EE:FF",
                                                                          "usb:0")
    assert Target.parse("/dev/ttyACM0").kind == "serial"
    with pytest.raises(UsageError):
        Target.parse("carrier-pigeon")
