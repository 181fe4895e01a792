"""Firmware updates from the companion: push a signed bundle to badges over the sync link.

`read_bundle()` loads a release bundle (firmware.fwbundle layout; with a release public
key, its signature and hashes are checked here too). `update_one()` updates one badge:
connect and authenticate (companion.link), refuse locally what the badge would
refuse (a bundle not newer than the running firmware, a badge below the bundle's
minimum version), FW_BEGIN (the badge answers the offset to resume from), FW_DATA
chunks (508 bytes on serial, 478 on BLE), FW_COMMIT (the badge verifies the
Ed25519 signature and every file hash, unpacks into its inactive slot and switches),
then wait for the badge to reboot into the new firmware and confirm it (FW_STATUS in an
authenticated session). A link that drops mid-transfer is reopened and the transfer
resumes from the badge's offset. `update_all()` runs several at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.errors import CompanionError, OpsError
from companion.link import Target, connect
from companion.settings import CompanionSettings
from firmware import fwbundle
from firmware.sync import fwsync

__all__ = ["UpdateError", "BundleFile", "UpdateResult", "read_bundle", "update_one",
           "update_all", "CHUNK", "CHUNK_BLE"]

CHUNK = 508  # request payload limit (512) minus the 4-byte offset
# over BLE a whole frame (34 bytes around the data) fits the badge's 512-byte GATT receive
# buffer (firmware/hw/radio.py), even if its writes all land before the badge reads
CHUNK_BLE = 478
# FW_DATA requests in flight on serial (the badge answers in order; its UART/USB buffer
# holds them). BLE sends one at a time: the badge's GATT receive buffer is one frame.
WINDOW = 4
# replies that mean "the session or the offset is gone" (a reboot mid-transfer): resume
_RESUME = (fwsync.E_OFFSET, "auth_required", "bad_mac", "replay")
Progress = Callable[[str, int, int, str], None]  # (key, done bytes, total, phase)


class UpdateError(CompanionError, RuntimeError):
    """A bundle that cannot be used; one line."""


@dataclass(frozen=True)
class BundleFile:
    path: Path
    data: bytes
    manifest: dict[str, Any]
    sha256: str
    signature_checked: bool

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def min_version(self) -> str:
        return str(self.manifest["min_version"])


@dataclass
class UpdateResult:
    address: str
    transport: str
    badge: str | None = None
    outcome: str = "failed"  # updated | up_to_date | refused | rolled_back | failed
    before: str | None = None
    after: str | None = None
    message: str = ""
    sent_bytes: int = 0
    resumed_from: int = 0
    reconnects: int = 0
    transfer_s: float = 0.0
    total_s: float = 0.0
    verify_ms: int | None = None
    state: str | None = None
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("updated", "up_to_date")

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["ok"] = self.ok
        return d


def read_bundle(path: Path, public: bytes | None = None) -> BundleFile:
    """Load a bundle; its layout always, signature and hashes too when ``public`` is given."""
    try:
        data = path.read_bytes()
    except OSError as exc:  # the named file is not there: bad input, not a finding
        raise UpdateError(f"{path}: {exc.strerror}",
                          exit_code=2 if isinstance(exc, FileNotFoundError) else 1) from None
    try:
        f = io.BytesIO(data)
        hm, man, sig = fwbundle.read_head(f, len(data))
        if public is not None:
            from badgecore.release import _ed25519_verify

            fwbundle.verify_signature(hm, sig, public, _ed25519_verify)
            fwbundle.copy_files(f, man)
    except fwbundle.BundleError as exc:
        raise UpdateError(f"{path}: {exc}") from None
    return BundleFile(path, data, man, hashlib.sha256(data).hexdigest(), public is not None)


def _v(text: str | None) -> tuple[int, ...]:
    try:
        return fwbundle.parse_version(text)
    except fwbundle.BundleError:
        return (0, 0, 0)


async def _transfer(s: Any, kind: str, b: BundleFile, res: UpdateResult,
                    progress: Progress | None, key: str) -> dict[str, Any]:
    """BEGIN (resume offset), DATA until the end, COMMIT; returns the commit reply."""
    from companion.errors import BadgeReplyError, ProtocolError

    c = s.client
    try:  # in a session this also confirms a firmware still on trial (firmware.fwbadge)
        await c.request(fwsync.FW_STATUS)
    except BadgeReplyError as exc:
        if exc.code == "unknown_type":
            raise BadgeReplyError(exc.code, "this badge's firmware predates updates over the "
                                  "sync link: deploy once with badgekit hardware deploy") from None
        raise
    r = await c.request(fwsync.FW_BEGIN, {"size": len(b.data), "sha256": b.sha256,
                                         "version": b.version})
    off = int(r["offset"])
    if res.sent_bytes == 0 and off:
        res.resumed_from = off
    if progress:
        progress(key, off, len(b.data), "sending")
    data = b.data

    def chunks(start: int) -> Iterator[bytes]:
        for o in range(start, len(data), step):
            yield struct.pack("<I", o) + data[o:o + step]

    step = CHUNK if kind == "serial" else CHUNK_BLE
    window = WINDOW if kind == "serial" else 1
    async for r in c.pipeline(fwsync.FW_DATA, chunks(off), window):
        new = int(r["offset"])
        if new <= off:
            raise ProtocolError(f"the badge's offset went from {off} to {new}")
        res.sent_bytes += new - off
        off = new
        if progress:
            progress(key, off, len(data), "sending")
    if progress:
        progress(key, off, len(data), "verifying on the badge")
    return await c.request(fwsync.FW_COMMIT, {}, timeout_s=180)


async def _await_reboot(settings: CompanionSettings, target: Target, b: BundleFile,
                        res: UpdateResult, timeout_s: float) -> None:
    """Reconnect until the badge runs the new firmware (confirmed) or reports a rollback."""
    from companion.errors import SyncError

    deadline = time.monotonic() + timeout_s
    await asyncio.sleep(1.2)  # the badge reboots within a second of its commit reply
    last = ""
    while time.monotonic() < deadline:
        try:
            async with connect(target, settings, timeout_s=5) as s:
                st = await s.client.request(fwsync.FW_STATUS)
        except (OpsError, SyncError) as exc:
            last = str(exc)
            res.reconnects += 1
            await asyncio.sleep(0.5)
            continue
        running = str(st.get("version"))
        info = st.get("last") if isinstance(st.get("last"), dict) else {}
        if running == b.version:
            res.after, res.state = running, str(st.get("state"))
            res.outcome = "updated"
            res.message = f"{res.before} -> {running} ({res.state})"
            return
        if info.get("event") == "rolled_back" and info.get("from") == b.version:
            res.after, res.state = running, str(st.get("state"))
            res.outcome = "rolled_back"
            res.message = f"{b.version} rolled back to {running}: {info.get('why')}"
            return
        await asyncio.sleep(0.5)  # not rebooted yet
    res.outcome = "failed"
    res.message = (f"the badge did not come back with {b.version} within {timeout_s:.0f} s"
                   + (f" ({last})" if last else ""))


async def update_one(settings: CompanionSettings, target: Target, b: BundleFile,
                     progress: Progress | None = None, retries: int = 5,
                     reboot_timeout_s: float = 90.0) -> UpdateResult:
    """Update one badge; never raises for a badge-side problem (the result says it)."""
    from companion.errors import BadgeReplyError, SyncError

    res = UpdateResult(target.address, target.kind)
    key = str(target)
    t0 = time.monotonic()
    attempt = 0
    commit: dict[str, Any] | None = None
    while commit is None:
        try:
            async with connect(target, settings) as s:
                res.badge = s.badge
                if res.before is not None and s.firmware == b.version:
                    commit = {}  # committed before the link dropped: it rebooted into it
                    break
                res.before = s.firmware
                if s.firmware == b.version:  # FW_STATUS also confirms it if still on trial
                    st = await s.client.request(fwsync.FW_STATUS)
                    res.after, res.state = s.firmware, str(st.get("state"))
                if _v(s.firmware) >= _v(b.version):
                    res.outcome = "up_to_date" if s.firmware == b.version else "refused"
                    res.message = (f"already runs {b.version}" if s.firmware == b.version else
                                   f"runs {s.firmware}, newer than the bundle's {b.version}: "
                                   "downgrade refused")
                    return res
                if _v(s.firmware) < _v(b.min_version):
                    res.outcome = "refused"
                    res.message = (f"runs {s.firmware}, below the bundle's minimum "
                                   f"{b.min_version}: update to {b.min_version} first")
                    return res
                t1 = time.monotonic()
                try:
                    commit = await _transfer(s, target.kind, b, res, progress, key)
                finally:
                    res.transfer_s += time.monotonic() - t1
        except BadgeReplyError as exc:
            if exc.code in _RESUME and attempt < retries:  # the badge rebooted or lost track
                attempt += 1
                res.reconnects += 1
                res.events.append(f"resumed after: {exc.badge_message}")
                continue
            res.outcome = "refused"
            res.message = f"the badge refused: {exc.badge_message}"
            res.total_s = time.monotonic() - t0
            return res
        except (OpsError, SyncError) as exc:
            attempt += 1
            res.reconnects += 1
            if attempt > retries or (isinstance(exc, OpsError) and res.badge is None):
                res.outcome = "failed"
                res.message = str(exc)
                res.total_s = time.monotonic() - t0
                return res
            res.events.append(f"link lost at byte {res.sent_bytes + res.resumed_from}: {exc}")
            await asyncio.sleep(0.5)
    res.verify_ms = commit.get("verify_ms")
    if progress:
        progress(key, len(b.data), len(b.data), "rebooting")
    await _await_reboot(settings, target, b, res, reboot_timeout_s if commit else 10.0)
    if progress:
        progress(key, len(b.data), len(b.data), res.outcome)
    res.total_s = time.monotonic() - t0
    return res


async def update_all(settings: CompanionSettings, targets: list[Target], b: BundleFile,
                     progress: Progress | None = None) -> list[UpdateResult]:
    """Update every target at once (one task per badge)."""
    return list(await asyncio.gather(*(update_one(settings, t, b, progress) for t in targets)))
