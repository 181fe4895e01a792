"""Badge heap during sync (firmware as .mpy under MicroPython, probed every loop turn)."""

from __future__ import annotations

from bench.sync_heap import LIMIT, measure


def test_sync_heap_within_32_kib(micropython, mpy_cross):
    r = measure(clips=2, blocks=60)
    assert r["clip_bytes"] > 30000
    assert {"hello", "auth", "list", "read", "ack", "enroll"} <= set(r["by_type"])
    assert r["peak"] <= LIMIT, r["by_type"]
    assert r["server_idle"] < 8192  # preallocated buffers, no growth per frame
