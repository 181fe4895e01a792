"""One-badge operations for staff: connect + authenticate, set the clock, config, event log.

`connect()` opens the transport a `Target` names (a serial port or a BLE address), says
hello, and, for a badge enrolled at this branch, authenticates with the key from the
branch key store (companion.keystore). A badge enrolled elsewhere, a badge whose key we
lack, or a port where no badge answers raise `OpsError` with one line staff can act on.
`set_time`, `config_get`, `config_set` and `logs` return plain dicts (the `--json` output).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from companion.errors import OpsError
from companion.settings import CompanionSettings

__all__ = ["OpsError", "Target", "Session", "connect", "set_time", "config_get", "config_set",
           "logs", "parse_assignments", "format_event", "CONFIG_DOCS"]

CONFIG_DOCS = {
    "gain_db": "microphone gain (dB)",
    "vad_sensitivity": "voice gate: 0 keeps least .. 3 keeps most",
    "max_clip_s": "longest clip before a seamless split (s)",
    "max_session_min": "a session stops by itself after (min)",
    "storage_warn_pct": "warn (LED, status) at this storage use (%)",
    "case_id": "customer/case id for the meeting recording now or the next one (\"\" clears)",
}


@dataclass(frozen=True)
class Target:
    """How to reach one badge: ``kind`` "serial" (a port) or "ble" (an address).

    ``hci``: for BLE, a bumble HCI transport spec (a simulated badge's link or a USB
    dongle); None uses the system's Bluetooth. ``keystore``: the key store file (None:
    the default one)."""

    kind: str
    address: str
    hci: str | None = None
    keystore: str | None = None
    device: Any = field(default=None, compare=False, repr=False)  # an open bumble Device

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"


@dataclass
class Session:
    """An open link to a badge: the client, what it said in hello, and whether we hold its key."""

    client: Any  # companion.client.BadgeClient
    transport: Any
    badge: str
    enrolled: bool
    branch: str | None
    agent: str | None
    firmware: str
    authenticated: bool


def make_transport(target: Target) -> Any:
    """The companion transport for a target (imports only the one it needs)."""
    from companion.transport import make_transport as make

    if target.kind == "serial":
        return make(port=target.address)
    if target.device is not None:
        from companion.transport.ble import BleTransport

        return BleTransport(target.address, bumble_device=target.device)
    try:
        return make(ble=target.address, hci=target.hci)
    except ImportError as exc:
        raise OpsError(f"BLE is not available here ({exc})") from None


def _describe(exc: Exception, target: Target, greeting: bool = False) -> str:
    from companion.errors import ProtocolError

    text = str(exc)
    if "exclusively lock" in text or "Resource temporarily unavailable" in text:
        return (f"{target.address} is busy: another companion (or program) has it open, "
                "e.g. a sync in progress; try again when it is done")
    if greeting or isinstance(exc, ProtocolError):
        return (f"{target.address}: not a badge (nothing there answered like a badgekit "
                f"badge: {text.removeprefix(f'{target}: ')})")
    return text if text.startswith(str(target)) else f"{target}: {text}"


@asynccontextmanager
async def connect(settings: CompanionSettings, target: Target, need_auth: bool = True,
                  timeout_s: float | None = None,
                  allow_unenrolled: bool = False) -> AsyncIterator[Session]:
    """Open, hello, and authenticate (if the badge is ours); close on exit.

    With ``need_auth`` a badge that is not enrolled here raises OpsError (an unenrolled
    one is let through with ``allow_unenrolled``); without it the session is returned
    unauthenticated (scan still learns what hello tells).
    """
    from companion.client import BadgeClient
    from companion.errors import AuthError, SyncError
    from companion.keystore import KeyStore

    transport = make_transport(target)
    client = BadgeClient(transport, timeout_s=timeout_s or settings.scan.connect_timeout_s)
    try:
        await transport.open()
    except SyncError as exc:
        raise OpsError(_describe(exc, target)) from None
    try:
        try:
            h = await client.hello()
        except SyncError as exc:
            raise OpsError(_describe(exc, target, greeting=True)) from None
        sess = Session(client, transport, h.badge, h.enrolled, h.branch, h.agent, h.fw, False)
        ours = settings.branch.id
        if not h.enrolled:
            if need_auth and not allow_unenrolled:
                raise OpsError(f"badge {h.badge} is not enrolled; enroll it first: "
                               f"badgekit companion enroll --port ... --agent NAME")
        else:  # an enrolled badge names its branch and agent only after AUTH
            try:
                key = KeyStore(target.keystore).get(h.badge)
            except SyncError as exc:
                raise OpsError(str(exc)) from None
            if key is None or key.branch != ours:
                where = f"branch {key.branch}" if key is not None else "another branch"
                sess.branch = key.branch if key is not None else None
                if need_auth:
                    raise OpsError(f"badge {h.badge} is enrolled at {where}, not {ours} (this "
                                   "key store has no key for it here): refused; it must be "
                                   "handled by its own branch")
            else:
                try:
                    h = await client.authenticate(key.secret)
                    sess.branch, sess.agent, sess.firmware = h.branch, h.agent, h.fw
                    sess.authenticated = True
                except AuthError as exc:
                    sess.branch = key.branch  # what this key store says; the badge did not
                    if need_auth:
                        raise OpsError(str(exc)) from None
                except SyncError as exc:
                    raise OpsError(_describe(exc, target)) from None
                if h.branch != ours and need_auth:
                    raise OpsError(f"badge {h.badge} is enrolled at branch {h.branch}, not "
                                   f"{ours}: refused; it must be handled by its own branch")
        yield sess
    finally:
        await client.stop()
        try:
            await transport.close()
        except Exception:  # noqa: BLE001 - closing a vanished link must not mask the result
            pass


async def _call(coro: Any, target: Target) -> Any:
    from companion.errors import BadgeReplyError, SyncError

    try:
        return await coro
    except BadgeReplyError as exc:
        raise OpsError(f"the badge refused: {exc.badge_message}") from None
    except SyncError as exc:
        raise OpsError(_describe(exc, target)) from None


async def set_time(settings: CompanionSettings, target: Target) -> dict[str, Any]:
    async with connect(settings, target) as s:
        before = time.time()
        r = await _call(s.client.set_time(int(round(before))), target)
        return {"badge_id": s.badge, "clock": r.get("clock"), "drift_s": float(r.get("drift_s", 0))}


def parse_assignments(items: list[str]) -> dict[str, int | str]:
    """``["gain_db=6", "max_clip_s", "120"]`` -> ``{"gain_db": 6, "max_clip_s": 120}`` (checked);
    ``case_id`` takes text (``case_id=C-2024-0017``)."""
    from firmware.sync.state import config_error

    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(items):
        it = items[i]
        if "=" in it:
            k, _, v = it.partition("=")
            i += 1
        elif i + 1 < len(items):
            k, v = it, items[i + 1]
            i += 2
        else:
            raise OpsError(f"{it}: give a value (KEY=VALUE)")
        pairs.append((k.strip().replace("-", "_"), v.strip()))
    out: dict[str, int | str] = {}
    for k, v in pairs:
        if k == "case_id":
            err = config_error(k, v)
            if err:
                raise OpsError(err)
            out[k] = v
            continue
        try:
            val = int(v)
        except ValueError:
            raise OpsError(f"{k}: {v!r} is not a whole number") from None
        err = config_error(k, val)
        if err:
            known = ", ".join(CONFIG_DOCS)
            raise OpsError(err + (f" (keys: {known})" if "unknown" in err else ""))
        out[k] = val
    if not out:
        raise OpsError("nothing to set: give KEY=VALUE")
    return out


async def config_get(settings: CompanionSettings, target: Target,
                     key: str | None = None) -> dict[str, Any]:
    async with connect(settings, target) as s:
        cfg = await _call(s.client.get_config(), target)
    if key is not None:
        key = key.replace("-", "_")
        if key == "case_id":  # only in the reply while one is pending
            cfg.setdefault("case_id", "")
        if key not in cfg:
            raise OpsError(f"unknown config key {key} (keys: {', '.join(sorted(cfg))})")
        cfg = {key: cfg[key]}
    return {"badge_id": s.badge, "config": cfg}


async def config_set(settings: CompanionSettings, target: Target,
                     changes: dict[str, int | str]) -> dict[str, Any]:
    async with connect(settings, target) as s:
        cfg = await _call(s.client.set_config(changes), target)
    return {"badge_id": s.badge, "config": cfg, "changed": sorted(changes)}


def format_event(ev: Any) -> dict[str, Any]:
    """A badge event as ``time`` (UTC ISO, if it has one), ``event`` and a ``detail`` line."""
    if not isinstance(ev, dict):
        return {"time": "", "event": "?", "detail": repr(ev)[:200], "raw": ev}
    t = ev.get("t")
    when = ""
    if isinstance(t, int | float) and not isinstance(t, bool):
        try:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        except (OverflowError, OSError, ValueError):
            when = ""
    rest = {k: v for k, v in ev.items() if k not in ("t", "event")}
    detail = " ".join(f"{k}={v}" for k, v in rest.items())
    return {"time": when, "event": str(ev.get("event", "?")), "detail": detail, "raw": ev}


async def logs(settings: CompanionSettings, target: Target, tail: int = 0) -> dict[str, Any]:
    async with connect(settings, target, allow_unenrolled=True) as s:
        events = await _call(s.client.logs(), target)
    if tail > 0:
        events = events[-tail:]
    return {"badge_id": s.badge, "events": [format_event(e) for e in events]}
