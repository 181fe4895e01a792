"""`badgekit companion enroll | sync | status`: the sync protocol's commands.

    badgekit companion enroll --port /dev/pts/N --agent NAME [--branch B] [--keystore F]
        (also sets the badge's clock, and its config from the settings' [badge] table)
    badgekit companion sync --port /dev/pts/N [--port ...] [--ble ADDR ...] [--hci SPEC ...]
                            --spool DIR
    badgekit companion status --port /dev/pts/N --json

Defaults for branch, operator and spool come from the companion settings file
(companion.settings); ``--keystore`` (or BADGEKIT_KEYSTORE) picks the key store file.
Several ``--port``/``--ble`` badges sync concurrently with a live progress table. For
sync, BLE badges share one bumble radio per distinct ``--hci``: one ``--hci`` serves every
``--ble``; several pair with the ``--ble`` addresses in order (repeat a spec for badges on
the same radio). A radio is opened once and closed when the sync ends.
Every refusal or fault ends with one ``error:`` line and exit code 1 (2 for bad usage or
settings), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from companion.cliopts import BRANCH, HCI, JSON, KEYSTORE, guard, print_json, print_table, run, say
from companion.cliopts import err as _err
from companion.cliopts import fail as _fail
from companion.cliopts import out as _out

__all__ = ["register", "enroll", "sync", "status"]

PORTS = typer.Option(None, "--port", help="Serial port of a badge (repeat for several).")
BLES = typer.Option(None, "--ble", help="BLE address of a badge (repeat for several).")
HCIS = typer.Option(None, "--hci", envvar="BADGEKIT_BLE_HCI",
                    help="bumble HCI transport for BLE (e.g. tcp-client:127.0.0.1:9001); one "
                         "for every --ble, or one per --ble in order; default: the system's "
                         "Bluetooth.")


def _settings() -> Any:
    try:
        from companion import settings as st

        return st.load()
    except Exception as exc:  # noqa: BLE001 - settings errors become one line
        raise _fail(f"settings: {exc}", 2) from None


def _one(port: str | None, ble: str | None, hci: str | None) -> Any:
    """The transport of the one badge enroll and status name (both --port and --ble: exit 2)."""
    from companion.link import Target, make_transport

    if not port and not ble:
        raise _fail("name a badge: --port PATH or --ble ADDRESS", 2)
    return make_transport(Target.from_options(port, ble, hci))


def _ble_radios(bles: list[str], hcis: list[str]) -> list[tuple[str, str | None]]:
    """Pair each --ble address with its --hci spec (None: the system's Bluetooth)."""
    if not hcis:
        return [(b, None) for b in bles]
    if len(set(hcis)) == 1:
        return [(b, hcis[0]) for b in bles]
    if len(hcis) != len(bles):
        raise _fail(f"{len(hcis)} different --hci radios for {len(bles)} --ble badges: give "
                    "one --hci for all, or one per --ble in the same order", 2)
    return list(zip(bles, hcis, strict=True))


def _reachable(settings: Any, hcis: list[str], keystore: str | None
               ) -> tuple[list[str], list[str], list[str]]:
    """Serial ports and BLE addresses of the reachable badges this branch can sync (what
    `scan` finds: USB badge ports, the settings' extra ports, BLE on the system radio or on
    the one --hci), plus a line for every badge or port left out and why."""
    from companion.scan import run_scan

    if len(set(hcis)) > 1:
        raise _fail("with several --hci radios, name the badges with --ble", 2)
    found = _run(run_scan(settings, hci=hcis or None, keystore=keystore))
    ports: list[str] = []
    bles: list[str] = []
    skipped = [f"{r['address']}: {r['reason']}" for r in found.skipped]
    for r in found.badges:
        if r.ours and r.authenticated:
            (ports if r.transport == "serial" else bles).append(r.address)
        else:
            why = r.problem or ("not enrolled" if not r.enrolled else f"enrolled at branch {r.branch}")
            skipped.append(f"{r.badge_id} ({r.address}): {why}")
    return ports, bles, skipped


async def _with(transport: Any, fn: Any) -> Any:
    async with transport:
        return await fn(transport)


def _run(coro: Any) -> Any:
    return run(coro, "interrupted; nothing half-written was acknowledged, run sync again")


def _progress_table(rows: dict[str, dict[str, Any]]) -> Table:
    t = Table(title="badgekit sync")
    for col in ("badge", "clips", "bytes", "rate", "ETA", "state"):
        t.add_column(col)
    for name, r in rows.items():
        p = r.get("p")
        if p is None:
            t.add_row(name, "", "", "", "", r["state"])
            continue
        eta = f"{p.eta_s:.0f}s" if p.eta_s is not None else "-"
        t.add_row(p.badge, f"{p.clips_verified}/{p.clips_total}",
                  f"{p.done_bytes:,}/{p.total_bytes:,}", f"{p.rate_bps / 1024:.0f} KiB/s", eta,
                  r["state"])
    return t


@guard
def enroll(port: str = typer.Option(None, "--port", help="Serial port of the badge."),
           ble: str = typer.Option(None, "--ble", help="BLE address of the badge."),
           hci: str = HCI,
           agent: str = typer.Option(..., "--agent", help="Agent who wears the badge."),
           branch: str = BRANCH, keystore: str = KEYSTORE, json_out: bool = JSON) -> None:
    """Enroll a badge into this branch for an agent (re-enroll moves it to the agent)."""
    from companion.keystore import KeyStore
    from companion.sync import enroll_badge

    s = _settings()
    branch = branch or s.branch.id
    config = dataclasses.asdict(s.badge)  # the [badge] table: the badge's config
    t = _one(port, ble, hci)
    ks = KeyStore(keystore)
    res = _run(_with(t, lambda tr: enroll_badge(tr, ks, branch=branch, agent=agent,
                                                config=config)))
    if json_out:
        print_json(res.__dict__)
    else:
        moved = f" (was {res.previous_agent})" if res.previous_agent else ""
        _out.print(f"enrolled badge [bold]{escape(res.badge)}[/] at branch {escape(res.branch)} "
                   f"for agent {escape(res.agent)}{escape(moved)}; clock drift was "
                   f"{res.clock_drift_s} s; config set from the settings' {escape('[badge]')} "
                   "table", soft_wrap=True)

@guard
def sync(port: list[str] = PORTS, ble: list[str] = BLES, hci: list[str] = HCIS,
         spool: str = typer.Option(None, "--spool", help="Spool folder (default: settings)."),
         branch: str = BRANCH, keystore: str = KEYSTORE, json_out: bool = JSON,
         no_ack: bool = typer.Option(False, "--no-ack", help="Copy and verify, but let the "
                                     "badges keep their clips.")) -> None:
    """Copy every clip off the badges into the spool, verified, then acknowledge them.

    With no --port or --ble: every reachable badge of this branch (what `scan` finds)."""
    from companion.keystore import KeyStore
    from companion.link import Target, make_transport
    from companion.spool import Spool

    s = _settings()
    branch = branch or s.branch.id
    spool_dir = spool or s.spool.path or str(_default_spool())
    if not port and not ble:  # no badge named: every reachable badge of this branch
        port, ble, skipped = _reachable(s, list(hci or []), keystore)
        for why in skipped:
            _err.print(f"skipped: {escape(why)}", soft_wrap=True)
        if not port and not ble:
            raise _fail("no badge of this branch within reach (see `badgekit companion scan`); "
                        "name one with --port PATH or --ble ADDRESS")
    serial = [make_transport(Target("serial", p)) for p in port or []]
    radios = list(dict.fromkeys(_ble_radios(list(ble or []), list(hci or []))))
    sp, ks = Spool(spool_dir), KeyStore(keystore)
    results = _run(_sync_all(serial, radios, sp, ks, branch, s.branch.operator or None,
                             not no_ack, live=not json_out))
    failed = [r for r in results
              if isinstance(r, str) or not r.ok or any(c.message for c in r.clips)]
    if json_out:
        print_json([r if isinstance(r, str) else r.as_dict() for r in results])
    else:
        for r in results:
            if isinstance(r, str):
                _err.print(f"[red]error:[/] {escape(r)}", soft_wrap=True)
                continue
            say(f"{r.badge}: {r.synced} clip(s) synced, {r.clip_bytes:,} bytes in "
                f"{r.seconds:.1f} s into {spool_dir}")
            for c in r.clips:
                if c.message:
                    _err.print(f"[red]error:[/] {escape(c.message)}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)

@guard
def status(port: str = typer.Option(None, "--port", help="Serial port of the badge."),
           ble: str = typer.Option(None, "--ble", help="BLE address of the badge."),
           hci: str = HCI, branch: str = BRANCH, keystore: str = KEYSTORE,
           json_out: bool = JSON) -> None:
    """Show one badge: enrollment, battery, storage, clips, clock, errors."""
    from companion.keystore import KeyStore
    from companion.sync import badge_status

    t = _one(port, ble, hci)
    ks = KeyStore(keystore)
    info = _run(_with(t, lambda tr: badge_status(tr, ks, branch)))
    if json_out:
        print_json(info)
        return
    table = Table(title=escape(f"badge {info.get('badge')}"))
    table.add_column("field")
    table.add_column("value")
    st = info.get("storage", {})
    fw = info.get("firmware") if isinstance(info.get("firmware"), dict) else {}
    for k, v in (("firmware", _firmware_line(info.get("fw"), fw)),
                 ("enrolled", info.get("enrolled")), ("branch", info.get("branch")),
                 ("agent", info.get("agent")), ("battery", f"{info.get('battery_pct')} %"),
                 ("storage", f"{st.get('used_pct')} % used"),
                 ("unsynced", f"{st.get('unsynced_seconds', 0):.0f} s of audio"),
                 ("clock drift", f"{info.get('clock_drift_s')} s"),
                 ("errors", ", ".join(info.get("errors", [])) or "none")):
        table.add_row(k, escape(str(v)))
    print_table(table)


def _firmware_line(version: Any, fw: dict[str, Any]) -> str:
    """``0.2.0 (slot a, confirmed)``, plus the last rollback and its reason."""
    text = f"{fw.get('version') or version or '?'}"
    if fw:
        text += f" (slot {fw.get('slot')}, {fw.get('state')})"
    last: dict[str, Any] = fw["last"] if isinstance(fw.get("last"), dict) else {}
    if last.get("event") == "rolled_back":
        text += f"; {last.get('from')} rolled back: {last.get('why')}"
    return text


def _default_spool() -> Path:
    from badgecore.paths import data_dir

    return data_dir() / "spool"


async def _sync_all(serial: list[Any], radios: list[tuple[str, str | None]], spool: Any,
                    keystore: Any, branch: str, operator: str | None, ack: bool,
                    live: bool) -> list[Any]:
    """Sync the serial transports and the BLE badges (address, HCI spec) concurrently,
    opening one bumble radio per distinct HCI spec for all the badges on it."""
    from companion.link import Target, make_transport

    async with contextlib.AsyncExitStack() as stack:
        devices: dict[str, Any] = {}
        for spec in dict.fromkeys(h for _, h in radios if h):
            devices[spec] = await stack.enter_async_context(_open_radio(spec))
        targets = serial + [make_transport(Target("ble", a, h, None, devices.get(h or "")))
                            for a, h in radios]
        return await _sync_targets(targets, spool, keystore, branch, operator, ack, live)


@contextlib.asynccontextmanager
async def _open_radio(spec: str) -> AsyncIterator[Any]:
    """companion.blescan.radio, with a failure to open it as one LinkError."""
    from companion.blescan import radio
    from companion.errors import LinkError

    cm = radio(spec)
    try:
        dev = await cm.__aenter__()
    except Exception as exc:  # noqa: BLE001 - bumble raises many types
        raise LinkError(f"cannot open BLE HCI transport {spec}: {exc}") from None
    try:
        yield dev
    except BaseException as exc:
        if not await cm.__aexit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        await cm.__aexit__(None, None, None)


async def _sync_targets(targets: list[Any], spool: Any, keystore: Any, branch: str,
                        operator: str | None, ack: bool, live: bool) -> list[Any]:
    from companion.errors import SyncError
    from companion.sync import sync_badge

    rows: dict[str, dict[str, Any]] = {t.name: {"state": "connecting"} for t in targets}

    async def one(t: Any) -> Any:
        def prog(p: Any) -> None:
            rows[t.name].update(p=p, state="syncing")

        try:
            async with t:
                r = await sync_badge(t, spool, keystore, branch=branch, progress=prog,
                                     operator=operator, ack=ack)
            rows[t.name]["state"] = "done" if r.ok else "kept clips"
            return r
        except SyncError as exc:
            rows[t.name]["state"] = "failed"
            return f"{t.name}: {exc}"

    if not live:
        return list(await asyncio.gather(*(one(t) for t in targets)))
    with Live(_progress_table(rows), console=_out, refresh_per_second=4) as lv:
        task = asyncio.gather(*(one(t) for t in targets))
        while not task.done():
            await asyncio.wait([task], timeout=0.25)
            lv.update(_progress_table(rows))
        lv.update(_progress_table(rows))
        return list(task.result())


def register(app: typer.Typer) -> None:
    app.command()(enroll)
    app.command()(sync)
    app.command()(status)
