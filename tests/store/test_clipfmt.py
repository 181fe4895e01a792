"""Clip format, FolderSink and AES-CTR: identical on CPython and MicroPython, tamper-evident."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import aesctr
from firmware.clips import fmt as clipfmt
from firmware.clips import sink as clipsink

HERE = Path(__file__).parent
NIST_CT = "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"


def _blk(i: int) -> bytes:
    return bytes([i & 0xFF, 0, i % 89, 0]) + bytes((i * 5 + j) & 0xFF for j in range(252))


def _clip(folder: Path, n: int = 12, prev: str | None = None, seq: int = 0) -> dict:
    sink = clipsink.FolderSink(str(folder), prev_sha256=prev)
    sink.open_clip({"badge": "bk01", "session": "s1", "seq": seq, "start_epoch": 1764000000,
                    "start_ms": 5, "session_offset_samples": 0, "offset_samples": 0,
                    "sample_rate": 16000})
    for i in range(n):
        sink.write_block(_blk(i))
    return sink.close_clip(n * 505 - 100)


def test_same_bytes_on_cpython_and_micropython(micropython, tmp_path):
    py = subprocess.run([sys.executable, str(HERE / "parity_script.py"), str(tmp_path / "py")],
                        capture_output=True, check=True, text=True)
    mp = micropython(HERE / "parity_script.py", args=[str(tmp_path / "mp")])
    a, b = json.loads(py.stdout), json.loads(mp.stdout.decode())
    assert a == b
    assert a["nist"] == NIST_CT, "AES-CTR matches NIST SP 800-38A F.5.1"
    assert a["nist_mid"] == NIST_CT[10:54]
    assert [c["side"]["prev_sha256"] for c in a["clips"]][1:] == [c["side"]["sha256"] for c in a["clips"]][:-1]
    assert a["clips"][0]["side"]["prev_sha256"] == "ab" * 32
    for c in a["clips"]:
        wav = (tmp_path / "mp" / f"{c['side']['clip_id']}.wav").read_bytes()
        assert hashlib.sha256(wav).hexdigest() == c["wav_sha"]


def test_wav_plays_in_sox_and_verifies(tmp_path):
    side = _clip(tmp_path, 12)
    wav = tmp_path / f"{side['clip_id']}.wav"
    assert json.loads((tmp_path / f"{side['clip_id']}.json").read_text()) == side
    with open(wav, "rb") as f:
        info = clipfmt.verify_wav(f, prev_sha256=clipfmt.ZERO_HASH, expect_sha256=side["sha256"])
    assert info.trailer.samples == 12 * 505 - 100 and info.data_offset == clipfmt.wav_prefix_size()
    sox = shutil.which("soxi")
    assert sox, "sox is a Debian package of this project (script/bootstrap)"
    out = subprocess.run([sox, "-s", str(wav)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "6060"  # sox decodes whole blocks: 12 * 505 (ignores fact)
    enc = subprocess.run([sox, "-e", str(wav)], capture_output=True, text=True, check=True).stdout
    assert "IMA ADPCM" in enc
    raw = subprocess.run(["sox", str(wav), "-t", "s16", "-"], capture_output=True, check=True).stdout
    assert len(raw) == 6060 * 2


@pytest.mark.parametrize("where,what", [
    ("audio", "hash mismatch"), ("header", "hash mismatch"), ("trailer_sha", "hash mismatch"),
])
def test_any_edit_is_detected(tmp_path, where, what):
    side = _clip(tmp_path)
    raw = bytearray((tmp_path / f"{side['clip_id']}.wav").read_bytes())
    p = clipfmt.wav_prefix_size()
    if where == "audio":
        raw[p + 700] ^= 0x01
    elif where == "header":
        hdr_at = raw.index(b"bkcl") + 8
        raw[hdr_at + 72] ^= 0x20  # the session name
    else:
        t_at = raw.index(b"bktr") + 8
        raw[t_at + 20] ^= 0x01
    with pytest.raises(clipfmt.ClipVerifyError, match=what):
        clipfmt.verify_wav(io.BytesIO(bytes(raw)))


def test_chain_links_and_breaks(tmp_path):
    a = _clip(tmp_path / "a", seq=0)
    b = _clip(tmp_path / "b", prev=a["sha256"], seq=1)
    wav_b = (tmp_path / "b" / f"{b['clip_id']}.wav").read_bytes()
    assert clipfmt.verify_wav(io.BytesIO(wav_b), prev_sha256=a["sha256"]).header.seq == 1
    with pytest.raises(clipfmt.ClipVerifyError, match="breaks the chain"):
        clipfmt.verify_wav(io.BytesIO(wav_b), prev_sha256="11" * 32)


@pytest.mark.parametrize("data,msg", [
    (b"", "truncated"), (b"RIFF\x00\x00\x00\x00WAVEfmt ", "truncated"),
    (b"OggS" + b"\x00" * 40, "not a RIFF"),
])
def test_bad_wavs_get_one_line_errors(data, msg):
    with pytest.raises(clipfmt.ClipFormatError, match=msg):
        clipfmt.verify_wav(io.BytesIO(data))


def test_plain_wav_without_clip_chunks_is_rejected(tmp_path):
    side = _clip(tmp_path)
    raw = (tmp_path / f"{side['clip_id']}.wav").read_bytes().replace(b"bkcl", b"junk")
    with pytest.raises(clipfmt.ClipFormatError, match="lacks"):
        clipfmt.verify_wav(io.BytesIO(raw))


def test_truncated_audio_is_rejected(tmp_path):
    side = _clip(tmp_path)
    raw = (tmp_path / f"{side['clip_id']}.wav").read_bytes()
    with pytest.raises(clipfmt.ClipFormatError, match="truncated"):
        clipfmt.verify_wav(io.BytesIO(raw[:-300]))


def test_header_field_checks():
    h = clipfmt.Header("b" * 33, "s", 0, 0)
    with pytest.raises(clipfmt.ClipFormatError, match="badge"):
        clipfmt.pack_header(h)
    with pytest.raises(clipfmt.ClipFormatError, match="lacks"):
        clipfmt.Header.from_meta({"badge": "b"})
    with pytest.raises(clipfmt.ClipFormatError, match="hex"):
        clipfmt.pack_header(clipfmt.Header("b", "s", 0, 0, prev_sha256="zz" * 32))
    with pytest.raises(clipfmt.ClipFormatError, match="magic"):
        clipfmt.unpack_header(b"\x00" * clipfmt.HEADER_SIZE)
    with pytest.raises(clipfmt.ClipFormatError, match="exceeds"):
        clipfmt.pack_trailer(clipfmt.Trailer(506, clipfmt.ZERO_HASH, 256))


def test_sink_misuse_and_abort(tmp_path):
    sink = clipsink.FolderSink(str(tmp_path / "deep" / "er"))
    with pytest.raises(clipsink.SinkError):
        sink.write_block(_blk(0))
    sink.open_clip({"badge": "b", "session": "s", "seq": 3, "start_epoch": 1})
    with pytest.raises(clipsink.SinkError, match="256"):
        sink.write_block(b"\x00" * 10)
    with pytest.raises(clipsink.SinkError, match="open"):
        sink.open_clip({"badge": "b", "session": "s", "seq": 4, "start_epoch": 1})
    sink.abort_clip()
    assert list((tmp_path / "deep" / "er").iterdir()) == []
    assert sink.prev_sha256 == clipfmt.ZERO_HASH


@pytest.mark.parametrize("epoch", [0, 951782400, 1764000000, 4102444799, 1709210096])
def test_iso_time_matches_datetime(epoch):
    want = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".042Z"
    assert clipfmt.iso_utc(epoch, 42) == want


def test_key_wrap_and_sizes():
    kek = bytes(range(32))
    dek = b"D" * 16
    assert aesctr.unwrap_key(kek, aesctr.wrap_key(kek, dek)) == dek
    assert aesctr.key_id(kek) != aesctr.key_id(kek[:16])
    with pytest.raises(aesctr.KeySizeError):
        aesctr.CTR(b"short", b"n" * 8)
    with pytest.raises(aesctr.KeySizeError):
        aesctr.CTR(b"k" * 16, b"n" * 7)
