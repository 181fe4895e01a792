"""Helpers for the transcription tests: real badge clips made with the firmware's own code."""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from badgekit.meeting import read_wav, resample
from firmware import adpcm
from firmware.clips.sink import FolderSink
from gateway.transcribe.segment import Segment
from gateway.transcribe.speaker import attribute, turn_sound

RATE = 16000
EPOCH = 1_790_000_000  # 2026-09-21T…Z, any fixed badge clock


def speech_pcm(path: Path) -> np.ndarray:
    """A shared recording as 16 kHz int16."""
    x, rate = read_wav(path)
    return np.clip(np.round(resample(x, rate) * 32767), -32768, 32767).astype(np.int16)


def write_session(folder: Path, clips: list[tuple[np.ndarray, float]], badge: str = "B0001",
                  session: str = "S0001", first_seq: int = 1, epoch: int = EPOCH) -> list[dict]:
    """Write clips (pcm, session offset in s) as a badge would: ADPCM WAV + sidecar, chained."""
    sink = FolderSink(str(folder))
    enc = adpcm.Encoder(search=0)
    out = []
    for i, (pcm, offset_s) in enumerate(clips):
        enc.reset()
        start = epoch + offset_s
        sink.open_clip({"badge": badge, "session": session, "seq": first_seq + i,
                        "start_epoch": int(start), "start_ms": int(round(start * 1000)) % 1000,
                        "session_offset_samples": int(round(offset_s * RATE)),
                        "offset_samples": 0, "sample_rate": RATE})
        n = len(pcm)
        padded = np.zeros(adpcm.blocks_for(n) * adpcm.BLOCK_SAMPLES, np.int16)
        padded[:n] = pcm
        block = bytearray(adpcm.BLOCK_BYTES)
        for b in range(0, len(padded), adpcm.BLOCK_SAMPLES):
            enc.encode_block(array("h", padded[b:b + adpcm.BLOCK_SAMPLES].tobytes()), block)
            sink.write_block(bytes(block))
        out.append(sink.close_clip(n))
    return out


def two_badge_meetings(speech: dict) -> list:
    """Two real two-badge meetings of the tuning half (seeds 1, 2): B starts 2.35 s after A
    and its clock says 1.2 s less."""
    from badgekit.meeting import half_utterances
    from badgekit.pair_meeting import pair_meeting

    utts, refs = half_utterances(next(iter(speech.values())).parent, "tune")
    return [pair_meeting(utts, refs, seed, lag_s=2.35, clock_error_s=-1.2, min_seconds=60)
            for seed in (1, 2)]


def single_badge_segments(m) -> list[Segment]:
    """A badge recording's true turns, labelled as the gateway labels them from one badge."""
    x = m.pcm.astype(np.float32) / 32768.0
    cut = [x[max(0, int(t.start_s * RATE)):int(t.end_s * RATE)] for t in m.turns]
    labels = attribute([turn_sound(c) for c in cut])
    return [Segment(t.start_s, t.end_s, t.text or "", 0, -0.2, 0.0, 1.0, 0.0,
                    speaker=who, speaker_confidence=conf)
            for t, (who, conf) in zip(m.turns, labels, strict=True)]
