"""`badgekit companion scan | set-time | config … | logs | listen`: the staff-facing commands.

Each command reads the settings file (`companion.settings`), applies its flags on top,
does its work through `companion.scan`, `companion.badgeops` or `companion.listen`, and
prints a rich table, or one JSON document with ``--json``. Every failure a user can cause
(no badge on that port, wrong branch, bad value, unreadable settings) ends with one
``error:`` line and exit code 1 (2 for bad usage or settings), never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from companion import settings as st
from companion.cliopts import BRANCH, HCI, KEYSTORE
from companion.cliopts import fail as _fail

__all__ = ["register"]

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

JSON = typer.Option(False, "--json", help="Print one JSON document instead of tables.")
SETTINGS = typer.Option(None, "--settings", help="Settings file to use instead of the default.",
                        envvar="BADGEKIT_COMPANION_SETTINGS")
PORT = typer.Option(None, "--port", help="Serial port of the badge (e.g. /dev/ttyACM0).")
BLE = typer.Option(None, "--ble", help="BLE address of the badge.")
TIMEOUT = typer.Option(None, "--connect-timeout-s", help="Give up on a silent badge after (s).")



def _load(path: str | None, flags: dict[str, Any] | None = None) -> st.CompanionSettings:
    from pathlib import Path

    try:
        s = st.load(Path(path) if path else None)
        return st.override(s, flags or {})
    except st.SettingsError as exc:
        raise _fail(str(exc), 2) from None


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _target(port: str | None, ble: str | None, hci: str | None = None,
            keystore: str | None = None) -> Any:
    from companion.link import Target

    if bool(port) == bool(ble):
        raise _fail("name exactly one badge: --port PATH or --ble ADDRESS", 2)
    if port:
        return Target("serial", port, None, keystore)
    return Target("ble", ble or "", hci, keystore)


def _run(coro: Any) -> Any:
    """Run one badge operation; turn our named errors into one clear line."""
    import asyncio

    from companion.badgeops import OpsError

    try:
        return asyncio.run(coro)
    except OpsError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Badge config (get/set) and the settings file (path/show/init).",
                             no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @app.command()
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
        json_out: bool = JSON,
        settings_file: str = SETTINGS,
    ) -> None:
        """Find badges over BLE and USB serial; the ones needing attention come first."""
        from companion.scan import render, run_scan

        s = _load(settings_file, {
            "scan.ports": list(port) if port else None, "scan.ble": ble, "scan.serial": serial,
            "scan.ble_timeout_s": ble_timeout_s, "scan.connect_timeout_s": connect_timeout_s,
            "attention.storage_warn_pct": storage_warn_pct,
            "attention.battery_warn_pct": battery_warn_pct, "attention.drift_warn_s": drift_warn_s,
            "attention.unsynced_warn_hours": unsynced_warn_hours,
            "attention.last_sync_warn_hours": last_sync_warn_hours, "branch.id": branch})
        result = _run(run_scan(s, hci=list(hci) if hci else None, keystore=keystore))
        if json_out:
            _print_json(result.as_dict())
        else:
            render(result, _out)

    @app.command("set-time")
    def set_time(port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE, branch: str = BRANCH,
                 connect_timeout_s: float = TIMEOUT, json_out: bool = JSON,
                 settings_file: str = SETTINGS) -> None:
        """Set the badge's clock to this computer's (UTC) and report the drift it had."""
        from companion import badgeops

        s = _load(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
        res = _run(badgeops.set_time(s, _target(port, ble, hci, keystore)))
        if json_out:
            _print_json(res)
        else:
            _out.print(f"{res['badge_id']}: clock set, it was off by {res['drift_s']:+.2f} s")

    @config_app.command("get")
    def config_get(key: str = typer.Argument(None, help="One key (default: all)."),
                   port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE, branch: str = BRANCH,
                 connect_timeout_s: float = TIMEOUT, json_out: bool = JSON,
                   settings_file: str = SETTINGS) -> None:
        """Read the badge's recording config (gain, VAD sensitivity, lengths, warning level)."""
        from companion import badgeops

        s = _load(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
        cfg = _run(badgeops.config_get(s, _target(port, ble, hci, keystore), key))
        if json_out:
            _print_json(cfg)
            return
        table = Table(title=f"config of {cfg['badge_id']}")
        table.add_column("key")
        table.add_column("value", justify="right")
        table.add_column("meaning")
        for k, v in cfg["config"].items():
            table.add_row(k, str(v), badgeops.CONFIG_DOCS.get(k, ""))
        _out.print(table)

    @config_app.command("set")
    def config_set(assignments: list[str] = typer.Argument(..., help="KEY=VALUE (or KEY VALUE)."),
                   port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE, branch: str = BRANCH,
                 connect_timeout_s: float = TIMEOUT, json_out: bool = JSON,
                   settings_file: str = SETTINGS) -> None:
        """Change the badge's recording config; values are checked before they are sent."""
        from companion import badgeops

        s = _load(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
        try:
            changes = badgeops.parse_assignments(assignments)
        except badgeops.OpsError as exc:
            raise _fail(str(exc), 2) from None
        cfg = _run(badgeops.config_set(s, _target(port, ble, hci, keystore), changes))
        if json_out:
            _print_json(cfg)
        else:
            done = ", ".join(f"{k}={cfg['config'][k]}" for k in changes)
            _out.print(f"{cfg['badge_id']}: {done}")

    @config_app.command("path")
    def config_path(json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
        """Where the companion's settings file is (and whether it exists yet)."""
        from pathlib import Path

        p = Path(settings_file) if settings_file else st.settings_path()
        if json_out:
            _print_json({"path": str(p), "exists": p.exists()})
        else:
            _out.print(str(p) + ("" if p.exists() else "  (not created yet: defaults apply)"))

    @config_app.command("init")
    def config_init(force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
                    json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
        """Write a settings file listing every option, commented out at its default."""
        from pathlib import Path

        p = Path(settings_file) if settings_file else st.settings_path()
        if p.exists() and not force:
            raise _fail(f"{p} exists; edit it, or pass --force to start over", 2)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(st.template(), encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {p}: {exc.strerror}") from None
        if json_out:
            _print_json({"path": str(p), "written": True})
        else:
            _out.print(f"wrote {p}")

    @config_app.command("show")
    def config_show(json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
        """The effective companion settings, each with its default and meaning."""
        s = _load(settings_file)
        if json_out:
            _print_json(st.as_dict(s))
            return
        table = Table(title="companion settings")
        for col in ("key", "value", "default", "meaning"):
            table.add_column(col)
        for key, value, default, doc in st.describe(s):
            shown = repr(value) if value != default else f"[dim]{value!r}[/]"
            table.add_row(key, shown, repr(default), doc)
        _out.print(table)

    @app.command()
    def logs(port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE, branch: str = BRANCH,
                 connect_timeout_s: float = TIMEOUT,
             tail: int = typer.Option(0, "--tail", help="Only the last N events (0: all)."),
             json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
        """The badge's event log (boots, sessions, recoveries, errors, syncs)."""
        from companion import badgeops

        s = _load(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
        res = _run(badgeops.logs(s, _target(port, ble, hci, keystore), tail))
        if json_out:
            _print_json(res)
            return
        table = Table(title=f"event log of {res['badge_id']}")
        for col in ("time (UTC)", "event", "detail"):
            table.add_column(col)
        for ev in res["events"]:
            table.add_row(ev.get("time", ""), ev.get("event", ""), ev.get("detail", ""))
        _out.print(table)

    @app.command()
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
        json_out: bool = JSON,
        settings_file: str = SETTINGS,
    ) -> None:
        """Use the computer's microphone as a badge: same recording path, same spool."""
        from companion import listen as lis

        if list_devices:
            try:
                devs = lis.list_inputs()
            except lis.ListenError as exc:
                raise _fail(str(exc)) from None
            if json_out:
                _print_json(devs)
            else:
                for d in devs:
                    _out.print(f"{d['index']:>3}  {d['name']}  ({d['channels']} ch)")
            return
        if not mic:
            raise _fail("say where the audio comes from: --mic", 2)
        s = _load(settings_file, {
            "listen.device": device, "listen.duration_s": duration_s, "listen.badge_id": badge_id,
            "listen.agent": agent, "spool.path": spool, "badge.gain_db": gain_db,
            "badge.vad_sensitivity": vad_sensitivity, "badge.max_clip_s": max_clip_s,
            "badge.max_session_min": max_session_min, "badge.storage_warn_pct": storage_warn_pct,
            "branch.operator": operator, "branch.id": branch})
        try:
            report = lis.listen(s, progress=None if json_out else _out)
        except lis.ListenError as exc:
            raise _fail(str(exc)) from None
        if json_out:
            _print_json(report.as_dict())
        else:
            lis.render(report, _out)
        for w in report.warnings:
            _err.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
        if report.stopped.startswith("mic_error"):
            raise _fail(f"the microphone stopped ({report.stopped[11:]}); "
                        f"{len(report.clips)} complete clip(s) kept in {report.spool}")
        if report.stopped == "disk_full":
            raise _fail(f"the spool disk is full: stopped; {len(report.clips)} complete clip(s) "
                        f"kept in {report.spool}, the clip being recorded was dropped")
