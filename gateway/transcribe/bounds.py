"""How much of a clip is audio: the trailer's sample count, bounded by the data present.

A version 1 clip's hash covers the header and the ADPCM blocks, not the trailer nor the
WAV's `fact` chunk, so whoever can write the file can lower the sample count and hide
most of a clip's speech from a decoder that trusts it. The blocks are hashed, so they
decide: a clip of n blocks holds between (n-1)·505+1 and n·505 samples (the badge pads
only the last block). A trailer outside that range, a `fact` chunk or a sidecar that
disagrees with the trailer, is a reported problem, and every block present is decoded.

    count, problems = trusted_samples(path, sidecar)   # problems: one line each
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

__all__ = ["trusted_samples"]


def _chunks(path: Path) -> tuple[int | None, int | None, int | None]:
    """(fact samples, trailer samples, trailer data length) read from a clip WAV."""
    from firmware.clips import fmt as clipfmt

    fact = trailer = dlen = None
    with open(path, "rb") as f:
        if f.read(12)[8:] != b"WAVE":
            return None, None, None
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            cid, clen = struct.unpack("<4sI", head)
            if cid == b"data" or clen > 1 << 20:
                break
            body = f.read(clen + (clen & 1))
            if cid == b"fact" and clen >= 4:
                fact = struct.unpack_from("<I", body)[0]
            elif cid == b"bktr":
                t = clipfmt.unpack_trailer(body[:clen])
                trailer, dlen = t.samples, t.data_len
    return fact, trailer, dlen


def trusted_samples(path: Path, sidecar: dict[str, Any] | None = None) -> tuple[int | None, list[str]]:
    """The sample count to decode and every disagreement found (None: not a badge clip)."""
    from firmware.clips.fmt import BLOCK_ALIGN, SAMPLES_PER_BLOCK

    try:
        fact, samples, dlen = _chunks(Path(path))
    except (OSError, ValueError, struct.error):  # read_wav reports unreadable clips
        return None, []
    if samples is None or dlen is None:
        return None, []
    blocks = dlen // BLOCK_ALIGN
    high = blocks * SAMPLES_PER_BLOCK
    low = (blocks - 1) * SAMPLES_PER_BLOCK + 1 if blocks else 0
    problems = []
    count = samples
    if not low <= samples <= high:
        problems.append(f"trailer says {samples} samples, but the {blocks} audio blocks present hold "
                        f"{low}-{high}: all {high} are used")
        count = high
    if fact is not None and fact != samples:
        problems.append(f"fact chunk says {fact} samples, the trailer {samples}")
    elif fact is not None and not low <= fact <= high:
        problems.append(f"fact chunk says {fact} samples, but the audio blocks hold {low}-{high}")
    side = (sidecar or {}).get("samples")
    if side is not None and side != samples:
        problems.append(f"sidecar says {side} samples, the trailer {samples}")
    return count, problems
