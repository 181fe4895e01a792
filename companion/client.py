"""The sync protocol, companion side: one request at a time, replies checked and MAC'd.

``BadgeClient(transport)`` speaks firmware.sync's messages over any Transport:
``hello()``, ``authenticate(secret)`` (mutual HMAC-SHA256; afterwards every frame both
ways carries a MAC and an increasing seq), ``info()``, ``list_clips()``,
``read(clip_id, offset, length)`` (an async iterator of ``(offset, bytes)`` as the
badge streams them), ``ack()``, ``set_time()``, ``get_config()``, ``set_config()``,
``enroll()``, ``logs()``. Errors the badge sends become BadgeReplyError; a dropped or
silent link becomes LinkError.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import struct
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import Any

from companion.errors import AuthError, BadgeReplyError, LinkError, ProtocolError
from companion.transport.base import Frame, Transport
from firmware.sync import auth, frame, proto

__all__ = ["BadgeClient", "Hello", "ClipEntry"]


@dataclass(frozen=True)
class Hello:
    """The badge's answer to HELLO. Before authentication an enrolled badge tells only its
    id, the protocol version and its framing limits: ``fw``, ``branch`` and ``agent`` are
    filled in by ``authenticate()`` (the AUTH reply), which returns the completed Hello."""

    badge: str
    fw: str
    version: int
    enrolled: bool
    branch: str | None
    agent: str | None
    max_chunk: int
    nonce: bytes


@dataclass(frozen=True)
class ClipEntry:
    """One clip the badge holds (its LIST entry)."""

    clip_id: str
    seq: int
    size: int
    sha256: str
    state: str
    samples: int
    recovered: bool


class BadgeClient:
    def __init__(self, transport: Transport, timeout_s: float = 10.0) -> None:
        self.t = transport
        self.timeout_s = timeout_s
        self.hello_info: Hello | None = None
        self._mac: auth.Mac | None = None
        self._seq = 0
        self._rx: asyncio.Queue[Frame | Exception] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.stray_errors: list[dict[str, Any]] = []
        self._greeted = False  # a hello was answered on this client
        self.cases: dict[str, str] = {}
        """Session -> case id the agent set on the badge (from the last ``list_clips``)."""

    # ---- plumbing ----------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def __aenter__(self) -> BadgeClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _pump(self) -> None:
        try:
            async for f in self.t.frames():
                self._rx.put_nowait(f)
            self._rx.put_nowait(LinkError(f"{self.t.name}: link closed"))
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            self._rx.put_nowait(exc if isinstance(exc, LinkError) else LinkError(str(exc)))

    @property
    def authenticated(self) -> bool:
        return self._mac is not None

    async def _send(self, typ: int, payload: bytes) -> int:
        self._seq += 1
        seq = self._seq
        if self._mac is not None:
            mac = self._mac.tag(b"C", seq, typ, frame.F_MAC, payload)
            data = frame.encode(typ, seq, payload, frame.F_MAC, mac)
        else:
            data = frame.encode(typ, seq, payload)
        await self.t.send(data)
        return seq

    async def _next(self, seq: int, timeout_s: float | None = None) -> Frame:
        """The next frame answering ``seq`` (stray error frames are kept aside)."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkError(f"{self.t.name}: no reply from the badge (timeout)")
            try:
                item = await asyncio.wait_for(self._rx.get(), left)
            except TimeoutError:
                raise LinkError(f"{self.t.name}: no reply from the badge (timeout)") from None
            if isinstance(item, Exception):
                self._rx.put_nowait(item)  # every later request fails the same way
                raise item
            f = item
            if f.seq != seq:
                if f.typ == proto.ERROR:
                    self.stray_errors.append(_json(f.payload))
                continue
            if not (f.typ == proto.ERROR and not f.flags & frame.F_MAC):
                self._check_mac(f)  # an unsigned error can only make a request fail
            if f.typ == proto.ERROR:
                err = _json(f.payload)
                raise BadgeReplyError(str(err.get("code")), str(err.get("msg")))
            return f

    def _check_mac(self, f: Frame) -> None:
        if self._mac is None:
            return
        if not f.flags & frame.F_MAC:
            raise ProtocolError("badge reply without a MAC inside a session")
        if not auth.eq(self._mac.tag(b"B", f.seq, f.typ, f.flags, f.payload), f.mac):
            raise ProtocolError("badge reply MAC mismatch: link tampered with")

    async def request(self, typ: int, obj: dict[str, Any] | None = None,
                      timeout_s: float | None = None) -> dict[str, Any]:
        """Send one JSON request, return the JSON reply (BadgeReplyError on an error)."""
        async with self._lock:
            seq = await self._send(typ, json.dumps(obj or {}).encode())
            f = await self._next(seq, timeout_s)
            if f.typ != typ | proto.REPLY:
                raise ProtocolError(f"unexpected reply type 0x{f.typ:02x}")
            return _json(f.payload)

    async def request_bytes(self, typ: int, payload: bytes,
                            timeout_s: float | None = None) -> dict[str, Any]:
        """Send one binary request (firmware update data), return the JSON reply."""
        async with self._lock:
            seq = await self._send(typ, payload)
            f = await self._next(seq, timeout_s)
            if f.typ != typ | proto.REPLY:
                raise ProtocolError(f"unexpected reply type 0x{f.typ:02x}")
            return _json(f.payload)

    async def pipeline(self, typ: int, payloads: Iterator[bytes],
                       window: int = 4) -> AsyncGenerator[dict[str, Any], None]:
        """Send binary requests with up to ``window`` of them unanswered (the badge answers
        in order); yields each JSON reply. An error reply raises BadgeReplyError; replies
        to requests still in flight are then dropped as strays."""
        async with self._lock:
            pending: collections.deque[int] = collections.deque()
            more = True
            while True:
                while more and len(pending) < window:
                    p = next(payloads, None)
                    if p is None:
                        more = False
                        break
                    pending.append(await self._send(typ, p))
                if not pending:
                    return
                f = await self._next(pending.popleft())
                if f.typ != typ | proto.REPLY:
                    raise ProtocolError(f"unexpected reply type 0x{f.typ:02x}")
                yield _json(f.payload)

    # ---- messages ------------------------------------------------------------------
    async def hello(self) -> Hello:
        """HELLO. The first one of a client is retried, within ``timeout_s``, when the link
        closes before the badge answers (a badge booting, or one that resets when its port
        opens, comes back under the same port name); the port is then reopened."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                h = await self._hello(max(0.05, deadline - time.monotonic()))
            except LinkError:
                if self._greeted or not self.t.reopenable or time.monotonic() + 0.25 >= deadline:
                    raise
                await self._reopen(deadline)
                continue
            self._greeted = True
            return h

    async def _reopen(self, deadline: float) -> None:
        await self.stop()
        self._rx = asyncio.Queue()
        with contextlib.suppress(Exception):
            await self.t.close()
        while True:
            await asyncio.sleep(0.2)
            try:
                await self.t.open()
                break
            except LinkError as exc:
                if time.monotonic() + 0.2 >= deadline:
                    raise LinkError(f"{self.t.name}: the link closed before the badge answered "
                                    f"and the port did not come back within {self.timeout_s:g} s "
                                    f"({exc})") from None
        await self.start()

    async def _hello(self, timeout_s: float) -> Hello:
        await self.start()
        self._mac = None
        # a fresh random seq base per session: stale frames of a cut session never match
        self._seq = int.from_bytes(os.urandom(4), "little") >> 2
        nonce = os.urandom(16)
        r = await self.request(proto.HELLO, {"v": proto.VERSION, "nonce": nonce.hex()}, timeout_s)
        try:
            h = Hello(str(r["badge"]), str(r.get("fw", "")), int(r["v"]),
                      bool(r.get("enrolled", True)), r.get("branch"), r.get("agent"),
                      int(r.get("max_chunk", 1024)), bytes.fromhex(r["nonce"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ProtocolError(f"not a badge hello: {exc}") from None
        self._nc = nonce
        self.hello_info = h
        return h

    async def authenticate(self, secret: bytes) -> Hello:
        """Mutual authentication; returns the Hello completed with what the badge tells
        only an authenticated companion (firmware, branch, agent)."""
        h = self.hello_info or await self.hello()
        proof = auth.client_proof(secret, h.badge, self._nc, h.nonce)
        sess = auth.Mac(auth.session_key(secret, self._nc, h.nonce))
        async with self._lock:
            seq = await self._send(proto.AUTH, json.dumps({"mac": proof.hex()}).encode())
            self._mac = sess  # the reply is MAC'd under the new session key
            try:
                f = await self._next(seq)
            except BadgeReplyError as exc:
                self._mac = None
                if exc.code == proto.E_AUTH_FAILED:
                    raise AuthError(f"authentication failed: the key store's key for badge "
                                    f"{h.badge} does not match the badge") from None
                if exc.code == proto.E_AUTH_BACKOFF:
                    raise AuthError(f"badge {h.badge} refuses authentication for a while after "
                                    f"failed attempts ({exc.badge_message}); try again "
                                    "then") from None
                raise
            except ProtocolError:
                self._mac = None
                raise AuthError(f"badge {h.badge} failed to prove its identity "
                                "(impostor or wrong key)") from None
        want = auth.badge_proof(secret, h.badge, self._nc, h.nonce)
        r = _json(f.payload)
        got = bytes.fromhex(str(r.get("mac", "")))
        if not auth.eq(want, got):
            self._mac = None
            raise AuthError(f"badge {h.badge} failed to prove its identity (impostor or wrong key)")
        self.hello_info = None  # a new hello is needed for another session
        full = dataclasses.replace(
            h, enrolled=True, fw=str(r.get("fw") or h.fw),
            branch=_str_or(r.get("branch"), h.branch), agent=_str_or(r.get("agent"), h.agent))
        self._hello_badge = full
        return full

    async def info(self) -> dict[str, Any]:
        return await self.request(proto.INFO)

    async def list_clips(self) -> list[ClipEntry]:
        out: list[ClipEntry] = []
        start: int | None = 0
        while start is not None:
            r = await self.request(proto.LIST, {"start": start, "max": 12})
            if start == 0:
                self.cases = _cases(r.get("cases"))
            for c in r.get("clips", []):
                out.append(ClipEntry(c["clip_id"], int(c["seq"]), int(c["size"]), c["sha256"],
                                     c["state"], int(c.get("samples", 0)), bool(c.get("recovered"))))
            start = r.get("next")
        return out

    async def read(self, clip_id: str, offset: int, length: int,
                   chunk: int = 4000) -> AsyncGenerator[tuple[int, bytes], None]:
        """Stream ``[offset, offset+length)`` of a clip's WAV: yields (offset, bytes).

        Ends early (after an empty DATA frame) at the clip's end. The badge checks
        nothing is skipped: each frame's offset must follow the previous one."""
        async with self._lock:
            seq = await self._send(proto.READ, proto.pack_read(clip_id, offset, length, chunk))
            pos, end = offset, offset + length
            while pos < end:
                f = await self._next(seq)
                if f.typ != proto.READ | proto.REPLY or len(f.payload) < proto.DATA_HDR:
                    raise ProtocolError("unexpected frame in a read stream")
                (off,) = struct.unpack_from("<I", f.payload, 0)
                if off != pos:
                    raise ProtocolError(f"read stream skipped from {pos} to {off}")
                data = f.payload[proto.DATA_HDR:]
                if not data:
                    return
                pos += len(data)
                yield off, data

    async def ack(self, clip_id: str, sha256: str) -> bool:
        r = await self.request(proto.ACK, {"clip": clip_id, "sha256": sha256})
        return bool(r.get("deleted"))

    async def set_time(self, epoch: int | None = None) -> dict[str, Any]:
        return await self.request(proto.SET_TIME, {"epoch": int(epoch or time.time())})

    async def get_config(self) -> dict[str, Any]:
        return await self.request(proto.GET_CONFIG)

    async def set_config(self, values: dict[str, int | str]) -> dict[str, Any]:
        return await self.request(proto.SET_CONFIG, values)

    async def enroll(self, branch: str, agent: str, secret: bytes) -> dict[str, Any]:
        """Give the badge its branch, agent and secret (wrapped in a session if enrolled)."""
        key = auth.wrap(self._mac.key, secret) if self._mac is not None else secret
        r = await self.request(proto.ENROLL, {"branch": branch, "agent": agent, "key": key.hex()})
        self._mac = None  # the badge ended the session; hello + auth with the new key
        return r

    async def logs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:
            r = await self.request(proto.LOGS, {"start": start, "max": 16})
            out.extend(r.get("events", []))
            start = r.get("next")
        return out


def _str_or(v: Any, default: str | None) -> str | None:
    return v if isinstance(v, str) else default


def _cases(raw: Any) -> dict[str, str]:
    """The LIST reply's ``cases`` ([session, case id] pairs); anything malformed is dropped."""
    from firmware.sync.state import case_error

    out: dict[str, str] = {}
    for e in raw if isinstance(raw, list) else []:
        if (isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], str)
                and e[1] and case_error(e[1]) is None):
            out[e[0]] = e[1]
    return out


def _json(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except ValueError:
        raise ProtocolError("badge reply is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("badge reply is not a JSON object")
    return obj
