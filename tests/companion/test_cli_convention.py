"""Every `badgekit companion` command follows one convention (walked from typer's click tree):
-v/-q accepted, --help works, unit-carrying option names end in their unit, both --port
and --ble exit 2, and text with brackets (a badge id like [B1]) prints literally."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from companion.cli import app

# a unit in an option's help -> the suffix its name carries
UNITS = {r"\(s\)": "-s", r"\(min\)": "-min", r"\(%\)": "-pct", r"\bKiB\b": "-kib",
         r"\bMiB\b": "-mib", r"\(h\)": "-hours", r"\(dB\)": "-db"}
# the name says a unit the convention spells otherwise
WRONG = ("-sec", "-secs", "-seconds", "-minutes", "-mins", "-percent", "-kb", "-mb", "-ms")


def _commands() -> list[tuple[list[str], Any]]:
    out = []

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):  # a group (typer carries its own click: duck-typed)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            out.append((path, cmd))

    walk(typer.main.get_command(app), [])
    return out


COMMANDS = _commands()
IDS = [" ".join(p) for p, _ in COMMANDS]


def _run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(app, args, env=env)


def test_the_walk_finds_every_command():
    assert {"enroll", "sync", "status", "scan", "set-time", "logs", "listen", "case",
            "clip-keys", "update", "config get", "config set", "config path", "config init",
            "config show"} <= set(IDS)


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_help_and_verbosity_flags(path, cmd):
    res = _run([*path, "--help"])
    assert res.exit_code == 0 and "Usage" in res.output, res.output
    names = {o for p in cmd.params for o in p.opts}
    assert {"-v", "--verbose", "-q", "--quiet"} <= names, names
    for flag in ("-v", "-q"):
        r = _run([*path, flag, "--help"])
        assert r.exit_code == 0, (flag, r.output)


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=IDS)
def test_option_names_carry_their_unit(path, cmd):
    for p in cmd.params:
        if p.param_type_name != "option":
            continue
        long = [o for o in p.opts if o.startswith("--")]
        help_text = p.help or ""
        for pattern, suffix in UNITS.items():
            if re.search(pattern, help_text):
                assert all(o.endswith(suffix) for o in long), (long, help_text)
        assert not any(o.endswith(WRONG) for o in long), long


ONE_BADGE = [(p, c) for p, c in COMMANDS
             if {"--port", "--ble"} <= {o for q in c.params for o in q.opts}
             and p != ["sync"] and p != ["scan"]]


@pytest.mark.parametrize("path,cmd", ONE_BADGE, ids=[" ".join(p) for p, _ in ONE_BADGE])
def test_port_and_ble_at_once_exit_2_with_one_line(path, cmd, tmp_path):
    extra = {"config set": ["gain_db=6"], "enroll": ["--agent", "A"],
             "update": ["--bundle", str(tmp_path / "none.bkfw")]}.get(" ".join(path), [])
    res = _run([*path, *extra, "--port", "/dev/null", "--ble", "AA:BB:CC:DD:EE:FF",
                "--settings", str(tmp_path / "s.toml")] if _takes(cmd, "--settings") else
               [*path, *extra, "--port", "/dev/null", "--ble", "AA:BB:CC:DD:EE:FF"],
               env={"BADGEKIT_CONFIG": str(tmp_path), "BADGEKIT_DATA": str(tmp_path),
                    "BADGEKIT_KEYSTORE": str(tmp_path / "ks.json")})
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert isinstance(res.exception, SystemExit), res.exception
    assert res.output.count("error:") == 1 and "--port" in res.output and "--ble" in res.output


def _takes(cmd: Any, opt: str) -> bool:
    return any(opt in p.opts for p in cmd.params)


def test_bracketed_text_prints_literally_and_tables_end_with_a_newline(tmp_path):
    folder = tmp_path / "[badge]"
    folder.mkdir()
    path = folder / "[B1].toml"
    res = _run(["config", "path", "--settings", str(path)])
    assert res.exit_code == 0 and f"{path}  (not created yet" in res.stdout, res.stdout

    path.write_text("[branch]\nid = '[B1]'\n")
    res = _run(["config", "show", "--settings", str(path)])
    assert res.exit_code == 0, res.output
    assert "'[B1]'" in res.stdout and res.stdout.endswith("\n"), res.stdout

    res = _run(["config", "init", "--settings", str(path)])  # exists: one literal error line
    assert res.exit_code == 2 and f"error: {path} exists" in res.output, res.output

    res = _run(["status", "--port", str(folder / "[B1]"), "-q"])
    assert res.exit_code == 1 and "[B1]" in res.output and "Traceback" not in res.output, res.output


def test_verbose_and_quiet_together_are_bad_usage(tmp_path):
    res = _run(["config", "path", "-v", "-q", "--settings", str(tmp_path / "s.toml")])
    assert res.exit_code == 2 and "error:" in res.output


@pytest.mark.parametrize("args,words", [
    (["update", "--bundle", "{tmp}/none.bkfw", "--port", "/dev/null"], "No such file"),
    (["update", "--bundle", "{tmp}/none.bkfw", "--port", "/dev/null", "--pubkey", "{tmp}/k.pub"],
     "cannot read the public key"),
    (["case", "--session", "{tmp}/spool/B1/s1", "--case", "C-1"], "no such folder"),
    (["config", "set", "bogus=1", "--port", "/dev/null"], "unknown config key bogus"),
    (["config", "set", "gain_db=loud", "--port", "/dev/null"], "not a whole number"),
    (["config", "show", "--settings", "{tmp}/bad.toml"], "nonsense"),
])
def test_bad_input_exits_2_with_one_line(args, words, tmp_path):
    (tmp_path / "bad.toml").write_text("[nonsense]\nx = 1\n")
    res = _run([a.replace("{tmp}", str(tmp_path)) for a in args],
               env={"BADGEKIT_CONFIG": str(tmp_path), "BADGEKIT_DATA": str(tmp_path)})
    assert res.exit_code == 2 and res.output.count("error:") == 1, (res.exit_code, res.output)
    assert words in res.output, res.output
