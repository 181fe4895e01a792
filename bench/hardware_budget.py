"""Battery target of the hardware issue: a full 10-hour working day on a <= 600 mAh cell.

Prints, for three working days, the day's charge under the tuned firmware profile and under
the stock MicroPython profile (the baseline, computed in the same run from the same
hardware/power.toml), their ratio, and the smallest cell each needs.

    .venv/bin/python bench/hardware_budget.py
"""

from __future__ import annotations

from hardware.budget import DayPlan, plan_day

DAYS = {
    "issue day: 3 h speech in 8 h of meetings": dict(hours_speech=3, hours_meeting=8),
    "seminar day: 6 h speech in 9 h": dict(hours_speech=6, hours_meeting=9),
    "hardest day: 10 h of continuous speech": dict(hours_speech=10, hours_meeting=10),
}


def main() -> None:
    print(f"{'day':<44} {'cell':>5} {'tuned mAh':>10} {'stock mAh':>10} {'stock/tuned':>11} "
          f"{'tuned fits':>10} {'stock fits':>10} {'min cell tuned':>14} {'min cell stock':>14}")
    for name, day in DAYS.items():
        for cell in (500, 600):
            t = plan_day(DayPlan(battery_mah=cell, profile="tuned", **day))
            s = plan_day(DayPlan(battery_mah=cell, profile="stock", **day))
            print(f"{name:<44} {cell:>5} {t.day_mah:>10.1f} {s.day_mah:>10.1f} "
                  f"{s.day_mah / t.day_mah:>11.2f} {str(t.fits):>10} {str(s.fits):>10} "
                  f"{t.min_battery_mah:>14.0f} {s.min_battery_mah:>14.0f}")
    t = plan_day(DayPlan())
    print(f"\nstorage, issue day: {t.stored_bytes / 1e6:.1f} MB kept; "
          + "; ".join(f"{s.name}: {s.days:.2f} days" for s in t.storage))
    print(f"end-of-day sync: USB {t.sync_hours['usb'] * 60:.1f} min, BLE {t.sync_hours['ble'] * 60:.1f} min")


if __name__ == "__main__":
    main()
