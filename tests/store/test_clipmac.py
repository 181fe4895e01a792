"""Clip format version 2: a seal made on the badge (MicroPython), checked on CPython.

Any change to header, audio, trailer or chain link fails, even when the forger
recomputes the (unkeyed) hash; a wrong key is reported; version 1 reads as
unauthenticated.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import pytest

from firmware.clips import fmt as clipfmt
from firmware.clips import mac as clipmac
from firmware.clips import sink as clipsink

HERE = Path(__file__).parent
SECRET = b"enrollment-secret-for-clip-tests"  # as in mp_sealed.py
KEY = clipmac.clip_key_of(SECRET)
H0 = 60  # header offset in the WAV: RIFF 12, fmt 28, fact 12, bkcl chunk header 8
T0 = H0 + clipfmt.HEADER_SIZE + 8
S0 = T0 + clipfmt.TRAILER_SIZE + 8
D0 = clipfmt.wav_prefix_size(True)


def _blk(seq: int, i: int) -> bytes:  # mp_scenarios.blk, as mp_sealed.py writes them
    b = bytearray(256)
    b[0], b[1], b[2] = (seq * 13 + i) & 0xFF, i & 0x7F, (seq + i) % 89
    for j in range(4, 256):
        b[j] = (j * 31 + i * 7 + seq * 101) & 0xFF
    return bytes(b)


def _sink_clips(folder: Path, key: bytes | None = KEY) -> list[Path]:
    sink = clipsink.FolderSink(str(folder), clip_key=key)
    out = []
    for seq in range(2):
        sink.open_clip({"badge": "bk29", "session": "s29", "seq": seq,
                        "start_epoch": 1764000000 + seq, "start_ms": 250,
                        "session_offset_samples": 0, "offset_samples": 0, "sample_rate": 16000})
        for i in range(6 + seq):
            sink.write_block(_blk(seq, i))
        side = sink.close_clip((6 + seq) * 505 - 7)
        out.append(folder / f"{side['clip_id']}.wav")
    return out


def _check(raw: bytes, keys: object = KEY, prev: str | None = None) -> clipmac.SealCheck:
    return clipmac.verify_wav(io.BytesIO(raw), keys, prev_sha256=prev)


def _rehash(raw: bytearray) -> bytearray:
    """What a forger does: recompute the unkeyed hash into the trailer."""
    raw[T0 + 20:T0 + 52] = hashlib.sha256(bytes(raw[H0:H0 + clipfmt.HEADER_SIZE] + raw[D0:])).digest()
    return raw


@pytest.fixture(scope="module")
def badge_made(micropython, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sealed")
    proc = micropython(HERE / "mp_sealed.py", args=[str(out)], heap="32M", timeout=120)
    return out, json.loads(proc.stdout.decode().strip().splitlines()[-1])


def test_badge_seals_clips_that_verify_on_the_host(badge_made, tmp_path):
    out, res = badge_made
    assert res["sealing"] and res["clip_key_id"] == clipmac.key_id(KEY).hex()
    # the unix port and CPython write byte-identical sealed clips
    for mp, py in zip(sorted((out / "sink").glob("*.wav")), _sink_clips(tmp_path), strict=True):
        assert mp.read_bytes() == py.read_bytes()
    prev = clipfmt.ZERO_HASH
    for wav in sorted((out / "sink").glob("*.wav")):
        r = _check(wav.read_bytes(), prev=prev)
        assert (r.status, r.info.header.version, r.key_id) == ("authenticated", 2, res["clip_key_id"])
        prev = r.info.sha256
    # the store on littlefs: a version 1 clip (before enrollment), a sealed one, and one a
    # power cut left open, closed and sealed by boot recovery; the chain runs through all
    assert res["recovered"] == ["bk29-00000002"]
    prev = clipfmt.ZERO_HASH
    got = []
    for c in res["clips"]:
        raw = (out / "store" / f"{c['clip_id']}.wav").read_bytes()
        assert len(raw) == c["size"]
        r = _check(raw, prev=prev)
        got.append((r.status, r.info.header.version, r.info.trailer.recovered))
        prev = r.info.sha256
    assert got == [("unauthenticated", 1, False), ("authenticated", 2, False),
                   ("authenticated", 2, True)]


@pytest.mark.parametrize("where", ["header_seq", "header_time", "chain_link", "audio",
                                   "trailer_samples", "trailer_flags", "trailer_dropped", "seal"])
def test_one_changed_byte_fails_even_with_the_hash_recomputed(tmp_path, where):
    wav = _sink_clips(tmp_path)[1]
    good = bytearray(wav.read_bytes())
    off = {"header_seq": H0 + 8, "header_time": H0 + 12, "chain_link": H0 + 104 + 5,
           "audio": D0 + 700, "trailer_samples": T0 + 4, "trailer_flags": T0 + 8,
           "trailer_dropped": T0 + 12, "seal": S0 + 20}[where]
    raw = bytearray(good)
    raw[off] ^= 0x01
    if where.startswith(("header", "chain", "audio")):
        with pytest.raises(clipfmt.ClipVerifyError):  # the careless edit: the hash says so
            _check(bytes(raw))
        _rehash(raw)
    r = _check(bytes(raw))
    assert r.status == "bad_mac" and not r.authenticated, r.reason
    assert _check(bytes(good)).status == "authenticated"


def test_wrong_or_missing_key(tmp_path):
    raw = _sink_clips(tmp_path)[0].read_bytes()
    other = clipmac.clip_key_of(b"another branch's enrollment secret")
    assert _check(raw, other).status == "no_key"
    assert _check(raw, None).status == "no_key"
    assert _check(raw, [other, KEY]).status == "authenticated"
    keys = clipmac.BadgeKeys()
    keys.add_secret("bk30", SECRET)
    assert _check(raw, keys).status == "no_key"  # another badge's key is not this one's
    keys.add("bk29", KEY)
    assert _check(raw, keys).status == "authenticated" and "bk29" not in repr(keys)
    # a key whose id is forged to look right still fails
    forged = bytearray(raw)
    forged[S0 + 8:S0 + 40] = clipmac.Sealer(other).mac(raw[H0:H0 + 136], raw[T0:T0 + 52])
    assert _check(bytes(forged)).status == "bad_mac"


def test_version_1_reads_as_unauthenticated(tmp_path):
    raw = _sink_clips(tmp_path, key=None)[0].read_bytes()
    r = _check(raw)
    assert (r.status, r.info.header.version, r.info.seal) == ("unauthenticated", 1, None)
    assert len(raw) == clipfmt.wav_prefix_size() + 6 * 256


def test_stripped_or_emptied_seal(tmp_path):
    raw = bytearray(_sink_clips(tmp_path)[0].read_bytes())
    stripped = raw[:S0 - 8] + raw[S0 + clipfmt.SEAL_SIZE:]
    struct.pack_into("<I", stripped, 4, len(stripped) - 8)
    assert _check(bytes(stripped)).status == "bad_mac"  # version 2 without its seal
    downgraded = bytearray(stripped)
    downgraded[H0 + 4] = 1  # claim version 1 but keep the sealed trailer
    assert _check(bytes(_rehash_v1(downgraded))).status == "bad_mac"
    empty = bytearray(raw)
    empty[S0:S0 + clipfmt.SEAL_SIZE] = clipmac.unsealed()  # closed off the badge
    assert _check(bytes(empty)).status == "unauthenticated"
    empty[S0 + 30] = 1
    assert _check(bytes(empty)).status == "bad_mac"


def _rehash_v1(raw: bytearray) -> bytearray:
    d = clipfmt.wav_prefix_size(False)
    raw[T0 + 20:T0 + 52] = hashlib.sha256(bytes(raw[H0:H0 + 136] + raw[d:])).digest()
    return raw


def test_clip_key_file_from_the_companion_key_store(tmp_path):
    import os
    import subprocess
    import sys

    from badgecore.badgekeys import BadgeKeysError, load_badge_keys
    from companion.keystore import KeyStore

    ks = tmp_path / "cfg" / "keystore.json"
    KeyStore(ks).put("bk29", SECRET, "sh01", "li", previous=b"p" * 32)
    KeyStore(ks).put("bk31", b"s" * 32, "sh01", "wang")
    out = tmp_path / "gw" / "badge-keys.json"
    proc = subprocess.run([sys.executable, "-m", "badgekit", "companion", "clip-keys", "--out",
                           str(out), "--keystore", str(ks), "--badge", "bk29"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert SECRET.hex() not in out.read_text() and KEY.hex() in out.read_text()
    assert (out.stat().st_mode & 0o777, out.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    keys = load_badge_keys(out)
    assert len(keys) == 1 and keys.get("bk29") == [KEY, clipmac.clip_key_of(b"p" * 32)]
    assert _check(_sink_clips(tmp_path / "c")[0].read_bytes(), keys).status == "authenticated"
    out.chmod(0o644)
    with pytest.raises(BadgeKeysError, match="readable by others"):
        load_badge_keys(out)
    bad = subprocess.run([sys.executable, "-m", "badgekit", "companion", "clip-keys", "--out",
                          str(out), "--keystore", str(ks), "--badge", "bk99"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: not in the key store")


def test_sealed_wav_still_plays_in_sox(tmp_path):
    import shutil
    import subprocess

    wav = _sink_clips(tmp_path)[0]
    soxi = shutil.which("soxi")
    assert soxi, "sox is a Debian package of this project (script/bootstrap)"
    out = subprocess.run([soxi, "-s", str(wav)], capture_output=True, text=True, check=True)
    assert int(out.stdout) == 6 * 505  # sox decodes every sample of the blocks (fact ignored)
