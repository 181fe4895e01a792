"""Benchmark: compliance precision before and after the transcript says who spoke.

The labelled dialogues of bench/data/compliance (`blind6.jsonl`, never used for tuning,
and `heldout*.jsonl`) are spoken by the agent, except the customer's own lines: the
segment that decides a customer-only event (confusion, haste) is the customer's. Into
every dialogue, the customer also quotes a promise once (`QUOTES`, written before any
run: 我朋友说你们这个稳赚不赔): the agent made none, so the dialogue's labels stay as
they are, and a check that cannot tell who spoke flags the agent for it.

Every segment is then given the speaker label the gateway would give it, drawn with
the per-segment confusion measured by bench/transcribe_speakers.py on the reporting
half (`--confusion`: P(wearer read as other), P(other read as wearer), P(unknown)).
This is a transcript-level simulation with measured attribution errors, not these
dialogues spoken aloud through near/far meetings (no recordings of them exist).

Prints precision and recall over the prohibited items and customer events, before
(no speaker labels), after (labels drawn with the measured confusion, `--seeds`), and
with perfect labels.

    .venv/bin/python bench/compliance_speakers.py [--confusion 0.02 0.04 0.02] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from gateway.compliance import check_session, load_rules

DATA = Path(__file__).resolve().parent / "data" / "compliance"
SETS = ("blind6.jsonl", "heldout.jsonl", "heldout2.jsonl", "heldout3.jsonl")
QUOTES = (
    "我朋友说你们这个产品稳赚不赔",
    "隔壁老李跟我讲买这个保本保息",
    "上次那个业务员说这个零风险",
    "我听别人说这个比存银行划算多了",
    "我邻居说把它当存款就行了",
    "网上有人说别家公司都是骗人的",
)


def positive(kind: str, status: str) -> bool:
    return status == ("violated" if kind == "prohibited" else "said")


def labelled(d: dict, pack, rng: random.Random) -> list[dict]:  # type: ignore[no-untyped-def]
    """The dialogue's segments with their true speaker, and one customer quote added."""
    segs = [dict(s, speaker="wearer") for s in d["segments"]]
    f = check_session({"session": d["id"], "segments": d["segments"]}, pack)
    for it in pack.items:
        if it.speaker == "customer" and d["labels"][it.id] == "said":
            for e in f.item(it.id).evidence:
                for s in segs:
                    if s["text"] == e.text:
                        s["speaker"] = "other"
    at = rng.randrange(1, len(segs) + 1)
    t = segs[at - 1]["end"] + 0.5
    segs.insert(at, {"start": t, "end": t + 3.0, "text": rng.choice(QUOTES), "speaker": "other"})
    return segs


def drawn(segs: list[dict], confusion: tuple[float, float, float], rng: random.Random) -> list[dict]:
    w2o, o2w, unknown = confusion
    out = []
    for s in segs:
        who = s["speaker"]
        r = rng.random()
        if r < unknown:
            who = "unknown"
        elif r < unknown + (w2o if who == "wearer" else o2w):
            who = "other" if who == "wearer" else "wearer"
        out.append(dict(s, speaker=who))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confusion", type=float, nargs=3, default=[0.02, 0.04, 0.02],
                    metavar=("W2O", "O2W", "UNKNOWN"))
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    pack = load_rules()
    items = [it for it in pack.items if it.kind == "prohibited" or it.speaker == "customer"]
    dialogues = [json.loads(line) for name in SETS
                 for line in (DATA / name).read_text().splitlines() if line.strip()]
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("before", "after", "perfect")}
    for seed in range(args.seeds):
        rng = random.Random(seed)
        for d in dialogues:
            truth_segs = labelled(d, pack, rng)
            variants = {"before": [{k: v for k, v in s.items() if k != "speaker"}
                                   for s in truth_segs],
                        "after": drawn(truth_segs, tuple(args.confusion), rng),  # type: ignore[arg-type]
                        "perfect": truth_segs}
            for name, segs in variants.items():
                f = check_session({"session": d["id"], "segments": segs}, pack)
                for it in items:
                    t = positive(it.kind, d["labels"][it.id])
                    p = positive(it.kind, f.item(it.id).status)
                    counts[name]["tp" if t and p else "fp" if p else "fn" if t else "tn"] += 1
    print(f"{len(dialogues)} dialogues ({', '.join(SETS)}), one customer quote each, "
          f"{args.seeds} seeds; {len(items)} items (prohibited claims and customer events); "
          f"confusion w->o {args.confusion[0]}, o->w {args.confusion[1]}, "
          f"unknown {args.confusion[2]}")
    for name, c in counts.items():
        p = c["tp"] / max(1, c["tp"] + c["fp"])
        r = c["tp"] / max(1, c["tp"] + c["fn"])
        print(f"{name:>8}: precision {p:.3f} recall {r:.3f} (tp {c['tp']} fp {c['fp']} "
              f"fn {c['fn']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
