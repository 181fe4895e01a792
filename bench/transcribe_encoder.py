"""Benchmark: how much of Whisper's 30 s window the encoder needs to see.

faster-whisper pads every window's features to 30 s (3000 frames); CTranslate2's encoder
accepts fewer, and its cost grows faster than the length. Two measurements, same run:

1. one encoder pass on one thread and on every core, for 30 s down to 6 s of features;
2. the noisy turns of meeting-like recordings (`badgekit.meeting`, pink noise at each
   `--snr`), each cut at its true bounds with `--margin` s of the room either side and
   transcribed alone (beam 5, language zh) with the encoder at each length: a fixed
   number of seconds, or `fitN` = the turn plus N s of padding (the gateway's rule, with
   its floor: `EngineSettings.encoder_min_s`, `encoder_pad_s`). CER and decode time
   against the full 30 s, which is the baseline.

    .venv/bin/python bench/transcribe_encoder.py [--snr 20 10] [--seeds 1 2 3 4]
        [--lengths 30 20 15 10 fit6] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from badgekit.meeting import half_utterances, scored_meeting, shared_speech_dir
from gateway.transcribe.engine import (
    EngineSettings,
    decoding_window,
    encoder_frames,
    load_engine,
    to_simplified,
)
from gateway.transcribe.metrics import edit_distance, normalise_for_cer


def pass_times(model_dir: str | None, seconds: list[float]) -> None:
    import ctranslate2

    from gateway.model import resolve

    path = str(resolve(model_dir).path)
    print(f"{'threads':>7} " + " ".join(f"{s:>7g}s" for s in seconds) + "   (ms per encoder pass)")
    for threads in sorted({1, os.cpu_count() or 1}):
        model = ctranslate2.models.Whisper(path, device="cpu", compute_type="int8",
                                           intra_threads=threads)
        row = []
        rng = np.random.default_rng(0)
        for s in seconds:
            feats = ctranslate2.StorageView.from_array(
                (rng.standard_normal((1, 80, int(s * 100))) * 0.3).astype(np.float32))
            model.encode(feats)
            t0 = time.perf_counter()
            for _ in range(5):
                model.encode(feats)
            row.append((time.perf_counter() - t0) / 5 * 1000)
        print(f"{threads:>7} " + " ".join(f"{ms:8.0f}" for ms in row), flush=True)


def frames_for(length: str, samples: int) -> int:
    if length.startswith("fit"):  # the gateway's rule without its floor
        rule = EngineSettings(encoder_min_s=0.0, encoder_pad_s=float(length[3:] or 6))
        return encoder_frames(samples, rule)
    return min(3000, int(float(length) * 100))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--lengths", nargs="+", default=["30", "20", "15", "10", "fit6"])
    ap.add_argument("--margin", type=float, default=0.2, help="room kept either side, s")
    ap.add_argument("--model", default=None, help="local CTranslate2 Whisper folder")
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    pass_times(args.model, [30, 20, 15, 10, 6])

    engine = load_engine(EngineSettings(model_dir=args.model, workers=1))
    model = engine.model
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    print(f"\nnoisy turns alone (true bounds +/- {args.margin:g} s), seeds {args.seeds}")
    for snr in args.snr:
        errors = dict.fromkeys(args.lengths, 0)
        seconds = dict.fromkeys(args.lengths, 0.0)
        chars = turns = 0
        for seed in args.seeds:
            m = scored_meeting(utts, refs, seed, snr)
            audio = m.pcm.astype(np.float32) / 32768.0
            pad = int(args.margin * m.rate)
            for t in m.turns:
                if not t.text:
                    continue
                cut = audio[max(0, int(t.start_s * m.rate) - pad):int(t.end_s * m.rate) + pad]
                ref = normalise_for_cer(t.text)
                chars, turns = chars + len(ref), turns + 1
                for length in args.lengths:
                    t0 = time.perf_counter()
                    with decoding_window(model, encoder_frames=frames_for(length, len(cut))):
                        segs, _ = model.transcribe(cut, language="zh", beam_size=5,
                                                   condition_on_previous_text=False)
                        hyp = normalise_for_cer(to_simplified("".join(s.text for s in segs)))
                    seconds[length] += time.perf_counter() - t0
                    errors[length] += edit_distance(hyp, ref)
        base = args.lengths[0]
        print(f"SNR {snr:.0f} dB, {turns} turns: " + "  ".join(
            f"{k}: CER {errors[k] / chars:.3f} time {seconds[k]:.1f} s "
            f"({seconds[base] / seconds[k]:.2f}x vs {base})" for k in args.lengths), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
