"""The companion's front door to one badge: name it (`Target`), open it (`connect`).

    async with connect(Target.parse("serial:/dev/ttyACM0"), settings) as s:
        info = await s.client.info()

A `Target` names a badge on a serial port, over BLE (the system's Bluetooth, a bumble
HCI spec, or an open bumble device: a simulated badge's link); `make_transport` builds
its transport, importing only that backend. `connect` opens it, says hello and, when
the key store holds the badge's key for this branch, authenticates (`authenticate`: the
mutual HMAC, falling back to the key of an enrollment whose confirmation was cut); every
failure becomes one `OpsError` line for staff. The sync path (`companion.sync`) opens
its transport itself and calls `authenticate`, whose refusals are `SyncError`s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from companion.errors import (
    AuthError,
    NotEnrolledError,
    OpsError,
    UnknownBadgeError,
    UsageError,
    WrongBranchError,
)

if TYPE_CHECKING:
    from companion.client import BadgeClient, Hello
    from companion.keystore import KeyStore
    from companion.settings import CompanionSettings
    from companion.transport.base import Transport

__all__ = ["Target", "Session", "make_transport", "connect", "authenticate"]

KINDS = ("serial", "ble")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """How to reach one badge: ``kind`` "serial" (a port) or "ble" (an address).

    ``hci``: for BLE, a bumble HCI transport spec (a simulated badge's link or a USB
    dongle); None uses the system's Bluetooth. ``keystore``: the key store file (None:
    the default one). ``device``: an open bumble Device to reach the badge through (a
    radio shared by several badges, or a simulated link)."""

    kind: str
    address: str
    hci: str | None = None
    keystore: str | None = None
    device: Any = field(default=None, compare=False, repr=False)  # an open bumble Device

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"

    @classmethod
    def parse(cls, text: str, hci: str | None = None, keystore: str | None = None) -> Target:
        """``serial:/dev/ttyACM0``, ``ble:AA:BB:CC:DD:EE:FF`` or a bare port path."""
        kind, sep, address = text.partition(":")
        if sep and kind in KINDS and address:
            return cls(kind, address, hci if kind == "ble" else None, keystore)
        if text.startswith("/") or text.upper().startswith("COM"):
            return cls("serial", text, None, keystore)
        raise UsageError(f"{text}: name a badge as serial:PORT or ble:ADDRESS")

    @classmethod
    def from_options(cls, port: str | None, ble: str | None, hci: str | None = None,
                     keystore: str | None = None) -> Target:
        """The one badge a command's ``--port`` or ``--ble`` names (exactly one of them)."""
        if port and ble:
            raise UsageError("--port and --ble both name a badge: give one of them")
        if not port and not ble:
            raise UsageError("name exactly one badge: --port PATH or --ble ADDRESS")
        if port:
            return cls("serial", port, None, keystore)
        return cls("ble", ble or "", hci, keystore)


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


def make_transport(target: Target) -> Transport:
    """The transport for a target; only the backend it needs is imported."""
    if target.kind == "serial":
        from companion.transport.serial import SerialTransport

        return SerialTransport(target.address)
    if target.kind != "ble":
        raise UsageError(f"{target}: unknown kind of link (serial or ble)")
    try:
        from companion.transport.ble import BleTransport

        if target.device is not None:
            return BleTransport(target.address, bumble_device=target.device)
        return BleTransport(target.address, hci=target.hci)
    except ImportError as exc:
        raise OpsError(f"BLE is not available here ({exc})") from None


async def authenticate(client: BadgeClient, keystore: KeyStore, branch: str | None) -> Hello:
    """Hello + mutual authentication; refusals raise before anything is read."""
    from firmware.sync.backoff import BASE_MS

    h = await client.hello()
    if not h.enrolled:
        raise NotEnrolledError(f"badge {h.badge} is not enrolled; run `badgekit companion "
                               "enroll` first")
    key = keystore.get(h.badge)
    if key is None:  # the badge names its branch only after AUTH: not one of ours
        raise UnknownBadgeError(h.badge, h.branch)
    if branch is not None and key.branch != branch:
        raise WrongBranchError(h.badge, key.branch, branch)
    try:
        h = await client.authenticate(key.secret)
    except AuthError:
        if key.previous is None:
            raise
        # an enrollment whose link dropped before the badge stored the new key; the badge
        # backs off after the failed attempt (firmware.sync.backoff): wait that out first
        await asyncio.sleep(BASE_MS / 1000 + 0.1)
        await client.hello()
        h = await client.authenticate(key.previous)
        keystore.put(h.badge, key.previous, key.branch, key.agent)
    if branch is not None and h.branch != branch:
        raise WrongBranchError(h.badge, h.branch, branch)
    return h


def describe(exc: Exception, target: Target, greeting: bool = False) -> str:
    """One line for a failure on ``target``: busy port, not a badge, or the error itself."""
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
async def connect(target: Target, settings: CompanionSettings | None = None,
                  need_auth: bool = True, timeout_s: float | None = None,
                  allow_unenrolled: bool = False) -> AsyncIterator[Session]:
    """Open, hello, and authenticate (if the badge is ours); close on exit.

    ``settings`` give this branch's id and the connect timeout (None: the defaults).
    With ``need_auth`` a badge that is not enrolled here raises OpsError (an unenrolled
    one is let through with ``allow_unenrolled``); without it the session is returned
    unauthenticated (scan still learns what hello tells).
    """
    from companion.client import BadgeClient
    from companion.errors import SyncError
    from companion.keystore import KeyStore
    from companion.settings import CompanionSettings

    settings = settings or CompanionSettings()
    transport = make_transport(target)
    client = BadgeClient(transport, timeout_s=timeout_s or settings.scan.connect_timeout_s)
    log.info("%s: opening", target)
    try:
        await transport.open()
    except SyncError as exc:
        raise OpsError(describe(exc, target)) from None
    try:
        try:
            h = await client.hello()
        except SyncError as exc:
            raise OpsError(describe(exc, target, greeting=True)) from None
        sess = Session(client, transport, h.badge, h.enrolled, h.branch, h.agent, h.fw, False)
        log.info("%s: badge %s, firmware %s, %s", target, h.badge, h.fw,
                 "enrolled" if h.enrolled else "not enrolled")
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
                    log.info("%s: authenticated (branch %s, agent %s)", target, h.branch, h.agent)
                except AuthError as exc:
                    sess.branch = key.branch  # what this key store says; the badge did not
                    if need_auth:
                        raise OpsError(str(exc)) from None
                except SyncError as exc:
                    raise OpsError(describe(exc, target)) from None
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
