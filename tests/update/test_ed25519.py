"""Ed25519 verification and SHA-512 in plain MicroPython (firmware.ed25519,
firmware.sha512), run under the real unix port against CPython's `cryptography` and
hashlib, and RFC 8032's first test vector."""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives import serialization as se
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC_SIG = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
           "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")

_CHECK = """
import binascii, json, sys
from firmware import ed25519
from firmware.sha512 import sha512
cases = json.loads(sys.stdin.read())
out = []
for c in cases:
    u = binascii.unhexlify
    if c[0] == "sha":
        out.append(binascii.hexlify(sha512(u(c[1]))).decode())
    else:
        try:
            out.append(ed25519.verify(u(c[1]), u(c[2]), u(c[3])))
        except ed25519.BadKey as e:
            out.append("badkey")
print(json.dumps(out))
"""


def test_ed25519_and_sha512_under_micropython_match_cryptography(micropython):
    import hashlib

    assert Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC_SECRET)).sign(b"").hex() == RFC_SIG
    cases: list[list[str]] = [["v", RFC_PUBLIC, "", RFC_SIG, True]]
    for n in (0, 1, 111, 112, 127, 128, 129, 255, 1000):
        m = os.urandom(n)
        cases.append(["sha", m.hex(), hashlib.sha512(m).hexdigest()])
    for n in (0, 1, 32, 46, 200):
        k = Ed25519PrivateKey.generate()
        pub = k.public_key().public_bytes(se.Encoding.Raw, se.PublicFormat.Raw)
        m = os.urandom(n)
        sig = k.sign(m)
        other = Ed25519PrivateKey.generate().public_key().public_bytes(se.Encoding.Raw,
                                                                       se.PublicFormat.Raw)
        flip_r = bytes([sig[0] ^ 4]) + sig[1:]
        flip_s = sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]
        big_s = sig[:32] + (int.from_bytes(sig[32:], "little") + 2 ** 252 +
                            27742317777372353535851937790883648493).to_bytes(32, "little")
        cases += [["v", pub.hex(), m.hex(), sig.hex(), True],
                  ["v", pub.hex(), (m + b"!").hex(), sig.hex(), False],
                  ["v", other.hex(), m.hex(), sig.hex(), False],
                  ["v", pub.hex(), m.hex(), flip_r.hex(), False],
                  ["v", pub.hex(), m.hex(), flip_s.hex(), False],
                  ["v", pub.hex(), m.hex(), big_s.hex(), False],  # S + L: malleated, refused
                  ["v", pub.hex(), m.hex(), sig[:63].hex(), False]]
    # y = 2 is on no curve point: not a key
    cases.append(["v", (2).to_bytes(32, "little").hex(), "", RFC_SIG, "badkey"])
    proc = micropython(code=_CHECK, input=json.dumps([c[:-1] for c in cases]).encode())
    got = json.loads(proc.stdout.decode())
    assert got == [c[-1] for c in cases]
