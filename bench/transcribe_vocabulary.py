"""Benchmark: does the insurance vocabulary (gateway/vocabulary.toml) lower CER?

Same model, same run: every shared utterance with a verified reference, transcribed
alone, and meeting-like mixes (20 and 10 dB SNR) through the gateway pipeline, each
three ways: vocabulary off, as an initial prompt, as hotwords. Prints CER per set and
the verdict the default in vocabulary.toml follows (keep it only if it helps).

    .venv/bin/python bench/transcribe_vocabulary.py [--model DIR] [--seeds 1 2]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np

from badgekit.meeting import (
    half_utterances,
    read_wav,
    resample,
    scored_meeting,
    shared_speech_dir,
)
from gateway.transcribe.engine import EngineSettings, load_engine
from gateway.transcribe.metrics import edit_distance, normalise_for_cer
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.vocabulary import load_vocabulary


def speech_pcm(path) -> np.ndarray:
    x, rate = read_wav(path)
    return np.clip(np.round(resample(x, rate) * 32767), -32768, 32767).astype(np.int16)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    engine = load_engine(EngineSettings(model_dir=args.model))
    vocab = load_vocabulary().with_enabled(True)
    modes = {
        "off": PipelineSettings(),
        "prompt": PipelineSettings(initial_prompt=replace(vocab, mode="prompt").initial_prompt),
        "hotwords": PipelineSettings(hotwords=replace(vocab, mode="hotwords").hotwords),
    }
    print("prompt:", modes["prompt"].initial_prompt)
    sets: dict[str, list[tuple[list[Piece], str]]] = {"utterances": [], "meetings": []}
    for u in utts:
        sets["utterances"].append(([Piece(speech_pcm(u), 0.0)], refs[u.stem]))
    for snr in args.snr:
        for seed in args.seeds:
            m = scored_meeting(utts, refs, seed, snr)
            sets["meetings"].append(([Piece(m.pcm, 0.0)], m.reference_text))
    results: dict[tuple[str, str], float] = {}
    print(f"{'set':<11} " + " ".join(f"{m:>9}" for m in modes))
    for name, items in sets.items():
        row = []
        for mode, settings in modes.items():
            errors = chars = 0
            for pieces, ref in items:
                hyp = "".join(s.text for s in transcribe_pieces(pieces, engine, settings))
                errors += edit_distance(normalise_for_cer(hyp), normalise_for_cer(ref))
                chars += len(normalise_for_cer(ref))
            results[(name, mode)] = errors / chars
            row.append(f"{errors / chars:9.3f}")
        print(f"{name:<11} " + " ".join(row), flush=True)
    for mode in ("prompt", "hotwords"):
        helps = all(results[(n, mode)] < results[(n, "off")] for n in sets)
        print(f"{mode}: {'lowers' if helps else 'does not lower'} CER on every set "
              f"-> {'keep on' if helps else 'keep off'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
