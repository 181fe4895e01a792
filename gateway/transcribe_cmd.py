"""`badgekit gateway transcribe FILE.wav|SESSION_DIR`: transcribe one recording or session.

With `--json` it prints the transcript JSON (top-level `text` and `segments`, each with
`start`, `end`, `text`; see `gateway.transcribe.transcript`), otherwise one line per
segment. `--vtt OUT` also writes WebVTT subtitles, `--out OUT` the JSON. Bad input (not
audio, a truncated or corrupt clip, a missing model) ends with one `error:` line and
exit code 2; clips that fail verification inside a session are reported, not fatal.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from badgecore.cli_convention import BAD_INPUT, fail, plain

__all__ = ["COMPUTE_TYPE", "register"]

COMPUTE_TYPE = typer.Option(
    None, "--compute-type",
    help="CTranslate2 compute type of the model (default int16, float32 where this CPU "
         "lacks it; int8 decodes faster and misreads more noisy speech).")
"""`--compute-type`, the same on every command that transcribes."""


def register(app: typer.Typer) -> None:
    app.command("transcribe")(transcribe)


def transcribe(
    source: Path = typer.Argument(..., help="A WAV file or a session folder of badge clips."),
    json_out: bool = typer.Option(False, "--json", help="Print the transcript as JSON."),
    model: Path = typer.Option(None, "--model", help="A local CTranslate2 Whisper folder."),
    language: str = typer.Option("zh", "--language", help="Spoken language (Whisper code)."),
    vtt: Path = typer.Option(None, "--vtt", help="Also write WebVTT subtitles to this file."),
    out: Path = typer.Option(None, "--out", help="Also write the JSON to this file."),
    vocabulary: Path = typer.Option(None, "--vocabulary", help="Vocabulary TOML file."),
    use_vocabulary: bool = typer.Option(
        None, "--vocabulary-on/--vocabulary-off",
        help="Force the domain vocabulary on or off (default: the file's `enabled`)."),
    beam_size: int = typer.Option(None, "--beam-size", min=1, max=10,
                                  help="Beam width (default 3)."),
    compute_type: str = COMPUTE_TYPE,
) -> None:
    """Transcribe a WAV file or a session folder (Mandarin by default, simplified text)."""
    from gateway.transcribe import (
        EngineSettings,
        TranscribeError,
        Transcriber,
        TranscribeSettings,
    )

    engine = EngineSettings(model_dir=str(model) if model else None, language=language)
    if beam_size:
        engine = replace(engine, beam_size=beam_size)
    if compute_type:
        engine = replace(engine, compute_type=compute_type)
    settings = TranscribeSettings(engine=engine,
                                  vocabulary_path=str(vocabulary) if vocabulary else None,
                                  vocabulary_enabled=use_vocabulary)
    try:
        result = Transcriber(settings).transcribe(source)
    except TranscribeError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    try:
        if vtt:
            vtt.write_text(result.to_vtt(), encoding="utf-8")
        if out:
            out.write_text(result.to_json_text() + "\n", encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write output: {exc}", BAD_INPUT) from None
    if json_out:
        print(result.to_json_text())
        return
    for seg in result.to_json()["segments"]:
        when = f" {seg['wall_start']}" if seg["wall_start"] else ""
        print(f"[{seg['start']:8.2f} - {seg['end']:8.2f}]{when} {seg['text']}")
    for line in result.problems:
        plain(f"warning: {line}", err=True)
