"""A physical badge on BADGEKIT_HIL_PORT: deploy, then every self-test check must pass.

Skipped unless BADGEKIT_HIL_PORT names the badge's serial port (e.g. /dev/ttyACM0);
BADGEKIT_HIL_REV picks the board revision (default: the pin map's default).
"""

from __future__ import annotations

import os

import pytest

from hardware.deploy import deploy_port, selftest_port

PORT = os.environ.get("BADGEKIT_HIL_PORT")
REV = os.environ.get("BADGEKIT_HIL_REV") or None

pytestmark = [
    pytest.mark.hil,
    pytest.mark.skipif(not PORT, reason="no badge attached (set BADGEKIT_HIL_PORT)"),
]

MUST_PASS = ("pinmap", "modules", "flash", "psram", "mic", "rtc", "ble", "battery")


def test_deploy_and_selftest_pass_on_the_badge(tmp_path):
    report = deploy_port(PORT, rev=REV, build_dir=tmp_path / "build")
    status = {c.check: c for c in report.checks}
    for name in MUST_PASS:
        assert status[name].status == "pass", (name, status[name].detail)
    assert report.ok, report.output


def test_selftest_again_without_deploying():
    checks = selftest_port(PORT, REV)
    assert all(c.status != "fail" for c in checks), checks
    assert not any(c.check == "filesystem" for c in checks)  # that row is the unix port's
