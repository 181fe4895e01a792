"""The bill of materials: read hardware/bom.toml, pick a variant, add it up exactly.

Money is `decimal.Decimal` from the file's text, so 0.1 + 0.2 is 0.3; totals are rounded
to cents only when shown. Nothing here types a total in: every figure is computed.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hardware.errors import BomError

__all__ = ["BOM_PATH", "BomLine", "Nre", "Bom", "BomTotals", "load_bom", "totals", "to_csv",
           "cents"]

BOM_PATH = Path(__file__).resolve().parent / "bom.toml"
_FIELDS = ("id", "ref", "group", "item", "manufacturer", "mpn", "qty", "usd_1k", "usd_10k",
           "source")


def cents(value: Decimal) -> Decimal:
    """Round to whole cents, half up (how a quote is written)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _money(raw: Any, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise BomError(f"{where}: price must be a number, got {raw!r}")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise BomError(f"{where}: price {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise BomError(f"{where}: price must be a non-negative number, got {raw!r}")
    return value


@dataclass(frozen=True)
class BomLine:
    """One purchased item: quantity per badge and unit price at 1k and 10k badges."""

    id: str
    ref: str
    group: str
    item: str
    manufacturer: str
    mpn: str
    qty: int
    usd_1k: Decimal
    usd_10k: Decimal
    source: str

    @property
    def ext_1k(self) -> Decimal:
        """Cost of this line per badge at 1k (qty x unit price)."""
        return self.qty * self.usd_1k

    @property
    def ext_10k(self) -> Decimal:
        return self.qty * self.usd_10k


@dataclass(frozen=True)
class Nre:
    """A one-off cost, spread over the production run when amortised."""

    item: str
    usd: Decimal
    source: str


@dataclass(frozen=True)
class Bom:
    """The whole file: every line, the variants (named lists of line ids), the NRE."""

    lines: dict[str, BomLine]
    variants: dict[str, tuple[str, tuple[str, ...]]]
    nre: tuple[Nre, ...]
    default_variant: str
    prices_as_of: str

    def variant(self, name: str | None = None) -> tuple[str, list[BomLine]]:
        """(title, lines) of a variant; the default one when `name` is None."""
        name = name or self.default_variant
        if name not in self.variants:
            raise BomError(f"unknown BOM variant {name!r} (have: {', '.join(sorted(self.variants))})")
        title, ids = self.variants[name]
        return title, [self.lines[i] for i in ids]


@dataclass(frozen=True)
class BomTotals:
    """Per-badge totals of one variant; NRE amortised over 1k and 10k badges."""

    variant: str
    parts_1k: Decimal
    parts_10k: Decimal
    nre: Decimal
    nre_per_badge_1k: Decimal
    nre_per_badge_10k: Decimal

    @property
    def landed_1k(self) -> Decimal:
        return self.parts_1k + self.nre_per_badge_1k

    @property
    def landed_10k(self) -> Decimal:
        return self.parts_10k + self.nre_per_badge_10k


def _line(raw: dict[str, Any], n: int) -> BomLine:
    where = f"bom line {n} ({raw.get('id', '?')})"
    missing = [f for f in _FIELDS if f not in raw]
    if missing:
        raise BomError(f"{where}: missing {', '.join(missing)}")
    qty = raw["qty"]
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise BomError(f"{where}: qty must be a positive whole number, got {qty!r}")
    if not str(raw["source"]).strip():
        raise BomError(f"{where}: every price needs a source")
    return BomLine(id=str(raw["id"]), ref=str(raw["ref"]), group=str(raw["group"]),
                   item=str(raw["item"]), manufacturer=str(raw["manufacturer"]),
                   mpn=str(raw["mpn"]), qty=qty, usd_1k=_money(raw["usd_1k"], where),
                   usd_10k=_money(raw["usd_10k"], where), source=str(raw["source"]))


def load_bom(path: Path | str = BOM_PATH) -> Bom:
    """Parse and check the BOM file; raises BomError with a one-line reason."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BomError(f"BOM not found: {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BomError(f"cannot read BOM {p}: {exc}") from None
    lines: dict[str, BomLine] = {}
    for n, raw in enumerate(data.get("line", []), 1):
        line = _line(raw, n)
        if line.id in lines:
            raise BomError(f"bom line {n}: duplicate id {line.id!r}")
        lines[line.id] = line
    variants: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, raw in (data.get("variant") or {}).items():
        ids = tuple(raw.get("lines", []))
        unknown = [i for i in ids if i not in lines]
        if unknown:
            raise BomError(f"variant {name}: unknown line ids {', '.join(unknown)}")
        if len(set(ids)) != len(ids):
            raise BomError(f"variant {name}: a line is listed twice")
        variants[name] = (str(raw.get("title", name)), ids)
    meta = data.get("meta") or {}
    default = str(meta.get("default_variant", ""))
    if default not in variants:
        raise BomError(f"default_variant {default!r} is not a variant")
    nre = tuple(Nre(item=str(r["item"]), usd=_money(r["usd"], f"nre {r['item']}"),
                    source=str(r.get("source", ""))) for r in data.get("nre", []))
    return Bom(lines=lines, variants=variants, nre=nre, default_variant=default,
               prices_as_of=str(meta.get("prices_as_of", "")))


def totals(bom: Bom, variant: str | None = None) -> BomTotals:
    """Sum the variant's lines (qty x unit) and spread the NRE over 1k and 10k badges."""
    name = variant or bom.default_variant
    _, lines = bom.variant(name)
    nre = sum((n.usd for n in bom.nre), Decimal(0))
    return BomTotals(
        variant=name,
        parts_1k=sum((ln.ext_1k for ln in lines), Decimal(0)),
        parts_10k=sum((ln.ext_10k for ln in lines), Decimal(0)),
        nre=nre,
        nre_per_badge_1k=nre / 1000,
        nre_per_badge_10k=nre / 10000,
    )


def _csv_rows(bom: Bom, variant: str | None) -> Iterator[list[str]]:
    _, lines = bom.variant(variant)
    yield ["ref", "item", "manufacturer", "mpn", "qty", "usd_1k", "usd_10k", "ext_1k", "ext_10k",
           "source"]
    for ln in lines:
        yield [ln.ref, ln.item, ln.manufacturer, ln.mpn, str(ln.qty), str(ln.usd_1k),
               str(ln.usd_10k), str(ln.ext_1k), str(ln.ext_10k), ln.source]
    t = totals(bom, variant)
    yield ["", "TOTAL parts per badge", "", "", "", "", "", str(cents(t.parts_1k)),
           str(cents(t.parts_10k)), "sum of ext columns"]


def to_csv(bom: Bom, variant: str | None = None) -> str:
    """The variant as CSV (for a purchasing spreadsheet), with a total row."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(_csv_rows(bom, variant))
    return buf.getvalue()
