"""Benchmark: recall of the rule pack's vocabulary through the transcriber, prompt on and off.

None of the shared real recordings says an insurance term (犹豫期, 保险责任, 退保, 现金价值,
…), so every term of gateway/vocabulary.toml is spoken by espeak-ng's Mandarin voice in
two carrier sentences (`CARRIERS`, written before any run), and the sentences are joined
into meetings (`badgekit.meeting.build_meeting`: talkers at -26 dBFS +/- 6 dB, pauses of
1-4 s) at each `--snr` of pink noise. Each meeting goes through the gateway twice, with
the vocabulary off and as the initial prompt, and the bench prints per condition:

- keyword recall: of the terms spoken, how many the transcript holds (each occurrence
  counted once: min(found, spoken) per term);
- false keywords: terms the transcript holds more often than they were spoken;
- CER of the whole meeting.

espeak-ng is a formant synthesiser, not a person: the figures say how the prompt moves
recall on speech the model finds hard, not what it reaches on real agents.

    .venv/bin/python bench/transcribe_keywords.py [--snr 20 10] [--seeds 1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

from badgekit.meeting import build_meeting, synthesize_speech
from gateway.transcribe.engine import EngineSettings, load_engine
from gateway.transcribe.metrics import cer, normalise_for_cer
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.vocabulary import load_vocabulary

CARRIERS = ("关于{}，我再跟您详细说明一下", "您看一下合同里面{}这一部分")


def recall(text: str, spoken: Counter[str]) -> tuple[int, int, int]:
    """(found, spoken, extra) occurrences of the terms in `text`."""
    norm = normalise_for_cer(text)
    found = extra = 0
    for term, n in spoken.items():
        k = norm.count(normalise_for_cer(term))
        found += min(k, n)
        extra += max(0, k - n)
    return found, sum(spoken.values()), extra


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    vocab = load_vocabulary().with_enabled(True)
    terms = list(vocab.terms)
    texts = [c.format(t) for t in terms for c in CARRIERS]
    engine = load_engine(EngineSettings(model_dir=args.model))
    modes = {"off": PipelineSettings(),
             "prompt": PipelineSettings(initial_prompt=replace(vocab, mode="prompt").initial_prompt)}
    print(f"{len(terms)} terms x {len(CARRIERS)} carriers, espeak-ng cmn; prompt: "
          f"{modes['prompt'].initial_prompt}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = synthesize_speech(texts, Path(tmp), voice="cmn")
        refs = {p.stem: t for p, t in zip(paths, texts, strict=True)}
        print(f"{'snr':>4} {'seed':>4} {'sec':>5} | {'recall off':>10} {'prompt':>7} | "
              f"{'extra off':>9} {'prompt':>7} | {'CER off':>7} {'prompt':>7}")
        for snr in args.snr:
            for seed in args.seeds:
                m = build_meeting(paths, references=refs, seed=seed, level_spread_db=6.0,
                                  pause_s=(1.0, 4.0), snr_db=snr)
                spoken = Counter(terms[paths.index(next(p for p in paths if p.stem == t.name))
                                       // len(CARRIERS)] for t in m.turns)
                cells = {}
                for mode, settings in modes.items():
                    hyp = "".join(s.text for s in transcribe_pieces([Piece(m.pcm, 0.0)], engine,
                                                                    settings))
                    cells[mode] = (*recall(hyp, spoken), cer(hyp, m.reference_text))
                o, p = cells["off"], cells["prompt"]
                print(f"{snr:4.0f} {seed:4d} {m.seconds:5.1f} | {o[0] / o[1]:10.3f} "
                      f"{p[0] / p[1]:7.3f} | {o[2]:9d} {p[2]:7d} | {o[3]:7.3f} {p[3]:7.3f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
