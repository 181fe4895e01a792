"""Benchmark: who spoke, wearer or other, on labelled near/far meetings through the gateway.

`badgekit.meeting.near_far_meeting` builds meetings from one half of the referenced real
recordings (`HALVES`: settings chosen on "tune", reported on "report"): each turn is
the wearer's (near: dry, -20 dBFS +/- 2 dB) or the other party's (far: sox reverb, 10-16
dB lower), a quarter of the turns cutting into the previous one, pink noise 30 dB under
the wearer. Every segment the gateway writes is scored against the turn it overlaps most:

- accuracy per segment and per character (a segment's characters), over all segments
  ("unknown" counts as wrong) and over the labelled ones;
- how many segments the gateway left "unknown".

`--dips W` / `--tilt W` / `--separation DB` set `SpeakerSettings` for tuning runs.

    .venv/bin/python bench/transcribe_speakers.py --half tune [--seeds 1 2 3] [--show]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace

from badgekit.meeting import Meeting, half_utterances, near_far_meeting, shared_speech_dir
from gateway.transcribe.engine import EngineSettings, load_engine
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.segment import Segment
from gateway.transcribe.speaker import SpeakerSettings


def truth_of(seg: Segment, m: Meeting) -> str:
    """The speaker of the turn the segment overlaps most (its middle when it has no length)."""
    a, b = seg.start_s, max(seg.end_s, seg.start_s + 0.01)
    best, who = 0.0, "unknown"
    for t in m.turns:
        ov = min(b, t.end_s + 0.4) - max(a, t.start_s - 0.4)
        if ov > best:
            best, who = ov, t.speaker or "unknown"
    return who


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=["tune", "report"], required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--min-seconds", type=float, default=60.0)
    ap.add_argument("--dips", type=float, default=None)
    ap.add_argument("--tilt", type=float, default=None)
    ap.add_argument("--separation", type=float, default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found (set BADGEKIT_SHARED)", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, args.half)
    sp = SpeakerSettings()
    for key, value in (("dips_weight", args.dips), ("tilt_weight", args.tilt),
                       ("min_separation_db", args.separation)):
        if value is not None:
            sp = replace(sp, **{key: value})
    settings = PipelineSettings(speaker=sp)
    engine = load_engine(EngineSettings(model_dir=args.model))
    print(f"half {args.half}; {sp}")
    total: Counter[str] = Counter()
    print(f"{'seed':>4} {'sec':>5} {'turns':>5} {'segs':>4} | {'acc/seg':>7} {'acc/char':>8} "
          f"{'labelled':>8} {'unknown':>7}")
    for seed in args.seeds:
        m = near_far_meeting(utts, refs, seed, min_seconds=args.min_seconds)
        segs = [s for s in transcribe_pieces([Piece(m.pcm, 0.0)], engine, settings) if s.text]
        c: Counter[str] = Counter()
        for s in segs:
            truth = truth_of(s, m)
            n = len(s.text)
            c["segs"] += 1
            c["chars"] += n
            c["ok_seg"] += s.speaker == truth
            c["ok_char"] += n * (s.speaker == truth)
            c["unknown"] += s.speaker == "unknown"
            c["labelled"] += s.speaker != "unknown"
            c["ok_labelled"] += s.speaker == truth and s.speaker != "unknown"
            c[f"{truth}->{s.speaker}"] += 1
            if args.show:
                print(f"   {s.start_s:6.1f} {truth:>6} -> {s.speaker:<7} {s.speaker_confidence:.2f} {s.text}")
        total.update(c)
        print(f"{seed:4d} {m.seconds:5.1f} {len(m.turns):5d} {c['segs']:4d} | "
              f"{c['ok_seg'] / c['segs']:7.3f} {c['ok_char'] / c['chars']:8.3f} "
              f"{c['ok_labelled'] / max(1, c['labelled']):8.3f} {c['unknown'] / c['segs']:7.1%}",
              flush=True)
    t = total
    print(f"half {args.half}, {len(args.seeds)} meetings, {t['segs']} segments: accuracy per "
          f"segment {t['ok_seg'] / t['segs']:.3f}, per character {t['ok_char'] / t['chars']:.3f}; "
          f"of the labelled {t['ok_labelled'] / max(1, t['labelled']):.3f}; unknown "
          f"{t['unknown'] / t['segs']:.1%}; " + ", ".join(
              f"{k} {v}" for k, v in sorted(t.items()) if "->" in k))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
