"""The labelled dialogue set of bench/compliance.py stays within the issue's targets."""

from __future__ import annotations

import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import compliance as bench  # noqa: E402

from gateway.compliance import load_rules  # noqa: E402


def test_set_is_large_enough_and_balanced():
    rows = bench.load_dialogues()
    assert len(rows) >= 60
    assert sum(r["compliant"] for r in rows) == len(rows) // 2
    pack = load_rules()
    for r in rows:
        assert set(r["labels"]) == {it.id for it in pack.items}, r["id"]


def test_clean_and_noisy_targets():
    pack = load_rules()
    rows = bench.load_dialogues()
    p, r = bench.pr(bench.total(bench.score(rows, bench.predict_matcher, pack)))
    assert p >= 0.90 and r >= 0.95, (p, r)
    noisy = [bench.noisy_copy(d, 0.18, 0.7, random.Random(0)) for d in rows]
    _, r_noisy = bench.pr(bench.total(bench.score(noisy, bench.predict_matcher, pack)))
    assert r_noisy >= 0.85, r_noisy
    # and the keyword baseline really is worse on noisy text
    _, r_kw = bench.pr(bench.total(bench.score(noisy, bench.predict_keyword, pack)))
    assert r_kw < r_noisy


def test_injected_errors_reach_the_requested_rate():
    text = "这款产品的保险责任主要是身故和全残发生的话按基本保额赔付" * 40
    deleted = bench.corrupt(text, 0.18, 0.0, random.Random(1))
    assert 0.14 < 1 - len(deleted) / len(text) < 0.22
    swapped = bench.corrupt(text, 0.18, 1.0, random.Random(2))
    assert len(swapped) == len(text)  # every character here has a homophone
    changed = sum(a != b for a, b in zip(text, swapped, strict=True)) / len(text)
    assert 0.14 < changed < 0.22
    from pypinyin import lazy_pinyin

    same = sum(x == y for x, y in zip(lazy_pinyin(text), lazy_pinyin(swapped), strict=True))
    assert same / len(text) > 0.97


def test_bench_exits_non_zero_when_it_prints_missed():
    """A run that prints a MISSED target (here: noisy recall at 90 % character errors) fails."""
    import subprocess

    run = [sys.executable, str(REPO / "bench" / "compliance.py"), "--no-speech", "--seeds", "1", "--only"]
    missed = subprocess.run(run + ["TUNING", "--cer", "0.9"], capture_output=True, text=True, timeout=300)
    assert "MISSED" in missed.stdout and missed.returncode == 1, missed.stdout[-2000:]
    met = subprocess.run(run + ["TUNING"], capture_output=True, text=True, timeout=300)
    assert "MISSED" not in met.stdout and met.returncode == 0, met.stdout[-2000:]
