"""Compose a part's Typer app from command modules, each owning its own commands.

A part's `cli.py` lists modules that define `register(app)`; a module that is not
built yet is skipped, so one part's missing command never breaks the others.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["compose"]


def compose(app: typer.Typer, modules: list[str]) -> typer.Typer:
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        mod.register(app)
    return app
