"""Sync, enroll and status of one badge over any transport: the companion's sync API.

    report = await sync_badge(transport, Spool(dir), KeyStore(path), branch="b1",
                              progress=callback)

``sync_badge`` authenticates (mutual HMAC), lists the clips, reads each one into the
spool from its durable offset (so a rerun after a dropped link resumes), verifies it
(hash, trailer, chain), commits it with a custody record, and only then acknowledges it
so the badge may delete it. A clip that fails verification is kept on the badge and
reported. ``enroll_badge`` pairs a badge with the branch and an agent; ``badge_status``
reads its info. Refusals (unknown badge, other branch, wrong key) raise SyncError
subclasses before anything is read or acknowledged.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from badgecore.spoollayout import name_error
from companion.client import BadgeClient, ClipEntry
from companion.errors import (
    AuthError,
    BadgeReplyError,
    LinkError,
    UnknownBadgeError,
    VerifyError,
)
from companion.keystore import BadgeKey, KeyStore
from companion.link import authenticate
from companion.spool import Spool
from companion.transport.base import Transport

__all__ = ["ClipResult", "SyncReport", "Progress", "EnrollResult", "sync_badge", "enroll_badge",
           "badge_status"]


@dataclass(frozen=True)
class ClipResult:
    """What happened to one clip: synced | already (in the spool from an earlier run) |
    rejected (failed verification) | failed (the badge could not read it) | skipped
    (quarantined or missing on the badge). Only ``acked`` clips may leave the badge."""

    clip_id: str
    status: str
    bytes: int
    sha256: str
    acked: bool
    message: str = ""  # set only when something needs attention


@dataclass(frozen=True)
class SyncReport:
    badge: str
    branch: str
    agent: str | None
    clips: tuple[ClipResult, ...]
    clip_bytes: int  # clip bytes received this run
    wire_bytes_in: int  # bytes the link delivered to the companion
    wire_bytes_out: int
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.status in ("synced", "already") for c in self.clips)

    @property
    def synced(self) -> int:
        return sum(c.status == "synced" for c in self.clips)

    def as_dict(self) -> dict[str, Any]:
        return {"badge": self.badge, "branch": self.branch, "agent": self.agent, "ok": self.ok,
                "synced": self.synced, "clip_bytes": self.clip_bytes,
                "wire_bytes_in": self.wire_bytes_in, "wire_bytes_out": self.wire_bytes_out,
                "seconds": round(self.seconds, 3),
                "clips": [c.__dict__ for c in self.clips]}


@dataclass
class Progress:
    """Live per-badge progress, passed to the ``progress`` callback after every chunk."""

    badge: str
    total_bytes: int = 0
    done_bytes: int = 0
    clips_total: int = 0
    clips_done: int = 0
    clips_verified: int = 0
    current: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def rate_bps(self) -> float:
        dt = time.monotonic() - self.started
        return self.done_bytes / dt if dt > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        r = self.rate_bps
        return (self.total_bytes - self.done_bytes) / r if r > 0 else None


@dataclass(frozen=True)
class EnrollResult:
    badge: str
    branch: str
    agent: str
    previous_branch: str | None
    previous_agent: str | None
    clock_drift_s: int
    config: dict[str, int] | None = None  # the badge's config after enrollment, if set


ProgressFn = Callable[[Progress], None]

log = logging.getLogger(__name__)


async def sync_badge(transport: Transport, spool: Spool, keystore: KeyStore, *,
                     branch: str | None = None, progress: ProgressFn | None = None,
                     operator: str | None = None, ack: bool = True,
                     chunk: int | None = None, timeout_s: float = 10.0) -> SyncReport:
    """Sync every clip of the badge on ``transport`` into ``spool`` (see module doc).

    ``progress(p)`` gets a Progress after every chunk; ``operator`` names the staff
    member in custody records (default: the login name); ``ack=False`` copies and
    verifies but lets the badge keep its clips; ``chunk`` overrides the clip bytes per
    DATA frame (default: what suits the transport); ``timeout_s`` is how long a silent
    badge is waited for."""
    t0 = time.monotonic()
    in0, out0 = transport.bytes_in, transport.bytes_out
    async with BadgeClient(transport, timeout_s) as client:
        h = await authenticate(client, keystore, branch)
        clip_keys = _clip_keys(keystore.get(h.badge))
        clips = sorted(await client.list_clips(), key=lambda c: c.seq)
        prog = Progress(h.badge, clips_total=len(clips),
                        total_bytes=sum(c.size for c in clips if c.state in ("closed", "synced")))
        chunk = min(chunk, h.max_chunk) if chunk else transport.chunk_hint(h.max_chunk)
        custody = {"operator": operator or _operator(), "branch": h.branch, "agent": h.agent,
                   "transport": transport.name, "badge_fw": h.fw}
        results: list[ClipResult] = []
        got = 0
        for c in clips:
            prog.current = c.clip_id
            r, n = await _sync_clip(client, spool, h.badge, c, chunk, custody, prog, progress, ack,
                                    client.cases, clip_keys)
            got += n
            results.append(r)
            log.info("%s: clip %s %s (%d bytes read%s)", h.badge, c.clip_id, r.status, n,
                     ", acknowledged" if r.acked else "")
            prog.clips_done += 1
            if r.status in ("synced", "already"):
                prog.clips_verified += 1
            if progress:
                progress(prog)
        with contextlib.suppress(BadgeReplyError, LinkError):
            await client.set_time()
    return SyncReport(h.badge, str(h.branch), h.agent, tuple(results), got,
                      transport.bytes_in - in0, transport.bytes_out - out0,
                      time.monotonic() - t0)


async def _sync_clip(client: BadgeClient, spool: Spool, badge: str, c: ClipEntry, chunk: int,
                     custody: dict[str, Any], prog: Progress, progress: ProgressFn | None,
                     ack: bool, cases: dict[str, str] | None = None,
                     clip_keys: list[bytes] | None = None) -> tuple[ClipResult, int]:
    if c.state not in ("closed", "synced"):
        return ClipResult(c.clip_id, "skipped", 0, c.sha256, False,
                          f"clip is {c.state} on the badge; kept there for inspection"), 0
    unsafe = name_error(c.clip_id, "clip id")
    if unsafe is not None:  # the badge's listing names it: it must never become a path
        return ClipResult(c.clip_id, "rejected", 0, c.sha256, False, str(VerifyError(c.clip_id, str(unsafe)))), 0
    if spool.committed(badge, c.seq, c.sha256):
        try:
            acked = await _ack(client, c, ack)
        except BadgeReplyError as exc:
            return ClipResult(c.clip_id, "already", 0, c.sha256, False,
                              f"clip {c.clip_id} is in the spool but the badge refused the "
                              f"ack: {exc}"), 0
        prog.done_bytes += c.size
        return ClipResult(c.clip_id, "already", 0, c.sha256, acked), 0
    received = 0
    for attempt in (1, 2):
        inc = spool.incoming(badge, c.clip_id)
        if inc.offset > c.size:
            inc.discard()
            inc = spool.incoming(badge, c.clip_id)
        prog.done_bytes += inc.offset
        try:
            if inc.offset < c.size:
                async with contextlib.aclosing(
                        client.read(c.clip_id, inc.offset, c.size - inc.offset, chunk)) as stream:
                    async for off, data in stream:
                        inc.write(off, data)
                        received += len(data)
                        prog.done_bytes += len(data)
                        if progress:
                            progress(prog)
            if inc.offset != c.size:
                raise LinkError(f"clip {c.clip_id} ended at {inc.offset} of {c.size} bytes")
        except BadgeReplyError as exc:  # the badge could not read this clip: try the others
            inc.close()
            return ClipResult(c.clip_id, "failed", received, c.sha256, False,
                              f"clip {c.clip_id}: {exc}; the clip stays on the badge"), received
        except BaseException:
            inc.close()  # keep what is durable: the next run resumes from here
            raise
        try:
            spool.commit(badge, inc, clip_id=c.clip_id, seq=c.seq, expect_sha256=c.sha256,
                         custody=dict(custody, resumed=attempt > 1 or received < c.size),
                         cases=cases, clip_keys=clip_keys or [])
        except VerifyError as exc:
            if attempt == 1 and received < c.size:
                prog.done_bytes -= c.size  # a resumed clip failed: fetch it whole once more
                continue
            return ClipResult(c.clip_id, "rejected", received, c.sha256, False, str(exc)), received
        try:
            acked = await _ack(client, c, ack)
        except BadgeReplyError as exc:  # durable in the spool; the next sync acks it again
            return ClipResult(c.clip_id, "synced", received, c.sha256, False,
                              f"clip {c.clip_id} is in the spool but the badge refused the "
                              f"ack: {exc}"), received
        return ClipResult(c.clip_id, "synced", received, c.sha256, acked), received
    raise AssertionError("unreachable")


def _clip_keys(key: BadgeKey | None) -> list[bytes]:
    """The badge's clip keys (firmware.clips.mac) from its key store entry: the current one,
    then the ones of earlier enrollments (clips sealed before a re-enrollment)."""
    from firmware.clips import mac as clipmac

    if key is None:
        return []
    secrets = [key.secret] + ([key.previous] if key.previous else [])
    return [clipmac.clip_key_of(s) for s in secrets] + list(key.old_clip_keys)


async def _ack(client: BadgeClient, c: ClipEntry, ack: bool) -> bool:
    if not ack:
        return False
    await client.ack(c.clip_id, c.sha256)
    return True


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


async def enroll_badge(transport: Transport, keystore: KeyStore, *, branch: str, agent: str,
                       set_time: bool = True, config: dict[str, int] | None = None,
                       timeout_s: float = 10.0) -> EnrollResult:
    """Pair the badge with ``branch`` and ``agent``; a new secret goes to both ends.

    Then the badge's clock is set (``set_time``) and, given ``config`` (keys of
    firmware.sync.state.CONFIG_DEFAULTS, e.g. the companion settings' ``[badge]`` table),
    its config. An enrolled badge of this branch is re-enrolled (moved to ``agent``; its
    clips stay, re-wrapped under the new key); a badge of another branch is refused."""
    async with BadgeClient(transport, timeout_s) as client:
        h = await client.hello()
        prev_branch, prev_agent = h.branch, h.agent
        old = keystore.get(h.badge)
        if h.enrolled:
            if old is None:  # enrolled, and not with a key of ours: another branch's
                raise UnknownBadgeError(h.badge, h.branch)
            h = await authenticate(client, keystore, branch)
            prev_branch, prev_agent = h.branch, h.agent
            old = keystore.get(h.badge)
            assert old is not None
        secret = os.urandom(32)
        # first: never a badge without its key (the old one stays until the new one works)
        keystore.put(h.badge, secret, branch, agent, previous=old.secret if old else None)
        try:
            await client.enroll(branch, agent, secret)
        except BadgeReplyError:
            if old is not None:
                keystore.put(h.badge, old.secret, old.branch, old.agent)
            else:
                keystore.remove(h.badge)
            raise
        except LinkError as exc:  # dropped, or silent past timeout_s: say which
            raise LinkError(f"enrollment of {h.badge} was cut ({exc}); run enroll again "
                            "(the key store keeps the new key until it is confirmed)") from None
        await client.hello()
        try:
            await client.authenticate(secret)
        except AuthError:
            raise AuthError(f"badge {h.badge} did not accept its new key") from None
        keystore.put(h.badge, secret, branch, agent)  # confirmed: forget the old key
        drift = 0
        if set_time:
            drift = int((await client.set_time()).get("drift_s", 0))
        applied = dict(await client.set_config(dict(config))) if config else None
    return EnrollResult(h.badge, branch, agent, prev_branch, prev_agent, drift, applied)


async def badge_status(transport: Transport, keystore: KeyStore,
                       branch: str | None = None, timeout_s: float = 10.0) -> dict[str, Any]:
    """The badge's info; authenticated when it is enrolled (an unenrolled badge answers)."""
    async with BadgeClient(transport, timeout_s) as client:
        h = await client.hello()
        if h.enrolled:
            await authenticate(client, keystore, branch)
        info = await client.info()
        info.setdefault("badge", h.badge)
        info["clock_drift_s"] = int(info.get("clock", time.time())) - int(time.time())
        info["transport"] = transport.name
        if h.enrolled:
            info["clips_unsynced"] = [c.__dict__ for c in await client.list_clips()]
        return info
