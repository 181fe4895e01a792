"""One-badge operations for staff: set the clock, config, event log.

Each opens the badge a `Target` names through `companion.link.connect` (hello, and
authentication for a badge enrolled at this branch). A badge enrolled elsewhere, a badge
whose key we lack, a port where no badge answers, or a refused request raise `OpsError`
with one line staff can act on. `set_time`, `config_get`, `config_set` and `logs` return
plain dicts (the `--json` output).
"""

from __future__ import annotations

import time
from typing import Any

from companion.errors import OpsError
from companion.link import Target, connect, describe
from companion.settings import CompanionSettings

__all__ = ["OpsError", "set_time", "config_get", "config_set",
           "logs", "parse_assignments", "format_event", "CONFIG_DOCS"]

CONFIG_DOCS = {
    "gain_db": "microphone gain (dB)",
    "vad_sensitivity": "voice gate: 0 keeps least .. 3 keeps most",
    "max_clip_s": "longest clip before a seamless split (s)",
    "max_session_min": "a session stops by itself after (min)",
    "storage_warn_pct": "warn (LED, status) at this storage use (%)",
    "case_id": "customer/case id for the meeting recording now or the next one (\"\" clears)",
}


async def _call(coro: Any, target: Target) -> Any:
    from companion.errors import BadgeReplyError, SyncError

    try:
        return await coro
    except BadgeReplyError as exc:
        raise OpsError(f"the badge refused: {exc.badge_message}") from None
    except SyncError as exc:
        raise OpsError(describe(exc, target)) from None


async def set_time(settings: CompanionSettings, target: Target) -> dict[str, Any]:
    async with connect(target, settings) as s:
        before = time.time()
        r = await _call(s.client.set_time(int(round(before))), target)
        return {"badge_id": s.badge, "clock": r.get("clock"), "drift_s": float(r.get("drift_s", 0))}


def parse_assignments(items: list[str]) -> dict[str, int | str]:
    """``["gain_db=6", "max_clip_s", "120"]`` -> ``{"gain_db": 6, "max_clip_s": 120}``, checked
    (a bad one: OpsError, exit code 2); ``case_id`` takes text (``case_id=C-2024-0017``)."""
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
            raise OpsError(f"{it}: give a value (KEY=VALUE)", exit_code=2)
        pairs.append((k.strip().replace("-", "_"), v.strip()))
    out: dict[str, int | str] = {}
    for k, v in pairs:
        if k == "case_id":
            err = config_error(k, v)
            if err:
                raise OpsError(err, exit_code=2)
            out[k] = v
            continue
        try:
            val = int(v)
        except ValueError:
            raise OpsError(f"{k}: {v!r} is not a whole number", exit_code=2) from None
        err = config_error(k, val)
        if err:
            known = ", ".join(CONFIG_DOCS)
            raise OpsError(err + (f" (keys: {known})" if "unknown" in err else ""), exit_code=2)
        out[k] = val
    if not out:
        raise OpsError("nothing to set: give KEY=VALUE", exit_code=2)
    return out


async def config_get(settings: CompanionSettings, target: Target,
                     key: str | None = None) -> dict[str, Any]:
    async with connect(target, settings) as s:
        cfg = await _call(s.client.get_config(), target)
    if key is not None:
        key = key.replace("-", "_")
        if key == "case_id":  # only in the reply while one is pending
            cfg.setdefault("case_id", "")
        if key not in cfg:
            raise OpsError(f"unknown config key {key} (keys: {', '.join(sorted(cfg))})",
                           exit_code=2)
        cfg = {key: cfg[key]}
    return {"badge_id": s.badge, "config": cfg}


async def config_set(settings: CompanionSettings, target: Target,
                     changes: dict[str, int | str]) -> dict[str, Any]:
    async with connect(target, settings) as s:
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
    async with connect(target, settings, allow_unenrolled=True) as s:
        events = await _call(s.client.logs(), target)
    if tail > 0:
        events = events[-tail:]
    return {"badge_id": s.badge, "events": [format_event(e) for e in events]}
