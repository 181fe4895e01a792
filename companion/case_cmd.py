"""`badgekit companion case`: set the customer/case id of a meeting on a badge.

The agent (or branch staff) names the customer or case a meeting belongs to; the badge
stamps it on the meeting recording now, or else on the next one started, and clears it
when that meeting ends. At sync the companion writes it into each clip's sidecar and
custody record, and the gateway checks the meetings of one case together (a required
disclosure made in the first meeting counts for the second). It is the badge config key
``case_id`` (``badgekit companion config set case_id=ID`` does the same).

With ``--session <spool>/<badge>/<session>`` instead of a badge, a meeting already synced
is tagged in the spool (`companion.casetag`): its sidecars get the case id, its custody
records the change, the audio and hashes stay as they are.
"""

from __future__ import annotations

import typer

from companion.cliopts import (
    BRANCH,
    HCI,
    JSON,
    KEYSTORE,
    guard,
    load_settings,
    print_json,
    run,
    say,
    target,
)
from companion.cliopts import fail as _fail

__all__ = ["register", "case"]


@guard
def case(
    case_id: str = typer.Option(None, "--case", help="Case or customer id: 1-32 letters, digits, "
                                "'-', '_' or '.'."),
    clear: bool = typer.Option(False, "--clear", help="Drop a case id not yet used."),
    session: str = typer.Option(None, "--session", help="Tag a synced meeting in the spool "
                                "instead: its folder <spool>/<badge>/<session>."),
    port: str = typer.Option(None, "--port", help="Serial port of the badge."),
    ble: str = typer.Option(None, "--ble", help="BLE address of the badge."),
    hci: str = HCI, keystore: str = KEYSTORE, branch: str = BRANCH, json_out: bool = JSON,
    settings_file: str = typer.Option(None, "--settings", envvar="BADGEKIT_COMPANION_SETTINGS",
                                      help="Settings file to use instead of the default."),
) -> None:
    """Set (--case ID), clear (--clear) or show the case id of the badge's meeting."""
    from companion import badgeops

    if case_id is not None and clear:
        raise _fail("give --case ID or --clear, not both", 2)
    if session is not None:
        _tag(session, case_id, clear, port, ble, settings_file, json_out)
        return
    badge = target(port, ble, hci, keystore)
    s = load_settings(settings_file, {"branch.id": branch})
    if case_id is None and not clear:
        cfg = run(badgeops.config_get(s, badge, "case_id"))
        pending = cfg["config"]["case_id"]
        res = {"badge_id": cfg["badge_id"], "case_id": pending or None}
        text = (f"{res['badge_id']}: case {pending} is set for the meeting recording now or the next one"
                if pending else f"{res['badge_id']}: no case id set")
    else:
        value = "" if clear else case_id.strip()
        if not clear and not value:
            raise _fail("--case needs an id (use --clear to drop one)", 2)
        changes = badgeops.parse_assignments([f"case_id={value}"])
        cfg = run(badgeops.config_set(s, badge, changes))
        res = {"badge_id": cfg["badge_id"], "case_id": cfg["config"].get("case_id") or None}
        text = (f"{res['badge_id']}: case {value} set: it applies to the meeting recording now, "
                "or else to the next one started" if value else f"{res['badge_id']}: case id cleared")
    if json_out:
        print_json(res)
    else:
        say(text)


def _tag(session: str, case_id: str | None, clear: bool, port: str | None, ble: str | None,
         settings_file: str | None, json_out: bool) -> None:
    from companion.casetag import tag_session
    from companion.sync import _operator

    if port or ble or clear or not case_id:
        raise _fail("--session tags a synced meeting: give --case ID and no badge (--port/--ble)", 2)
    s = load_settings(settings_file)
    rep = tag_session(session, case_id.strip(), s.branch.operator or _operator())
    if json_out:
        print_json(rep.as_dict())
    else:
        say(f"{rep.session}: case {rep.case_id} on {len(rep.tagged)} clip(s)"
            + (f", {len(rep.unchanged)} had it already" if rep.unchanged else ""))


def register(app: typer.Typer) -> None:
    app.command("case")(case)
