"""A part's command module that fails to import is an error, never a missing command."""

from __future__ import annotations

import sys

import pytest
import typer

from badgecore.partcli import compose, mount


@pytest.fixture
def modules(tmp_path, monkeypatch):
    (tmp_path / "good_cmds.py").write_text(
        "def register(app):\n    @app.command('hello')\n    def hello():\n        print('hi')\n")
    (tmp_path / "broken_cmds.py").write_text("import a_module_that_is_not_installed\n")
    (tmp_path / "part_app.py").write_text("import typer\napp = typer.Typer()\n@app.command()\ndef x():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for m in ("good_cmds", "broken_cmds", "part_app"):
        sys.modules.pop(m, None)


def test_compose_registers_each_module(modules):
    app = compose(typer.Typer(), ["good_cmds"])
    assert [c.name for c in app.registered_commands] == ["hello"]


def test_compose_raises_on_a_broken_import_instead_of_dropping_the_command(modules):
    with pytest.raises(ModuleNotFoundError, match="a_module_that_is_not_installed"):
        compose(typer.Typer(), ["good_cmds", "broken_cmds"])


def test_compose_raises_on_a_missing_module(modules):
    with pytest.raises(ModuleNotFoundError):
        compose(typer.Typer(), ["no_such_cmds"])


def test_mount_adds_the_part_app(modules):
    app = typer.Typer()
    mount(app, "part_app", "app", "part", "A part.")
    assert [g.name for g in app.registered_groups] == ["part"]
