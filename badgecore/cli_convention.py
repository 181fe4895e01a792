"""One convention for every badgekit command line (docs/cli.md).

Exit codes, `-v/-q`, `--version`, messages printed without rich markup, and renamed
options that keep their old name as a hidden alias for one release. A part's commands
use these helpers; `ConventionGroup` (the top command's group class) adds what a command
does not declare itself: `-v/-q` and the hidden old names.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.main import get_command

__all__ = [
    "BAD_INPUT",
    "FINDINGS",
    "OK",
    "QUIET",
    "VERBOSE",
    "ConventionGroup",
    "apply_convention",
    "fail",
    "plain",
    "print_table",
    "renamed",
    "set_verbosity",
    "version_option",
]

OK = 0
FINDINGS = 1  # the command ran and found something wrong (a failed check, a gap, a finding)
BAD_INPUT = 2  # the command could not run: missing or unreadable file, bad value, bad config

VERBOSE = typer.Option(False, "-v", "--verbose", help="Log debug detail.")
QUIET = typer.Option(False, "-q", "--quiet", help="Log warnings and errors only.")

_RENAMED_ATTR = "__badgekit_renamed__"
_VERBOSITY_NAMES = {"-v", "--verbose", "-q", "--quiet"}
_F = TypeVar("_F", bound=Callable[..., Any])


def set_verbosity(verbose: bool, quiet: bool) -> None:
    """Configure logging once for the command: -v debug, -q warnings, else info."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _console(err: bool) -> Console:
    # Text from files, badges and exceptions may hold brackets ("[badge]"); markup off keeps them.
    return Console(stderr=err, markup=False, highlight=False, soft_wrap=True)


def plain(message: str, *, err: bool = False) -> None:
    """Print one message literally (no markup, no highlighting, no wrapping)."""
    _console(err).print(message)


def fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    """Print `error: message` to stderr literally; return the Exit to raise."""
    plain(f"error: {message}", err=True)
    return typer.Exit(code)


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a table so the output ends with a newline, piped or not."""
    out = console or Console()
    out.print(table, end="\n")


def renamed(**old_names: str) -> Callable[[_F], _F]:
    """Keep an option's old name working, hidden from --help: `@renamed(settle_s="--settle")`.

    Keys are the parameter names of the command function; `ConventionGroup` adds the
    hidden aliases when it builds the command tree.
    """

    def mark(fn: _F) -> _F:
        setattr(fn, _RENAMED_ATTR, {**getattr(fn, _RENAMED_ATTR, {}), **old_names})
        return fn

    return mark


def _package_version() -> str:
    try:
        return metadata.version("badgekit")
    except metadata.PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        plain(f"badgekit {_package_version()}")
        raise typer.Exit(OK)


def version_option() -> Any:
    """`--version` for the top command: prints `badgekit <version>` and exits 0."""
    return typer.Option(False, "--version", callback=_show_version, is_eager=True, expose_value=False,
                        help="Print the badgekit version and exit.")


def _on_verbose(value: bool) -> None:
    if value:
        set_verbosity(True, False)


def _on_quiet(value: bool) -> None:
    if value:
        set_verbosity(False, True)


def _verbosity_options() -> list[Any]:
    # Built by Typer itself so the options match its own parameter classes.
    proto = typer.Typer()

    @proto.command()
    def _proto(
        verbose: bool = typer.Option(False, "-v", "--verbose", callback=_on_verbose, expose_value=False,
                                     help="Log debug detail."),
        quiet: bool = typer.Option(False, "-q", "--quiet", callback=_on_quiet, expose_value=False,
                                   help="Log warnings and errors only."),
    ) -> None:
        pass

    cmd = get_command(proto)
    return [p for p in cmd.params if isinstance(p, TyperOption) and set(p.opts) & _VERBOSITY_NAMES]



def _add_aliases(cmd: Any) -> None:
    old_names: dict[str, str] = getattr(cmd.callback, _RENAMED_ATTR, {})
    if not old_names:
        return
    taken = {name for p in cmd.params for name in (*p.opts, *p.secondary_opts)}
    params = []
    for param in cmd.params:
        params.append(param)
        old = old_names.get(param.name or "")
        if old and old not in taken and isinstance(param, TyperOption):
            alias = copy.copy(param)
            alias.opts = [old]
            alias.secondary_opts = []
            alias.hidden = True
            params.append(alias)
    cmd.params = params


def _add_verbosity(cmd: Any, options: list[Any]) -> None:
    names = {name for p in cmd.params for name in (*p.opts, *p.secondary_opts)}
    if names & _VERBOSITY_NAMES:
        return
    cmd.params.extend(copy.copy(o) for o in options)


def apply_convention(group: Any) -> None:
    """Give every command under `group` its hidden old option names and `-v/-q`."""
    options = _verbosity_options()

    def walk(node: Any) -> None:
        for cmd in node.commands.values():
            if isinstance(cmd, TyperGroup):
                walk(cmd)
            elif isinstance(cmd, TyperCommand):
                _add_aliases(cmd)
                _add_verbosity(cmd, options)

    walk(group)


class ConventionGroup(TyperGroup):
    """The top command's group: applies the convention to the whole tree it is built from."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        apply_convention(self)
