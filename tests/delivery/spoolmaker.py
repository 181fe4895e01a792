"""Build companion-style spools for the delivery tests with the real clip writer.

Clips are written by `firmware.clips.sink.FolderSink` (the clip store's sink), into
`<spool>/<badge>/<session>/`, with a custody record beside each, exactly as
docs/contracts.md describes. Audio is IMA ADPCM: either encoded from real PCM with
`firmware.adpcm`, or near-silent blocks (enough for delivery tests that never decode).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from firmware.clips import fmt as clipfmt
from firmware.clips.sink import FolderSink

BLOCK = clipfmt.BLOCK_ALIGN
SPB = clipfmt.SAMPLES_PER_BLOCK


def quiet_blocks(n: int, salt: int = 0) -> list[bytes]:
    """`n` valid ADPCM blocks of near silence; `salt` makes the bytes differ per clip."""
    out = []
    for i in range(n):
        head = struct.pack("<hBB", (salt * 7 + i) % 50, 0, 0)
        body = bytes(((salt + i + j) % 3) for j in range(BLOCK - 4))
        out.append(head + body)
    return out


def custody_record(side: dict, companion: str = "companion-test") -> dict:
    return {
        "clip_id": side["clip_id"],
        "badge": side["badge"],
        "session": side["session"],
        "seq": side["seq"],
        "sha256": side["sha256"],
        "received_by": companion,
        "received_at": "2026-11-25T10:00:00Z",
        "badge_acknowledged": True,
    }


def write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def last_clip(spool: Path, badge: str) -> dict | None:
    """The sidecar of the badge's highest-seq clip already in the spool (chains sessions)."""
    best = None
    for side in (spool / badge).glob("*/*.json"):
        if side.name.endswith(".custody.json"):
            continue
        doc = json.loads(side.read_text())
        if best is None or doc["seq"] > best["seq"]:
            best = doc
    return best


def make_session(
    spool: Path,
    badge: str = "B0001",
    session: str = "S0001",
    clips: int = 3,
    blocks_per_clip: int = 32,
    first_seq: int | None = None,
    prev_sha256: str | None = None,
    blocks: list[list[bytes]] | None = None,
    start_epoch: int = 1_790_000_000,
    custody: bool = True,
    recovered: tuple[int, ...] = (),
    clip_key: bytes | None = None,
) -> list[dict]:
    """Write `clips` clips of one session; returns their sidecars (chained hashes).

    `recovered` lists clip indexes closed as after a power cut (trailer flag, dropped ms);
    with `clip_key` the clips are sealed (clip format 2), as an enrolled badge writes them."""
    folder = spool / badge / session
    last = last_clip(spool, badge)
    if prev_sha256 is None and last:
        prev_sha256 = last["sha256"]
    if first_seq is None:
        first_seq = last["seq"] + 1 if last else 1
    sink = FolderSink(str(folder), prev_sha256, clip_key=clip_key)
    sides = []
    offset = 0
    for k in range(clips):
        seq = first_seq + k
        sink.open_clip({"badge": badge, "session": session, "seq": seq,
                        "start_epoch": start_epoch + offset // 16000,
                        "session_offset_samples": offset, "offset_samples": offset})
        data = blocks[k] if blocks else quiet_blocks(blocks_per_clip, salt=seq)
        for b in data:
            sink.write_block(b)
        if k in recovered:  # closed by the store's boot recovery after a power cut
            side = sink.close_clip(len(data) * SPB, dropped_ms=400, flags=clipfmt.FLAG_RECOVERED)
        else:
            side = sink.close_clip(len(data) * SPB)
        offset += len(data) * SPB + 16000
        if custody:
            write_json_atomic(folder / f"{side['clip_id']}.custody.json", custody_record(side))
        sides.append(side)
    return sides
