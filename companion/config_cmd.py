"""`badgekit companion config get | set | path | init | show`: badge config and settings file.

``get``/``set`` read and change a badge's recording config (`companion.badgeops`), values
checked before they are sent; ``path``/``init``/``show`` deal with the companion's own
settings file (`companion.settings`). An unknown key or a bad value exits 2.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from companion import settings as st
from companion.cliopts import (
    BLE,
    BRANCH,
    HCI,
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
)
from companion.cliopts import JSON_TABLES as JSON
from companion.cliopts import fail as _fail
from companion.cliopts import print_json as _print_json

__all__ = ["register", "config_get", "config_set", "config_path", "config_init", "config_show"]


@guard
def config_get(key: str = typer.Argument(None, help="One key (default: all)."),
               port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE,
               branch: str = BRANCH, connect_timeout_s: float = TIMEOUT, json_out: bool = JSON,
               settings_file: str = SETTINGS) -> None:
    """Read the badge's recording config (gain, VAD sensitivity, lengths, warning level)."""
    from companion import badgeops

    s = load_settings(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
    cfg = run(badgeops.config_get(s, target(port, ble, hci, keystore), key))
    if json_out:
        _print_json(cfg)
        return
    table = Table(title=escape(f"config of {cfg['badge_id']}"))
    table.add_column("key")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    for k, v in cfg["config"].items():
        table.add_row(escape(k), escape(str(v)), escape(badgeops.CONFIG_DOCS.get(k, "")))
    print_table(table)


@guard
def config_set(assignments: list[str] = typer.Argument(..., help="KEY=VALUE (or KEY VALUE)."),
               port: str = PORT, ble: str = BLE, hci: str = HCI, keystore: str = KEYSTORE,
               branch: str = BRANCH, connect_timeout_s: float = TIMEOUT, json_out: bool = JSON,
               settings_file: str = SETTINGS) -> None:
    """Change the badge's recording config; values are checked before they are sent."""
    from companion import badgeops

    s = load_settings(settings_file, {"branch.id": branch, "scan.connect_timeout_s": connect_timeout_s})
    changes = badgeops.parse_assignments(assignments)
    cfg = run(badgeops.config_set(s, target(port, ble, hci, keystore), changes))
    if json_out:
        _print_json(cfg)
    else:
        done = ", ".join(f"{k}={cfg['config'][k]}" for k in changes)
        say(f"{cfg['badge_id']}: {done}")


@guard
def config_path(json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
    """Where the companion's settings file is (and whether it exists yet)."""
    from pathlib import Path

    p = Path(settings_file) if settings_file else st.settings_path()
    if json_out:
        _print_json({"path": str(p), "exists": p.exists()})
    else:
        say(str(p) + ("" if p.exists() else "  (not created yet: defaults apply)"))


@guard
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
        say(f"wrote {p}")


@guard
def config_show(json_out: bool = JSON, settings_file: str = SETTINGS) -> None:
    """The effective companion settings, each with its default and meaning."""
    s = load_settings(settings_file)
    if json_out:
        _print_json(st.as_dict(s))
        return
    table = Table(title="companion settings")
    for col in ("key", "value", "default", "meaning"):
        table.add_column(col)
    for key, value, default, doc in st.describe(s):
        shown = escape(repr(value)) if value != default else f"[dim]{escape(repr(value))}[/]"
        table.add_row(escape(key), shown, escape(repr(default)), escape(doc))
    print_table(table)


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Badge config (get/set) and the settings file (path/show/init).",
                             no_args_is_help=True)
    app.add_typer(config_app, name="config")
    config_app.command("get")(config_get)
    config_app.command("set")(config_set)
    config_app.command("path")(config_path)
    config_app.command("init")(config_init)
    config_app.command("show")(config_show)
