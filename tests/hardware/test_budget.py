"""Power and storage budget: the arithmetic, the 10-hour target, bad plans, the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from badgekit.cli import app
from hardware.budget import DayPlan, adpcm_bytes_per_s, cpu_ma, load_power, plan_day
from hardware.budget_report import gate_from_bench, render
from hardware.errors import BudgetError


def test_bit_rate_is_the_clip_contract():
    data = load_power()
    bps = adpcm_bytes_per_s(data)
    assert bps == pytest.approx(256 * 16000 / 505)
    assert bps * 8 / 16000 == pytest.approx(4.055, abs=1e-3)  # bits per sample incl. headers
    assert bps * 8 / 1000 == pytest.approx(64.9, abs=0.05)  # kbit/s


def test_day_energy_is_hours_times_current():
    b = plan_day(DayPlan(battery_mah=500, hours_speech=3, hours_meeting=8, gate_keep_nonspeech=0.25,
                         gate_source="test"))
    assert b.kept_hours == pytest.approx(3 + 5 * 0.25)
    hours = {u.state: u.hours for u in b.usage}
    assert hours["recording_gate_open"] + hours["recording_gate_closed"] == pytest.approx(8)
    assert hours["idle"] == pytest.approx(6 * 2 / 60)  # tuned: 2 min per session, then sleep
    assert hours["idle"] + hours["deep_sleep"] == pytest.approx(2)
    assert b.day_mah == pytest.approx(sum(u.hours * u.ma for u in b.usage if u.on_battery))
    for state in b.currents.values():
        assert state.ma == pytest.approx(sum(d.ma for d in state.draws))
    assert b.audio_bytes == pytest.approx(b.kept_hours * 3600 * 256 * 16000 / 505)
    assert b.usable_mah == pytest.approx(500 * 0.80)
    assert b.fits == (b.day_mah <= 400)


def test_cpu_current_scales_load_with_clock():
    data = load_power()
    d80 = cpu_ma(data, 80, 0.10)  # 30 % of a core at 80 MHz
    run, idle = data["cpu"]["active_ma"]["80"], data["cpu"]["idle_ma"]["80"]
    assert d80.ma == pytest.approx(idle + (run - idle) * 0.30)
    assert cpu_ma(data, 240, 0.10).ma > d80.ma  # faster clock, more current for the same job


def test_ten_hour_day_on_600_mah_needs_the_tuned_profile():
    # the hardest day: ten hours of continuous speech, gate open all day
    hard = dict(battery_mah=600, hours_speech=10, hours_meeting=10, workday_hours=10)
    tuned = plan_day(DayPlan(**hard, profile="tuned"))
    stock = plan_day(DayPlan(**hard, profile="stock"))
    assert tuned.fits and not stock.fits
    assert tuned.day_mah < stock.day_mah
    # and the day (3 h speech, 8 h meetings) fits a 500 mAh cell with margin
    day = plan_day(DayPlan(battery_mah=500, hours_speech=3, hours_meeting=8))
    assert day.fits and day.min_battery_mah < 500


def test_storage_verdicts():
    b = plan_day(DayPlan(hours_speech=3, hours_meeting=8))
    fits = {s.name: s.days for s in b.storage}
    assert fits["flash 16 MB (WROOM-1-N16R8)"] < 1 <= fits["microSD 8 GB"]
    assert b.sync_hours["usb"] < b.sync_hours["ble"]


@pytest.mark.parametrize("plan, msg", [
    (DayPlan(battery_mah=0), "battery capacity"),
    (DayPlan(hours_meeting=11), "meeting hours"),
    (DayPlan(hours_speech=9), "speech hours"),
    (DayPlan(gate_keep_nonspeech=1.5), "gate keep"),
    (DayPlan(profile="turbo"), "unknown profile"),
])
def test_bad_plans_are_named_errors(plan, msg):
    with pytest.raises(BudgetError, match=msg):
        plan_day(plan)


def test_gate_figure_from_a_bench_result(tmp_path):
    path = tmp_path / "recording.json"
    assert gate_from_bench(path) is None
    path.write_text(json.dumps({"cells": [{"nonspeech_dropped": 0.8}, {"nonspeech_dropped": 0.7}]}))
    keep, source = gate_from_bench(path)
    assert keep == pytest.approx(0.3) and "70.0%" in source


def test_render_shows_the_arithmetic():
    text = "\n".join(render(plan_day(DayPlan(gate_keep_nonspeech=0.31, gate_source="test"))))
    assert "gate open   = speech + (meeting - speech) x keep = 3 + (8 - 3) x 0.31 = 4.55 h" in text
    assert "256 B per 505 samples = 4.055 bit/sample = 64.9 kbit/s = 8.11 kB/s" in text
    assert "FITS" in text and "usable charge = 500 mAh x 0.80 = 400.0 mAh" in text


def test_cli_budget():
    args = ["hardware", "budget", "--battery-mah", "500", "--speech-hours", "3", "--meeting-hours", "8",
            "--gate-keep", "0.31"]
    res = CliRunner().invoke(app, args + ["--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    want = plan_day(DayPlan(battery_mah=500, hours_speech=3, hours_meeting=8, gate_keep_nonspeech=0.31))
    assert out["day_mah"] == pytest.approx(want.day_mah, abs=1e-3) and out["fits"] is True
    text = CliRunner().invoke(app, args).output
    assert "Energy of the day" in text and "Storage of the day" in text
    bad = CliRunner().invoke(app, ["hardware", "budget", "--meeting-hours", "12"])
    assert bad.exit_code == 2 and "meeting hours" in bad.output
