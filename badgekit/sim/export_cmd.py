"""`badgekit sim export` and `badgekit sim store …`: a badge's clip store as an image file.

- ``sim store init IMAGE --size-kib N``: a new littlefs2 flash image holding an empty
  store, and the badge's key slot (``IMAGE.keys.json``, a first-boot device key);
- ``sim store fill IMAGE --from DIR``: record the clip WAVs of DIR (``sim record``
  output) into the store, on the real firmware under MicroPython;
- ``sim store status IMAGE``: boot the store (recovery included) and print its status;
- ``sim export IMAGE --out DIR``: every stored clip -> standard WAV (IMA ADPCM 0x11)
  + JSON sidecar, each verified (hash, chain). Works on a raw dump of a dead badge.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from badgecore.cli_convention import BAD_INPUT, FINDINGS, fail

__all__ = ["register"]


def _keyfile(image: Path, key_file: Path | None) -> Path:
    return key_file or image.with_name(image.name + ".keys.json")


def _run_mp(*args: str) -> dict:
    from badgecore import mpy

    script = Path(__file__).with_name("store_mp.py")
    try:
        proc = mpy.run(script, args=list(args), heap="64M", timeout=600, check=False)
    except mpy.MicroPythonMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        typer.echo(f"error: store failed: {(err or ['no output'])[-1]}", err=True)
        raise typer.Exit(1) from None
    if "error" in result:
        typer.echo(f"error: {result['error']}", err=True)
        raise typer.Exit(1)
    return result


def _status_lines(st: dict) -> str:
    c = st["clips"]
    lines = [
        f"used {st['bytes_used']:,} of {st['bytes_total']:,} bytes ({st['used_pct']}%), "
        f"about {st['record_seconds_left']} s of audio left",
        f"clips: {c['closed']} unsynced, {c['synced']} synced, {c['recovered']} recovered, "
        f"{c['quarantined']} quarantined, {c['missing']} missing; "
        f"{st['unsynced_seconds']:.1f} s unsynced",
    ]
    for r in st.get("recoveries", []):
        lines.append(f"recovered {r['clip_id']}: at most {r['dropped_ms'] / 1000:.2f} s lost")
    lines += [f"warning: {w}" for w in st.get("warnings", [])]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    store_app = typer.Typer(help="A badge's clip store in an image file.", no_args_is_help=True)
    app.add_typer(store_app, name="store")

    @store_app.command("init")
    def store_init(
        image: Path = typer.Argument(..., help="image file to create"),
        size_kib: int = typer.Option(4096, help="flash partition size in KiB (multiple of 4)"),
        key_file: Path | None = typer.Option(None, help="badge key slot (default IMAGE.keys.json)"),
        force: bool = typer.Option(False, help="overwrite an existing image"),
    ) -> None:
        """Format a new store image (littlefs2, 4 KiB blocks)."""
        if image.exists() and not force:
            raise fail(f"{image} exists (use --force)")
        if size_kib < 64 or size_kib % 4:
            raise fail("--size-kib must be a multiple of 4, at least 64")
        st = _run_mp("init", str(image), str(_keyfile(image, key_file)), str(size_kib))
        typer.echo(f"{image}: new store, {st['bytes_total']:,} bytes, key {st['key_id']}")

    @store_app.command("fill")
    def store_fill(
        image: Path = typer.Argument(..., exists=True, dir_okay=False),
        from_dir: Path = typer.Option(..., "--from", exists=True, file_okay=False,
                                      help="folder of clip WAVs (sim record output)"),
        key_file: Path | None = typer.Option(None),
    ) -> None:
        """Record clip WAVs into the store, through the badge's own store code."""
        res = _run_mp("fill", str(image), str(_keyfile(image, key_file)), str(from_dir))
        typer.echo(f"stored {len(res['stored'])} clip(s)")
        typer.echo(_status_lines(res["status"]))

    @store_app.command("status")
    def store_status(
        image: Path = typer.Argument(..., exists=True, dir_okay=False),
        key_file: Path | None = typer.Option(None),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Boot the store (recovering what a power cut left) and show its status."""
        st = _run_mp("status", str(image), str(_keyfile(image, key_file)))
        typer.echo(json.dumps(st, indent=2) if as_json else _status_lines(st))

    @app.command("export")
    def export(
        image: Path = typer.Argument(..., exists=True, dir_okay=False,
                                     help="store image or raw flash dump"),
        out: Path = typer.Option(..., "--out", help="folder for WAV + JSON sidecars"),
        key: list[str] = typer.Option([], help="key: hex, key file, or badge key slot JSON"),
        key_file: Path | None = typer.Option(None, help="badge key slot (default IMAGE.keys.json)"),
        root: str = typer.Option("store", help="store folder inside the image"),
    ) -> None:
        """Stored clips -> standard WAV (IMA ADPCM) + JSON sidecar, each verified."""
        from companion.lfsimage import LfsImageError, load_keys, recover_image

        sources = list(key)
        slot = _keyfile(image, key_file)
        if slot.exists():
            sources.append(str(slot))
        if not sources:
            raise fail("no key given (--key) and no key slot beside the image", BAD_INPUT)
        try:
            reports = recover_image(image, out, load_keys(sources), root=root)
        except LfsImageError as exc:
            raise fail(str(exc), BAD_INPUT) from None
        bad = 0
        for r in reports:
            if r["ok"]:
                extra = " (recovered)" if r["recovered"] else ""
                typer.echo(f"{r['clip_id']}: {r['samples']} samples, chain {r['chain']}{extra}")
            else:
                bad += 1
                typer.echo(f"{r['clip_id']}: NOT exported: {r['problem']}")
        typer.echo(f"exported {len(reports) - bad} clip(s) to {out}")
        if bad:
            raise typer.Exit(FINDINGS)
