"""Run by both CPython and MicroPython: FolderSink clips + AES-CTR, printed as JSON.

    python|micropython tests/store/parity_script.py OUTDIR
"""

import hashlib
import json
import sys

from firmware import aesctr
from firmware.clips import fmt as clipfmt
from firmware.clips import sink as clipsink


def blk(seq, i):
    b = bytearray(256)
    b[0], b[1], b[2] = i & 0xFF, seq, (i * 3) % 89
    for j in range(4, 256):
        b[j] = (j * 7 + i * 13 + seq) & 0xFF
    return bytes(b)


def main(out):
    sink = clipsink.FolderSink(out, prev_sha256="ab" * 32)
    res = {"clips": []}
    for seq in range(3):
        sink.open_clip({"badge": "par1", "session": "sess-9", "seq": seq, "start_epoch": 1764000000 + seq,
                        "start_ms": 7 * seq, "session_offset_samples": 505 * seq, "offset_samples": 11,
                        "sample_rate": 16000})
        for i in range(10 + seq):
            sink.write_block(blk(seq, i))
        side = sink.close_clip((10 + seq) * 505 - seq)
        with open(out + "/" + side["clip_id"] + ".wav", "rb") as f:
            wav = f.read()
        res["clips"].append({"wav_sha": clipfmt.hexhash(hashlib.sha256(wav).digest()),
                             "side": side})
    # NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt): nonce || counter = f0f1...feff
    import binascii

    key = binascii.unhexlify("2b7e151628aed2a6abf7158809cf4f3c")
    nonce = binascii.unhexlify("f0f1f2f3f4f5f6f7")
    ctr0 = int.from_bytes(binascii.unhexlify("f8f9fafbfcfdfeff"), "big")
    pt = binascii.unhexlify("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    ctr = aesctr.CTR(key, nonce)
    res["nist"] = clipfmt.hexhash(ctr.apply(ctr0 * 16, pt))
    res["nist_mid"] = clipfmt.hexhash(ctr.apply(ctr0 * 16 + 5, pt[5:27]))
    print(json.dumps(res))


main(sys.argv[1])
