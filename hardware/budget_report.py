"""Text of a day budget, with the arithmetic written out (what `hardware budget` prints)."""

from __future__ import annotations

import json
from pathlib import Path

from hardware.budget import DayBudget
from hardware.errors import BudgetError

__all__ = ["render", "gate_from_bench", "BENCH_RESULT"]

#: Where the recording benchmark may leave its gate figures (see `gate_from_bench`).
BENCH_RESULT = Path(__file__).resolve().parent.parent / "bench" / "results" / "recording.json"


def gate_from_bench(path: Path = BENCH_RESULT) -> tuple[float, str] | None:
    """(keep fraction, source) from a recording benchmark result, or None if there is none.

    The file holds `nonspeech_dropped` (a fraction) at the top level or in a list `cells`;
    the worst cell (least dropped) is used, so the budget never flatters the gate.
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BudgetError(f"cannot read {path}: {exc}") from None
    values = []
    if isinstance(data, dict) and isinstance(data.get("nonspeech_dropped"), int | float):
        values.append(float(data["nonspeech_dropped"]))
    for cell in data.get("cells", []) if isinstance(data, dict) else []:
        if isinstance(cell, dict) and isinstance(cell.get("nonspeech_dropped"), int | float):
            values.append(float(cell["nonspeech_dropped"]))
    values = [v for v in values if 0 <= v <= 1]
    if not values:
        return None
    worst = min(values)
    return 1 - worst, f"recording benchmark {path.name}: worst cell drops {worst:.1%} of non-speech"


def _h(hours: float) -> str:
    return f"{hours:.2f} h"


def render(b: DayBudget) -> list[str]:
    """Lines of text: states, day energy, verdict, storage, sync."""
    p = b.plan
    out = [f"badgekit power budget - profile {b.profile_title}", ""]
    out.append("Current per state (battery side; sum of parts):")
    for name, cur in b.currents.items():
        where = "" if cur.on_battery else "  [powered from USB VBUS, 0 mAh from the cell]"
        out.append(f"  {name:<22} {cur.ma:8.3f} mA{where}")
        for d in cur.draws:
            if d.ma >= 0.001:
                out.append(f"      {d.ma:8.3f} mA  {d.label}")
    out.append("")
    out.append(f"Working day: {p.workday_hours:g} h, meetings {p.hours_meeting:g} h "
               f"({p.sessions} sessions), speech {p.hours_speech:g} h")
    out.append(f"  gate keeps {b.gate_keep:.0%} of non-speech ({b.gate_source})")
    out.append(f"  gate open   = speech + (meeting - speech) x keep = {p.hours_speech:g} + "
               f"({p.hours_meeting:g} - {p.hours_speech:g}) x {b.gate_keep:.2f} = {_h(b.kept_hours)}")
    out.append(f"  gate closed = meeting - gate open = {_h(p.hours_meeting - b.kept_hours)}")
    out.append("")
    out.append("Energy of the day:")
    for u in b.usage:
        tail = "" if u.on_battery else "  (from USB, not the cell)"
        out.append(f"  {u.state:<22} {u.hours:6.2f} h x {u.ma:7.3f} mA = {u.mah:7.1f} mAh{tail}")
    out.append(f"  {'total':<22} {'':>34}{b.day_mah:7.1f} mAh")
    out.append(f"  usable charge = {p.battery_mah:g} mAh x {b.usable_fraction:.2f} = {b.usable_mah:.1f} mAh"
               f"  ({b.usable_note})")
    verdict = "FITS" if b.fits else "DOES NOT FIT"
    margin = b.usable_mah - b.day_mah
    out.append(f"  {verdict}: {b.day_mah:.1f} of {b.usable_mah:.1f} mAh, margin {margin:+.1f} mAh; "
               f"this day's mix lasts {b.battery_hours:.1f} h on the cell; "
               f"smallest cell for this day: {b.min_battery_mah:.0f} mAh")
    worst = b.currents["recording_gate_open"].ma * p.workday_hours
    out.append(f"  worst case, gate open all {p.workday_hours:g} h: {p.workday_hours:g} h x "
               f"{b.currents['recording_gate_open'].ma:.3f} mA = {worst:.1f} mAh -> cell >= "
               f"{worst / b.usable_fraction:.0f} mAh")
    out.append("")
    out.append("Storage of the day:")
    out.append(f"  IMA ADPCM 16 kHz mono: 256 B per 505 samples = {b.bits_per_sample:.3f} bit/sample"
               f" = {b.bytes_per_s * 8 / 1000:.1f} kbit/s = {b.bytes_per_s / 1000:.2f} kB/s kept")
    out.append(f"  kept audio = {_h(b.kept_hours)} x 3600 x {b.bytes_per_s:.1f} B/s = "
               f"{b.audio_bytes / 1e6:.1f} MB; with container overhead {b.stored_bytes / 1e6:.1f} MB "
               f"({b.stored_bytes / 2**20:.1f} MiB)")
    for s in b.storage:
        ok = "holds a day" if s.days >= 1 else "too small for a day"
        out.append(f"  {s.name:<28} {s.mib:8.0f} MiB = {s.hours_of_audio:8.2f} h of kept audio = "
                   f"{s.days:7.2f} days  {ok}")
    out.append(f"  end-of-day sync: USB {b.sync_hours['usb'] * 60:.1f} min, "
               f"BLE {b.sync_hours['ble'] * 60:.1f} min")
    return out
