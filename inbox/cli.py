"""`badgekit inbox …` and `badgekit evidence verify`.

    badgekit inbox import DIR [--db URL] [--store DIR] [--json]
    badgekit inbox serve [--db URL] [--store DIR] [--listen 127.0.0.1:8470] [--mqtt URL [--share GROUP]]
    badgekit inbox user add NAME --role reviewer|supervisor|admin --tenant T [--branch B …]  (password on stdin)
    badgekit inbox token create NAME
    badgekit evidence verify FILE.zip

The database defaults to `<store>/inbox.db` (SQLite); `--db postgresql://…` for a shared
one. The store defaults to `$BADGEKIT_DATA/inbox` (or the platform's data folder).
Bad input: one `error:` line on stderr, exit 2; `import` exits 1 when a session was refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from badgecore.cli_convention import BAD_INPUT, FINDINGS, fail

__all__ = ["app", "evidence_app"]

app = typer.Typer(help="The compliance workspace: import, serve, users.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts of reviewers, supervisors and admins.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
evidence_app = typer.Typer(help="Evidence zips exported by the inbox.", no_args_is_help=True)

DB = typer.Option(None, "--db", help="Database URL (sqlite:///FILE or postgresql://…); default <store>/inbox.db.")
STORE = typer.Option(None, "--store", help="Audio store folder; default $BADGEKIT_DATA/inbox.")


def _fail(message: str) -> typer.Exit:
    return fail(message, BAD_INPUT)


def _open(db: str | None, store: Path | None):  # type: ignore[no-untyped-def]
    from inbox.db import default_db_url, open_db
    from inbox.errors import InboxError
    from inbox.store import AudioStore

    if store is None:
        from badgecore.paths import data_dir

        store = data_dir() / "inbox"
    try:
        st = AudioStore(store)
        return open_db(db or default_db_url(store)), st, db or default_db_url(store), store
    except (InboxError, OSError) as exc:
        raise _fail(str(exc)) from None


@app.command("import")
def import_cmd(folder: Path = typer.Argument(..., help="A `gateway receive` output folder (or one session)."),
               db: str = DB, store: Path = STORE,
               json_out: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Load received sessions into the inbox (idempotent; one transaction per meeting)."""
    from inbox.importer import import_folder

    if not folder.is_dir():
        raise _fail(f"{folder}: no such folder")
    engine, st, _, _ = _open(db, store)
    report = import_folder(engine, st, folder)
    if json_out:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(f"new {len(report.new)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
                   f"refused {len(report.refused)}")
    for where, reason in report.refused:
        typer.echo(f"refused: {where}: {reason}", err=True)
    if report.refused:
        raise typer.Exit(FINDINGS)


@app.command()
def serve(db: str = DB, store: Path = STORE,
          listen: str = typer.Option("127.0.0.1:8470", "--listen", help="HOST:PORT to serve on."),
          mqtt: str = typer.Option(None, "--mqtt", help="Also receive meetings from this broker."),
          share: str = typer.Option(None, "--share", help="MQTT 5 shared-subscription group (a pool)."),
          tenant: str = typer.Option("+", "--tenant", help="Tenant to receive with --mqtt."),
          username: str = typer.Option(None, "--username", help="MQTT user (password: BADGEKIT_MQTT_PASSWORD)."),
          tls_ca: Path = typer.Option(None, "--tls-ca", help="CA certificate of the broker."),
          max_age_h: float = typer.Option(8.0, "--session-hours", help="How long a login lasts.")) -> None:
    """Serve the workspace (and, with --mqtt, receive meetings into it)."""
    import uvicorn

    from inbox.web import InboxSettings, make_app

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise _fail(f"--listen {listen!r}: expected HOST:PORT")
    engine, st, url, store_dir = _open(db, store)
    loopback = host in ("127.0.0.1", "localhost", "::1")
    settings = InboxSettings(db_url=url, store_dir=store_dir, session_max_age_s=int(max_age_h * 3600),
                             secure_cookies=not loopback)
    feed = None
    if mqtt:
        from inbox.feed import MqttFeed

        try:
            feed = MqttFeed.from_options(engine, st, store_dir, mqtt, share, tenant, username, tls_ca)
            feed.start()
        except Exception as exc:  # noqa: BLE001 - one line for any connection failure
            raise _fail(f"--mqtt {mqtt}: {exc}") from None
    typer.echo(f"inbox: http://{listen}/", err=True)
    try:
        uvicorn.run(make_app(settings, engine), host=host, port=int(port), log_level="warning")
    finally:
        if feed is not None:
            feed.close()


@user_app.command("add")
def user_add(name: str = typer.Argument(...), role: str = typer.Option(..., "--role"),
             tenant: str = typer.Option(..., "--tenant"),
             branch: list[str] = typer.Option([], "--branch", help="Limit to these branches (repeat)."),
             db: str = DB, store: Path = STORE) -> None:
    """Add an account; the password is read from standard input."""
    from inbox.auth import add_user
    from inbox.errors import InboxError

    password = sys.stdin.readline().rstrip("\r\n")
    engine, _, _, _ = _open(db, store)
    try:
        user = add_user(engine, name, role, tenant, branch, password)
    except InboxError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"user {user.name}: {user.role} of {user.tenant}" + (f" ({', '.join(user.branches)})" if user.branches else ""))


@token_app.command("create")
def token_create(name: str = typer.Argument(...), db: str = DB, store: Path = STORE) -> None:
    """Make an API token for a user and print it (it is shown only this once)."""
    from inbox.auth import create_token
    from inbox.errors import InboxError

    engine, _, _, _ = _open(db, store)
    try:
        print(create_token(engine, name))
    except InboxError as exc:
        raise _fail(str(exc)) from None


@evidence_app.command("verify")
def verify(file: Path = typer.Argument(..., help="An evidence zip from the inbox."),
           json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Check an evidence zip offline: hashes, clips, chains, review log, archive bytes."""
    from inbox.errors import EvidenceError
    from inbox.evidence import verify_zip

    if not file.is_file():
        raise _fail(f"{file}: no such file")
    try:
        v = verify_zip(file)
    except EvidenceError as exc:  # the zip is there but does not verify: a finding
        raise fail(str(exc), FINDINGS) from None
    if json_out:
        print(json.dumps(v.__dict__))
    else:
        typer.echo(f"ok: {file}: {v.files} files, {v.clips} clips, {v.meetings} meeting(s) verified; "
                   f"manifest sha256 {v.manifest_sha256}")
