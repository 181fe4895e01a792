"""`badgekit companion update --bundle FILE [--port P | --ble ADDR | --all]`.

One badge (``--port`` or ``--ble``) or a whole tray (``--all``: every badge the scan finds
on USB serial ports, the settings' ports, ``--port``s and BLE), updated in parallel with a
rich progress bar per badge. The bundle's layout is checked before anything is sent, and
with ``--pubkey`` (or BADGEKIT_RELEASE_PUBKEY) its signature and hashes too; each badge
checks them again itself. A badge already on the bundle's version is "up to date"; a newer
one, or one below the bundle's minimum version, is refused. Exit code 0 when every badge
ends on the bundle's version, 1 otherwise (one line per badge that did not), 2 for bad usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from companion.cliopts import BRANCH, KEYSTORE, err, fail, guard, load_settings, print_table

__all__ = ["register", "update"]



async def _discover(settings: Any, hcis: list[str], keystore: str | None,
                    stack: contextlib.AsyncExitStack) -> list[Any]:
    """BLE badges heard on each radio (an open bumble device per HCI spec, shared)."""
    from companion import blescan
    from companion.link import Target

    out = []
    specs: list[str | None] = list(hcis) if hcis else [None]
    for h in specs:
        if h:
            dev = await stack.enter_async_context(blescan.radio(h))
            ads = await blescan.discover(settings.scan.ble_timeout_s, dev)
            out += [Target("ble", a.address, h, keystore, dev) for a in ads]
        else:
            ads = await blescan.discover(settings.scan.ble_timeout_s)
            out += [Target("ble", a.address, None, keystore) for a in ads]
    return out


async def _run_all(settings: Any, serial: list[Any], bles: list[str], hcis: list[str],
                   discover: bool, keystore: str | None, bundle: Any,
                   progress: Any) -> tuple[list[Any], list[str]]:
    from companion.link import Target
    from companion.update import update_all

    notes: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        targets = list(serial)
        if discover:
            try:
                targets += await _discover(settings, hcis, keystore, stack)
            except Exception as exc:  # noqa: BLE001 - no adapter: one note, serial goes on
                notes.append(f"BLE not available ({exc})")
        targets += [Target("ble", a, hcis[0] if hcis else None, keystore) for a in bles]
        unique = list({str(t): t for t in targets}.values())
        if not unique:
            return [], notes + ["no badges found: plug badges in, name ports with --port, "
                                "or bring them in BLE range"]
        return await update_all(settings, unique, bundle, progress), notes


@guard
def update(
    bundle: Path = typer.Option(..., "--bundle", help="Signed firmware bundle "
                                "(badgekit release build)."),
    port: list[str] = typer.Option(None, "--port", help="Serial port of the badge "
                                   "(with --all: more ports to include; repeatable)."),
    ble: list[str] = typer.Option(None, "--ble", help="BLE address of the badge (repeatable "
                                  "with --all)."),
    all_badges: bool = typer.Option(False, "--all", help="Every badge found: USB serial, "
                                    "the settings' ports, --port, and BLE; in parallel."),
    scan_ble: bool = typer.Option(None, "--scan-ble/--no-scan-ble",
                                  help="With --all: look for badges over BLE."),
    hci: list[str] = typer.Option(None, "--hci", envvar="BADGEKIT_BLE_HCI",
                                  help="bumble HCI transport of a BLE radio (repeatable)."),
    pubkey: Path = typer.Option(None, "--pubkey", envvar="BADGEKIT_RELEASE_PUBKEY",
                                help="Release public key: check the bundle here first."),
    keystore: str = KEYSTORE, branch: str = BRANCH,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
    settings_file: str = typer.Option(None, "--settings", envvar="BADGEKIT_COMPANION_SETTINGS",
                                      help="Settings file to use instead of the default."),
) -> None:
    """Put a signed firmware release on badges over the sync link (serial or BLE)."""
    from companion.link import Target
    from companion.release_keys import public_or_none
    from companion.scan import serial_targets
    from companion.update import read_bundle, update_one

    ports, bles, hcis = list(port or []), list(ble or []), list(hci or [])
    if not all_badges and len(ports) + len(bles) != 1:
        raise fail("name one badge (--port PATH or --ble ADDRESS) or update every badge "
                   "found with --all", 2)
    s = load_settings(settings_file, {"branch.id": branch,
                              "scan.ports": ports if all_badges and ports else None,
                              "scan.ble": scan_ble})
    try:
        b = read_bundle(bundle, public_or_none(pubkey))
    except ValueError as exc:
        raise fail(str(exc)) from None
    live = not json_out and sys.stderr.isatty()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeElapsedColumn(), TextColumn("{task.fields[phase]}"))
    prog = Progress(*columns, console=err, disable=json_out, transient=not live)
    tasks: dict[str, Any] = {}

    def progress(key: str, done: int, total: int, phase: str) -> None:
        if key not in tasks:
            tasks[key] = prog.add_task(key, total=total, phase=phase)
        prog.update(tasks[key], completed=done, phase=phase)

    async def go() -> tuple[list[Any], list[str]]:
        if not all_badges:
            t = (Target("serial", ports[0], None, keystore) if ports else
                 Target("ble", bles[0], hcis[0] if hcis else None, keystore))
            return [await update_one(s, t, b, progress)], []
        serial = serial_targets(s, keystore)
        return await _run_all(s, serial, bles, hcis, bool(s.scan.ble), keystore, b, progress)

    try:
        with prog:
            results, notes = asyncio.run(go())
    except KeyboardInterrupt:
        raise fail("interrupted: run the same command again to resume", 130) from None
    if json_out:
        sys.stdout.write(json.dumps({"bundle": {"version": b.version, "min_version":
                                                b.min_version, "sha256": b.sha256,
                                                "signature_checked": b.signature_checked},
                                     "badges": [r.as_dict() for r in results],
                                     "notes": notes}, indent=2) + "\n")
    else:
        table = Table(title=escape(f"firmware {b.version} to {len(results)} badge(s)"))
        for col in ("badge", "address", "before", "after", "result", "detail"):
            table.add_column(col)
        style = {"updated": "green", "up_to_date": "green", "refused": "yellow"}
        for r in results:
            table.add_row(escape(r.badge or "?"), escape(r.address), escape(r.before or "-"),
                          escape(r.after or "-"), f"[{style.get(r.outcome, 'red')}]{r.outcome}[/]",
                          escape(r.message))
        print_table(table)
        for n in notes:
            err.print(f"[dim]{escape(n)}[/]")
    bad = [r for r in results if not r.ok]
    for r in bad:
        err.print(f"[red]error:[/] {escape(r.badge or r.address)}: {r.outcome}: "
                   f"{escape(r.message)}", soft_wrap=True)
    if bad or not results:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(update)
