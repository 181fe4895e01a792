"""Benchmark: who spoke, with one badge and with two badges in one meeting.

`badgekit.pair_meeting.pair_meeting` builds two-badge meetings from one half of the
referenced real recordings (`HALVES`: settings chosen on "tune", reported on "report"):
the agent wears badge A, a colleague beside the agent wears badge B, a customer sits
across the table; a quarter of the turns overlap; B starts `--lag` s after A and its
clock is `--clock-error` s off; `--b-gain-db` makes B's microphone more sensitive than
A's. Every turn is labelled at its true bounds (no Whisper:
the labels do not depend on the text), from each badge's point of view:

- one badge: `speaker.attribute` over the badge's own turns, as the gateway does;
- two badges: `pairing.align` then `pairing.pair_label` on each turn.

`--whisper N` also transcribes the first N meetings' two recordings through the gateway
and scores its segments (against the turn each overlaps most), with the gateway's own
labels and after `pair_sessions`.

Printed per meeting and in total: accuracy per turn and per character (a turn's
reference characters; "unknown" counts as wrong), the share left unknown, and the error
of the recovered lag. `--wearer-db` / `--scale-db` set `PairSettings` for tuning runs.

    .venv/bin/python bench/transcribe_pairing.py --half tune [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace

import numpy as np
from transcribe_speakers import truth_of

from badgekit.meeting import Meeting, half_utterances, shared_speech_dir
from badgekit.pair_meeting import PairMeeting, pair_meeting
from gateway.transcribe.engine import WhisperEngine
from gateway.transcribe.pairing import (
    Alignment,
    PairingError,
    PairSettings,
    align,
    level_difference,
    pair_label,
    pair_sessions,
)
from gateway.transcribe.pipeline import Piece, transcribe_pieces
from gateway.transcribe.speaker import attribute, turn_sound


def _view(own: Meeting, peer: Meeting, al: Alignment | None, s: PairSettings,
          gain_db: float = 0.0) -> tuple[Counter[str], Counter[str]]:
    """(one badge, two badges) counts over `own`'s turns (`gain_db`: how much more
    sensitive the peer's microphone is, as the settings know it)."""
    x = own.pcm.astype(np.float32) / 32768.0
    y = peer.pcm.astype(np.float32) / 32768.0
    cut = [x[max(0, int(t.start_s * own.rate)):int(t.end_s * own.rate)] for t in own.turns]
    single = attribute([turn_sound(c, own.rate) for c in cut])
    one: Counter[str] = Counter()
    two: Counter[str] = Counter()
    for t, lab in zip(own.turns, single, strict=True):
        diff = None if al is None else level_difference(x, y, al, t.start_s, t.end_s,
                                                        own.rate, s.frame_ms)
        paired = pair_label(None if diff is None else diff + gain_db, lab, s)
        n = len(t.text or "")
        for c, who in ((one, lab[0]), (two, paired.speaker)):
            c["turns"] += 1
            c["chars"] += n
            c["ok"] += who == t.speaker
            c["ok_chars"] += n * (who == t.speaker)
            c["unknown"] += who == "unknown"
    return one, two


def _through_gateway(pm: PairMeeting, engine: WhisperEngine, s: PairSettings
                     ) -> tuple[Counter[str], Counter[str]]:
    """Both badges transcribed by the gateway (its own single-badge labels), then paired;
    each segment scored against the turn it overlaps most (as transcribe_speakers.py)."""
    segs = [[x for x in transcribe_pieces([Piece(m.pcm, 0.0)], engine) if x.text]
            for m in (pm.a, pm.b)]
    paired = pair_sessions(pm.a.pcm, pm.a_start, segs[0], pm.b.pcm, pm.b_start, segs[1],
                           pm.a.rate, s)
    one: Counter[str] = Counter()
    two: Counter[str] = Counter()
    for m, before, after in zip((pm.a, pm.b), segs, paired, strict=True):
        for c, labelled in ((one, before), (two, after)):
            for x in labelled:
                ok = x.speaker == truth_of(x, m)
                c["segs"] += 1
                c["chars"] += len(x.text)
                c["ok"] += ok
                c["ok_chars"] += len(x.text) * ok
                c["unknown"] += x.speaker == "unknown"
    return one, two


def _seg_line(c: Counter[str]) -> str:
    return (f"{c['ok'] / max(1, c['segs']):.3f} per segment, "
            f"{c['ok_chars'] / max(1, c['chars']):.3f} per character, "
            f"unknown {c['unknown'] / max(1, c['segs']):.1%}")


def _line(c: Counter[str]) -> str:
    return (f"{c['ok'] / max(1, c['turns']):7.3f} {c['ok_chars'] / max(1, c['chars']):8.3f} "
            f"{c['unknown'] / max(1, c['turns']):7.1%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=["tune", "report"], required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--min-seconds", type=float, default=90.0)
    ap.add_argument("--lag", type=float, default=2.35)
    ap.add_argument("--clock-error", type=float, default=-1.2)
    ap.add_argument("--b-gain-db", type=float, default=0.0,
                    help="badge B's microphone this much more sensitive than A's")
    ap.add_argument("--calibrated", action="store_true",
                    help="the settings know B's gain (`PairSettings.b_gain_db`)")
    ap.add_argument("--whisper", type=int, default=0, metavar="N",
                    help="also transcribe the first N meetings' two badges through the gateway "
                         "and score its segments, one badge against two")
    ap.add_argument("--model", default=None)
    ap.add_argument("--wearer-db", type=float, default=None)
    ap.add_argument("--scale-db", type=float, default=None)
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found (set BADGEKIT_SHARED)", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, args.half)
    s = PairSettings()
    for key, value in (("wearer_db", args.wearer_db), ("scale_db", args.scale_db)):
        if value is not None:
            s = replace(s, **{key: value})
    if args.calibrated:
        s = replace(s, b_gain_db=args.b_gain_db)
    print(f"half {args.half}; B's gain {args.b_gain_db:+.1f} dB; {s}")
    print(f"{'seed':>4} {'sec':>5} {'turns':>5} {'lag err ms':>10} {'corr':>5} | one badge: "
          f"{'acc/turn':>7} {'acc/char':>8} {'unknown':>7} | two badges: {'acc/turn':>7} "
          f"{'acc/char':>8} {'unknown':>7}")
    whisper = None
    if args.whisper:
        from gateway.transcribe.engine import EngineSettings, load_engine

        whisper = load_engine(EngineSettings(model_dir=args.model))
    seg_one: Counter[str] = Counter()
    seg_two: Counter[str] = Counter()
    one_t: Counter[str] = Counter()
    two_t: Counter[str] = Counter()
    errors = []
    for seed in args.seeds:
        pm = pair_meeting(utts, refs, seed, lag_s=args.lag, clock_error_s=args.clock_error,
                          min_seconds=args.min_seconds, b_gain_db=args.b_gain_db)
        try:
            al: Alignment | None = align(pm.a.pcm, pm.a_start, pm.b.pcm, pm.b_start,
                                         pm.a.rate, settings=s)
        except PairingError as e:
            print(f"{seed:4d} refused: {e}")
            al = None
        back = None if al is None else replace(al, lag_s=-al.lag_s)
        one, two = _view(pm.a, pm.b, al, s, s.b_gain_db)
        one_b, two_b = _view(pm.b, pm.a, back, s, -s.b_gain_db)
        one.update(one_b)
        two.update(two_b)
        one_t.update(one)
        two_t.update(two)
        if whisper is not None and al is not None and seed in args.seeds[:args.whisper]:
            o, t = _through_gateway(pm, whisper, s)
            seg_one.update(o)
            seg_two.update(t)
            print(f"     through the gateway, {o['segs']} segments: one badge {_seg_line(o)}; "
                  f"two badges {_seg_line(t)}", flush=True)
        err = "-" if al is None else f"{(al.lag_s - pm.lag_s) * 1000:10.1f}"
        if al is not None:
            errors.append(abs(al.lag_s - pm.lag_s) * 1000)
        corr = "-" if al is None else f"{al.correlation:5.2f}"
        print(f"{seed:4d} {pm.a.seconds:5.1f} {len(pm.a.turns):5d} {err:>10} {corr:>5} | "
              f"           {_line(one)} |             {_line(two)}", flush=True)
    print(f"half {args.half}, {len(args.seeds)} meetings, {one_t['turns']} turns (both "
          f"badges' views), {one_t['chars']} characters:")
    print(f"  one badge:  accuracy per turn {one_t['ok'] / one_t['turns']:.3f}, per character "
          f"{one_t['ok_chars'] / one_t['chars']:.3f}, unknown {one_t['unknown'] / one_t['turns']:.1%}")
    print(f"  two badges: accuracy per turn {two_t['ok'] / two_t['turns']:.3f}, per character "
          f"{two_t['ok_chars'] / two_t['chars']:.3f}, unknown {two_t['unknown'] / two_t['turns']:.1%}")
    if seg_one:
        print(f"  through the gateway ({args.whisper} meetings, {seg_one['segs']} segments): "
              f"one badge {_seg_line(seg_one)}; two badges {_seg_line(seg_two)}")
    if errors:
        print(f"  lag error: max {max(errors):.1f} ms, mean {np.mean(errors):.1f} ms over "
              f"{len(errors)} aligned meetings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
