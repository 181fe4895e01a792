"""Deploy end to end against the unix port: real mpy-cross build, real MicroPython self-test."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from badgecore.paths import FIRMWARE_DIR
from badgekit.cli import app
from hardware.deploy import deploy_argv, deploy_dir, mpy_arch

HARDWARE_CHECKS = ("flash", "psram", "microsd", "mic", "rtc", "ext_rtc", "ble", "battery")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    base = tmp_path_factory.mktemp("deploy")
    report = deploy_dir(base / "badge", rev="B", build_dir=base / "build")
    return base, report


def test_deploy_builds_every_module_for_the_esp32s3(deployed, mpy_cross):
    base, report = deployed
    sources = sorted(p for p in FIRMWARE_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    assert sorted(m.source for m in report.built) == sources
    for m in report.built:
        assert m.mpy.is_relative_to(base / "build" / "lib" / "firmware")
        assert mpy_arch(m.mpy) in ("bytecode", "xtensawin")


def test_deployed_folder_is_laid_out_like_the_badge(deployed):
    base, report = deployed
    badge = base / "badge"
    assert (badge / "hwrev").read_text().strip() == "B"
    assert (badge / "pinmap.json").is_file()
    assert (badge / "lib" / "firmware" / "selftest.mpy").is_file()
    assert not list((badge / "lib").rglob("*.py"))  # only compiled modules went across
    for m in report.built:
        copy = badge / m.mpy.relative_to(base / "build")
        if m.arch == "bytecode":  # identical bytes to the ESP32-S3 build
            assert copy.read_bytes() == m.mpy.read_bytes()
        else:  # the unix port cannot run Xtensa code: host rebuild, named in the report
            assert mpy_arch(copy) in ("x64", "x86")
            assert any(str(m.source).endswith(r) for r in report.host_rebuilt)


def test_selftest_reports_hardware_checks_as_not_available(deployed):
    _, report = deployed
    status = {c.check: c.status for c in report.checks}
    assert status["pinmap"] == "pass" and status["modules"] == "pass"
    assert status["filesystem"] == "pass"
    for name in HARDWARE_CHECKS:
        assert status[name] == "n/a", (name, report.checks)
    assert report.ok, report.output


def test_a_module_that_breaks_on_import_fails_the_selftest(tmp_path):
    root = tmp_path / "src" / "firmware"
    shutil.copytree(FIRMWARE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "broken.py").write_text("raise ImportError('missing driver')\n")
    report = deploy_dir(tmp_path / "badge", build_dir=tmp_path / "build", root=root)
    modules = next(c for c in report.checks if c.check == "modules")
    assert modules.status == "fail" and "broken" in modules.detail
    assert not report.ok


def test_cli_deploy_to_a_folder_prints_the_table(tmp_path):
    res = CliRunner().invoke(app, ["hardware", "deploy", "--target", str(tmp_path / "b"), "--rev", "C"])
    assert res.exit_code == 0, res.output
    assert "built" in res.output and "xtensawin" in res.output
    assert "rev C" in res.output and "not available here" in res.output
    assert (tmp_path / "b" / "hwrev").read_text().strip() == "C"
    bad = CliRunner().invoke(app, ["hardware", "deploy", "--target", str(tmp_path / "c"), "--rev", "Z"])
    assert bad.exit_code == 2 and "unknown board revision" in bad.output
    none = CliRunner().invoke(app, ["hardware", "deploy"])
    assert none.exit_code == 2 and "--port" in none.output


def test_cli_selftest_on_this_computer():
    res = CliRunner().invoke(app, ["hardware", "selftest"])
    assert res.exit_code == 0, res.output
    assert "0 failed" in res.output and "not available here" in res.output


def test_selftest_judgements_under_micropython(micropython):
    code = """
from firmware import selftest as t
print(t.judge_audio(0.0, 0, 1)[0], t.judge_audio(400.0, 3000, 64)[0], t.judge_audio(20.0, 100, 5)[0])
print(t.judge_audio(8e6, 16777215, 2)[0])
print(t.judge_battery(3.9)[0], t.judge_battery(0.1)[0], t.judge_battery(5.0)[0], t.judge_battery(2.8)[0])
print(t.judge_clock(2026, 100, 101, 1100)[0], t.judge_clock(2026, 100, 100, 1100)[0], t.judge_clock(2000, 0, 1, 1100)[0])
"""
    lines = micropython(code=code).stdout.decode().split("\n")
    assert lines[0].split() == ["False", "True", "False"]  # constant; room noise (-86 dBFS); below the mic self-noise (-106 dBFS)
    assert lines[1].split() == ["False"]  # railed
    assert lines[2].split() == ["True", "False", "False", "False"]
    assert lines[3].split() == ["True", "False", "False"]


def test_mpremote_command_copies_build_pinmap_and_runs_selftest(tmp_path):
    argv = deploy_argv("/dev/ttyACM0", tmp_path, "B")
    text = " ".join(argv)
    assert argv[:2] == ["connect", "/dev/ttyACM0"]
    assert f"fs cp -r {tmp_path / 'lib' / 'firmware'} :lib" in text
    assert ":pinmap.json" in text and ":hwrev" in text and "rtc --set" in text
    assert argv[-1].startswith("import firmware.selftest")


def test_deploy_over_mpremote_to_a_virtual_badge(tmp_path):
    from hardware.deploy import deploy_port, selftest_port
    from hardware.errors import DeployError
    from hardware.virtualbadge import VirtualBadge

    root = tmp_path / "flash"
    (root / "lib" / "firmware").mkdir(parents=True)
    (root / "lib" / "firmware" / "stale.py").write_text("raise ImportError('old build')\n")
    with VirtualBadge(root) as port:
        report = deploy_port(port, rev="C", build_dir=tmp_path / "build", set_time=False)
        again = selftest_port(port)
    assert report.ok, report.output
    status = {c.check: c.status for c in report.checks}
    assert status["pinmap"] == status["modules"] == status["filesystem"] == "pass"
    assert all(status[name] == "n/a" for name in HARDWARE_CHECKS)
    assert [(c.check, c.status) for c in again] == [(c.check, c.status) for c in report.checks]
    assert (root / "hwrev").read_text().strip() == "C"
    assert not (root / "lib" / "firmware" / "stale.py").exists()  # old firmware removed first
    natives = [m for m in report.built if m.arch != "bytecode"]
    assert len(report.host_rebuilt) == len(natives)  # the virtual badge is x64, not Xtensa
    for m in report.built:
        assert (root / m.mpy.relative_to(tmp_path / "build")).is_file()
    with pytest.raises(DeployError, match="mpremote failed"):
        deploy_port(str(tmp_path / "no-such-port"), build_dir=tmp_path / "b2")
