"""Power-cut campaign (>= 100 cuts) under the real MicroPython unix port on littlefs2."""

from __future__ import annotations

import json

from badgecore.paths import REPO_ROOT

ENGINE = REPO_ROOT / "bench" / "powercut_engine.py"


def _campaign(micropython, cuts: int, seed: int, rounds: int, flush_ms: int = 500) -> dict:
    proc = micropython(ENGINE, args=[str(cuts), str(seed), str(rounds), str(flush_ms)],
                       heap="96M", timeout=300)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def test_power_cut_campaign(micropython):
    r = _campaign(micropython, 150, seed=11, rounds=30)
    assert r["failures"] == []
    assert r["primary_cuts"] >= 150 and r["cuts"] >= 150
    # cuts landed everywhere the issue names: metadata commits, recovery, ack deletion
    assert r["by_kind"].get("meta", 0) >= 10
    assert r["by_op"].get("recovery", 0) + r["by_op"].get("boot", 0) >= 20
    assert r["by_op"].get("ack", 0) >= 10
    assert r["by_op"].get("write", 0) >= 10 and r["by_op"].get("close", 0) >= 1
    assert r["open_clips_checked"] >= 20 and r["clips_verified"] >= 150
    assert r["lost_s_max"] <= 1.0


def test_campaign_catches_a_store_that_flushes_too_rarely(micropython):
    """The campaign is not vacuous: a 3 s flush interval loses more than 1 s somewhere."""
    r = _campaign(micropython, 60, seed=3, rounds=18, flush_ms=3000)
    assert r["lost_s_max"] > 1.0
    assert any("lost" in f for f in r["failures"])
