"""Companion settings: one TOML file, frozen dataclasses with documented defaults.

The file lives at ``settings_path()`` (``<config dir>/companion.toml``; the config dir is
``BADGEKIT_CONFIG`` or the platform's user config folder) and holds one table per
subsystem; every key is optional and falls back to the default documented here::

    [branch]
    id = "branch-01"
    [spool]
    path = "/srv/badgekit/spool"
    [attention]
    storage_warn_pct = 80

Every option is also a command-line flag (``--storage-warn-pct``, ``--spool``, …); a
flag wins over the file, the file wins over the default. ``badgekit companion config
path`` shows the file, ``config show`` the effective values with their documentation.
Read with ``tomllib``, written with ``tomli_w``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from badgecore.atomicfile import write_atomic
from badgecore.paths import config_dir, data_dir
from companion.errors import CompanionError

__all__ = [
    "SettingsError",
    "BranchSettings",
    "SpoolSettings",
    "ScanSettings",
    "AttentionSettings",
    "BadgeConfigSettings",
    "ListenSettings",
    "CompanionSettings",
    "settings_path",
    "load",
    "save",
    "override",
    "describe",
    "as_dict",
    "template",
]

SETTINGS_FILE = "companion.toml"


class SettingsError(CompanionError, ValueError):
    """The settings file cannot be read, or a key or value in it is not valid."""

    exit_code = 2


def _opt(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class BranchSettings:
    """Who this companion is: the branch it enrolls badges to and the staff member."""

    id: str = _opt("branch-01", "Branch id written to badges at enrollment and to custody records.")
    operator: str = _opt("", "Staff member named in custody records (empty: the login name).")


@dataclass(frozen=True)
class SpoolSettings:
    """Where synced (and `listen --mic`) clips land for the gateway."""

    path: str = _opt("", "Spool folder the gateway watches (empty: <data dir>/spool).")

    @property
    def folder(self) -> Path:
        return Path(self.path).expanduser() if self.path else data_dir() / "spool"


@dataclass(frozen=True)
class ScanSettings:
    """How `scan` finds badges."""

    ble: bool = _opt(True, "Look for badges over Bluetooth LE.")
    serial: bool = _opt(True, "Probe USB serial ports (CDC ACM / USB-UART adapters).")
    ble_timeout_s: float = _opt(4.0, "How long to listen for BLE advertisements (seconds).")
    connect_timeout_s: float = _opt(5.0, "Give up on a badge that does not answer within this (seconds).")
    ports: tuple[str, ...] = _opt((), "Extra serial ports to probe besides the detected USB ones.")


@dataclass(frozen=True)
class AttentionSettings:
    """When a badge needs attention (scan sorts those first)."""

    storage_warn_pct: int = _opt(80, "Storage used at or above this share is 'nearly full' (%).")
    battery_warn_pct: int = _opt(20, "Battery at or below this is 'battery low' (%).")
    drift_warn_s: float = _opt(2.0, "Clock drift beyond this (either way) needs `set-time` (seconds).")
    unsynced_warn_hours: float = _opt(4.0, "Unsynced audio above this needs a sync (hours).")
    last_sync_warn_hours: float = _opt(24.0, "No sync for longer than this with clips waiting (hours).")


@dataclass(frozen=True)
class BadgeConfigSettings:
    """Recording config of the microphone badge (`listen --mic`); the same keys and ranges
    as a badge's own config (`config get/set`, firmware.sync.state.CONFIG_DEFAULTS)."""

    gain_db: int = _opt(0, "Microphone gain (dB, -12..30).")
    vad_sensitivity: int = _opt(2, "Voice gate sensitivity (0 keeps least .. 3 keeps most).")
    max_clip_s: int = _opt(300, "Longest clip; longer speech is split with no sample lost (seconds, 10..3600).")
    max_session_min: int = _opt(240, "A session stops by itself after this long (minutes, 1..1440).")
    storage_warn_pct: int = _opt(80, "Warn at this storage use (%, 10..99; `listen --mic`: of the spool disk).")


@dataclass(frozen=True)
class ListenSettings:
    """`listen --mic`: the computer's microphone as a badge."""

    device: str = _opt("", "Input device name or index for sounddevice (empty: the default).")
    badge_id: str = _opt("mic-badge", "Badge id the clips carry.")
    agent: str = _opt("", "Agent named in the clips' custody records.")
    duration_s: float = _opt(0.0, "Stop after this much audio (seconds; 0: until Ctrl-C).")


@dataclass(frozen=True)
class CompanionSettings:
    """All companion settings: one table per subsystem in the TOML file."""

    branch: BranchSettings = field(default_factory=BranchSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    attention: AttentionSettings = field(default_factory=AttentionSettings)
    badge: BadgeConfigSettings = field(default_factory=BadgeConfigSettings)
    listen: ListenSettings = field(default_factory=ListenSettings)


def settings_path() -> Path:
    """The settings file: ``BADGEKIT_COMPANION_SETTINGS`` or ``<config dir>/companion.toml``."""
    env = os.environ.get("BADGEKIT_COMPANION_SETTINGS")
    return Path(env) if env else config_dir() / SETTINGS_FILE


def _coerce(value: Any, default: Any, where: str) -> Any:
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
    elif kind is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    raise SettingsError(f"{where}: expected {kind.__name__}, got {value!r}")


def _build(raw: dict[str, Any], base: CompanionSettings, source: str) -> CompanionSettings:
    tables: dict[str, Any] = {}
    for f in dataclasses.fields(base):
        tables[f.name] = getattr(base, f.name)
    for name, values in raw.items():
        if name not in tables:
            raise SettingsError(f"{source}: unknown table [{name}] (known: {', '.join(tables)})")
        if not isinstance(values, dict):
            raise SettingsError(f"{source}: [{name}] must be a table")
        sub = tables[name]
        known = {f.name: f for f in dataclasses.fields(sub)}
        changes = {}
        for key, value in values.items():
            if key not in known:
                raise SettingsError(f"{source}: unknown key {name}.{key} (known: {', '.join(known)})")
            changes[key] = _coerce(value, known[key].default, f"{source}: {name}.{key}")
        tables[name] = dataclasses.replace(sub, **changes)
    return CompanionSettings(**tables)


def load(path: Path | None = None) -> CompanionSettings:
    """Read the settings file (defaults when it does not exist); raise SettingsError."""
    path = path or settings_path()
    if not path.exists():
        return CompanionSettings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    return _build(raw, CompanionSettings(), str(path))


def override(settings: CompanionSettings, changes: dict[str, Any]) -> CompanionSettings:
    """Apply ``{"table.key": value}`` changes (None values are ignored: flag not given)."""
    raw: dict[str, dict[str, Any]] = {}
    for dotted, value in changes.items():
        if value is None:
            continue
        table, _, key = dotted.partition(".")
        raw.setdefault(table, {})[key] = value
    return _build(raw, settings, "flag") if raw else settings


def as_dict(settings: CompanionSettings) -> dict[str, dict[str, Any]]:
    """Plain nested dict (tuples as lists), ready for TOML or JSON."""
    out: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(settings):
        sub = getattr(settings, f.name)
        out[f.name] = {k.name: (list(v) if isinstance(v := getattr(sub, k.name), tuple) else v)
                       for k in dataclasses.fields(sub)}
    return out


def save(settings: CompanionSettings, path: Path | None = None) -> Path:
    """Write the settings file atomically (only values that differ from the defaults)."""
    import tomli_w

    path = path or settings_path()
    current, default = as_dict(settings), as_dict(CompanionSettings())
    diff = {t: {k: v for k, v in kv.items() if v != default[t][k]} for t, kv in current.items()}
    diff = {t: kv for t, kv in diff.items() if kv}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, tomli_w.dumps(diff).encode(), mode=0o644)
    return path


def template() -> str:
    """A settings file with every option commented out at its default, with its meaning."""
    import tomli_w

    lines = ["# badgekit companion settings. Every key is optional: uncomment to change it.",
             "# A command-line flag wins over this file; this file wins over the default."]
    default = CompanionSettings()
    for f in dataclasses.fields(default):
        sub = getattr(default, f.name)
        lines += ["", f"[{f.name}]"]
        for k in dataclasses.fields(sub):
            value = getattr(sub, k.name)
            shown = tomli_w.dumps({k.name: list(value) if isinstance(value, tuple) else value})
            lines.append(f"# {k.metadata.get('doc', '')}")
            lines.append(f"# {shown.strip()}")
    return "\n".join(lines) + "\n"


def describe(settings: CompanionSettings) -> list[tuple[str, Any, Any, str]]:
    """Rows of (key, value, default, documentation) for every option."""
    rows = []
    default = CompanionSettings()
    for f in dataclasses.fields(settings):
        sub, dsub = getattr(settings, f.name), getattr(default, f.name)
        for k in dataclasses.fields(sub):
            rows.append((f"{f.name}.{k.name}", getattr(sub, k.name), getattr(dsub, k.name),
                         k.metadata.get("doc", "")))
    return rows
