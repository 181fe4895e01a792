"""Benchmark: the gateway on real conversation, against plain Whisper and two bounds, same run.

Meetings of 3-4 minutes built from one half of the fourteen referenced real recordings
(`badgekit.meeting.HALVES`: settings are chosen on "tune", figures reported on "report";
"old4" is the four first sentences, for continuity), 35-55 % non-speech, talkers at
-26 dBFS +/- 6 dB, in pink noise, babble or mains hum at each `--snr`. Per condition
(noise x SNR), with one loaded model:

- plain: `WhisperModel.transcribe(whole file, language="zh")`, default options, both cores
  in its one decode (the model's float16 runs as float32 on a CPU);
- gateway: `gateway.transcribe.transcribe_pieces` with its defaults;
- ceiling: every turn cut at its TRUE bounds (known from the meeting builder) and put
  through the gateway's own front end and engine (denoise, level, feature floor, one turn
  per window): the best any segmentation can reach with this front end;
- clean: each turn's clean source recording transcribed alone by plain Whisper.

and the processing time of plain and gateway on the same meetings in the same run.
Targets, per condition: gateway within 2 points of the ceiling, no worse than plain, and
no slower than plain. A FAIL line makes the exit code 1.

`--cache FILE` keeps the clean utterances' transcripts (they depend only on the model)
between runs; with `--reuse-plain` it also reuses plain Whisper's transcripts of
identical meetings, for tuning runs that look at CER only: then plain's time is not
measured, and no speed verdict is given.

    .venv/bin/python bench/transcribe_conversation.py --half report \\
        [--noise pink babble hum] [--snr 20 10] [--seeds 1] [--show]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from badgekit.meeting import Meeting, conversation_meeting, half_utterances, shared_speech_dir
from gateway.transcribe import pipeline
from gateway.transcribe.engine import EngineSettings, load_engine, to_simplified
from gateway.transcribe.metrics import edit_distance, normalise_for_cer
from gateway.transcribe.vad import Region, VadSettings

RATE = 16000
QUALITY_GAP = 0.02
"""The gateway may read at most this much worse than the true-bounds ceiling."""


@contextmanager
def true_bounds(meeting: Meeting) -> Any:
    """Within the block, the pipeline's speech regions are the meeting's true turns."""
    def regions(pcm: np.ndarray, rate: int, _s: VadSettings | None = None) -> list[Region]:
        return [Region(int(t.start_s * rate), min(len(pcm), int(t.end_s * rate)))
                for t in meeting.turns]
    saved = pipeline.speech_regions
    pipeline.speech_regions = regions  # type: ignore[assignment]
    try:
        yield
    finally:
        pipeline.speech_regions = saved


@dataclass
class Row:
    noise: str
    snr: float
    seed: int
    seconds: float
    nonspeech: float
    ref_chars: int
    errors: dict[str, int]
    plain_s: float | None
    gateway_s: float


def errors_of(hyp: str, ref: str) -> int:
    return edit_distance(normalise_for_cer(hyp), normalise_for_cer(ref))


def load_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=["tune", "report", "old4"], required=True)
    ap.add_argument("--noise", nargs="+", default=["pink", "babble", "hum"],
                    choices=["pink", "babble", "hum"])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--min-seconds", type=float, default=180.0)
    ap.add_argument("--model", default=None, help="local CTranslate2 Whisper folder")
    ap.add_argument("--cache", type=Path, default=None, help="JSON file of cached transcripts")
    ap.add_argument("--reuse-plain", action="store_true",
                    help="reuse cached plain transcripts (CER only: no speed verdict)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the true-bounds ceiling")
    ap.add_argument("--show", action="store_true", help="print the transcripts")
    ap.add_argument("--talk-floor-margin", type=float, default=None, metavar="DB",
                    help="the gate's margin over a floor of talk (VadSettings."
                         "talk_floor_margin_db), for choosing it on the tuning half")
    args = ap.parse_args()

    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found (set BADGEKIT_SHARED)", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, args.half)
    # The four first sentences are short (2-6 s): shorter pauses keep them under 60 %
    # non-speech, as the other halves' longer turns are with 2-10 s.
    pause = (1.0, 4.0) if args.half == "old4" else (2.0, 10.0)
    engine = load_engine(EngineSettings(model_dir=args.model))
    from faster_whisper import WhisperModel

    model = WhisperModel(str(engine.model_path), device="cpu", compute_type="default",
                         cpu_threads=os.cpu_count() or 1, local_files_only=True)
    vad = VadSettings()
    if args.talk_floor_margin is not None:
        vad = VadSettings(talk_floor_margin_db=args.talk_floor_margin)
    settings = pipeline.PipelineSettings(vad=vad)
    cache = load_cache(args.cache)
    key_base = f"{engine.model_sha256}:{model.model.compute_type}"
    print(f"half {args.half} ({len(utts)} recordings: {', '.join(u.stem for u in utts)}); "
          f"gateway {engine.settings.compute_type}, beam {engine.settings.beam_size}, "
          f"{engine.workers} windows at once; plain {model.model.compute_type}, "
          f"{os.cpu_count()} threads in one decode; gate margin {vad.floor_margin_db:g} dB, "
          f"{vad.talk_floor_margin_db:g} dB over a floor of talk")

    clean: dict[str, str] = {}
    for u in utts:
        key = f"clean:{key_base}:{hashlib.sha256(u.read_bytes()).hexdigest()}"
        if key not in cache:
            segs, _ = model.transcribe(str(u), language="zh")
            cache[key] = to_simplified("".join(s.text for s in segs))
        clean[u.stem] = cache[key]

    print(f"{'noise':>6} {'snr':>4} {'seed':>4} {'sec':>5} {'nonsp':>5} | {'CER clean':>9} "
          f"{'ceiling':>7} {'gateway':>7} {'plain':>6} | {'s plain':>7} {'gateway':>7} "
          f"{'speedup':>7}")
    rows: list[Row] = []
    for noise in args.noise:
        for snr in args.snr:
            for seed in args.seeds:
                m = conversation_meeting(utts, refs, seed, snr, noise,
                                         min_seconds=args.min_seconds, pause_s=pause)
                ref = m.reference_text
                audio = m.pcm.astype(np.float32) / 32768.0
                pkey = f"plain:{key_base}:{hashlib.sha256(m.pcm.tobytes()).hexdigest()}"
                plain_s: float | None = None
                if args.reuse_plain and pkey in cache:
                    plain = cache[pkey]
                else:
                    t0 = time.perf_counter()
                    segs, _ = model.transcribe(audio, language="zh")
                    plain = to_simplified("".join(s.text for s in segs))
                    plain_s = time.perf_counter() - t0
                    cache[pkey] = plain
                t0 = time.perf_counter()
                out = list(pipeline.transcribe_pieces([pipeline.Piece(m.pcm, 0.0)], engine,
                                                      settings))
                gateway_s = time.perf_counter() - t0
                gw = "".join(s.text for s in out)
                ceiling = ""
                if not args.no_ceiling:
                    with true_bounds(m):
                        ceiling = "".join(s.text for s in pipeline.transcribe_pieces(
                            [pipeline.Piece(m.pcm, 0.0)], engine, settings))
                clean_hyp = "".join(clean[t.name] for t in m.turns)
                row = Row(noise, snr, seed, m.seconds, 1 - m.speech_fraction,
                          len(normalise_for_cer(ref)),
                          {"clean": errors_of(clean_hyp, ref), "ceiling": errors_of(ceiling, ref),
                           "gateway": errors_of(gw, ref), "plain": errors_of(plain, ref)},
                          plain_s, gateway_s)
                rows.append(row)
                e, n = row.errors, row.ref_chars
                ps = f"{plain_s:7.1f}" if plain_s is not None else f"{'cached':>7}"
                sp = f"{plain_s / gateway_s:6.2f}x" if plain_s is not None else f"{'-':>7}"
                ceil = f"{e['ceiling'] / n:7.3f}" if not args.no_ceiling else f"{'-':>7}"
                print(f"{noise:>6} {snr:4.0f} {seed:4d} {m.seconds:5.1f} {row.nonspeech:5.0%} | "
                      f"{e['clean'] / n:9.3f} {ceil} {e['gateway'] / n:7.3f} "
                      f"{e['plain'] / n:6.3f} | {ps} {gateway_s:7.1f} {sp}", flush=True)
                if args.show:
                    print("  REF    ", ref, "\n  GATEWAY", gw, "\n  CEILING", ceiling,
                          "\n  PLAIN  ", plain)
    if args.cache is not None:
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(json.dumps(cache, ensure_ascii=False))

    failed = False
    print(f"summary, half {args.half} (targets: gateway - ceiling <= {QUALITY_GAP:.2f}, "
          "gateway <= plain, gateway time <= plain time)")
    for noise in args.noise:
        for snr in args.snr:
            sel = [r for r in rows if r.noise == noise and r.snr == snr]
            n = sum(r.ref_chars for r in sel)
            c, ce, g, p = (sum(r.errors[k] for r in sel) / n
                           for k in ("clean", "ceiling", "gateway", "plain"))
            misses = []
            if not args.no_ceiling and g - ce > QUALITY_GAP:
                misses.append(f"gateway {100 * (g - ce):+.1f} points over the ceiling")
            if g > p:
                misses.append("gateway reads worse than plain")
            timed = all(r.plain_s is not None for r in sel)
            speed = ""
            if timed:
                tp = sum(r.plain_s or 0.0 for r in sel)
                tg = sum(r.gateway_s for r in sel)
                speed = f"; time gateway {tg:.1f} s, plain {tp:.1f} s, speedup {tp / tg:.2f}x"
                if tg > tp:
                    misses.append("gateway slower than plain")
            else:
                speed = "; speed not measured (plain reused from the cache)"
            verdict = "FAIL: " + ", ".join(misses) if misses else "PASS"
            failed |= bool(misses)
            ceil = f"{ce:.3f}" if not args.no_ceiling else "-"
            print(f"{noise:>6} {snr:3.0f} dB, {len(sel)} meeting(s), {n} chars: CER clean {c:.3f} "
                  f"ceiling {ceil} gateway {g:.3f} plain {p:.3f}{speed} -> {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
