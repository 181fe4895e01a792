"""Fuzz the firmware sync server under the real MicroPython unix port (smaller campaign than
bench/fuzz_sync.py): no crash, no hang, every input answered, no clip deleted."""

from __future__ import annotations

from bench.fuzz_sync import in_process, over_pty


def test_fuzz_in_process_under_micropython(micropython):
    r = in_process(2500, seed=11)
    assert r["cases"] == 2500
    assert r["crashes"] == 0 and r["hangs"] == 0, r.get("first_crash")
    assert r["unanswered"] == 0 and r["bad_replies"] == 0
    assert r["internal_kinds"] == {}  # every input is refused by a check, not by luck
    assert r["clips_left"] == 3
    assert {"crc", "junk", "too_long", "incomplete", "bad_mac", "unknown_type"} <= set(r["errors"])


def test_fuzz_over_the_serial_link(micropython):
    r = over_pty(25, seed=5)
    assert r["answered"] == 25 and r["unanswered"] == 0 and r["bad"] == 0
    assert r["alive_after"] and r["badge_running"]
