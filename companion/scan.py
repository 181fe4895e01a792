"""`scan`: find every badge in range (BLE) and on USB serial ports, read its state, rank it.

Serial candidates are the USB serial ports whose vendor is a badge's (Espressif's
native USB, or a common USB-UART bridge), plus any port named in the settings or with
``--port``. BLE candidates are the badges advertising the sync service. Every candidate
is probed at once (asyncio): hello, authentication when the badge is ours, then INFO.
A port where nothing answers like a badge is listed under ``skipped`` with the reason,
never as a traceback. The badges are ranked by `companion.attention` (urgent first).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from companion.attention import BadgeReport, rank
from companion.errors import OpsError
from companion.link import Target, connect
from companion.settings import CompanionSettings

__all__ = ["ScanResult", "run_scan", "serial_targets", "report_from_info", "render",
           "BADGE_USB_VIDS"]

#: USB vendor ids of badge serial ports: Espressif (ESP32-S3 native USB), Silicon Labs
#: CP210x, WCH CH340/CH343, FTDI (USB-UART bridges on development boards).
BADGE_USB_VIDS = frozenset({0x303A, 0x10C4, 0x1A86, 0x0403})
_STORE_FULL = re.compile(r"^store \d+% full$")


@dataclass
class ScanResult:
    badges: list[BadgeReport]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {address, transport, reason}
    notes: list[str] = field(default_factory=list)  # e.g. "BLE: no adapter"
    took_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"badges": [b.as_dict() for b in self.badges], "skipped": self.skipped,
                "notes": self.notes, "took_s": round(self.took_s, 3)}


def serial_targets(settings: CompanionSettings, keystore: str | None = None) -> list[Target]:
    """USB serial ports that may hold a badge, then the configured extra ports (no repeats)."""
    ports: list[str] = []
    if settings.scan.serial:
        try:
            from serial.tools import list_ports

            ports += [p.device for p in list_ports.comports() if p.vid in BADGE_USB_VIDS]
        except ImportError:
            pass
    ports += list(settings.scan.ports)
    unique = list(dict.fromkeys(ports))
    return [Target("serial", p, None, keystore) for p in unique]


async def _ble_scan(settings: CompanionSettings, hci: str | None, keystore: str | None,
                    notes: list[str]) -> list[BadgeReport | dict[str, str]]:
    """Listen on one radio (bumble HCI ``hci``, or the system's), then probe what was heard."""
    from companion import blescan

    where = f"BLE {hci}" if hci else "BLE"
    try:
        if hci:
            async with blescan.radio(hci) as dev:
                ads = await blescan.discover(settings.scan.ble_timeout_s, dev)
                return list(await asyncio.gather(*(
                    _probe_ble(settings, Target("ble", a.address, hci, keystore, dev), a)
                    for a in ads)))
        ads = await blescan.discover(settings.scan.ble_timeout_s)
    except Exception as exc:  # noqa: BLE001 - no adapter, BlueZ down, permissions: one note
        why = str(exc) or type(exc).__name__
        if hci:
            notes.append(f"{where}: scan failed ({why})")
        else:
            notes.append(f"BLE: the system's Bluetooth is not available ({why}); "
                         "name a dongle with --hci, or skip BLE with --no-ble")
        return []
    return list(await asyncio.gather(*(
        _probe_ble(settings, Target("ble", a.address, None, keystore), a) for a in ads)))


async def _probe_ble(settings: CompanionSettings, target: Target,
                     ad: Any) -> BadgeReport | dict[str, str]:
    """Probe a badge heard over BLE; if it cannot be read, report what it advertised."""
    from companion.blescan import ST_CLIPS, ST_ENROLLED, ST_FAULT

    got = await _bounded(settings, target)
    if isinstance(got, BadgeReport):
        return got
    r = BadgeReport(ad.badge_id, "ble", target.address, enrolled=ad.flag(ST_ENROLLED),
                    problem=f"heard but not readable: {got['reason']}")
    if ad.flag(ST_CLIPS):
        r.badge_errors.append("clips waiting (advertised)")
    if ad.flag(ST_FAULT):
        r.badge_errors.append("fault (advertised)")
    return r


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: Any, limit: int = 120) -> str | None:
    return v[:limit] if isinstance(v, str) and v else None


def report_from_info(r: BadgeReport, info: dict[str, Any], sent: float, got: float) -> None:
    """Fill a report from the badge's INFO reply (requested at ``sent``, answered at ``got``).

    Every field is type-checked: a badge that sends nonsense gets blanks, not a crash."""
    r.firmware = _text(info.get("fw")) or r.firmware
    r.agent = _text(info.get("agent")) or r.agent
    r.branch = _text(info.get("branch")) or r.branch
    r.battery_pct = _num(info.get("battery_pct"))
    store = _dict(info.get("storage"))
    r.storage_used_bytes = _int(store.get("bytes_used"))
    r.storage_total_bytes = _int(store.get("bytes_total"))
    r.storage_warn_pct = _num(store.get("warn_pct"))
    clips = _dict(store.get("clips"))
    r.unsynced_clips = _int(clips.get("closed"))
    r.recovered_clips = _int(clips.get("recovered")) or 0
    r.auth_failures = _int(_dict(info.get("auth")).get("failures")) or 0
    r.unsynced_s = _num(store.get("unsynced_seconds"))
    clock = _num(info.get("clock"))
    if clock is not None:
        # the badge's clock counts whole seconds (its true time is within [clock, clock+1)):
        # compare the middle of that second with our clock at mid round trip
        r.clock_drift_s = round(clock + 0.5 - (sent + got) / 2, 1)
    last = _num(info.get("last_sync"))
    r.last_sync_epoch = last if last and last > 0 else None
    mic = info.get("mic")
    if isinstance(mic, dict):
        r.mic_status = _text(mic.get("text")) or _text(mic.get("code")) or "ok"
        if mic.get("code") == "mic_silent":
            r.mic_silent_s = _num(mic.get("silent_s"))
    else:
        r.mic_status = _text(mic)
    errs = info.get("errors")
    errs = errs if isinstance(errs, list) else []
    r.badge_errors = [str(e)[:120] for e in errs[:20] if not _STORE_FULL.match(str(e))]
    fw = _dict(info.get("firmware"))
    r.firmware = _text(fw.get("version"), 32) or r.firmware
    fw_last = _dict(fw.get("last"))
    if fw_last.get("event") == "rolled_back":  # firmware.fwslots: why it was dropped
        r.badge_errors.append(f"firmware {_text(fw_last.get('from'), 32)} rolled back: "
                              f"{_text(fw_last.get('why'))}"[:120])


async def _probe(settings: CompanionSettings, target: Target) -> BadgeReport | dict[str, str]:
    from companion.errors import SyncError

    try:
        async with connect(target, settings, need_auth=False) as s:
            r = BadgeReport(s.badge, target.kind, target.address, enrolled=s.enrolled,
                            branch=s.branch, agent=s.agent, firmware=s.firmware,
                            authenticated=s.authenticated)
            r.ours = (s.branch == settings.branch.id) if s.enrolled else None
            if s.enrolled and r.ours and not s.authenticated:
                r.problem = ("this key store has no matching key for the badge "
                             "(re-enroll it here)")
            if s.authenticated or not s.enrolled:
                sent = time.time()
                try:
                    info = await s.client.info()
                except SyncError as exc:
                    r.problem = f"info failed: {exc}"
                else:
                    report_from_info(r, info, sent, time.time())
            return r
    except OpsError as exc:
        return {"address": target.address, "transport": target.kind, "reason": str(exc)}


async def _bounded(settings: CompanionSettings, t: Target) -> BadgeReport | dict[str, str]:
    limit = settings.scan.connect_timeout_s * 3
    try:
        return await asyncio.wait_for(_probe(settings, t), limit)
    except TimeoutError:
        return {"address": t.address, "transport": t.kind,
                "reason": f"{t.address}: no complete answer within {limit:.0f} s"}


async def run_scan(settings: CompanionSettings, hci: list[str] | None = None,
                   keystore: str | None = None) -> ScanResult:
    """Probe every candidate at once (serial ports, and each BLE radio: the system's, or
    each bumble HCI transport in ``hci``); return ranked reports and skipped ports."""
    t0 = time.monotonic()
    notes: list[str] = []
    serial = serial_targets(settings, keystore)
    jobs: list[Any] = [_bounded(settings, t) for t in serial]
    radios: list[Any] = []
    if settings.scan.ble:
        specs: list[str | None] = list(hci) if hci else [None]
        radios = [_ble_scan(settings, h, keystore, notes) for h in specs]
    results = list(await asyncio.gather(*jobs))
    for found in await asyncio.gather(*radios):
        results += found
    badges = [r for r in results if isinstance(r, BadgeReport)]
    skipped = [r for r in results if isinstance(r, dict)]
    if not results:
        notes.append("no badges found: plug a badge in, name a port with --port, "
                      "or bring badges in BLE range")
    return ScanResult(rank(badges, settings.attention), skipped, notes, time.monotonic() - t0)


def _dur(s: float) -> str:
    return f"{s:.0f} s" if s < 60 else f"{s / 60:.0f} min" if s < 3600 else f"{s / 3600:.1f} h"


def _ago(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    s = max(0.0, now - epoch)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{s / 60:.0f} min ago"
    if s < 86400 * 2:
        return f"{s / 3600:.1f} h ago"
    return f"{s / 86400:.0f} d ago"


def render(result: ScanResult, console: Any) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    now = time.time()
    table = Table(title=f"{len(result.badges)} badge(s), most urgent first", expand=True,
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("badge", no_wrap=True)
    table.add_column("fw", no_wrap=True)
    table.add_column("agent", max_width=12)
    table.add_column("batt\nused", justify="right", no_wrap=True)
    table.add_column("unsynced", justify="right", no_wrap=True)
    table.add_column("drift", justify="right", no_wrap=True)
    table.add_column("synced", justify="right", no_wrap=True)
    table.add_column("needs attention", min_width=16)
    style = {3: "red", 2: "yellow", 1: "cyan"}
    for b in result.badges:
        pct = b.storage_used_pct
        uns = ("-" if b.unsynced_clips is None else
               f"{b.unsynced_clips} clips\n{_dur(b.unsynced_s or 0.0)}")
        issues = "\n".join(escape(i.message) for i in b.issues) or "[green]ok[/]"
        table.add_row(
            f"{escape(b.badge_id)}\n[dim]{escape(b.address)}[/]", escape(b.firmware or "-"),
            escape(b.agent or "-"),
            ("-" if b.battery_pct is None else f"{b.battery_pct:.0f}%") + "\n" +
            ("-" if pct is None else f"{pct:.0f}%"), uns,
            "-" if b.clock_drift_s is None else f"{b.clock_drift_s:+.1f} s",
            _ago(b.last_sync_epoch, now), issues, style=style.get(b.severity))
    if result.badges:
        console.print(table)
    hints: dict[str, str] = {}
    for b in result.badges:
        for i in b.issues:
            if i.severity >= 2 and i.hint:
                hints.setdefault(i.message if i.code in ("unreadable", "badge_error") else i.code,
                                 f"{i.message.split(' ')[0] if i.code == 'badge_error' else i.code}: {i.hint}")
    for h in hints.values():
        console.print(f"[dim]{escape(h)}[/]")
    for s in result.skipped:
        console.print(f"[dim]skipped: {escape(s['reason'])}[/]")
    for n in result.notes:
        console.print(f"[dim]{escape(n)}[/]")
