"""Draw a board revision's wiring as SVG straight from the pin map (no hand-drawn copy).

`render_svg(board)` returns the SVG text: the module on the left with one wire per used
GPIO to the part it serves, grouped (microphone, storage, clock/gauge, power, user).
`badgekit hardware pins --svg FILE` writes it; hardware/wiring-revB.svg is its output for
rev B and a test keeps it in step with pinmap.json.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from hardware.pinmap import ROLES, Board

__all__ = ["render_svg", "GROUPS"]

#: Part each role belongs to, in drawing order: (group title, fill colour, roles).
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("I2S mic + privacy LED", "#fde2e2", ("i2s_sck", "i2s_ws", "i2s_sd", "mic_en")),
    ("microSD (SPI mode)", "#e2ecfd", ("sd_cs", "sd_mosi", "sd_sck", "sd_miso", "sd_en",
                                       "sd_detect")),
    ("I2C: RTC, fuel gauge", "#e8fde2", ("i2c_sda", "i2c_scl")),
    ("power and charging", "#fdf5e2", ("bat_adc", "chg_stat", "vbus_sense")),
    ("button, status LED", "#efe2fd", ("button", "led")),
)
_ROW = 26
_TOP = 70
_MOD_X, _MOD_W = 20, 230
_WIRE_END = 420


def render_svg(board: Board) -> str:
    """SVG of `board`'s wiring (every role of the pin map appears once)."""
    rows: list[tuple[str, str, str, int]] = []  # (group, colour, role, gpio)
    known = set()
    for title, colour, roles in GROUPS:
        for role in roles:
            if role in board.pins:
                rows.append((title, colour, role, board.pins[role]))
                known.add(role)
    for role in sorted(set(board.pins) - known):
        rows.append(("other", "#eeeeee", role, board.pins[role]))
    height = _TOP + _ROW * (len(rows) + 2) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="1080" height="{height}" '
           f'font-family="monospace" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="20" y="28" font-size="17" font-weight="bold">badgekit rev {escape(board.rev)}: '
           f'{escape(board.title)}</text>',
           '<text x="20" y="50" fill="#555">generated from hardware/pinmap.json by '
           'hardware/wiring_svg.py</text>',
           f'<rect x="{_MOD_X}" y="{_TOP}" width="{_MOD_W}" height="{_ROW * len(rows) + 20}" '
           'fill="#f4f4f4" stroke="black" stroke-width="2"/>',
           f'<text x="{_MOD_X + 10}" y="{_TOP + 20}" font-weight="bold">{escape(board.module)}</text>']
    group = None
    y = _TOP + 20
    for title, colour, role, gpio in rows:
        y += _ROW
        if title != group:
            group = title
            span = sum(1 for r in rows if r[0] == title)
            out.append(f'<rect x="{_WIRE_END}" y="{y - 18}" width="640" height="{_ROW * span}" '
                       f'fill="{colour}" stroke="#888"/>')
            out.append(f'<text x="{_WIRE_END + 420}" y="{y - 2}" fill="#333" font-style="italic">'
                       f'{escape(title)}</text>')
        out.append(f'<text x="{_MOD_X + _MOD_W - 70}" y="{y}">GPIO{gpio}</text>')
        out.append(f'<line x1="{_MOD_X + _MOD_W}" y1="{y - 4}" x2="{_WIRE_END}" y2="{y - 4}" '
                   'stroke="black"/>')
        desc = ROLES.get(role, ("", ""))[1]
        out.append(f'<text x="{_WIRE_END + 8}" y="{y}"><tspan font-weight="bold">{escape(role)}'
                   f'</tspan> {escape(desc[:44])}</text>')
    y += 2 * _ROW
    out.append(f'<text x="20" y="{y}" fill="#555">VBAT -&gt; RT9080 LDO -&gt; 3V3; USB-C VBUS -&gt; '
               'MCP73831 -&gt; cell; GPIO19/20 = USB D-/D+; see wiring.md for the passives.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
