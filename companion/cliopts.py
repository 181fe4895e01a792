"""What every `badgekit companion` command shares: options, output, and one guard.

`guard` wraps a command: it adds ``-v/--verbose`` and ``-q/--quiet`` (how much the
companion logs on stderr) and turns any `CompanionError` into one ``error:`` line and
the error's exit code (1: the badge or a file said no; 2: the input was wrong), never a
traceback. `say` prints text as it is (a badge id like ``[B1]`` is not rich markup);
`print_table` prints a rich table; `print_json` one JSON document.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from badgecore import cli_convention as convention
from badgecore.cli_convention import plain

__all__ = ["BRANCH", "HCI", "JSON", "JSON_TABLES", "KEYSTORE", "SETTINGS", "PORT", "BLE",
           "TIMEOUT", "VERBOSE", "QUIET", "fail", "guard", "say", "warn", "print_json",
           "print_table", "load_settings", "target", "run", "out", "err"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

HCI = typer.Option(None, "--hci", envvar="BADGEKIT_BLE_HCI",
                   help="bumble HCI transport for BLE (e.g. tcp-client:127.0.0.1:9001); "
                        "default: the system's Bluetooth.")
KEYSTORE = typer.Option(None, "--keystore", envvar="BADGEKIT_KEYSTORE",
                        help="Branch key store file (default: <config dir>/keystore.json).")
BRANCH = typer.Option(None, "--branch", help="This branch's id (default: from the settings).")
JSON = typer.Option(False, "--json", help="Print one JSON document.")
JSON_TABLES = typer.Option(False, "--json", help="Print one JSON document instead of tables.")
SETTINGS = typer.Option(None, "--settings", help="Settings file to use instead of the default.",
                        envvar="BADGEKIT_COMPANION_SETTINGS")
PORT = typer.Option(None, "--port", help="Serial port of the badge (e.g. /dev/ttyACM0).")
BLE = typer.Option(None, "--ble", help="BLE address of the badge.")
TIMEOUT = typer.Option(None, "--connect-timeout-s", help="Give up on a silent badge after (s).")
VERBOSE = typer.Option(False, "-v", "--verbose", help="Log what the companion does (stderr).")
QUIET = typer.Option(False, "-q", "--quiet", help="Log only errors.")

F = TypeVar("F", bound=Callable[..., Any])


def fail(msg: str, code: int = 1) -> typer.Exit:
    """Print `error: msg` on stderr and give the Exit to raise (no traceback for staff)."""
    err.print(f"[red]error:[/] {escape(msg)}", soft_wrap=True)
    return typer.Exit(code)


def say(text: str, *, to_err: bool = False) -> None:
    """Print ``text`` literally: brackets in badge ids or messages are not markup."""
    plain(text, err=to_err)


def warn(text: str) -> None:
    """A ``warning:`` line on stderr."""
    err.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_table(table: Any, console: Console | None = None) -> None:
    """A rich table, its last line ended (a terminal prompt starts on a line of its own)."""
    convention.print_table(table, console or out)


def load_settings(path: str | None, flags: dict[str, Any] | None = None) -> Any:
    """The settings file (or the default one) with the command's flags on top (a bad one:
    SettingsError, exit code 2)."""
    from pathlib import Path

    from companion import settings as st

    return st.override(st.load(Path(path) if path else None), flags or {})


def target(port: str | None, ble: str | None, hci: str | None = None,
           keystore: str | None = None) -> Any:
    """The one badge ``--port`` or ``--ble`` names (`companion.link.Target`; both: exit 2)."""
    from companion.link import Target

    return Target.from_options(port, ble, hci, keystore)


def run(coro: Any, interrupted: str = "interrupted") -> Any:
    """Run a command's async work; Ctrl-C ends with ``interrupted`` and exit code 130."""
    import asyncio

    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        raise fail(interrupted, 130) from None


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (a test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


_log_handler: _Stderr | None = None


def _verbosity(verbose: bool, quiet: bool) -> None:
    """The companion's log lines on stderr: -v all of them, -q errors only, else warnings."""
    global _log_handler
    if verbose and quiet:
        raise fail("give -v or -q, not both", 2)
    logger = logging.getLogger("companion")
    if _log_handler is None:
        _log_handler = _Stderr()
        _log_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(_log_handler)
        logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)


def guard(fn: F) -> F:
    """Make ``fn`` a companion command: -v/-q added, CompanionError as one line + exit code."""
    from companion.errors import CompanionError

    @functools.wraps(fn)
    def command(*args: Any, verbose: bool = False, quiet: bool = False, **kwargs: Any) -> Any:
        _verbosity(verbose, quiet)
        try:
            return fn(*args, **kwargs)
        except CompanionError as exc:
            raise fail(str(exc), exc.exit_code) from None

    sig = inspect.signature(fn, eval_str=True)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=bool)
             for name, default in (("verbose", VERBOSE), ("quiet", QUIET))]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    command.__signature__ = sig.replace(parameters=params + extra)  # type: ignore[attr-defined]
    command.__annotations__ = {**{p.name: p.annotation for p in params},
                               "verbose": bool, "quiet": bool, "return": sig.return_annotation}
    return command  # type: ignore[return-value]
