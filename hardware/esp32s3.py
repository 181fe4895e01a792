"""What the ESP32-S3 and its modules allow on each GPIO (the rules the pin map must obey).

Sources (Espressif, as known to the author, 2024 revisions):
- ESP32-S3 Series Datasheet, "Pin Overview", "Strapping Pins", "Peripheral Pin
  Configurations" (ADC1/ADC2 channels, RTC GPIOs, USB, SPI0/1 flash and PSRAM pins).
- ESP32-S3-WROOM-1/1U Datasheet, "Pin Definitions": IO35-IO37 are wired to the octal
  PSRAM/flash in modules with octal PSRAM (R8, R16V) and are not usable; GPIO26-34 are
  not brought out at all.
- ESP32-S3-MINI-1/1U Datasheet, "Pin Definitions": in variants with in-package quad
  PSRAM (ESP32-S3FH4R2, i.e. N4R2) IO26 is the PSRAM chip select and is not usable.
- ESP-IDF ADC guide: ADC2 is shared with the Wi-Fi driver and cannot be read while Wi-Fi
  is on. badgekit uses BLE only, but the battery pin is kept on ADC1 so a later Wi-Fi
  build cannot break the battery reading.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GPIOS",
    "STRAPPING",
    "SPI_FLASH",
    "OCTAL_SPI",
    "USB_PINS",
    "UART0_PINS",
    "ADC1",
    "ADC2",
    "RTC_GPIOS",
    "INPUT_ONLY",
    "Module",
    "MODULES",
]

#: GPIOs that exist on the die: 0-21 and 26-48 (22-25 are not bonded out).
GPIOS: frozenset[int] = frozenset(range(0, 22)) | frozenset(range(26, 49))

#: Strapping pins, sampled at reset; a button or LED on them can change the boot mode.
STRAPPING: dict[int, str] = {
    0: "strapping pin (boot mode: low = download mode)",
    3: "strapping pin (JTAG signal source)",
    45: "strapping pin (VDD_SPI voltage: must be low for 3.3 V flash)",
    46: "strapping pin (boot mode / ROM message printing)",
}

#: SPI0/1 pins that talk to the in-module flash and PSRAM (SPICS1, SPIHD, SPIWP, SPICS0,
#: SPICLK, SPIQ, SPID).
SPI_FLASH: frozenset[int] = frozenset(range(26, 33))

#: SPIIO4-7 and SPIDQS: taken by octal (OPI) PSRAM or flash.
OCTAL_SPI: frozenset[int] = frozenset(range(33, 38))

#: Native USB (USB-Serial-JTAG and USB-OTG): D- and D+. The badge syncs and deploys over it.
USB_PINS: dict[int, str] = {19: "USB D-", 20: "USB D+"}

#: UART0 TXD0/RXD0: the ROM and boot log; kept free for a debug console.
UART0_PINS: dict[int, str] = {43: "UART0 TXD (boot log)", 44: "UART0 RXD"}

#: ADC1 channel of each GPIO (usable whatever the radio does).
ADC1: dict[int, int] = {g: g - 1 for g in range(1, 11)}

#: ADC2 channel of each GPIO (unusable while Wi-Fi is on).
ADC2: dict[int, int] = {g: g - 11 for g in range(11, 21)}

#: GPIOs in the RTC domain: the only ones that can wake the chip from deep sleep (ext0/ext1).
RTC_GPIOS: frozenset[int] = frozenset(range(0, 22))

#: Input-only pins. The ESP32 (GPIO34-39) has them; the ESP32-S3 has none: every GPIO can
#: drive an output. The rule stays in the checker so a future chip table can fill it.
INPUT_ONLY: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Module:
    """One module part number: its memories and which GPIOs it brings out and keeps."""

    part: str
    flash_mib: int
    psram_mib: int
    psram_bus: str  # "octal", "quad" or "" (none)
    exposed: frozenset[int]
    reserved: dict[int, str]


_WROOM_EXPOSED = frozenset(range(0, 22)) | frozenset(range(35, 49))
_MINI_EXPOSED = frozenset(range(0, 22)) | {26} | frozenset(range(33, 49))
_OCTAL_RESERVED = {g: "wired to the module's octal PSRAM/flash" for g in sorted(OCTAL_SPI)}


def _wroom(part: str, flash: int, psram: int) -> Module:
    reserved = {g: r for g, r in _OCTAL_RESERVED.items() if g in _WROOM_EXPOSED} if psram else {}
    return Module(part, flash, psram, "octal" if psram else "", _WROOM_EXPOSED, reserved)


MODULES: dict[str, Module] = {
    m.part: m
    for m in (
        _wroom("ESP32-S3-WROOM-1-N8", 8, 0),
        _wroom("ESP32-S3-WROOM-1-N16", 16, 0),
        _wroom("ESP32-S3-WROOM-1-N8R8", 8, 8),
        _wroom("ESP32-S3-WROOM-1-N16R8", 16, 8),
        Module("ESP32-S3-MINI-1-N8", 8, 0, "", _MINI_EXPOSED, {}),
        Module("ESP32-S3-MINI-1-N4R2", 4, 2, "quad", _MINI_EXPOSED,
               {26: "in-package quad PSRAM chip select"}),
    )
}
