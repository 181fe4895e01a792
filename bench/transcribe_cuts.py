"""Benchmark: where the gateway's CER goes on meetings: cutting, padding or packing.

Runs the gateway pipeline (gateway.transcribe.pipeline) on the meetings of
bench/transcribe_meeting.py with the speech regions replaced by the TRUE turn bounds
(known from the meeting builder), padded or not, one or several turns to a window, and
then with its own webrtcvad regions, and prints the pooled CER of each per SNR:

    true bounds, 1 turn per window      the model in this noise, turns cut exactly
    true bounds + pad                   what the noise around each turn costs
    VAD regions (the gateway)           what finding the turns costs on top
    true bounds / VAD regions, packed   what packing 4 turns to a window would cost

Every variant decodes through the gateway's engine with its defaults (short encoder,
int16, beam 3; the figures in docs/transcription.md were measured when it was float32).

CER only (no timing): it tells which part of the pipeline to work on.

    .venv/bin/python bench/transcribe_cuts.py [--snr 20 10] [--seeds 1 2 3 4] [--pad 0.4]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from badgekit.meeting import Meeting, half_utterances, scored_meeting, shared_speech_dir
from gateway.transcribe import pipeline
from gateway.transcribe.engine import EngineSettings, load_engine
from gateway.transcribe.metrics import edit_distance, normalise_for_cer
from gateway.transcribe.vad import Region, VadSettings, speech_regions

RATE = 16000
RegionFn = Callable[[np.ndarray, int, VadSettings], list[Region]]


def true_regions(meeting: Meeting, pad_s: float) -> RegionFn:
    def regions(pcm: np.ndarray, rate: int, _s: VadSettings) -> list[Region]:
        out = []
        for t in meeting.turns:
            a, b = int(t.start_s * rate), int(t.end_s * rate)
            pa, pb = max(0, a - int(pad_s * rate)), min(len(pcm), b + int(pad_s * rate))
            out.append(Region(pa, pb, a - pa, pb - b))  # the padding fades like the VAD's
        return out
    return regions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--pad", type=float, default=0.4, help="padding of the padded variant, s")
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    engine = load_engine(EngineSettings(model_dir=args.model))
    base = pipeline.PipelineSettings()
    packed = replace(base, max_regions=4)
    variants: list[tuple[str, float | None, pipeline.PipelineSettings]] = [
        ("true bounds, 1 turn per window", 0.0, base),
        (f"true bounds + {args.pad:.1f} s pad", args.pad, base),
        ("VAD regions (the gateway)", None, base),
        ("true bounds, packed 4 to a window", 0.0, packed),
        ("VAD regions, packed 4 to a window", None, packed),
    ]
    print(f"{'variant':<36}" + "".join(f"  CER {snr:.0f} dB" for snr in args.snr))
    meetings = {(snr, seed): scored_meeting(utts, refs, seed, snr)
                for snr in args.snr for seed in args.seeds}
    for name, pad, settings in variants:
        cells = []
        for snr in args.snr:
            errors = chars = 0
            for seed in args.seeds:
                m = meetings[(snr, seed)]
                pipeline.speech_regions = (true_regions(m, pad) if pad is not None  # type: ignore[assignment]
                                           else speech_regions)
                out = pipeline.transcribe_pieces([pipeline.Piece(m.pcm, 0.0)], engine, settings)
                ref = normalise_for_cer(m.reference_text)
                errors += edit_distance(normalise_for_cer("".join(s.text for s in out)), ref)
                chars += len(ref)
            cells.append(errors / chars)
        print(f"{name:<36}" + "".join(f"  {c:9.3f}" for c in cells), flush=True)
    pipeline.speech_regions = speech_regions
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
