"""The pin map obeys the ESP32-S3's rules, and the firmware reads the same data at boot."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from badgekit.cli import app
from hardware import esp32s3
from hardware.pinmap import PINMAP_PATH, boards, load_pinmap, validate_all, validate_board


def _board(rev="B"):
    return next(b for b in boards() if b.rev == rev)


def _with(board, **pins):
    return replace(board, pins={**board.pins, **pins})


def test_every_revision_is_valid():
    assert validate_all() == {"A": [], "B": [], "C": []}


@pytest.mark.parametrize("role, gpio, why", [
    ("led", 0, "strapping"),
    ("led", 3, "strapping"),
    ("led", 45, "strapping"),
    ("led", 46, "strapping"),
    ("led", 22, "no such GPIO"),
    ("led", 49, "no such GPIO"),
    ("led", 28, "not brought out"),  # SPI flash pins are not even on the WROOM-1 footprint
    ("led", 35, "octal PSRAM"),
    ("led", 37, "octal PSRAM"),
    ("led", 19, "USB D-"),
    ("led", 20, "USB D+"),
    ("led", 43, "UART0"),
    ("bat_adc", 12, "ADC2 is unusable while Wi-Fi"),
    ("bat_adc", 38, "needs an ADC1 channel"),
    ("button", 38, "RTC GPIO"),
    ("led", 4, "already used by"),
])
def test_each_rule_rejects_a_bad_pin(role, gpio, why):
    problems = validate_board(_with(_board("B"), **{role: gpio}))
    assert any(why in p for p in problems), problems


def test_octal_pins_are_fine_on_a_quad_psram_module_but_not_gpio26():
    c = _board("C")
    assert c.pins["sd_sck"] == 36 and validate_board(c) == []
    on_octal = replace(c, module="ESP32-S3-WROOM-1-N16R8")
    assert any("octal PSRAM" in p for p in validate_board(on_octal))
    assert any("quad PSRAM chip select" in p for p in validate_board(_with(c, led=26)))
    mini = esp32s3.MODULES["ESP32-S3-MINI-1-N4R2"]
    assert set(esp32s3.SPI_FLASH) - {26} <= set(range(49)) - mini.exposed


def test_input_only_rule(monkeypatch):
    monkeypatch.setattr(esp32s3, "INPUT_ONLY", frozenset({18}))  # as on a chip that has them
    assert any("input-only" in p for p in validate_board(_board("B")))  # led = GPIO18
    monkeypatch.setattr(esp32s3, "INPUT_ONLY", frozenset())
    assert validate_board(_board("B")) == []


def test_structure_rules():
    b = _board("B")
    assert any("unknown module" in p for p in validate_board(replace(b, module="ESP32-S3-XYZ")))
    assert any("no PSRAM" in p for p in validate_board(replace(b, module="ESP32-S3-WROOM-1-N16")))
    missing = replace(b, pins={k: v for k, v in b.pins.items() if k != "i2s_sd"})
    assert any("required role i2s_sd" in p for p in validate_board(missing))
    no_sd = replace(b, pins={k: v for k, v in b.pins.items() if k != "sd_cs"})
    assert any("feature sd needs role sd_cs" in p for p in validate_board(no_sd))
    assert any("unknown role" in p for p in validate_board(_with(b, lde=40)))


def test_firmware_reads_the_same_pins_under_micropython(micropython, tmp_path):
    data = load_pinmap()
    code = ("import json\nfrom firmware.hw import pins\n"
            "print(json.dumps({r: pins.load(r)['pins'] for r in pins.revisions()}))\n"
            "print(pins.load()['rev'], pins.pin('i2s_sck'))")
    out = micropython(code=code).stdout.decode().splitlines()
    assert json.loads(out[0]) == {r: v["pins"] for r, v in data["revisions"].items()}
    assert out[1] == f"{data['default_rev']} {data['revisions'][data['default_rev']]['pins']['i2s_sck']}"


def test_firmware_takes_the_revision_from_hwrev_and_reports_bad_maps(micropython, tmp_path):
    (tmp_path / "pinmap.json").write_text(PINMAP_PATH.read_text())
    (tmp_path / "hwrev").write_text("C\n")
    where = str(tmp_path / "pinmap.json")
    code = f"from firmware.hw import pins\nb = pins.load(path={where!r})\nprint(b['rev'], pins.pin('sd_cs'))"
    assert micropython(code=code).stdout.decode().split() == ["C", "34"]
    bad = json.loads(PINMAP_PATH.read_text())
    bad["revisions"]["B"]["pins"]["led"] = 4
    (tmp_path / "pinmap.json").write_text(json.dumps(bad))
    (tmp_path / "hwrev").write_text("B")
    code = (f"from firmware.hw import pins\ntry:\n pins.load(path={where!r})\n"
            "except pins.PinMapError as e:\n print('error', e)")
    assert "used by both" in micropython(code=code).stdout.decode()


def test_cli_pins(tmp_path):
    ok = CliRunner().invoke(app, ["hardware", "pins", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["B"]["problems"] == []
    bad = json.loads(PINMAP_PATH.read_text())
    bad["revisions"]["B"]["pins"]["button"] = 0
    path = tmp_path / "pinmap.json"
    path.write_text(json.dumps(bad))
    res = CliRunner().invoke(app, ["hardware", "pins", "--rev", "B", "--file", str(path)])
    assert res.exit_code == 1 and "strapping" in res.output
    path.write_text("{not json")
    res = CliRunner().invoke(app, ["hardware", "pins", "--file", str(path)])
    assert res.exit_code == 2 and "cannot read pin map" in res.output


def test_wiring_svg_is_drawn_from_the_pin_map(tmp_path):
    import xml.etree.ElementTree as ET

    from hardware.wiring_svg import render_svg

    b = _board("B")
    svg = render_svg(b)
    texts = " ".join(t for t in ET.fromstring(svg).itertext())
    for role, gpio in b.pins.items():
        assert role in texts and f"GPIO{gpio}" in texts
    committed = PINMAP_PATH.parent / "wiring-revB.svg"
    assert committed.read_text() == svg, "regenerate: badgekit hardware pins --rev B --svg hardware/wiring-revB.svg"
    out = tmp_path / "c.svg"
    res = CliRunner().invoke(app, ["hardware", "pins", "--rev", "C", "--svg", str(out)])
    assert res.exit_code == 0 and "GPIO36" in out.read_text()
