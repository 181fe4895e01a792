"""Build the labelled dialogues (`dialogues.jsonl`) from the hand-written sentences in `bank.py`.

    .venv/bin/python bench/data/compliance/compose.py    # rewrites dialogues.jsonl

Deterministic (seeded). Half the dialogues are compliant: every required item said,
no prohibited claim, and one to three correct disclosures, negations or near-misses
that must not fire. The other half plant one to three problems each: a prohibited
claim, a required item left out, or said without what makes it complete (犹豫期 with
no length). Events (contact requests, a confused or rushed customer) appear in both
halves, as do their near-misses. Labels list every item's expected status.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bank  # noqa: E402

OUT = Path(__file__).resolve().parent / "dialogues.jsonl"
N_EACH = 32
SECONDS_PER_CHAR = 0.22
AGENTS = ["A01", "A02", "A03", "A04"]


def _dialogue(rng: random.Random, n: int, compliant: bool) -> dict:
    labels: dict[str, str] = {}
    body: list[str] = []
    required = list(bank.REQUIRED)
    problems: list[str] = []
    dropped: set[str] = set()
    incomplete: set[str] = set()
    violations: list[str] = []
    if not compliant:
        kinds = rng.choice([["omit"], ["violate"], ["violate"], ["omit", "violate"],
                            ["violate", "violate"], ["incomplete"], ["omit", "omit"],
                            ["incomplete", "violate"]])
        for k in kinds:
            if k == "omit":
                dropped.add(rng.choice([r for r in required if r not in dropped]))
            elif k == "incomplete":
                incomplete.add("cooling_off")
            else:
                violations.append(rng.choice([v for v in bank.VIOLATIONS if v not in violations]))
        problems = kinds
    for item in required:
        if item in dropped:
            labels[item] = "missing"
        elif item in incomplete:
            body.append(rng.choice(bank.INCOMPLETE[item]))
            labels[item] = "missing"
        else:
            body.append(bank.REQUIRED[item][(n + rng.randrange(3)) % len(bank.REQUIRED[item])])
            labels[item] = "said"
    for v in bank.VIOLATIONS:
        labels[v] = "missing"
    for v in violations:
        text, extra = rng.choice(bank.VIOLATIONS[v])
        body.append(text)
        labels[v] = "violated"
        labels.update(extra)
    for e in bank.EVENTS:
        labels[e] = "missing"
    for e in rng.sample(list(bank.EVENTS), rng.choice([0, 1, 1, 2])):
        body.append(rng.choice(bank.EVENTS[e]))
        labels[e] = "said"
    body.extend(rng.sample(bank.CLEAN_TRAPS, rng.randint(1, 3) if compliant else rng.randint(0, 2)))
    body.extend(rng.sample(bank.FILLERS, rng.randint(2, 4)))
    rng.shuffle(body)
    recording = [s for s in body if s in bank.REQUIRED["recording_notice"]]
    body = [s for s in body if s not in recording]
    lines = [rng.choice(bank.FILLERS_OPEN), *recording, *body, rng.choice(bank.FILLERS_CLOSE)]
    segments, t = [], 0.0
    for line in lines:
        d = round(len(line) * SECONDS_PER_CHAR, 2)
        segments.append({"start": round(t, 2), "end": round(t + d, 2), "text": line})
        t += d + 0.6
    return {
        "id": f"{'c' if compliant else 'v'}{n:02d}",
        "compliant": compliant,
        "planted": problems,
        "agent": AGENTS[n % len(AGENTS)],
        "text": "，".join(lines),
        "segments": segments,
        "labels": labels,
    }


def main() -> None:
    rng = random.Random(20261125)
    rows = [_dialogue(rng, n, True) for n in range(1, N_EACH + 1)]
    rows += [_dialogue(rng, n, False) for n in range(1, N_EACH + 1)]
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} dialogues to {OUT}")


if __name__ == "__main__":
    main()
