"""The one transport interface the sync client sees (STYLE.md rule 3).

A transport moves bytes of the sync stream (firmware.sync.frame) between the
companion and one badge: ``send`` writes bytes, ``chunks`` yields received bytes as
they arrive, ``frames`` decodes them into ``Frame`` records (CRC checked). Wire
counters (``bytes_in``, ``bytes_out``) feed the efficiency figures.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["Transport", "Frame", "HOST_MAX_PAYLOAD"]

HOST_MAX_PAYLOAD = 8192  # the largest frame payload the companion accepts


@dataclass(frozen=True)
class Frame:
    """One received frame: type, flags, seq, payload and MAC (empty without)."""

    typ: int
    flags: int
    seq: int
    payload: bytes
    mac: bytes


class Transport(abc.ABC):
    """A byte link to one badge. Use as ``async with``: open on enter, close on exit."""

    #: a short description for custody records and messages, e.g. ``serial:/dev/pts/3``
    name: str = "transport"
    #: ``open`` may be called again after ``close`` (the client retries a first hello so)
    reopenable: bool = False

    def __init__(self) -> None:
        self.bytes_in = 0
        self.bytes_out = 0
        self.junk_events = 0

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def send(self, data: bytes) -> None:
        """Write bytes (one or more frames); raise LinkError if the link is gone."""

    @abc.abstractmethod
    def chunks(self) -> AsyncIterator[bytes]:
        """Received bytes as they arrive; ends (or raises LinkError) when the link drops."""

    def chunk_hint(self, max_chunk: int) -> int:
        """Clip bytes per DATA frame that suit this link (<= the badge's ``max_chunk``)."""
        return max_chunk

    async def frames(self) -> AsyncIterator[Frame]:
        """Decoded frames; junk and CRC errors in the stream are counted and skipped."""
        from firmware.sync import frame as fr

        dec = fr.Decoder(HOST_MAX_PAYLOAD, timeout_ms=1 << 30)
        async for data in self.chunks():
            mv = memoryview(data)
            while len(mv):
                k = dec.feed(mv)
                mv = mv[k:]
                while (ev := dec.poll(0)) is not None:
                    if ev == fr.EV_FRAME:
                        yield Frame(dec.typ, dec.flags, dec.seq, bytes(dec.payload), bytes(dec.mac))
                    else:
                        self.junk_events += 1

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
