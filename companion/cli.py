"""`badgekit companion …`: the branch tool for a tray of badges."""

import typer

from badgecore.partcli import compose

app = compose(
    typer.Typer(help="Branch tool: scan, enroll, sync badges.", no_args_is_help=True),
    [
        "companion.sync_cmd",  # enroll, sync, status (sync protocol issue)
        "companion.config_cmd",  # config get/set/path/init/show (companion app issue)
        "companion.app_cmd",  # scan, set-time, logs, listen (companion app issue)
        "companion.case_cmd",  # case: the customer/case id of a meeting (compliance issue)
        "companion.clipkeys_cmd",  # clip-keys: clip keys for the gateway and receiver
        "companion.update_cmd",  # update: signed firmware bundles over the sync link
    ],
)
