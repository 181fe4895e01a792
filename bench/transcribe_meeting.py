"""Benchmark: the gateway's meeting transcription against plain Whisper, same model, same run.

Builds meeting-like recordings from ../shared/data/speech with `badgekit.meeting`
(talkers at -26 dBFS ± `--spread` dB, pauses that make 30-60 % of the file non-speech,
pink noise at each `--snr`), then for every meeting measures, with one loaded model:

- plain: `WhisperModel(model).transcribe(whole file, language=zh)`, default options for
  both (the model's float16 runs as float32 on a CPU; `--plain-compute-type int8` for an
  int8 baseline);
- gateway: `gateway.transcribe.transcribe_pieces` (VAD cut, levelling, packing, guards);
- clean: each turn's clean source utterance transcribed alone (default options);
- noisy turns alone (`--oracle`): each turn cut from the noisy mix at its true bounds and
  transcribed alone, the best any segmentation can do with this model in this noise.

Prints CER of all three (simplified, no punctuation), real-time factor, the gateway's
speedup over plain, and the peak resident memory of each phase (VmHWM, reset between
phases). 0478_00017 has no verified reference and is left out of the meetings.

    .venv/bin/python bench/transcribe_meeting.py [--snr 20 10] [--seeds 1 2] [--model DIR]

Exit status 1 when a summary line says FAIL, 2 without ../shared/data/speech, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from badgekit.meeting import build_meeting, half_utterances, shared_speech_dir
from gateway.transcribe.engine import EngineSettings, load_engine, to_simplified
from gateway.transcribe.metrics import cer, edit_distance, normalise_for_cer
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces

T = TypeVar("T")


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def given(settings: T, **values: object) -> T:
    """`settings` with every field the command line set (the options left unset are None)."""
    return replace(settings, **{k: v for k, v in values.items() if v is not None})  # type: ignore[type-var]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--spread", type=float, default=6.0, help="talker level spread, ± dB")
    ap.add_argument("--min-seconds", type=float, default=60.0)
    ap.add_argument("--pause", type=float, nargs=2, default=[1.0, 4.0])
    ap.add_argument("--model", default=None, help="local CTranslate2 Whisper folder")
    ap.add_argument("--beam", type=int, default=None, help="gateway beam size (default: the gateway's)")
    ap.add_argument("--workers", type=int, default=0,
                    help="gateway windows decoded at once (0: one per core)")
    ap.add_argument("--max-regions", type=int, default=None, help="regions per window")
    ap.add_argument("--window-s", type=float, default=None, help="longest window, s")
    ap.add_argument("--compute-type", default=None,
                    help="gateway's CTranslate2 compute type (default: the gateway's)")
    ap.add_argument("--plain-compute-type", default="default",
                    help="plain Whisper's compute type (default: faster-whisper's own default, "
                    "the model's stored float16 run as float32 on a CPU)")
    ap.add_argument("--encoder-min-s", type=float, default=None,
                    help="gateway's shortest encoder input, s (30: the full window always)")
    ap.add_argument("--edge-fade-db", type=float, default=None,
                    help="fade of each region's padding (0: off; default: the gateway's)")
    ap.add_argument("--fallback-on-log-prob", action="store_true", default=None,
                    help="gateway retries a low log-probability pass hotter, not only a loop")
    ap.add_argument("--feature-floor-below-db", type=float, default=None,
                    help="floor the mel bands of turns standing less than this over the room "
                    "(-inf: never; default: the gateway's)")
    ap.add_argument("--no-denoise", action="store_true", help="gateway without noise suppression")
    ap.add_argument("--oracle", action="store_true", help="also score noisy turns cut alone")
    ap.add_argument("--show", action="store_true", help="print the transcripts")
    args = ap.parse_args()

    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    engine = load_engine(given(EngineSettings(model_dir=args.model, workers=args.workers),
                               beam_size=args.beam, compute_type=args.compute_type,
                               encoder_min_s=args.encoder_min_s,
                               fallback_on_log_prob=args.fallback_on_log_prob))
    # Plain Whisper gets its own best layout: every core inside its one decode (a whole
    # file is decoded window after window, each seeking from the last, so it cannot
    # spread windows over cores the way the gateway does).
    from faster_whisper import WhisperModel

    model = WhisperModel(str(engine.model_path), device="cpu",
                         compute_type=args.plain_compute_type,
                         cpu_threads=os.cpu_count() or 1, local_files_only=True)
    settings = given(PipelineSettings(), max_regions=args.max_regions, window_s=args.window_s,
                     edge_fade_db=args.edge_fade_db,
                     feature_floor_below_db=args.feature_floor_below_db)
    if args.no_denoise:
        settings = replace(settings, denoise=replace(settings.denoise, enabled=False))
    below = settings.feature_floor_below_db
    floor = "off" if below is None else f"below {below:g} dB"
    print(f"model {engine.model_path}; gateway {engine.settings.compute_type}, beam {engine.settings.beam_size}, "
          f"encoder >= {engine.settings.encoder_min_s:g} s, "
          f"log-prob fallback {engine.settings.fallback_on_log_prob}, "
          f"{settings.max_regions} regions per window, denoise {settings.denoise.enabled}, "
          f"edge fade {settings.edge_fade_db:g} dB, "
          f"feature floor {floor}, "
          f"{engine.workers} windows at once; plain: {model.model.compute_type}, "
          f"{os.cpu_count()} threads in one decode")

    clean: dict[str, str] = {}
    reset_peak()
    t0 = time.perf_counter()
    for u in utts:
        segs, _ = model.transcribe(str(u), language="zh")
        clean[u.stem] = to_simplified("".join(s.text for s in segs))
    clean_s, clean_mb = time.perf_counter() - t0, peak_mb()
    print(f"clean utterances one by one: {clean_s:.1f} s, peak {clean_mb:.0f} MB")

    head = (f"{'snr':>4} {'seed':>4} {'sec':>5} {'nonsp':>5} | {'CER clean':>9} {'plain':>6} "
            f"{'gateway':>7} | {'RTF plain':>9} {'gateway':>7} {'speedup':>7} | "
            f"{'MB plain':>8} {'gateway':>7}")
    rows = []
    print(head)
    for snr in args.snr:
        for seed in args.seeds:
            m = build_meeting(utts, references=refs, seed=seed, level_spread_db=args.spread,
                              pause_s=tuple(args.pause), min_seconds=args.min_seconds,
                              snr_db=snr)
            ref = m.reference_text
            clean_hyp = "".join(clean[t.name] for t in m.turns)
            audio = m.pcm.astype(np.float32) / 32768.0
            reset_peak()
            t0 = time.perf_counter()
            segs, _ = model.transcribe(audio, language="zh")
            plain = to_simplified("".join(s.text for s in segs))
            tp, mp = time.perf_counter() - t0, peak_mb()
            reset_peak()
            t0 = time.perf_counter()
            out = list(transcribe_pieces([Piece(m.pcm, 0.0)], engine, settings))
            gw = "".join(s.text for s in out)
            tg, mg = time.perf_counter() - t0, peak_mb()
            oracle = ""
            if args.oracle:
                for t in m.turns:
                    cut = audio[int(t.start_s * m.rate):int(t.end_s * m.rate)]
                    segs, _ = model.transcribe(cut, language="zh")
                    oracle += to_simplified("".join(s.text for s in segs))
            row = dict(snr=snr, seed=seed, sec=m.seconds, nonspeech=1 - m.speech_fraction,
                       clean=cer(clean_hyp, ref), plain=cer(plain, ref), gw=cer(gw, ref),
                       rtf_p=tp / m.seconds, rtf_g=tg / m.seconds, speedup=tp / tg,
                       mb_p=mp, mb_g=mg, ref=ref, plain_text=plain, gw_text=gw,
                       ref_len=len(normalise_for_cer(ref)),
                       e_clean=edit_distance(normalise_for_cer(clean_hyp), normalise_for_cer(ref)),
                       e_plain=edit_distance(normalise_for_cer(plain), normalise_for_cer(ref)),
                       e_gw=edit_distance(normalise_for_cer(gw), normalise_for_cer(ref)),
                       e_oracle=edit_distance(normalise_for_cer(oracle), normalise_for_cer(ref)),
                       tp=tp, tg=tg)
            rows.append(row)
            print(f"{snr:4.0f} {seed:4d} {m.seconds:5.1f} {row['nonspeech']:5.0%} | "
                  f"{row['clean']:9.3f} {row['plain']:6.3f} {row['gw']:7.3f} | "
                  f"{row['rtf_p']:9.3f} {row['rtf_g']:7.3f} {row['speedup']:6.2f}x | "
                  f"{mp:8.0f} {mg:7.0f}", flush=True)
            if args.show:
                print("  REF    ", ref, "\n  PLAIN  ", plain, "\n  GATEWAY", gw)
    failed = False
    for snr in args.snr:
        sel = [r for r in rows if r["snr"] == snr]
        n = sum(r["ref_len"] for r in sel)
        c, p, g, o = (sum(r[k] for r in sel) / n
                      for k in ("e_clean", "e_plain", "e_gw", "e_oracle"))
        sp = sum(r["tp"] for r in sel) / sum(r["tg"] for r in sel)
        verdict = "PASS" if g - c <= 0.05 and sp >= 1.5 else "FAIL"
        failed = failed or verdict == "FAIL"
        rtf = sum(r["tg"] for r in sel) / sum(r["sec"] for r in sel)
        each = [r["speedup"] for r in sel]
        print(f"SNR {snr:.0f} dB, {len(sel)} meetings: CER clean {c:.3f} plain {p:.3f} gateway "
              f"{g:.3f} (gateway - clean = {g - c:+.3f})"
              + (f" noisy-turns-alone {o:.3f}" if args.oracle else "")
              + f"; gateway RTF {rtf:.3f}, speedup {sp:.2f}x -> {verdict} "
              "(target: within 0.05 of clean, >= 1.5x); speedup per meeting "
              f"{min(each):.2f}-{max(each):.2f}x, {sum(x < 1.5 for x in each)} of {len(each)} under 1.5x")
    return 1 if failed else 0  # a printed FAIL is a failing run


if __name__ == "__main__":
    raise SystemExit(main())
