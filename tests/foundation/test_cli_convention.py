"""Every `badgekit` command follows docs/cli.md: -v/-q, --help, unit suffixes, --model a
path, hidden old option names, --version, literal messages, bad input exits 2."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from importlib import metadata

import pytest
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.main import get_command
from typer.testing import CliRunner

from badgecore import cli_convention
from badgecore.cli_convention import BAD_INPUT, fail, plain
from badgekit.cli import app

UNITS = {"ms", "s", "min", "hours", "kib", "mib", "pct", "db", "mah"}
SPELLED_OUT = {"sec", "secs", "second", "seconds", "minute", "minutes", "mins", "hour", "msec",
               "millis", "kb", "mb", "kbytes", "percent", "decibel", "decibels"}
# Options whose value is a plain number without a unit (a fraction, a count).
UNITLESS_FLOATS = {"--gate-keep"}
# Names that contain a unit word but mean something else.
NOT_UNITS = {"--db"}


def _commands() -> list[tuple[list[str], TyperCommand]]:
    found: list[tuple[list[str], TyperCommand]] = []

    def walk(group: TyperGroup, path: list[str]) -> None:
        for name, cmd in group.commands.items():
            if isinstance(cmd, TyperGroup):
                walk(cmd, [*path, name])
            else:
                found.append(([*path, name], cmd))

    root = get_command(app)
    assert isinstance(root, TyperGroup)
    walk(root, [])
    return found


COMMANDS = _commands()
IDS = [" ".join(path) for path, _ in COMMANDS]


def _options(cmd: TyperCommand) -> list[TyperOption]:
    return [p for p in cmd.params if isinstance(p, TyperOption)]


def _parse(cmd: TyperCommand, args: list[str]) -> dict:  # type: ignore[type-arg]
    ctx = cmd.make_context(cmd.name, args, resilient_parsing=True)
    return ctx.params


def test_walk_finds_every_part():
    tops = {path[0] for path, _ in COMMANDS}
    assert {"doctor", "demo", "model", "sim", "gateway", "hardware", "release", "inbox", "evidence"} <= tops
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_help_and_verbosity(path, cmd):
    names = {n for o in _options(cmd) for n in o.opts}
    assert {"-v", "--verbose", "-q", "--quiet"} <= names
    _parse(cmd, ["-v", "-q"])
    res = CliRunner().invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "--verbose" in res.output


def _unit_problem(name: str) -> str | None:
    if name in NOT_UNITS or not name.startswith("--"):
        return None
    words = name[2:].split("-")
    for i, word in enumerate(words):
        if i == 0 and word in ("min", "max", "no"):
            continue  # minimum / maximum / a negated flag, not minutes
        if word in SPELLED_OUT:
            return f"{name}: spell the unit as one of {sorted(UNITS)}"
        if word in UNITS and i != len(words) - 1:
            return f"{name}: the unit goes last"
    return None


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_unit_suffixes(path, cmd):
    problems = []
    for opt in _options(cmd):
        if opt.hidden:
            continue  # an old name kept for one release
        for name in (*opt.opts, *opt.secondary_opts):
            if (p := _unit_problem(name)) is not None:
                problems.append(p)
        long = [n for n in opt.opts if n.startswith("--")]
        if opt.type_descriptor.annotation is float and long and long[0] not in UNITLESS_FLOATS:
            if long[0].rsplit("-", 1)[-1] not in UNITS:
                problems.append(f"{long[0]}: a float option names its unit")
    assert not problems, problems


def test_unit_rule_catches_the_old_names():
    assert _unit_problem("--hours-speech") and _unit_problem("--mic-seconds")
    assert _unit_problem("--speech-hours") is None and _unit_problem("--min-clip-ms") is None


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_model_is_a_path(path, cmd):
    for opt in _options(cmd):
        if "--model" in opt.opts:
            assert opt.type_descriptor.is_path, f"{' '.join(path)} --model is not a path"


OLD_NAMES = [
    (["demo"], "--mic-seconds", "5", "mic_duration_s", 5.0),
    (["sim", "record"], "--gain", "3", "gain_db", 3.0),
    (["sim", "record"], "--seconds", "2", "duration_s", 2.0),
    (["gateway", "run"], "--settle", "0.5", "settle_s", 0.5),
    (["gateway", "run"], "--confirm-wait", "1", "confirm_wait_s", 1.0),
    (["gateway", "receive"], "--idle-exit", "4", "idle_exit_s", 4.0),
    (["hardware", "budget"], "--hours-speech", "2", "hours_speech", 2.0),
    (["hardware", "budget"], "--hours-meeting", "7", "hours_meeting", 7.0),
]


def _command(path: list[str]) -> TyperCommand:
    return dict((" ".join(p), c) for p, c in COMMANDS)[" ".join(path)]


@pytest.mark.parametrize(("path", "old", "value", "param", "want"), OLD_NAMES,
                         ids=[f"{' '.join(p)} {o}" for p, o, *_ in OLD_NAMES])
def test_old_names_parse_hidden(path, old, value, param, want):
    cmd = _command(path)
    assert _parse(cmd, [old, value])[param] == want
    new = next(o for o in _options(cmd) if o.name == param and not o.hidden)
    assert _parse(cmd, [new.opts[0], value])[param] == want
    assert old not in CliRunner().invoke(app, [*path, "--help"]).output.split()


def test_old_name_runs_like_the_new_one():
    new = CliRunner().invoke(app, ["hardware", "budget", "--meeting-hours", "12"])
    old = CliRunner().invoke(app, ["hardware", "budget", "--hours-meeting", "12"])
    assert new.exit_code == old.exit_code == BAD_INPUT
    assert new.output == old.output


def test_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output == f"badgekit {metadata.version('badgekit')}\n"


def test_messages_print_literally(capsys):
    plain("clip from [badge] BADGE0001 [red]")
    exc = fail("no clips for [badge]", BAD_INPUT)
    out, err = capsys.readouterr()
    assert out == "clip from [badge] BADGE0001 [red]\n"
    assert err == "error: no clips for [badge]\n"
    assert isinstance(exc, typer.Exit) and exc.exit_code == BAD_INPUT


def test_set_verbosity_levels(monkeypatch):
    import logging

    seen = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.append(kw["level"]))
    cli_convention.set_verbosity(True, False)
    cli_convention.set_verbosity(False, True)
    cli_convention.set_verbosity(False, False)
    assert seen == [logging.DEBUG, logging.WARNING, logging.INFO]


MISSING = "/nonexistent/[badge]"
BAD_INPUTS = [
    ["model", "check", "--model", MISSING],
    ["gateway", "transcribe", f"{MISSING}.wav"],
    ["gateway", "check", MISSING],
    ["gateway", "rates", MISSING],
    ["gateway", "key", "show", "--key", MISSING],
    ["sim", "record", f"{MISSING}.wav", "--out", "OUT"],
    ["sim", "badge", "--clips", MISSING],
    ["sim", "store", "status", MISSING],
    ["hardware", "pins", "--rev", "nope"],
    ["hardware", "bom", "--file", f"{MISSING}.toml"],
    ["hardware", "budget", "--profile", "nope"],
    ["release", "build", "--key", MISSING, "--version", "1.0.0", "--out", "OUT"],
    ["release", "verify", MISSING, "--pubkey", MISSING],
    ["inbox", "import", MISSING, "--db", "DB"],
    ["evidence", "verify", f"{MISSING}.zip"],
    ["gateway", "run", "--spool", MISSING, "--once"],
    ["demo", "--input", f"{MISSING}.wav", "--no-transcribe", "--no-inbox", "--keep", "OUT"],
    ["sim", "export", __file__, "--out", "OUT"],
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=[" ".join(a[:2]) for a in BAD_INPUTS])
def test_bad_input_exits_2(args, tmp_path):
    args = [str(tmp_path / a) if a in ("OUT", "DB") else a for a in args]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == BAD_INPUT, (res.exit_code, res.output)
    if any(MISSING in a for a in args):
        assert "[badge]" in res.output, res.output


@pytest.mark.parametrize("args", [["hardware", "pins"], ["hardware", "bom"], ["hardware", "budget"]],
                         ids=lambda a: " ".join(a))
def test_tables_end_with_a_newline(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and res.output.endswith("\n")


def test_table_cells_print_literally():
    from gateway.compliance import check_session
    from gateway.compliance_cmd import _table

    transcript = {"session": "[badge]-s1", "segments": [{"start": 0.0, "end": 1.0, "text": "[badge] 你好"}]}
    buf = io.StringIO()
    with redirect_stdout(buf):
        _table(check_session(transcript, None))
    assert "session [badge]-s1" in buf.getvalue()
