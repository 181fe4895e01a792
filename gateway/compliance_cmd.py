"""`badgekit gateway check` and `badgekit gateway rates`: compliance findings on transcripts.

    badgekit gateway check SESSION_DIR|TRANSCRIPT.json [--json] [--rules FILE]
    badgekit gateway check FIRST SECOND … [--json]    # a related group, in meeting order
    badgekit gateway rates PATH… [--json]             # 开口率 per item and per agent
                                                      # (PATH may hold many sessions)

A path is a transcript JSON file, a session folder (with a transcript, or a spool
session of badge clips, which is transcribed first), or a folder holding many sessions
(e.g. a receiver's output). With one session, `--json` prints `{"items": [{"id", "kind",
"severity", "status", "text", "start", …}], …}`; with several it prints `{"sessions":
[<that object>, …]}` where a required item said in an earlier meeting of the same case
id counts for the later ones.
Exit status: 0 when every session is clean, 1 when a violation or a missing required item
was found, 2 on bad input (one line on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from badgecore.cli_convention import BAD_INPUT, FINDINGS, fail

__all__ = ["register"]

_RULES_HELP = "Rule pack (TOML); default: the bundled life and savings pack."


def _fail(message: str) -> typer.Exit:
    return fail(message, BAD_INPUT)


def _transcribe(folder: Path, model: str | None) -> dict:  # type: ignore[type-arg]
    """Transcribe a session folder of clips that has no transcript yet."""
    from gateway.transcribe import EngineSettings, TranscribeError, Transcriber, TranscribeSettings

    typer.echo(f"{folder}: no transcript yet, transcribing the clips…", err=True)
    try:
        result = Transcriber(TranscribeSettings(engine=EngineSettings(model_dir=model))).transcribe(folder)
    except TranscribeError as exc:
        raise _fail(f"{folder}: {exc}") from None
    return result.to_json()


def _load(paths: list[Path], rules: Path | None, model: str | None = None):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from gateway.compliance import ComplianceError, check_session, load_rules
    from gateway.compliance.transcript import NoTranscriptError, add_sidecars, find_sessions
    from gateway.delivery.integrity import folder_integrity

    try:
        pack = load_rules(rules)
        out = []
        for p in (s for given in paths for s in find_sessions(given)):
            try:
                found = check_session(p, pack)
            except NoTranscriptError:
                found = check_session(add_sidecars(_transcribe(p, model), p), pack)
            out.append(replace(found, integrity=folder_integrity(p)))
        return out
    except ComplianceError as exc:
        raise _fail(str(exc)) from None


def _table(f) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    title = f"session {f.session}" + (f"  agent {f.agent}" if f.agent else "") + (
        f"  case {f.case_id}" if f.case_id else "")
    t = Table(title=Text(title))
    for col in ("item", "severity", "status", "time", "clip", "transcript"):
        t.add_column(col, overflow="fold")
    kind = None
    for r in f.items:
        if kind is not None and r.kind != kind:
            t.add_section()
        kind = r.kind
        d = r.to_dict()
        colour = "green" if r.ok else "red"
        if r.kind != "required" and r.status == "missing":
            colour = "dim"
        when = "" if d["start"] is None else f"{d['start']:.1f}s"
        clip = d["clip"] or ""
        if clip and d["clip_start"] is not None:
            clip += f" @{d['clip_start']:.1f}s"
        text = d["text"]
        if r.credited_from:
            text = f"(said in session {r.credited_from}) {text}"
        elif not text and r.dropped:
            text = f"(not counted, {r.dropped[0].reason}) {r.dropped[0].context}"
        t.add_row(Text(f"{r.id}\n{r.title}"), r.severity, f"[{colour}]{r.status}[/]", when, Text(clip), Text(text))
    Console().print(t)
    i = f.integrity
    if i is not None:
        colour = "green" if i["status"] == "verified" else "yellow" if i["status"] == "unauthenticated" else "red"
        Console().print(
            f"integrity: [{colour}]{i['status']}[/]  {i['verified']}/{i['clips']} clips verified, "
            f"{len(i['unauthenticated'])} unauthenticated, {len(i['gaps'])} gaps, {len(i['missing'])} missing, "
            f"{len(i['recovered'])} recovered after a power cut, {len(i['failed'])} failed, "
            f"{len(i.get('duplicates', []))} duplicated")


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        paths: list[Path] = typer.Argument(..., help="Session folders or transcript JSON files "
                                           "(several: one customer's meetings in order)."),
        json_out: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
        rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
        model: Path | None = typer.Option(None, "--model", help="Speech model folder, for a session "
                                  "folder that still has to be transcribed."),
    ) -> None:
        """Check transcripts for required disclosures, misleading promises and events."""
        from gateway.compliance import check_group

        found = _load(paths, rules, str(model) if model else None)
        if len(found) > 1:
            found = check_group(found)
        if json_out:
            if len(found) == 1:
                print(found[0].to_json(indent=2))
            else:
                print(json.dumps({"sessions": [f.to_dict() for f in found]}, ensure_ascii=False,
                                 indent=2))
        else:
            for f in found:
                _table(f)
        if any(f.problems for f in found):
            raise typer.Exit(FINDINGS)

    @app.command()
    def rates(
        paths: list[Path] = typer.Argument(..., help="Session folders, transcript JSON files, or "
                                           "folders holding many sessions (a receiver's output)."),
        json_out: bool = typer.Option(False, "--json", help="Print the rates as JSON."),
        rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
    ) -> None:
        """Execution rates (开口率): how often each agent says each item."""
        from rich.console import Console
        from rich.table import Table

        from gateway.compliance import execution_rates

        # what each agent said in each meeting, not credit from a related group
        table = execution_rates(_load(paths, rules))
        if json_out:
            print(json.dumps(table.to_dict(), ensure_ascii=False, indent=2))
            return
        t = Table(title=f"execution rates over {table.sessions} session(s)")
        for col in ("agent", "item", "kind", "sessions", "rate"):
            t.add_column(col)
        for r in (*table.per_item, *table.per_agent):
            t.add_row(r.agent or "all", r.item, r.kind, f"{r.hits}/{r.sessions}", f"{r.rate:.0%}")
        Console().print(t)
