"""`badgekit gateway key new|show|enrol`: the gateway's signing key and its enrolment.

    badgekit gateway key new --key /srv/badgekit/gateway.key --gateway-id gw-sh01
        # private key 0600 (never printed), public key beside it: gateway.key.pub
    badgekit gateway key show --key /srv/badgekit/gateway.key      # key id + public key
    badgekit gateway key enrol --keys /srv/compliance/keys --tenant acme --branch sh01 \\
        --gateway-id gw-sh01 gateway.key.pub                        # on the compliance side

`gateway run --signing-key FILE` signs with it (default `<state>/gateway.key`, made on
first start); `gateway receive --keys DIR` keeps only documents that verify against the
enrolled keys. The other way round, a receiver signs its receipts with a key made the
same way (`gateway receive --signing-key FILE --receiver-id ID`), and the gateway takes
only receipts that verify against the receivers enrolled in its ring:

    badgekit gateway key enrol --keys /srv/badgekit/receivers --tenant acme --branch sh01 \
        --receiver-id recv-1 receiver.key.pub                       # on the gateway
    badgekit gateway run ... --receiver-keys /srv/badgekit/receivers

Exit code 2 with one `error:` line on bad input.
"""

from __future__ import annotations

from pathlib import Path

import typer

from badgecore.cli_convention import BAD_INPUT, fail

__all__ = ["register"]


def _fail(message: str) -> typer.Exit:
    return fail(message, BAD_INPUT)


key_app = typer.Typer(help="The gateway's Ed25519 signing key and its enrolment.", no_args_is_help=True)


@key_app.command("new")
def new(
    key: Path = typer.Option(..., "--key", help="Where to write the private key (0600; must not exist)."),
    gateway_id: str = typer.Option("gateway", "--gateway-id", help="The gateway this key signs for."),
) -> None:
    """Make a new signing key; prints its id and where the public half is."""
    from gateway.delivery.errors import DeliveryError
    from gateway.delivery.signing import GatewayKey

    try:
        k = GatewayKey.generate(key, gateway_id)
    except (DeliveryError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"key {k.key_id}: private key {key} (0600), public key {key}.pub; enrol the public key "
               "on the compliance side with `badgekit gateway key enrol`")


@key_app.command("show")
def show(key: Path = typer.Option(..., "--key", help="The private key file.")) -> None:
    """Print the key id and the public key (never the private key)."""
    from gateway.delivery.errors import DeliveryError
    from gateway.delivery.signing import GatewayKey

    try:
        k = GatewayKey.load(key, "gateway")
    except DeliveryError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"key id {k.key_id}")
    typer.echo(k.public_pem().decode().rstrip())


@key_app.command("enrol")
def enrol(
    public_key: Path = typer.Argument(..., help="The gateway's public key (PEM, the .pub file)."),
    keys: Path = typer.Option(..., "--keys", help="The receiver's key ring folder."),
    tenant: str = typer.Option(..., "--tenant"),
    branch: str = typer.Option(..., "--branch"),
    gateway_id: str = typer.Option(None, "--gateway-id", help="The gateway id it publishes as."),
    receiver_id: str = typer.Option(None, "--receiver-id", help="Instead: a receiver's receipt key, enrolled in "
                                    "a gateway's --receiver-keys folder under the receiver's --receiver-id."),
) -> None:
    """Enrol a gateway's public key for a branch in a receiver's key ring (or a receiver's in a gateway's)."""
    from gateway.delivery.errors import DeliveryError
    from gateway.delivery.signing import KeyRing, key_id_of

    if (gateway_id is None) == (receiver_id is None):
        raise _fail("give either --gateway-id or --receiver-id")
    role, who = ("gateway", gateway_id) if gateway_id is not None else ("receiver", receiver_id)
    assert who is not None
    try:
        pem = public_key.read_bytes()
        path = KeyRing(keys, role=role).enrol(tenant, branch, who, pem)
    except OSError as exc:
        raise _fail(f"{public_key}: {exc.strerror}") from None
    except DeliveryError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"enrolled key {key_id_of(pem)} of {role} {who} for {tenant}/{branch}: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
