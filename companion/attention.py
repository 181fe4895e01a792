"""Which badges need attention, and in which order staff should look at them.

`assess()` turns one badge's scan record (`BadgeReport`) into a list of `Issue`s using
the thresholds of `AttentionSettings`; `rank()` sorts reports so the most urgent come
first: errors before warnings before healthy badges, then by how much unsynced audio is
at stake, then by badge id (a stable order for a tray that does not change).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from companion.settings import AttentionSettings

__all__ = ["Issue", "BadgeReport", "assess", "rank", "ERROR", "WARN", "INFO"]

ERROR, WARN, INFO = 3, 2, 1
_LEVEL = {ERROR: "error", WARN: "warn", INFO: "info"}


@dataclass(frozen=True)
class Issue:
    """One reason a badge needs attention."""

    code: str  # stable machine name, e.g. "mic_silent", "storage_nearly_full"
    severity: int  # ERROR, WARN or INFO
    message: str  # a few words for staff
    hint: str = ""  # what to do about it

    @property
    def level(self) -> str:
        return _LEVEL[self.severity]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "message": self.message, "hint": self.hint}


@dataclass
class BadgeReport:
    """What scan learned about one badge (None: the badge did not say)."""

    badge_id: str
    transport: str  # "serial" or "ble"
    address: str  # serial port path or BLE address
    enrolled: bool | None = None
    branch: str | None = None
    agent: str | None = None
    ours: bool | None = None  # enrolled at this companion's branch
    authenticated: bool = False  # mutual auth with our key store succeeded
    firmware: str | None = None
    battery_pct: float | None = None
    storage_used_bytes: int | None = None
    storage_total_bytes: int | None = None
    storage_warn_pct: float | None = None  # the badge's own warning level (config)
    unsynced_clips: int | None = None
    unsynced_s: float | None = None
    recovered_clips: int = 0
    auth_failures: int = 0  # failed authentications on the link scanned (since the badge booted)
    clock_drift_s: float | None = None  # badge clock minus ours
    last_sync_epoch: float | None = None
    mic_silent_s: float | None = None  # how long the mic has been silent, if it is
    mic_status: str | None = None  # the badge's mic line ("ok", "mic silent for 12 min", ...)
    badge_errors: list[str] = field(default_factory=list)  # raw error strings the badge reports
    problem: str | None = None  # why we could not read the badge fully (auth refused, timeout)
    issues: list[Issue] = field(default_factory=list)

    @property
    def storage_used_pct(self) -> float | None:
        if self.storage_used_bytes is None or not self.storage_total_bytes:
            return None
        return 100.0 * self.storage_used_bytes / self.storage_total_bytes

    @property
    def unsynced_hours(self) -> float | None:
        return None if self.unsynced_s is None else self.unsynced_s / 3600.0

    @property
    def severity(self) -> int:
        return max((i.severity for i in self.issues), default=0)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "issues"}
        d["storage_used_pct"] = None if self.storage_used_pct is None else round(self.storage_used_pct, 1)
        d["unsynced_hours"] = None if self.unsynced_hours is None else round(self.unsynced_hours, 3)
        d["attention"] = _LEVEL.get(self.severity, "ok")
        d["issues"] = [i.as_dict() for i in self.issues]
        return d


def _hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def assess(r: BadgeReport, cfg: AttentionSettings, now: float | None = None) -> list[Issue]:
    """The issues of one badge, most severe first (also stored on ``r.issues``)."""
    now = time.time() if now is None else now
    out: list[Issue] = []
    if r.problem:
        out.append(Issue("unreadable", ERROR, r.problem, "check the badge's enrollment and key store"))
    if r.enrolled is False:
        out.append(Issue("not_enrolled", WARN, "not enrolled",
                         "badgekit companion enroll --agent NAME"))
    elif r.ours is False:
        where = f"branch {r.branch}" if r.branch else "another branch (its key is not here)"
        out.append(Issue("other_branch", ERROR, f"enrolled at {where}",
                         "not ours to sync: return it to its branch"))
    if r.mic_silent_s:
        out.append(Issue("mic_silent", ERROR, f"mic silent {_hours(r.mic_silent_s)}",
                         "check the microphone opening; replace the badge if it persists"))
    elif r.mic_status and r.mic_status != "ok":
        code = "mic_silent" if "silent" in r.mic_status else "mic_fault"
        out.append(Issue(code, ERROR, r.mic_status if "mic" in r.mic_status else f"mic: {r.mic_status}",
                         "check the microphone opening; replace the badge if it persists"))
    for err in r.badge_errors:
        out.append(Issue("badge_error", ERROR, err, "see `badgekit companion logs`"))
    pct = r.storage_used_pct
    warn_at = min(cfg.storage_warn_pct, r.storage_warn_pct or 100)  # either side may ask
    if pct is not None and pct >= warn_at:
        sev = ERROR if pct >= 95 else WARN
        out.append(Issue("storage_nearly_full", sev, f"storage {pct:.0f}% full",
                         "sync it now: it stops recording when full"))
    if r.recovered_clips:
        out.append(Issue("recovered_clips", WARN, f"{r.recovered_clips} recovered clip(s)",
                         "power was cut while recording; check the battery and clip"))
    if r.auth_failures:
        out.append(Issue("auth_failures", WARN, f"{r.auth_failures} failed authentication(s)",
                         "a wrong key was tried on this badge: check who had it "
                         "(badgekit companion logs)"))
    if r.battery_pct is not None and r.battery_pct <= cfg.battery_warn_pct:
        out.append(Issue("battery_low", WARN, f"battery {r.battery_pct:.0f}%", "charge it"))
    if r.clock_drift_s is not None and abs(r.clock_drift_s) > cfg.drift_warn_s:
        out.append(Issue("clock_drift", WARN, f"clock {r.clock_drift_s:+.1f} s off",
                         "badgekit companion set-time"))
    if r.unsynced_s is not None and r.unsynced_s > cfg.unsynced_warn_hours * 3600:
        out.append(Issue("unsynced_audio", WARN, f"{_hours(r.unsynced_s)} unsynced",
                         "badgekit companion sync"))
    if r.unsynced_clips:
        if r.last_sync_epoch is None:
            out.append(Issue("never_synced", INFO, "never synced", "badgekit companion sync"))
        elif now - r.last_sync_epoch > cfg.last_sync_warn_hours * 3600:
            out.append(Issue("sync_overdue", WARN,
                             f"last sync {_hours(now - r.last_sync_epoch)} ago",
                             "badgekit companion sync"))
        else:
            out.append(Issue("clips_waiting", INFO, f"{r.unsynced_clips} clip(s) to sync",
                             "badgekit companion sync"))
    out.sort(key=lambda i: -i.severity)
    r.issues = out
    return out


def rank(reports: list[BadgeReport], cfg: AttentionSettings,
         now: float | None = None) -> list[BadgeReport]:
    """Assess every report and sort: most urgent first, then most unsynced audio, then id."""
    for r in reports:
        assess(r, cfg, now)
    return sorted(reports, key=lambda r: (-r.severity, -len([i for i in r.issues if i.severity >= WARN]),
                                          -(r.unsynced_s or 0.0), r.badge_id, r.address))
