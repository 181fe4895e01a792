"""BOM arithmetic: totals are exact sums of qty x unit price, for the real file and a known one."""

from __future__ import annotations

import csv
import io
import tomllib
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from badgekit.cli import app
from hardware.bom import BOM_PATH, cents, load_bom, to_csv, totals
from hardware.errors import BomError

SMALL = """
[meta]
default_variant = "x"
prices_as_of = "test"
[[line]]
id = "a"
ref = "U1"
group = "core"
item = "thing"
manufacturer = "m"
mpn = "p1"
qty = 3
usd_1k = 0.10
usd_10k = 0.07
source = "test"
[[line]]
id = "b"
ref = "U2"
group = "core"
item = "other"
manufacturer = "m"
mpn = "p2"
qty = 2
usd_1k = 0.20
usd_10k = 0.105
source = "test"
[[line]]
id = "c"
ref = "U3"
group = "core"
item = "not in x"
manufacturer = "m"
mpn = "p3"
qty = 1
usd_1k = 100
usd_10k = 100
source = "test"
[[nre]]
item = "tool"
usd = 5000
[variant.x]
lines = ["a", "b"]
"""


def _mills(x: float) -> int:
    return round(x * 1000)


def test_known_bom_adds_up_exactly(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_text(SMALL)
    t = totals(load_bom(path))
    assert t.parts_1k == Decimal("0.70")  # 3 x 0.10 + 2 x 0.20, no float error
    assert t.parts_10k == Decimal("0.42")  # 3 x 0.07 + 2 x 0.105
    assert t.nre_per_badge_1k == Decimal("5") and t.nre_per_badge_10k == Decimal("0.5")
    assert t.landed_1k == Decimal("5.70")


def test_real_bom_totals_match_an_independent_sum():
    raw = tomllib.loads(BOM_PATH.read_text())
    lines = {ln["id"]: ln for ln in raw["line"]}
    bom = load_bom()
    for name, variant in raw["variant"].items():
        want_1k = sum(lines[i]["qty"] * _mills(lines[i]["usd_1k"]) for i in variant["lines"])
        want_10k = sum(lines[i]["qty"] * _mills(lines[i]["usd_10k"]) for i in variant["lines"])
        t = totals(bom, name)
        assert t.parts_1k * 1000 == want_1k, name
        assert t.parts_10k * 1000 == want_10k, name


def test_real_bom_is_complete_and_sourced():
    bom = load_bom()
    _, lines = bom.variant()
    groups = {ln.group for ln in lines}
    assert {"core", "audio", "power", "time", "storage", "ui", "mechanics"} <= groups
    mpns = " ".join(ln.mpn for ln in bom.lines.values())
    for need in ("ESP32-S3-WROOM-1-N16R8", "ESP32-S3-WROOM-1-N8R8", "ICS-43434", "MCP73831",
                 "RV-3028", "MAX17048", "USB4105"):
        assert need in mpns
    for ln in bom.lines.values():
        assert ln.source.strip() and ln.usd_1k > 0
        assert ln.usd_10k <= ln.usd_1k, ln.id  # volume never costs more
    assert "B-n8" in bom.variants and "C" in bom.variants  # flash size / module options


def test_csv_total_row_is_the_sum_of_its_lines():
    rows = list(csv.DictReader(io.StringIO(to_csv(load_bom()))))
    body, total = rows[:-1], rows[-1]
    assert Decimal(total["ext_1k"]) == cents(sum(Decimal(r["ext_1k"]) for r in body))
    assert Decimal(total["ext_10k"]) == cents(sum(Decimal(r["ext_10k"]) for r in body))


@pytest.mark.parametrize("bad, message", [
    ('usd_1k = 0.10', 'usd_1k = -1'),
    ('qty = 3', 'qty = 0'),
    ('source = "test"\n[[line]]\nid = "b"', 'source = " "\n[[line]]\nid = "b"'),
    ('lines = ["a", "b"]', 'lines = ["a", "zz"]'),
])
def test_bad_bom_is_a_named_error(tmp_path, bad, message):
    path = tmp_path / "bom.toml"
    path.write_text(SMALL.replace(bad, message, 1))
    with pytest.raises(BomError):
        totals(load_bom(path))


def test_cli_bom_prints_the_totals():
    t = totals(load_bom())
    result = CliRunner().invoke(app, ["hardware", "bom"])
    assert result.exit_code == 0, result.output
    assert f"parts per badge: {cents(t.parts_1k)} USD at 1k, {cents(t.parts_10k)} USD at 10k" in result.output
    bad = CliRunner().invoke(app, ["hardware", "bom", "--variant", "nope"])
    assert bad.exit_code == 2 and "unknown BOM variant" in bad.output
