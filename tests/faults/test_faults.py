"""The fault campaign (bench/faults.py), small: every fault kind against the real parts.

Power cuts on the badge (recording and syncing), serial and BLE link cuts during sync,
the broker and the gateway SIGKILLed mid-publish, a full spool disk: afterwards every
clip must be at the receiver, verified against the hash the badge recorded, none kept
twice, nothing lost beyond the power-cut window, and every gap reported.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from faults import Settings, campaign, table  # noqa: E402
from faults_chain import Expect, RunResult, check_received  # noqa: E402
from faults_links import _expects, make_clips  # noqa: E402


@pytest.fixture
def parts(micropython, mosquitto):
    """The campaign starts its own brokers and badges; this checks both exist first."""
    return True


def test_small_campaign_loses_and_duplicates_nothing(parts, tmp_path):
    s = Settings(power_runs=16, link_runs=4, broker_runs=2, gateway_runs=2, spool_runs=1, seed=11)
    try:
        rows, summary = campaign(s, tmp_path, log=lambda m: None)
    except RuntimeError as exc:
        if "cannot mount a tmpfs" in str(exc):
            pytest.fail(f"{exc} (run the suite as root, or with CAP_SYS_ADMIN)")
        raise
    text = table(rows)
    by = {r.fault: r for r in rows}
    assert by["power cut while recording"].runs == 8 and by["power cut while syncing"].runs == 8
    assert by["serial link cut during sync"].runs == 2 and by["BLE link cut during sync"].runs == 2
    assert by["broker killed during publishing"].runs == 2
    assert by["gateway SIGKILLed and restarted"].runs == 2
    assert by["companion spool disk full"].runs == 1
    for r in rows:
        assert r.problems == (), (r.fault, r.problems)
        assert r.lost == 0 and r.duplicates == 0, text
        assert r.gaps == r.gaps_reported, text
        assert r.window_lost_s_max <= 1.0, text
        assert r.expected > 0, text
        if not r.fault.startswith("power"):
            assert r.intact == r.expected, text
    assert by["companion spool disk full"].gaps == 1  # the full disk really stopped the sync
    assert by["power cut while recording"].window_lost_s_total > 0  # the cuts really cut audio
    assert summary["failed"] == [] and summary["gaps"] == [] and summary["missing"] == []


def _receive(out: Path, clips: Path, sides: list[dict], copies: dict[str, int]) -> None:
    for s in sides:
        for k in range(copies.get(s["clip_id"], 1)):
            d = out / "t" / "b" / s["badge"] / f"S{k}" / "clips"
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(clips / f"{s['clip_id']}.wav", d)


def test_the_check_catches_a_lost_clip_a_kept_copy_and_an_unreported_cut(tmp_path):
    sides = make_clips(tmp_path / "clips", "CK0001", 4, random.Random(1))
    out = tmp_path / "out"
    _receive(out, tmp_path / "clips", sides[:3], {sides[1]["clip_id"]: 2})  # seq 3 lost, seq 1 twice
    expects = _expects("run", sides)
    # a clip open at a power cut that never arrived and that the badge did not report
    expects.append(Expect("run", "CK0001", "CK0001-00000004", 4, None, sides[-1]["sha256"], 10))
    results = {"run": RunResult("kind", "run")}
    check_received(out, expects, {"gaps": [], "missing": []}, results)
    r = results["run"]
    assert r.expected == 5 and r.intact == 3
    assert r.lost == 1 and r.duplicates == 1
    assert r.gaps == 2 and r.gaps_reported == 0  # neither the loss nor the cut was reported
    assert 0 < r.window_lost_s <= 1.0


def test_the_check_rejects_altered_audio(tmp_path):
    sides = make_clips(tmp_path / "clips", "CK0002", 2, random.Random(2))
    out = tmp_path / "out"
    _receive(out, tmp_path / "clips", sides, {})
    wav = next(out.rglob(f"{sides[1]['clip_id']}.wav"))
    raw = bytearray(wav.read_bytes())
    raw[-300] ^= 0x10  # one bit of audio
    wav.write_bytes(bytes(raw))
    results = {"run": RunResult("kind", "run")}
    check_received(out, _expects("run", sides), {"gaps": [], "missing": []}, results)
    assert results["run"].intact == 1 and results["run"].lost == 1
