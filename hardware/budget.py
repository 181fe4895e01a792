"""Power and storage budget of a badge's working day, from hardware/power.toml.

`plan_day(DayPlan(...))` returns a `DayBudget`: the current of each state (as the sum of
its parts, each with its source), the hours spent in each state, the mAh they take, the
battery verdict, the audio bytes the day keeps and which storage holds them.
`hardware.budget_report.render()` turns it into the text `badgekit hardware budget` prints.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware.errors import BudgetError

__all__ = ["POWER_PATH", "DayPlan", "Draw", "StateCurrent", "Usage", "StorageFit", "DayBudget",
           "load_power", "adpcm_bytes_per_s", "cpu_ma", "state_currents", "plan_day", "STATES"]

POWER_PATH = Path(__file__).resolve().parent / "power.toml"
STATES = ("recording_gate_open", "recording_gate_closed", "ble_sync", "usb_sync", "idle",
          "deep_sleep")
_CLOCKS = (80, 160, 240)


@dataclass(frozen=True)
class DayPlan:
    """One agent's working day (all times in hours)."""

    battery_mah: float = 500.0
    hours_speech: float = 3.0
    hours_meeting: float = 8.0
    workday_hours: float = 10.0
    sessions: int = 6
    profile: str = "tuned"
    gate_keep_nonspeech: float | None = None  # fraction; None: power.toml / bench figure
    gate_source: str = ""


@dataclass(frozen=True)
class Draw:
    """One contribution to a state's current."""

    label: str
    ma: float
    source: str


@dataclass(frozen=True)
class StateCurrent:
    state: str
    draws: tuple[Draw, ...]
    on_battery: bool = True

    @property
    def ma(self) -> float:
        return sum(d.ma for d in self.draws)


@dataclass(frozen=True)
class Usage:
    state: str
    hours: float
    ma: float
    on_battery: bool

    @property
    def mah(self) -> float:
        return self.hours * self.ma if self.on_battery else 0.0


@dataclass(frozen=True)
class StorageFit:
    name: str
    mib: float
    hours_of_audio: float
    days: float


@dataclass(frozen=True)
class DayBudget:
    plan: DayPlan
    profile_title: str
    currents: dict[str, StateCurrent]
    usage: tuple[Usage, ...]
    usable_fraction: float
    usable_note: str
    gate_keep: float
    gate_source: str
    kept_hours: float
    bytes_per_s: float
    bits_per_sample: float
    audio_bytes: float
    stored_bytes: float
    storage: tuple[StorageFit, ...]
    sync_hours: dict[str, float]
    notes: tuple[str, ...] = field(default=())

    @property
    def day_mah(self) -> float:
        return sum(u.mah for u in self.usage)

    @property
    def usable_mah(self) -> float:
        return self.plan.battery_mah * self.usable_fraction

    @property
    def fits(self) -> bool:
        return self.day_mah <= self.usable_mah

    @property
    def min_battery_mah(self) -> float:
        """Smallest nominal cell that covers this day after derating."""
        return self.day_mah / self.usable_fraction

    @property
    def battery_hours(self) -> float:
        """Hours this day's mix of states lasts on the usable charge."""
        on_batt_hours = sum(u.hours for u in self.usage if u.on_battery)
        mean_ma = self.day_mah / on_batt_hours if on_batt_hours else 0.0
        return self.usable_mah / mean_ma if mean_ma else float("inf")


def load_power(path: Path | str = POWER_PATH) -> dict[str, Any]:
    """The parsed power data; raises BudgetError with the reason."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BudgetError(f"power data not found: {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BudgetError(f"cannot read power data {p}: {exc}") from None
    for key in ("battery", "audio", "gate", "links", "cpu", "part", "profile", "storage"):
        if key not in data:
            raise BudgetError(f"power data {p} has no [{key}] section")
    return data


def adpcm_bytes_per_s(data: dict[str, Any]) -> float:
    """Bytes per second of kept audio: block bytes x sample rate / samples per block."""
    a = data["audio"]
    return a["block_bytes"] * a["sample_rate_hz"] / a["block_samples"]


def cpu_ma(data: dict[str, Any], mhz: int, load_240: float) -> Draw:
    """CPU current at `mhz` for a job that loads one core by `load_240` at 240 MHz.

    Load scales with 240/mhz; current = idle + (running - idle) x load.
    """
    cpu = data["cpu"]
    key = str(mhz)
    if key not in cpu["active_ma"] or key not in cpu["idle_ma"]:
        raise BudgetError(f"no CPU current for {mhz} MHz in the power data")
    load = min(1.0, load_240 * 240 / mhz)
    run, idle = cpu["active_ma"][key], cpu["idle_ma"][key]
    ma = idle + (run - idle) * load
    label = f"CPU {mhz} MHz, load {load:.0%}: {idle:g} + ({run:g} - {idle:g}) x {load:.2f}"
    return Draw(label, ma, cpu["source"] + "; idle: " + cpu["idle_source"])


def _part(data: dict[str, Any], name: str) -> Draw:
    p = data["part"].get(name)
    if p is None:
        raise BudgetError(f"power data has no [part.{name}]")
    return Draw(name, float(p["ma"]), str(p["source"]))


def _recording_mhz(data: dict[str, Any], profile: dict[str, Any]) -> int:
    """The profile's clock, raised until the gate-open load fits under max_load."""
    gate = data["gate"]
    mhz = int(profile["recording_mhz"])
    for clock in _CLOCKS:
        if clock >= mhz and gate["cpu_load_open_240mhz"] * 240 / clock <= gate["max_load"]:
            return clock
    return 240


def state_currents(data: dict[str, Any], profile_name: str) -> dict[str, StateCurrent]:
    """Current of every state for one firmware profile, as sums of sourced parts."""
    profile = data["profile"].get(profile_name)
    if profile is None:
        raise BudgetError(f"unknown profile {profile_name!r} (have: {', '.join(sorted(data['profile']))})")
    gate = data["gate"]
    rec = _recording_mhz(data, profile)
    sync = int(profile["sync_mhz"])
    always = [_part(data, n) for n in ("ldo", "divider", "charger", "rtc")]
    audio = [_part(data, n) for n in ("peripherals", "psram", "mic", "privacy_led", "status_led",
                                      "sd_idle")]
    radio = [_part(data, "ble_connected")] if profile["radio_while_recording"] else []
    deep = Draw("ESP32-S3 deep sleep", float(data["cpu"]["deep_sleep_ma"]),
                data["cpu"]["deep_sleep_source"])
    states = {
        "recording_gate_open": [cpu_ma(data, rec, gate["cpu_load_open_240mhz"]), *audio,
                                _part(data, "sd_write"), *radio, *always],
        "recording_gate_closed": [cpu_ma(data, rec, gate["cpu_load_closed_240mhz"]), *audio,
                                  *radio, *always],
        "ble_sync": [cpu_ma(data, sync, 0.25), _part(data, "peripherals"), _part(data, "psram"),
                     _part(data, "sd_idle"), _part(data, "sd_read_ble"), _part(data, "ble_bulk"),
                     _part(data, "status_led"), *always],
        "usb_sync": [cpu_ma(data, sync, 0.5), _part(data, "peripherals"), _part(data, "psram"),
                     _part(data, "sd_idle"), _part(data, "sd_read_usb"), _part(data, "usb_phy"),
                     _part(data, "status_led"), *always],
        "idle": [cpu_ma(data, 80, 0.0), _part(data, "psram"), _part(data, "ble_advertising"),
                 _part(data, "status_led"), *always],
        "deep_sleep": [deep, *always],
    }
    return {name: StateCurrent(name, tuple(draws), on_battery=(name != "usb_sync"))
            for name, draws in states.items()}


def _check_plan(plan: DayPlan) -> None:
    if not 0 < plan.battery_mah <= 100_000:
        raise BudgetError(f"battery capacity must be in (0, 100000] mAh, got {plan.battery_mah}")
    if plan.workday_hours <= 0 or plan.workday_hours > 24:
        raise BudgetError(f"working day must be in (0, 24] hours, got {plan.workday_hours}")
    if not 0 <= plan.hours_meeting <= plan.workday_hours:
        raise BudgetError(f"meeting hours must be between 0 and the working day "
                          f"({plan.workday_hours} h), got {plan.hours_meeting}")
    if not 0 <= plan.hours_speech <= plan.hours_meeting:
        raise BudgetError(f"speech hours must be between 0 and the meeting hours "
                          f"({plan.hours_meeting} h), got {plan.hours_speech}")
    if plan.sessions < 0:
        raise BudgetError(f"sessions must be 0 or more, got {plan.sessions}")
    keep = plan.gate_keep_nonspeech
    if keep is not None and not 0 <= keep <= 1:
        raise BudgetError(f"gate keep fraction must be in [0, 1], got {keep}")


def plan_day(plan: DayPlan, data: dict[str, Any] | None = None) -> DayBudget:
    """Battery and storage budget of one working day."""
    _check_plan(plan)
    data = data if data is not None else load_power()
    profile = data["profile"].get(plan.profile)
    currents = state_currents(data, plan.profile)
    keep = plan.gate_keep_nonspeech
    source = plan.gate_source
    if keep is None:
        keep, source = float(data["gate"]["keep_nonspeech"]), str(data["gate"]["keep_source"])
    open_h = plan.hours_speech + (plan.hours_meeting - plan.hours_speech) * keep
    closed_h = plan.hours_meeting - open_h
    spare = plan.workday_hours - plan.hours_meeting
    idle_min = float(profile["idle_minutes_per_session"])
    idle_h = spare if idle_min < 0 else min(spare, plan.sessions * idle_min / 60)
    bps = adpcm_bytes_per_s(data)
    audio_bytes = open_h * 3600 * bps
    stored = audio_bytes * (1 + float(data["audio"]["container_overhead"]))
    links = data["links"]
    sync_h = {"ble": stored / (links["ble_kbyte_s"] * 1000) / 3600,
              "usb": stored / (links["usb_kbyte_s"] * 1000) / 3600}
    link = str(profile["sync_link"])
    usage = (
        Usage("recording_gate_open", open_h, currents["recording_gate_open"].ma, True),
        Usage("recording_gate_closed", closed_h, currents["recording_gate_closed"].ma, True),
        Usage("idle", idle_h, currents["idle"].ma, True),
        Usage("deep_sleep", spare - idle_h, currents["deep_sleep"].ma, True),
        Usage(f"{link}_sync", sync_h[link], currents[f"{link}_sync"].ma, link == "ble"),
    )
    per_day = stored / (open_h * 3600) if open_h else bps
    storage = tuple(
        StorageFit(s["name"], float(s["mib"]), s["mib"] * 2**20 / per_day / 3600,
                   (s["mib"] * 2**20 / stored) if stored else float("inf"))
        for s in data["storage"])
    a = data["audio"]
    return DayBudget(
        plan=plan, profile_title=str(profile["title"]), currents=currents, usage=usage,
        usable_fraction=float(data["battery"]["usable_fraction"]),
        usable_note=str(data["battery"]["usable_note"]), gate_keep=keep, gate_source=source,
        kept_hours=open_h, bytes_per_s=bps, bits_per_sample=a["block_bytes"] * 8 / a["block_samples"],
        audio_bytes=audio_bytes, stored_bytes=stored, storage=storage, sync_hours=sync_h,
    )
