"""`badgekit sim …`: the badge firmware on a computer."""

import typer

from badgecore.partcli import compose

app = compose(
    typer.Typer(help="The badge firmware on a computer.", no_args_is_help=True),
    [
        "badgekit.sim.record_cmd",  # sim record (recording path)
        "badgekit.sim.export_cmd",  # sim export, sim store … (clip store)
        "badgekit.sim.badge_cmd",  # sim badge (serve clips over pty / BLE)
    ],
)
