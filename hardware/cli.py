"""`badgekit hardware …`: the reference design's data and tools."""

import typer

from badgecore.partcli import compose

app = compose(
    typer.Typer(help="Reference design: BOM, budget, deploy.", no_args_is_help=True),
    ["hardware.commands"],
)
