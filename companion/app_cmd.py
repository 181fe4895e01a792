"""`badgekit companion scan | set-time | logs | listen`: the staff-facing commands.

Each command reads the settings file (`companion.settings`), applies its flags on top,
does its work through `companion.scan`, `companion.badgeops` or `companion.listen`, and
prints a rich table, or one JSON document with ``--json``. Every failure a user can cause
(no badge on that port, wrong branch, bad value, unreadable settings) ends with one
``error:`` line and exit code 1 (2 for bad usage or settings), never a traceback
(`companion.cliopts.guard`). The config commands are in `companion.config_cmd`.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from companion.cliopts import (
    BLE,
    BRANCH,
    HCI,
    JSON_TABLES,
    KEYSTORE,
    PORT,
    SETTINGS,
    TIMEOUT,
    guard,
    load_settings,
    print_table,
    run,
    say,
    target,
    warn,
)
from companion.cliopts import fail as _fail
from companion.cliopts import out as _out
from companion.cliopts import print_json as _print_json

__all__ = ["register", "scan", "set_time", "logs", "listen"]

@guard
def scan(
    port: list[str] = typer.Option(None, "--port", help="Serial port to probe (repeatable)."),
    ble: bool = typer.Option(None, "--ble/--no-ble", help="Look for badges over BLE."),
    serial: bool = typer.Option(None, "--serial/--no-serial", help="Probe USB serial ports."),
    ble_timeout_s: float = typer.Option(None, "--ble-timeout-s", help="BLE listen time (s)."),
    connect_timeout_s: float = typer.Option(None, "--connect-timeout-s", help="Per-badge timeout (s)."),
    storage_warn_pct: int = typer.Option(None, "--storage-warn-pct", help="Nearly full at (%)."),
    battery_warn_pct: int = typer.Option(None, "--battery-warn-pct", help="Battery low at (%)."),
    drift_warn_s: float = typer.Option(None, "--drift-warn-s", help="Clock drift limit (s)."),
    unsynced_warn_hours: float = typer.Option(None, "--unsynced-warn-hours", help="Unsynced audio limit (h)."),
    last_sync_warn_hours: float = typer.Option(None, "--last-sync-warn-hours", help="Sync overdue after (h)."),
    branch: str = BRANCH,
    hci: list[str] = typer.Option(None, "--hci", envvar="BADGEKIT_BLE_HCI",
                                  help="bumble HCI transport of a BLE radio (repeatable); "
                                       "default: the system's Bluetooth."),
    keystore: str = KEYSTORE,
    json_out: bool = JSON_TABLES,
    settings_file: str = SETTINGS,
) -> None:
    """Find badges over BLE and USB serial; the ones needing attention come first."""
    from companion.scan import render, run_scan

    s = load_settings(settings_file, {
        "scan.ports": list(port) if port else None, "scan.ble": ble, "scan.serial": serial,
        "scan.ble_timeout_s": ble_timeout_s, "scan.connect_timeout_s": connect_timeout_s,
        "attention.storage_warn_pct": storage_warn_pct,
        "attention.battery_warn_pct": battery_warn_pct, "attention.drift_warn_s": drift_warn_s,
        "attention.unsynced_warn_hours": unsynced_warn_hours,
        "attention.last_sync_warn_hours": last_sync_warn_hours, "branch.id": branch})
    result = run(run_scan(s, hci=list(hci) if hci else None, keystore=keystore))
    if json_out:
        _print_json(result.as_dict())
    else:
        render(result, _out)


@guard
def set_time(port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE,
             branch: str = BRANCH, connect_timeout_s: float = TIMEOUT, json_out: bool = JSON_TABLES,
             settings_file: str = SETTINGS) -> None:
    """Set the badge's clock to this computer's (UTC) and report the drift it had."""
    from companion import badgeops

    s = load_settings(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
    res = run(badgeops.set_time(s, target(port, ble, hci, keystore)))
    if json_out:
        _print_json(res)
    else:
        say(f"{res['badge_id']}: clock set, it was off by {res['drift_s']:+.2f} s")


@guard
def logs(port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE,
         branch: str = BRANCH, connect_timeout_s: float = TIMEOUT,
         tail: int = typer.Option(0, "--tail", help="Only the last N events (0: all)."),
         json_out: bool = JSON_TABLES, settings_file: str = SETTINGS) -> None:
    """The badge's event log (boots, sessions, recoveries, errors, syncs)."""
    from companion import badgeops

    s = load_settings(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
    res = run(badgeops.logs(s, target(port, ble, hci, keystore), tail))
    if json_out:
        _print_json(res)
        return
    table = Table(title=escape(f"event log of {res['badge_id']}"))
    for col in ("time (UTC)", "event", "detail"):
        table.add_column(col)
    for ev in res["events"]:
        table.add_row(*(escape(str(ev.get(k, ""))) for k in ("time", "event", "detail")))
    print_table(table)


@guard
def listen(
    mic: bool = typer.Option(False, "--mic", help="Record from this computer's microphone."),
    device: str = typer.Option(None, "--device", help="Input device name or index."),
    duration_s: float = typer.Option(None, "--duration-s", help="Stop after this much audio (s)."),
    badge_id: str = typer.Option(None, "--badge-id", help="Badge id the clips carry."),
    agent: str = typer.Option(None, "--agent", help="Agent named in the custody records."),
    spool: str = typer.Option(None, "--spool", help="Spool folder (the gateway watches it)."),
    gain_db: int = typer.Option(None, "--gain-db", help="Microphone gain (dB)."),
    vad_sensitivity: int = typer.Option(None, "--vad-sensitivity", help="Voice gate 0..3."),
    max_clip_s: int = typer.Option(None, "--max-clip-s", help="Longest clip (s)."),
    max_session_min: int = typer.Option(None, "--max-session-min", help="Longest session (min)."),
    storage_warn_pct: int = typer.Option(None, "--storage-warn-pct",
                                         help="Warn when the spool disk is this full (%)."),
    operator: str = typer.Option(None, "--operator", help="Staff member for custody records."),
    branch: str = BRANCH,
    list_devices: bool = typer.Option(False, "--list-devices", help="List input devices and stop."),
    json_out: bool = JSON_TABLES,
    settings_file: str = SETTINGS,
) -> None:
    """Use the computer's microphone as a badge: same recording path, same spool."""
    from companion import listen as lis

    if list_devices:
        devs = lis.list_inputs()
        if json_out:
            _print_json(devs)
        else:
            for d in devs:
                say(f"{d['index']:>3}  {d['name']}  ({d['channels']} ch)")
        return
    if not mic:
        raise _fail("say where the audio comes from: --mic", 2)
    s = load_settings(settings_file, {
        "listen.device": device, "listen.duration_s": duration_s, "listen.badge_id": badge_id,
        "listen.agent": agent, "spool.path": spool, "badge.gain_db": gain_db,
        "badge.vad_sensitivity": vad_sensitivity, "badge.max_clip_s": max_clip_s,
        "badge.max_session_min": max_session_min, "badge.storage_warn_pct": storage_warn_pct,
        "branch.operator": operator, "branch.id": branch})
    report = lis.listen(s, progress=None if json_out else _out)
    if json_out:
        _print_json(report.as_dict())
    else:
        lis.render(report, _out)
    for w in report.warnings:
        warn(w)
    if report.stopped.startswith("mic_error"):
        raise _fail(f"the microphone stopped ({report.stopped[11:]}); "
                    f"{len(report.clips)} complete clip(s) kept in {report.spool}")
    if report.stopped == "disk_full":
        raise _fail(f"the spool disk is full: stopped; {len(report.clips)} complete clip(s) "
                    f"kept in {report.spool}, the clip being recorded was dropped")


def register(app: typer.Typer) -> None:
    app.command()(scan)
    app.command("set-time")(set_time)
    app.command()(logs)
    app.command()(listen)
