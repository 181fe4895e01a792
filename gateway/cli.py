"""`badgekit gateway …`: transcribe, check and deliver clips."""

import typer

from badgecore.partcli import compose

app = compose(
    typer.Typer(help="Transcribe, check and deliver clips.", no_args_is_help=True),
    [
        "gateway.transcribe_cmd",  # gateway transcribe
        "gateway.delivery_cmd",  # gateway run, gateway receive
        "gateway.compliance_cmd",  # gateway check
        "gateway.key_cmd",  # gateway key new|show|enrol
    ],
)
