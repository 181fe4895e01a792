"""`badgekit sim record INPUT --out DIR`: the badge's recording path on an audio file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from badgecore.cli_convention import fail as bad_input
from badgecore.cli_convention import renamed

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("record")(record)


@renamed(gain_db="--gain", duration_s="--seconds")
def record(
    input_path: Path | None = typer.Argument(None, metavar="INPUT",
                                             help="Audio file (any rate/channels)."),
    out: Path = typer.Option(..., "--out", help="Folder for <clip id>.wav + .json."),
    interpreter: str = typer.Option("micropython", "--interpreter",
                                    help="cpython or micropython (the real unix port)."),
    badge: str = typer.Option("BADGE0001", "--badge", help="Badge id."),
    session: str | None = typer.Option(None, "--session", help="Session id (default: from start)."),
    start_time: str | None = typer.Option(None, "--start-time",
                                          help="Session start: ISO 8601 UTC or Unix seconds (default now)."),
    seq: int = typer.Option(0, "--seq", help="Sequence number of the first clip."),
    prev_sha256: str | None = typer.Option(None, "--prev-sha256", help="Hash of the badge's previous clip."),
    gain_db: float = typer.Option(0.0, "--gain-db", help="Gain in dB after DC removal."),
    preroll_ms: int = typer.Option(500, "--preroll-ms", min=300, help="Audio kept before speech (>= 300)."),
    hangover_ms: int = typer.Option(600, "--hangover-ms", min=600, help="Audio kept after speech (>= 600)."),
    min_clip_ms: int = typer.Option(1000, "--min-clip-ms", min=20),
    max_clip_ms: int = typer.Option(60000, "--max-clip-ms", min=1000),
    json_out: bool = typer.Option(False, "--json", help="Print the clips' sidecars as JSON."),
    mic: bool = typer.Option(False, "--mic", help="Record a live microphone instead of INPUT "
                             "(PortAudio; runs the firmware under CPython)."),
    device: str | None = typer.Option(None, "--device", help="Input device for --mic."),
    duration_s: float = typer.Option(60.0, "--duration-s", min=0.02, help="How long --mic records."),
    state: Path | None = typer.Option(None, "--state", help="The badge's state folder (`sim badge "
                                      "--state`): enrolled, its clips are sealed (format 2)."),
) -> None:
    """Record INPUT as if it came from the badge's microphone; write each clip to --out."""
    from badgekit.sim.audio_in import InputAudioError
    from badgekit.sim.recording import (
        INTERPRETERS,
        RecordError,
        RecordSettings,
        parse_start_time,
        record_file,
        record_live,
    )

    def fail(msg: str) -> None:
        raise bad_input(msg)

    if interpreter not in INTERPRETERS:
        fail(f"--interpreter must be one of {', '.join(INTERPRETERS)}")
    if not -48 <= gain_db <= 30:
        fail("--gain-db must be between -48 and 30 dB")
    if max_clip_ms < min_clip_ms:
        fail("--max-clip-ms must be >= --min-clip-ms")
    if state is not None and not state.is_dir():
        fail(f"--state {state}: not a folder")
    try:
        epoch, ms = parse_start_time(start_time)
    except ValueError as exc:
        fail(str(exc))
    settings = RecordSettings(
        badge=badge, session=session, start_epoch=epoch, start_ms=ms, seq=seq,
        prev_sha256=prev_sha256, gain_db=gain_db, preroll_ms=preroll_ms,
        hangover_ms=hangover_ms, min_clip_ms=min_clip_ms, max_clip_ms=max_clip_ms,
        state_dir=str(state) if state else None,
    )
    from badgecore.mic_backends import MicUnavailable

    if mic == (input_path is not None):
        fail("give either INPUT or --mic")
    try:
        if input_path is not None:
            result = record_file(input_path, out, settings, interpreter)
        else:
            dev: str | int | None = int(device) if device and device.isdigit() else device
            result = record_live(out, settings, duration_s, dev)
            interpreter = "cpython, live mic"
    except (InputAudioError, MicUnavailable) as exc:
        fail(str(exc))
    except (RecordError, OSError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        typer.echo(json.dumps(result.clips, indent=2, ensure_ascii=False))
        return
    secs_in = result.input_samples / 16000
    secs_kept = result.kept_samples / 16000
    sealed = "sealed (format 2)" if result.extra.get("sealed") else "unsealed (format 1)"
    typer.echo(f"{len(result.clips)} clips in {out} ({interpreter}, {sealed}): kept {secs_kept:.1f} s "
               f"of {secs_in:.1f} s; mic: {result.health['text']}")
    for c in result.clips:
        typer.echo(f"  {c['clip_id']}  {c['start_time']}  {c['samples'] / 16000:7.2f} s  "
                   f"offset {c['offset_samples'] / 16000:8.2f} s  {c['sha256'][:16]}")
