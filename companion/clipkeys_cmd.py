"""`badgekit companion clip-keys`: give the gateway and the receiver the badges' clip keys.

    badgekit companion clip-keys --out FILE [--badge ID ...] [--keystore F]

Writes badgecore.badgekeys' file (0600): for each enrolled badge the clip key derived from
its enrollment secret, never the secret itself (a clip key checks and makes clip seals;
it cannot authenticate to a badge). The gateway and receiver take it as ``--badge-keys``.
"""

from __future__ import annotations

import typer

from badgecore.cli_convention import BAD_INPUT
from companion.cliopts import KEYSTORE, guard, say
from companion.cliopts import fail as _fail

__all__ = ["register", "clip_keys"]


@guard
def clip_keys(out: str = typer.Option(..., "--out", help="Key file to write (mode 0600)."),
              badge: list[str] = typer.Option(None, "--badge",
                                              help="Only this badge (repeat for several)."),
              keystore: str = KEYSTORE) -> None:
    """Write the badges' clip keys for `gateway`/`receive --badge-keys FILE`."""
    from badgecore.badgekeys import BadgeKeysError, keys_from_keystore, write_badge_keys
    from companion.errors import KeyStoreError
    from companion.keystore import KeyStore

    try:
        keys = keys_from_keystore(KeyStore(keystore), badge or None)
        missing = sorted(set(badge or ()) - set(keys))
        if missing:
            raise _fail(f"not in the key store: {', '.join(missing)}", BAD_INPUT)
        if not keys:
            raise _fail("the key store holds no enrolled badge")
        n = write_badge_keys(out, keys)
    except (KeyStoreError, BadgeKeysError) as exc:
        raise _fail(str(exc)) from None
    say(f"wrote the clip keys of {n} badge(s) to {out} (mode 0600)")


def register(app: typer.Typer) -> None:
    app.command("clip-keys")(clip_keys)
