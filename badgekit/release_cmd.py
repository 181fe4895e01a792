"""`badgekit release keygen | build | verify`: signed firmware release bundles.

Every failure a user can cause ends with one ``error:`` line: exit code 2 when the
command cannot run (no key, an unreadable key or bundle, a bad version), 1 when `verify`
finds the bundle wrong (not a bundle, a wrong key, an altered byte).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from badgecore.cli_convention import BAD_INPUT, FINDINGS, fail

__all__ = ["app"]

app = typer.Typer(help="Signed firmware release bundles: keygen, build, verify.",
                  no_args_is_help=True)
_out = Console(highlight=False, markup=False)  # paths print as they are

JSON = typer.Option(False, "--json", help="Print one JSON document.")
PUBKEY = typer.Option(None, "--pubkey", envvar="BADGEKIT_RELEASE_PUBKEY",
                      help="Release public key file (64 hex digits or PEM).")


@app.command()
def keygen(out: Path = typer.Option(..., "--out", help="Private key file to write (PEM, 0600); "
                                    "the public key goes beside it as .pub."),
           json_out: bool = JSON) -> None:
    """Make the company's Ed25519 release key pair (keep the private key offline)."""
    from badgecore.release import ReleaseError
    from badgecore.release import keygen as make

    try:
        priv, pub = make(out)
    except ReleaseError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    if json_out:
        print(json.dumps({"private": str(priv), "public": str(pub)}))
    else:
        _out.print(f"private key {priv} (0600: keep it offline), public key {pub}")


@app.command()
def build(key: Path = typer.Option(..., "--key", help="Release private key (PEM)."),
          version: str = typer.Option(..., "--version", help="This release, MAJOR.MINOR.PATCH."),
          min_version: str = typer.Option(None, "--min-version",
                                          help="Oldest firmware it may update (default: itself)."),
          hw: list[str] = typer.Option(None, "--hw", help="Board revision it is for (repeatable; "
                                       "default: every revision in the pin map)."),
          arch: str = typer.Option("xtensawin", "--arch", help="mpy-cross -march (xtensawin: "
                                   "the ESP32-S3)."),
          out: Path = typer.Option(None, "--out", help="Bundle file (default: "
                                   "build/firmware-VERSION.bkfw)."),
          json_out: bool = JSON) -> None:
    """Compile the firmware with mpy-cross and write a signed release bundle."""
    from badgecore.paths import REPO_ROOT
    from badgecore.release import ReleaseError
    from badgecore.release import build as make
    from hardware.pinmap import boards

    dest = out or REPO_ROOT / "build" / f"firmware-{version}.bkfw"
    try:
        b = make(key, version, dest, min_version, list(hw) if hw else sorted(x.rev for x in boards()), arch)
    except ReleaseError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    if json_out:
        print(json.dumps(b.as_dict()))
    else:
        _out.print(f"{b.path}: firmware {b.version} (updates from {b.min_version}), "
                   f"{b.files} files, {b.size / 1024:.1f} KiB, for rev {'/'.join(b.hw)} "
                   f"({b.arch}), key {b.key}")


@app.command()
def verify(bundle: Path = typer.Argument(..., help="The bundle file."),
           pubkey: Path = PUBKEY, json_out: bool = JSON) -> None:
    """Check a bundle as a badge does: layout, signature, every file's hash."""
    from badgecore.release import ReleaseError, load_public
    from badgecore.release import verify as check

    if pubkey is None:
        raise fail("name the release public key: --pubkey FILE (or BADGEKIT_RELEASE_PUBKEY)", BAD_INPUT)
    if not bundle.is_file():
        raise fail(f"{bundle}: no such file", BAD_INPUT)
    try:
        public = load_public(pubkey)
    except ReleaseError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    try:
        m = check(bundle, public)
    except ReleaseError as exc:
        raise fail(str(exc), FINDINGS) from None
    if json_out:
        print(json.dumps({"ok": True, "version": m["version"], "min_version": m["min_version"],
                          "hw": m["hw"], "arch": m["arch"], "files": len(m["files"]),
                          "size": m["size"], "sha256": m["sha256"], "key": m.get("key")}))
    else:
        _out.print(f"{bundle}: ok, firmware {m['version']} (updates from {m['min_version']}), "
                   f"{len(m['files'])} files verified, signed by key {m.get('key')}")
