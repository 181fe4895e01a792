"""Render a session's verified clips as one PCM WAV on the session's own time line.

Browsers do not play IMA ADPCM. Each clip is decoded by the gateway's decoder and placed
at its `session_offset` (the badge's VAD gate pauses between clips stay silent), so a
second of the rendered file is a second of the meeting: a transcript segment's or a
finding's `start` is the audio element's `currentTime`.
"""

from __future__ import annotations

import io
import os
import tempfile
import wave
from collections.abc import Sequence

import numpy as np

from inbox.session_files import ClipFile

__all__ = ["RATE_HZ", "render_session"]

RATE_HZ = 16000


def _decode(wav: bytes) -> np.ndarray:
    from gateway.transcribe import decode_wav

    fd, name = tempfile.mkstemp(suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(wav)
        return decode_wav(name).samples
    finally:
        os.unlink(name)


def render_session(clips: Sequence[ClipFile], duration_s: float) -> bytes:
    """16 kHz mono 16-bit PCM WAV bytes of the whole session."""
    decoded = [(c, _decode(c.wav)) for c in clips]
    end = max([c.offset_samples + len(x) for c, x in decoded] + [int(duration_s * RATE_HZ)])
    out = np.zeros(end, dtype=np.int16)
    for c, x in decoded:
        out[c.offset_samples : c.offset_samples + len(x)] = x
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(out.astype("<i2").tobytes())
    return buf.getvalue()
