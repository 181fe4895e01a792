"""Compose the command line from parts, each owning its own commands.

A part's `cli.py` lists the modules that define `register(app)`; the top `badgekit`
command mounts each part's app. Every module listed is part of the product, so one that
fails to import is an error that names the module, never a command that silently goes
missing.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["compose", "mount"]


def compose(app: typer.Typer, modules: list[str]) -> typer.Typer:
    """Let each module in `modules` register its commands on `app`."""
    for name in modules:
        importlib.import_module(name).register(app)
    return app


def mount(app: typer.Typer, module: str, attr: str, name: str, help: str) -> None:
    """Add the Typer app `module.attr` to `app` as the sub-command `name`."""
    app.add_typer(getattr(importlib.import_module(module), attr), name=name, help=help)
