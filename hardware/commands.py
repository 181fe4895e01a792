"""`badgekit hardware bom | budget | pins | deploy | selftest`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from badgecore.cli_convention import BAD_INPUT, FINDINGS, fail, renamed
from hardware.errors import HardwareError

__all__ = ["register"]

console = Console()
_STATUS = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "n/a": "[yellow]n/a[/]"}


def _fail(exc: Exception, code: int = BAD_INPUT) -> typer.Exit:
    return fail(str(exc), code)


def bom(
    variant: str = typer.Option(None, "--variant", help="BOM variant (default: the file's default)."),
    csv_out: bool = typer.Option(False, "--csv", help="Print CSV for a spreadsheet."),
    path: Path = typer.Option(None, "--file", help="Another BOM TOML file."),
) -> None:
    """Bill of materials with unit prices at 1k and 10k and the totals."""
    from hardware.bom import BOM_PATH, cents, load_bom, to_csv, totals

    try:
        b = load_bom(path or BOM_PATH)
        title, lines = b.variant(variant)
        t = totals(b, variant)
    except HardwareError as exc:
        raise _fail(exc) from None
    if csv_out:
        print(to_csv(b, variant), end="")
        return
    table = Table(title=f"BOM {t.variant}: {title}", show_lines=False)
    for col, just in (("ref", "left"), ("item", "left"), ("mpn", "left"), ("qty", "right"),
                      ("1k", "right"), ("10k", "right"), ("source", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for ln in lines:
        table.add_row(ln.ref, ln.item, ln.mpn, str(ln.qty), f"{ln.ext_1k:.3f}", f"{ln.ext_10k:.3f}",
                      ln.source)
    console.print(table)
    print(f"parts per badge: {cents(t.parts_1k)} USD at 1k, {cents(t.parts_10k)} USD at 10k "
          f"({len(lines)} lines)")
    print(f"one-off (NRE): {cents(t.nre)} USD = {cents(t.nre_per_badge_1k)} per badge at 1k, "
          f"{cents(t.nre_per_badge_10k)} at 10k")
    print(f"landed per badge: {cents(t.landed_1k)} USD at 1k, {cents(t.landed_10k)} USD at 10k")
    print(f"prices: {b.prices_as_of}")


@renamed(hours_speech="--hours-speech", hours_meeting="--hours-meeting")
def budget(
    battery_mah: float = typer.Option(500.0, "--battery-mah", help="Nominal cell capacity."),
    hours_speech: float = typer.Option(3.0, "--speech-hours", help="Hours of speech in the day."),
    hours_meeting: float = typer.Option(8.0, "--meeting-hours", help="Hours recording (sessions open)."),
    workday_hours: float = typer.Option(10.0, "--workday-hours", help="Length of the working day."),
    sessions: int = typer.Option(6, "--sessions", help="Meetings (button presses) in the day."),
    profile: str = typer.Option("tuned", "--profile", help="Firmware power profile: tuned or stock."),
    gate_keep: float = typer.Option(None, "--gate-keep", help="Fraction of non-speech the gate keeps."),
    json_out: bool = typer.Option(False, "--json", help="Print the key figures as JSON."),
) -> None:
    """Battery life and storage for a working day (arithmetic shown)."""
    from hardware.budget import DayPlan, plan_day
    from hardware.budget_report import gate_from_bench, render

    plan = DayPlan(battery_mah=battery_mah, hours_speech=hours_speech, hours_meeting=hours_meeting,
                   workday_hours=workday_hours, sessions=sessions, profile=profile,
                   gate_keep_nonspeech=gate_keep,
                   gate_source="given with --gate-keep" if gate_keep is not None else "")
    try:
        if gate_keep is None and (bench := gate_from_bench()) is not None:
            plan = replace(plan, gate_keep_nonspeech=bench[0], gate_source=bench[1])
        b = plan_day(plan)
    except HardwareError as exc:
        raise _fail(exc) from None
    if json_out:
        print(json.dumps({
            "profile": profile, "battery_mah": battery_mah, "usable_mah": round(b.usable_mah, 3),
            "day_mah": round(b.day_mah, 3), "fits": b.fits, "battery_hours": round(b.battery_hours, 3),
            "min_battery_mah": round(b.min_battery_mah, 1), "gate_keep": b.gate_keep,
            "kept_hours": round(b.kept_hours, 4), "audio_bytes": round(b.audio_bytes),
            "stored_bytes": round(b.stored_bytes), "bytes_per_s": round(b.bytes_per_s, 3),
            "states_ma": {k: round(v.ma, 4) for k, v in b.currents.items()},
            "usage": [{"state": u.state, "hours": round(u.hours, 4), "ma": round(u.ma, 4),
                       "mah": round(u.mah, 3)} for u in b.usage],
            "storage_days": {s.name: round(s.days, 3) for s in b.storage},
            "sync_minutes": {k: round(v * 60, 2) for k, v in b.sync_hours.items()},
        }, indent=2))
        return
    print("\n".join(render(b)))


def pins(
    rev: str = typer.Option(None, "--rev", help="Only this board revision."),
    path: Path = typer.Option(None, "--file", help="Another pin map JSON file."),
    json_out: bool = typer.Option(False, "--json", help="Print revisions and problems as JSON."),
    svg: Path = typer.Option(None, "--svg", help="Write the wiring of --rev (default B) as SVG."),
) -> None:
    """Pin map per board revision, checked against the ESP32-S3's constraints."""
    from hardware import esp32s3
    from hardware.pinmap import PINMAP_PATH, ROLES, boards, describe_gpio, validate_board

    try:
        found = [b for b in boards(path or PINMAP_PATH) if rev is None or b.rev == rev]
    except HardwareError as exc:
        raise _fail(exc) from None
    if not found:
        raise _fail(HardwareError(f"no board revision {rev!r} in the pin map"))
    problems = {b.rev: validate_board(b) for b in found}
    if svg is not None:
        from hardware.wiring_svg import render_svg

        board = next((b for b in found if b.rev == (rev or "B")), found[0])
        svg.write_text(render_svg(board), encoding="utf-8")
        print(f"wrote the wiring of rev {board.rev} to {svg}")
    if json_out:
        print(json.dumps({b.rev: {"module": b.module, "pins": b.pins, "problems": problems[b.rev]}
                          for b in found}, indent=2))
    else:
        for b in found:
            module = esp32s3.MODULES.get(b.module)
            table = Table(title=f"rev {b.rev}: {b.title}")
            for col in ("role", "GPIO", "chip/module", "what it does"):
                table.add_column(col)
            for role, gpio in sorted(b.pins.items(), key=lambda kv: kv[1]):
                table.add_row(role, str(gpio), describe_gpio(gpio, module) if isinstance(gpio, int)
                              else "?", ROLES.get(role, ("", "unknown role"))[1])
            console.print(table)
            for p in problems[b.rev]:
                console.print(Text.assemble("  ", ("✗", "red"), f" {p}"), highlight=False)
            if not problems[b.rev]:
                print(f"  rev {b.rev}: ok (strapping, flash/PSRAM, USB, UART0, ADC1, RTC-wake rules)")
    if any(problems.values()):
        raise typer.Exit(FINDINGS)


def _print_checks(checks, title: str) -> None:
    table = Table(title=title)
    for col in ("check", "result", "detail"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.check, _STATUS.get(c.status, c.status), Text(c.detail))
    console.print(table)
    n = {s: sum(1 for c in checks if c.status == s) for s in ("pass", "fail", "n/a")}
    print(f"self-test: {n['pass']} passed, {n['fail']} failed, {n['n/a']} not available here")


def deploy(
    port: str = typer.Option(None, "--port", help="Serial port of the badge; 'unix' for a folder; "
                             "'virtual' for a virtual badge on a pty (mpremote, unix port)."),
    target: Path = typer.Option(None, "--target", help="Folder standing in for the badge's filesystem."),
    rev: str = typer.Option(None, "--rev", help="Board revision written to the badge."),
    set_time: bool = typer.Option(True, "--set-time/--no-set-time", help="Set the badge clock."),
    release_pubkey: Path = typer.Option(None, "--release-pubkey", envvar="BADGEKIT_RELEASE_PUBKEY",
                                        help="Release public key (badgekit release keygen's .pub): "
                                             "the badge then accepts updates signed with it."),
) -> None:
    """Build every firmware module for the ESP32-S3, copy it, run the self-test."""
    from badgecore.paths import REPO_ROOT
    from hardware.deploy import deploy_dir, deploy_port

    if port is None and target is None:
        raise _fail(HardwareError("give --port /dev/ttyACM0 (a badge) or --target DIR / --port unix"))
    try:
        if target is not None or port == "unix":
            folder = target or REPO_ROOT / "build" / "unix-badge"
            folder.mkdir(parents=True, exist_ok=True)
            report = deploy_dir(folder, rev=rev, release_pubkey=release_pubkey)
        elif port == "virtual":
            from hardware.virtualbadge import VirtualBadge

            with VirtualBadge(REPO_ROOT / "build" / "virtual-badge") as pty:
                print(f"virtual badge on {pty} (raw REPL served by the MicroPython unix port); "
                      "its clock is the computer's, so --set-time is skipped")
                report = deploy_port(pty, rev=rev, set_time=False, release_pubkey=release_pubkey)
        else:
            report = deploy_port(port, rev=rev, set_time=set_time, release_pubkey=release_pubkey)
    except (HardwareError, OSError) as exc:
        raise _fail(exc) from None
    native = sum(1 for m in report.built if m.arch != "bytecode")
    print(f"built {len(report.built)} modules for the ESP32-S3 (mpy-cross -march=xtensawin): "
          f"{len(report.built) - native} bytecode, {native} with native/viper code")
    if report.host_rebuilt:
        print("rebuilt for this computer's unix port (it cannot run Xtensa code): "
              + ", ".join(report.host_rebuilt))
    print(f"deployed board rev {report.rev} to {report.target}")
    _print_checks(report.checks, f"self-test on {report.target}")
    if not report.ok:
        raise typer.Exit(FINDINGS)


def virtual_badge(
    root: Path = typer.Option(Path("build/virtual-badge"), "--root", help="Its filesystem folder."),
) -> None:
    """Serve a virtual badge (raw REPL on a pty, MicroPython unix port) until Ctrl-C."""
    import time

    from hardware.virtualbadge import VirtualBadge

    try:
        with VirtualBadge(root) as pty:
            print(f"virtual badge on {pty}, filesystem {root.resolve()}; try: "
                  f"badgekit hardware deploy --port {pty} --no-set-time   (Ctrl-C to stop)")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")
    except (HardwareError, OSError) as exc:
        raise _fail(exc) from None


def selftest(
    port: str = typer.Option(None, "--port", help="Serial port of a badge (default: the unix port)."),
    rev: str = typer.Option(None, "--rev", help="Board revision (default: the badge's own)."),
) -> None:
    """Run the on-badge self-test (on a badge, or here under the unix port)."""
    from hardware.deploy import selftest_local, selftest_port

    try:
        checks = selftest_port(port, rev) if port else selftest_local(rev)
    except HardwareError as exc:
        raise _fail(exc) from None
    _print_checks(checks, f"self-test on {port or 'this computer (MicroPython unix port)'}")
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(FINDINGS)


def register(app: typer.Typer) -> None:
    app.command("bom")(bom)
    app.command("budget")(budget)
    app.command("pins")(pins)
    app.command("deploy")(deploy)
    app.command("selftest")(selftest)
    app.command("virtual-badge")(virtual_badge)
