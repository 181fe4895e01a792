"""Command-line options and the one-line error shared by every `badgekit companion` command."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["BRANCH", "HCI", "JSON", "KEYSTORE", "fail"]

_err = Console(stderr=True, highlight=False)

HCI = typer.Option(None, "--hci", envvar="BADGEKIT_BLE_HCI",
                   help="bumble HCI transport for BLE (e.g. tcp-client:127.0.0.1:9001); "
                        "default: the system's Bluetooth.")
KEYSTORE = typer.Option(None, "--keystore", envvar="BADGEKIT_KEYSTORE",
                        help="Branch key store file (default: <config dir>/keystore.json).")
BRANCH = typer.Option(None, "--branch", help="This branch's id (default: from the settings).")
JSON = typer.Option(False, "--json", help="Print one JSON document.")


def fail(msg: str, code: int = 1) -> typer.Exit:
    """Print `error: msg` on stderr and give the Exit to raise (no traceback for staff)."""
    _err.print(f"[red]error:[/] {escape(msg)}", soft_wrap=True)
    return typer.Exit(code)
