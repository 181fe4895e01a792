"""Read hardware/pinmap.json and check every board revision against the ESP32-S3's rules.

The firmware reads the same file at boot (`firmware/hw/pins.py`); this module is the
strict check that runs on a computer (`badgekit hardware pins`, tests/hardware).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware import esp32s3
from hardware.errors import PinMapError

__all__ = [
    "PINMAP_PATH",
    "ROLES",
    "Board",
    "load_pinmap",
    "boards",
    "validate_board",
    "validate_all",
    "describe_gpio",
]

PINMAP_PATH = Path(__file__).resolve().parent / "pinmap.json"

#: Every role a pin map may name: direction ("out", "in", "io", "analog") and a description.
ROLES: dict[str, tuple[str, str]] = {
    "i2s_sck": ("out", "I2S bit clock to the microphone (SCK)"),
    "i2s_ws": ("out", "I2S word select / LR clock (WS)"),
    "i2s_sd": ("in", "I2S data from the microphone (SD)"),
    "mic_en": ("out", "microphone supply and red privacy LED (one net: no mic without LED)"),
    "button": ("in", "the badge button (start/stop a session); wakes from deep sleep"),
    "led": ("out", "status LED (idle / storage nearly full / error)"),
    "bat_adc": ("analog", "battery voltage through a 1 MΩ / 1 MΩ divider"),
    "chg_stat": ("in", "charger STAT output (open drain: low while charging)"),
    "vbus_sense": ("in", "USB VBUS present (through a divider); wakes from deep sleep"),
    "i2c_sda": ("io", "I2C data: RV-3028 RTC, optional MAX17048 fuel gauge"),
    "i2c_scl": ("io", "I2C clock"),
    "sd_cs": ("out", "microSD chip select (SPI mode)"),
    "sd_mosi": ("out", "microSD command/data in (SPI MOSI)"),
    "sd_sck": ("out", "microSD clock"),
    "sd_miso": ("in", "microSD data out (SPI MISO)"),
    "sd_en": ("out", "microSD supply switch (P-FET gate, low = on)"),
    "sd_detect": ("in", "microSD card-detect switch"),
}

#: Roles that must be able to wake the chip from deep sleep (RTC GPIOs only).
WAKE_ROLES = ("button", "vbus_sense")

#: Roles a feature needs.
FEATURE_ROLES: dict[str, tuple[str, ...]] = {
    "sd": ("sd_cs", "sd_mosi", "sd_sck", "sd_miso", "sd_en"),
    "ext_rtc": ("i2c_sda", "i2c_scl"),
    "fuel_gauge": ("i2c_sda", "i2c_scl"),
    "charger_status": ("chg_stat",),
    "vbus_sense": ("vbus_sense",),
}

REQUIRED = ("i2s_sck", "i2s_ws", "i2s_sd", "mic_en", "button", "led", "bat_adc")


@dataclass(frozen=True)
class Board:
    """One board revision of the pin map."""

    rev: str
    title: str
    module: str
    pins: dict[str, int]
    features: dict[str, bool]
    raw: dict[str, Any]


def load_pinmap(path: Path | str = PINMAP_PATH) -> dict[str, Any]:
    """The parsed pin map file; raises PinMapError with the reason."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PinMapError(f"pin map not found: {p}") from None
    except (OSError, ValueError) as exc:
        raise PinMapError(f"cannot read pin map {p}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("revisions"), dict):
        raise PinMapError(f"pin map {p} has no 'revisions' table")
    if data.get("default_rev") not in data["revisions"]:
        raise PinMapError(f"pin map {p}: default_rev {data.get('default_rev')!r} is not a revision")
    return data


def boards(path: Path | str = PINMAP_PATH) -> list[Board]:
    """Every revision in the pin map, in name order."""
    data = load_pinmap(path)
    out = []
    for rev in sorted(data["revisions"]):
        raw = data["revisions"][rev]
        if not isinstance(raw, dict):
            raise PinMapError(f"revision {rev} is not a table")
        out.append(Board(rev=rev, title=str(raw.get("title", "")), module=str(raw.get("module", "")),
                         pins=dict(raw.get("pins") or {}), features=dict(raw.get("features") or {}),
                         raw=raw))
    return out


def describe_gpio(gpio: int, module: esp32s3.Module | None = None) -> str:
    """What the chip and module say about one GPIO (for the pins table)."""
    notes = []
    if gpio in esp32s3.ADC1:
        notes.append(f"ADC1_CH{esp32s3.ADC1[gpio]}")
    if gpio in esp32s3.ADC2:
        notes.append(f"ADC2_CH{esp32s3.ADC2[gpio]}")
    if gpio in esp32s3.RTC_GPIOS:
        notes.append("RTC")
    if module and gpio in module.reserved:
        notes.append(module.reserved[gpio])
    return ", ".join(notes)


def _pin_problems(board: Board, module: esp32s3.Module) -> list[str]:
    problems = []
    seen: dict[int, str] = {}
    for role, gpio in sorted(board.pins.items()):
        where = f"rev {board.rev}: {role} = GPIO{gpio}"
        if role not in ROLES:
            problems.append(f"rev {board.rev}: unknown role {role!r}")
            continue
        if not isinstance(gpio, int) or isinstance(gpio, bool):
            problems.append(f"rev {board.rev}: {role} is not a GPIO number: {gpio!r}")
            continue
        if gpio not in esp32s3.GPIOS:
            problems.append(f"{where}: no such GPIO on the ESP32-S3 (0-21, 26-48)")
            continue
        if gpio in seen:
            problems.append(f"{where}: already used by {seen[gpio]}")
        seen[gpio] = role
        if gpio not in module.exposed:
            problems.append(f"{where}: not brought out by {module.part}")
        if gpio in esp32s3.STRAPPING:
            problems.append(f"{where}: {esp32s3.STRAPPING[gpio]}")
        if gpio in esp32s3.SPI_FLASH:
            problems.append(f"{where}: used by the SPI flash/PSRAM bus")
        if gpio in module.reserved:
            problems.append(f"{where}: {module.reserved[gpio]} on {module.part}")
        if gpio in esp32s3.USB_PINS:
            problems.append(f"{where}: {esp32s3.USB_PINS[gpio]} (native USB is the sync/deploy port)")
        if gpio in esp32s3.UART0_PINS:
            problems.append(f"{where}: {esp32s3.UART0_PINS[gpio]}")
        kind = ROLES[role][0]
        if kind in ("out", "io") and gpio in esp32s3.INPUT_ONLY:
            problems.append(f"{where}: input-only pin cannot drive an output")
        if kind == "analog" and gpio not in esp32s3.ADC1:
            extra = " (ADC2 is unusable while Wi-Fi is on)" if gpio in esp32s3.ADC2 else ""
            problems.append(f"{where}: needs an ADC1 channel, GPIO1-10{extra}")
        if role in WAKE_ROLES and gpio not in esp32s3.RTC_GPIOS:
            problems.append(f"{where}: must be an RTC GPIO (0-21) to wake from deep sleep")
    return problems


def validate_board(board: Board) -> list[str]:
    """Every rule the revision breaks (empty when it is buildable)."""
    module = esp32s3.MODULES.get(board.module)
    if module is None:
        return [f"rev {board.rev}: unknown module {board.module!r} "
                f"(known: {', '.join(sorted(esp32s3.MODULES))})"]
    if not module.psram_mib:
        problems = [f"rev {board.rev}: {module.part} has no PSRAM (the badge needs it)"]
    else:
        problems = []
    problems += _pin_problems(board, module)
    for role in REQUIRED:
        if role not in board.pins:
            problems.append(f"rev {board.rev}: required role {role} is missing")
    for feature, on in sorted(board.features.items()):
        if feature not in FEATURE_ROLES:
            problems.append(f"rev {board.rev}: unknown feature {feature!r}")
            continue
        for role in FEATURE_ROLES[feature] if on else ():
            if role not in board.pins:
                problems.append(f"rev {board.rev}: feature {feature} needs role {role}")
    ratio = board.raw.get("bat_divider_ratio")
    if not isinstance(ratio, int | float) or not 1.0 <= float(ratio) <= 4.0:
        problems.append(f"rev {board.rev}: bat_divider_ratio must be a number in 1..4, got {ratio!r}")
    return problems


def validate_all(path: Path | str = PINMAP_PATH) -> dict[str, list[str]]:
    """Problems per revision of the pin map file."""
    return {b.rev: validate_board(b) for b in boards(path)}
