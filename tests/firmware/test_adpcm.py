"""IMA ADPCM: viper = plain = CPython, sox reads our blocks, quality close to sox's encoder."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np

from firmware import adpcm
from tests.firmware.helpers import encode_plain, ima_wav, mpy_json, read_pcm, snr_db, sox_decode

# blocks of hard cases: full-scale swings, silence, quiet noise, steps, a sweep of levels
_MAKE = """
from array import array
from fwsupport import Synth
syn = Synth(7)
blocks = []
for b in range(120):
    buf = array('h', bytes(1010))
    kind = b % 6
    if kind == 0:
        syn.noise(buf, 32767)
    elif kind == 1:
        for i in range(505):
            buf[i] = 32767 if (i // 7) % 2 else -32768
    elif kind == 2:
        syn.noise(buf, 40)
    elif kind == 3:
        syn.tone(buf, 200 * b, 18)
    elif kind == 4:
        for i in range(505):
            buf[i] = 0
    else:
        for i in range(505):
            buf[i] = (i * 131 + b * 977) % 65536 - 32768
    blocks.append(buf)
"""


def _cpython_blocks():
    import sys

    from tests.firmware import fwsupport

    ns: dict = {}
    sys.modules.setdefault("fwsupport", fwsupport)
    exec(_MAKE, ns)
    return ns["blocks"]


def test_viper_plain_and_cpython_encoders_are_bit_identical(micropython):
    code = _MAKE + """
import hashlib, json, binascii
from firmware import adpcm
out = {}
for fast in (True, False):
    enc = adpcm.Encoder(fast=fast)
    h = hashlib.sha256()
    o = bytearray(256)
    for buf in blocks:
        enc.encode_block(buf, o)
        h.update(o)
    out[str(fast)] = binascii.hexlify(h.digest()).decode()
out["FAST"] = adpcm.FAST
print(json.dumps(out))
"""
    got = mpy_json(micropython, code)
    assert got["FAST"] is True
    assert got["True"] == got["False"]
    enc = adpcm.Encoder()
    h = hashlib.sha256()
    o = bytearray(256)
    for buf in _cpython_blocks():
        enc.encode_block(buf, o)
        h.update(o)
    assert h.hexdigest() == got["True"]


def test_sox_decodes_our_blocks_exactly_as_our_decoder(speech, tmp_path):
    pcm = read_pcm(speech["asr_example_zh"])
    data = encode_plain(pcm)
    wav = ima_wav(tmp_path / "ours.wav", data, len(pcm))
    ours = np.array(adpcm.decode(data, len(pcm)), np.int16)
    by_sox = sox_decode(wav)
    # sox decodes the padding of the last block too; the fact chunk holds the true count
    assert len(by_sox) == adpcm.blocks_for(len(pcm)) * 505
    assert np.array_equal(by_sox[: len(pcm)], ours)
    assert snr_db(pcm, ours) > 25


def test_quality_within_half_a_db_of_sox_encoder(speech, tmp_path):
    for name in ("BAC009S0764W0121", "0478_00017"):  # -40 dBFS and -13 dBFS talkers
        src = speech[name]
        pcm = read_pcm(src)
        ours = sox_decode(ima_wav(tmp_path / f"{name}.wav", encode_plain(pcm), len(pcm)))[: len(pcm)]
        ref = tmp_path / f"{name}-sox.wav"
        subprocess.run(["sox", "-D", str(src), "-e", "ima-adpcm", str(ref)], check=True)
        theirs = sox_decode(ref)[: len(pcm)]
        assert snr_db(pcm, ours) >= snr_db(pcm, theirs) - 0.5, name


def test_last_block_is_padded_and_decodes_to_the_true_count():
    pcm = (np.sin(np.arange(1234) / 5) * 8000).astype(np.int16)
    data = encode_plain(pcm)
    assert len(data) == 3 * 256  # 1234 samples -> 3 blocks, the last one padded
    got = np.array(adpcm.decode(data, len(pcm)), np.int16)
    assert len(got) == 1234 and snr_db(pcm, got) > 20
    assert adpcm.blocks_for(0) == 0 and adpcm.blocks_for(505) == 1 and adpcm.blocks_for(506) == 2


def test_block_header_holds_first_sample_and_step_index():
    from array import array

    buf = array("h", [-1234] + [0] * 504)
    out = bytearray(256)
    adpcm.Encoder(search=0).encode_block(buf, out)
    assert int.from_bytes(out[0:2], "little", signed=True) == -1234
    assert out[2] <= 88 and out[3] == 0
    bad = bytearray(out)
    bad[2] = 200
    try:
        adpcm.decode_block(bad)
    except ValueError:
        pass
    else:
        raise AssertionError("a step index above 88 must be refused")


def test_whole_buffer_encode_pads_and_matches_micropython(micropython):
    """`adpcm.encode` (the host helper beside `decode`) gives the same bytes on both
    interpreters and pads the last block, so decoding gives back the true length."""
    code = (
        "import hashlib, binascii\n"
        "from array import array\n"
        "from firmware import adpcm\n"
        "pcm = array('h', [((i * 2654435761) >> 16) % 20000 - 10000 for i in range(1234)])\n"
        "print(binascii.hexlify(hashlib.sha256(adpcm.encode(pcm)).digest()).decode())\n"
    )
    from array import array

    pcm = array("h", [((i * 2654435761) >> 16) % 20000 - 10000 for i in range(1234)])
    data = adpcm.encode(pcm)
    assert len(data) == 3 * 256
    assert micropython(code=code).stdout.decode().strip() == hashlib.sha256(data).hexdigest()
    assert len(adpcm.decode(data, 1234)) == 1234
