"""Settings file: documented defaults, TOML round trip, flags over file, clear errors."""

from __future__ import annotations

import json

import pytest

from companion import settings as st
from companion.attention import ERROR, INFO, WARN, BadgeReport, assess, rank
from companion.cli import app
from companion.settings import AttentionSettings


def test_defaults_are_documented_and_round_trip(tmp_path):
    s = st.CompanionSettings()
    rows = st.describe(s)
    assert rows and all(doc for _, _, _, doc in rows)
    p = tmp_path / "c.toml"
    assert st.load(p) == s  # missing file: defaults
    s2 = st.override(s, {"spool.path": str(tmp_path / "sp"), "attention.storage_warn_pct": "70",
                         "scan.ports": "/dev/a,/dev/b", "scan.ble": "false"})
    st.save(s2, p)
    text = p.read_text()
    assert "storage_warn_pct = 70" in text and "ble_timeout_s" not in text  # only changes
    assert st.load(p) == s2
    assert s2.scan.ports == ("/dev/a", "/dev/b") and s2.scan.ble is False


@pytest.mark.parametrize("body, words", [
    ("[spool\npath=1", "not valid TOML"),
    ("[nope]\nx=1\n", "unknown table [nope]"),
    ("[spool]\ncolour='red'\n", "unknown key spool.colour"),
    ("[attention]\nstorage_warn_pct='lots'\n", "expected int"),
])
def test_bad_settings_file_is_one_clear_line(tmp_path, body, words, monkeypatch):
    from typer.testing import CliRunner

    p = tmp_path / "companion.toml"
    p.write_text(body)
    with pytest.raises(st.SettingsError, match=words.replace("[", r"\[")):
        st.load(p)
    monkeypatch.setenv("BADGEKIT_COMPANION_SETTINGS", str(p))
    res = CliRunner().invoke(app, ["config", "show"])
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output


def test_config_path_and_show_via_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.setenv("BADGEKIT_CONFIG", str(tmp_path / "cfg"))
    monkeypatch.delenv("BADGEKIT_COMPANION_SETTINGS", raising=False)
    r = CliRunner().invoke(app, ["config", "path", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["path"] == str(tmp_path / "cfg" / "companion.toml") and info["exists"] is False
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "companion.toml").write_text("[branch]\nid = 'sh-pudong'\n")
    r = CliRunner().invoke(app, ["config", "show", "--json"])
    shown = json.loads(r.output)
    assert shown["branch"]["id"] == "sh-pudong" and shown["attention"]["storage_warn_pct"] == 80
    r = CliRunner().invoke(app, ["config", "show"])
    assert "sh-pudong" in r.output and "storage_warn_pct" in r.output
    r = CliRunner().invoke(app, ["config", "init"])
    assert r.exit_code == 2 and "exists" in r.stderr  # never overwrites silently
    r = CliRunner().invoke(app, ["config", "init", "--force"])
    assert r.exit_code == 0, r.stderr
    path = tmp_path / "cfg" / "companion.toml"
    assert st.load(path) == st.CompanionSettings()  # everything commented: the defaults
    text = path.read_text()
    for key, _v, _d, doc in st.describe(st.CompanionSettings()):
        assert f"# {key.split('.')[1]} = " in text and doc in text
    # uncommenting one line changes exactly that option
    path.write_text(text.replace("# storage_warn_pct = 80", "storage_warn_pct = 70", 1))
    assert st.load(path).attention.storage_warn_pct == 70


def test_attention_ranking_puts_urgent_badges_first():
    now = 1_800_000_000.0
    cfg = AttentionSettings()
    healthy = BadgeReport("b-ok", "serial", "/dev/x", enrolled=True, ours=True, battery_pct=90,
                          storage_used_bytes=10, storage_total_bytes=100, unsynced_clips=0,
                          unsynced_s=0, clock_drift_s=0.1, last_sync_epoch=now - 3600)
    waiting = BadgeReport("b-wait", "ble", "C1", enrolled=True, ours=True, unsynced_clips=3,
                          unsynced_s=600, last_sync_epoch=now - 3600)
    full = BadgeReport("b-full", "ble", "C2", enrolled=True, ours=True,
                       storage_used_bytes=85, storage_total_bytes=100)
    silent = BadgeReport("b-silent", "serial", "/dev/y", enrolled=True, ours=True,
                         mic_silent_s=900)
    foreign = BadgeReport("b-foreign", "ble", "C3", enrolled=True, ours=False, branch="bj-01")
    fresh = BadgeReport("b-new", "ble", "C4", enrolled=False)
    order = rank([healthy, waiting, fresh, full, silent, foreign], cfg, now)
    ids = [r.badge_id for r in order]
    assert ids.index("b-silent") < ids.index("b-full")
    assert ids.index("b-foreign") < ids.index("b-full")
    assert ids.index("b-full") < ids.index("b-wait") < ids.index("b-ok")
    assert ids[-1] == "b-ok" and healthy.issues == []
    assert silent.severity == ERROR and full.severity == WARN and waiting.severity == INFO
    assert [i.code for i in assess(foreign, cfg, now)] == ["other_branch"]
    assert "bj-01" in foreign.issues[0].message
    drift = BadgeReport("b-drift", "serial", "/dev/z", clock_drift_s=-42.0)
    assert [i.code for i in assess(drift, cfg, now)] == ["clock_drift"]
    strict = AttentionSettings(storage_warn_pct=90)
    assert assess(full, strict, now) == []


def test_companion_doc_lists_every_setting_with_its_default():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "companion.md").read_text()
    for key, _value, default, _doc in st.describe(st.CompanionSettings()):
        shown = repr(default) if not isinstance(default, bool | tuple) else (
            str(default).lower() if isinstance(default, bool) else repr(list(default)))
        assert f"| `{key}` | `{shown}` |" in doc, key


def test_badge_config_ranges_match_the_firmware():
    from firmware.sync.state import CONFIG_DEFAULTS

    b = st.BadgeConfigSettings()
    for key, (default, lo, hi) in CONFIG_DEFAULTS.items():
        assert getattr(b, key) == default, key
        assert f"{lo}..{hi}" in next(d for k, _, _, d in st.describe(st.CompanionSettings())
                                     if k == f"badge.{key}") or key == "vad_sensitivity"


def test_info_of_a_troubled_badge_becomes_attention():
    """INFO as a badge sends it (firmware.sync.server._info + clipboot.status + info_fn)."""
    from companion.scan import report_from_info

    now = 1_800_000_000.0
    info = {"badge": "b7", "fw": "0.1.0", "enrolled": True, "branch": "branch-01",
            "agent": "Li Na", "clock": int(now) - 95, "last_sync": now - 3 * 86400,
            "errors": ["store 91% full", "2 clip(s) quarantined"],
            "battery_pct": 12, "mic": {"code": "mic_silent", "text": "mic silent for 15 min",
                                       "silent_s": 900},
            "storage": {"bytes_total": 100, "bytes_used": 91, "warn_pct": 80, "used_pct": 91,
                        "clips": {"closed": 40, "synced": 0, "recovered": 2},
                        "unsynced_seconds": 5 * 3600.0}}
    r = BadgeReport("b7", "serial", "/dev/ttyACM0", enrolled=True, ours=True)
    report_from_info(r, info, now - 0.1, now + 0.1)
    assert r.clock_drift_s == -94.5 and r.recovered_clips == 2 and r.unsynced_clips == 40
    codes = [i.code for i in assess(r, AttentionSettings(), now)]
    assert codes[:2] == ["mic_silent", "badge_error"]  # errors first
    assert set(codes) == {"mic_silent", "badge_error", "storage_nearly_full", "recovered_clips",
                          "battery_low", "clock_drift", "unsynced_audio", "sync_overdue"}
    assert r.badge_errors == ["2 clip(s) quarantined"]  # the store-full line is not doubled
    assert "15 min" in r.issues[0].message


def test_nonsense_info_from_a_badge_gives_blanks_not_a_crash():
    from companion.scan import report_from_info

    r = BadgeReport("odd", "serial", "/dev/x", enrolled=True, ours=True)
    report_from_info(r, {"storage": [1, 2], "clock": "noon", "battery_pct": True,
                         "mic": 7, "errors": "boom", "fw": {"x": 1}}, 0.0, 0.0)
    assert r.storage_used_bytes is None and r.clock_drift_s is None and r.battery_pct is None
    assert r.mic_status is None and r.badge_errors == [] and r.firmware is None
    report_from_info(r, {"storage": {"clips": {"closed": -3, "recovered": "2"}}}, 0.0, 0.0)
    assert r.unsynced_clips is None and r.recovered_clips == 0
    assess(r, AttentionSettings())


def test_odd_log_events_are_shown_not_fatal():
    from companion.badgeops import format_event

    assert format_event({"event": "boot", "t": 0})["time"] == "1970-01-01T00:00:00Z"
    assert format_event({"event": "x", "t": 1e30})["time"] == ""
    assert format_event(["not", "a", "dict"])["event"] == "?"
    assert format_event({"event": "recovered", "clip_id": "b-1", "dropped_ms": 420})["detail"] \
        == "clip_id=b-1 dropped_ms=420"
