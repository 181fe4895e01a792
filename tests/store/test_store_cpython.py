"""The same ClipStore on CPython over a plain folder (the simulated badge of `sim badge`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from firmware.clips import fmt as clipfmt
from firmware.clips import store as clipstore

KEY = b"cpython-key-0016"


def _blk(seq: int, i: int) -> bytes:
    return bytes([i & 0xFF, 0, (seq + i) % 89, 0]) + bytes((i * 11 + j + seq) & 0xFF for j in range(252))


def _meta() -> dict:
    return {"badge": "cp01", "session": "s", "start_epoch": 1764000000, "sample_rate": 16000}


def _record(store: clipstore.ClipStore, n: int, close: bool = True) -> dict | int:
    store.open_clip(_meta())
    seq = store.next_seq()
    for i in range(n):
        store.write_block(_blk(seq, i))
    return store.close_clip() if close else seq


def test_cpython_store_roundtrip_and_power_cut(tmp_path: Path):
    root = str(tmp_path / "store")
    s = clipstore.ClipStore(root, KEY)
    a = _record(s, 40)
    assert isinstance(a, dict)
    seq = _record(s, 37, close=False)
    s._w.abandon()  # the process dies: nothing more reaches the disk
    s = clipstore.ClipStore(root, KEY)  # reboot
    st = s.status()
    assert [r["clip_id"] for r in st["recoveries"]] == [clipfmt.clip_id("cp01", seq)]
    ids = [c["clip_id"] for c in s.list_clips()]
    assert ids == ["cp01-00000000", "cp01-00000001"]
    prev = clipfmt.ZERO_HASH
    for cid in ids:
        size = next(c["size"] for c in s.list_clips() if c["clip_id"] == cid)
        data = b"".join(s.read(cid, off, 1000) for off in range(0, size, 1000))
        info = clipfmt.verify_wav(io.BytesIO(data), prev_sha256=prev)
        prev = info.sha256
    assert info.trailer.recovered and 37 - info.trailer.data_len // 256 <= 32
    with pytest.raises(clipstore.AckMismatchError):
        s.ack(ids[0], "1" * 64)
    assert s.ack(ids[0], a["sha256"]) is True
    assert sorted(p.name for p in (tmp_path / "store" / "clips").iterdir()) == ["cp01-00000001.bkc"]
    assert st["bytes_total"] > 0 and st["key_id"]
