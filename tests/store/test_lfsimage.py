"""Host side: recover clips from a littlefs image of a badge that no longer boots."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from companion.lfsimage import LfsImageError, iter_clips, load_keys, recover_image
from firmware.clips import fmt as clipfmt

KEY_HEX = "00112233445566778899aabbccddeeff"

# The badge records, is synced once, then dies mid-clip: power cut with a clip open.
DEAD_BADGE = r"""
import sys
sys.path.insert(0, {tests!r})
import mp_scenarios as m
from firmware import ramdisk
import binascii
m.K = binascii.unhexlify({key!r})
dev, s = m.fresh()
a = m.record(s, 30)
b = m.record(s, 40)
c = m.record(s, 25)
s.ack(a["clip_id"], a["sha256"])
# corrupt c: its header is AES-CTR ciphertext, so flipping a byte's bits flips the same
# bits of the plain magic; writing zeros instead left it intact once in 256 keys
cpath = m.ROOT + "/clips/" + c["clip_id"] + ".bkc"
f = open(cpath, "rb")
f.seek(48 + 3)
x = f.read(1)[0]
f.close()
m.poke(cpath, 48 + 3, bytes([x ^ 0xFF]))
seq = m.record(s, 50, close=False)
s._w.sync()
dev.save({image!r})
print(b["sha256"], c["sha256"], seq)
"""


@pytest.fixture(scope="module")
def dead_badge(micropython, tmp_path_factory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("dead")
    image = tmp / "badge.img"
    code = DEAD_BADGE.format(tests=str(Path(__file__).parent), key=KEY_HEX, image=str(image))
    out = micropython(code=code, heap="32M").stdout.decode().split()
    return image, out


def test_recover_dead_badge_image(dead_badge, tmp_path):
    image, (b_sha, _c_sha, open_seq) = dead_badge
    before = image.read_bytes()
    reports = recover_image(image, tmp_path / "out", load_keys([KEY_HEX]))
    assert image.read_bytes() == before, "the dump is never modified"
    by_id = {r["clip_id"]: r for r in reports}
    assert sorted(by_id) == ["bk07-00000001", "bk07-00000002", f"bk07-{int(open_seq):08d}"]
    ok = by_id["bk07-00000001"]
    assert ok["ok"] and ok["sha256"] == b_sha and ok["state"] == "closed"
    bad = by_id["bk07-00000002"]
    assert not bad["ok"] and "magic" in bad["problem"]
    rec = by_id[f"bk07-{int(open_seq):08d}"]
    assert rec["ok"] and rec["recovered"] and rec["chain"] == "gap"  # c (corrupt) sits between
    assert 50 * 505 - rec["samples"] <= 16000
    wav = tmp_path / "out" / f"bk07-{int(open_seq):08d}.wav"
    info = clipfmt.verify_wav(io.BytesIO(wav.read_bytes()))
    side = json.loads(wav.with_suffix(".json").read_text())
    assert side["recovered"] is True and side["sha256"] == info.sha256
    subprocess.run(["sox", str(wav), "-n"], check=True)


def test_wrong_key_reports_not_crashes(dead_badge):
    image, _ = dead_badge
    clips = list(iter_clips(image, load_keys(["ff" * 16])))
    assert clips and all("unknown key" in c.problem for c in clips)


def test_bad_inputs(tmp_path):
    junk = tmp_path / "junk.img"
    junk.write_bytes(b"\x00" * 8192)
    with pytest.raises(LfsImageError, match="not a mountable"):
        list(iter_clips(junk, {}))
    odd = tmp_path / "odd.img"
    odd.write_bytes(b"\x00" * 100)
    with pytest.raises(LfsImageError, match="multiple"):
        list(iter_clips(odd, {}))
    with pytest.raises(LfsImageError, match="neither"):
        load_keys(["not-hex"])
    with pytest.raises(LfsImageError, match="16 or 32"):
        load_keys(["abcd"])
