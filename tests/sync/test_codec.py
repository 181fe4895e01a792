"""Frames, MACs and HMAC are the same bytes on the badge (MicroPython) and the companion."""

from __future__ import annotations

import hashlib
import hmac
import json

from firmware.sync import auth, frame, proto

_MP = """
import json
from firmware.sync import auth, frame, proto
out = {}
out["hmac"] = [auth.hmac_sha256(k, m).hex() if hasattr(b"", "hex") else None
               for k, m in ((b"k", b"msg"), (b"\\x01" * 70, b"x" * 200), (b"", b""))]
out["frame"] = frame.encode(proto.READ, 0xDEADBEEF, proto.pack_read("bk-1-00000007", 5, 9, 64)).hex()
m = auth.Mac(b"s" * 32)
out["tag"] = m.tag(b"C", 7, proto.ACK, frame.F_MAC, b'{"a":1}').hex()
out["proofs"] = [auth.client_proof(b"K" * 32, "bk-1", b"n" * 16, b"m" * 16).hex(),
                 auth.badge_proof(b"K" * 32, "bk-1", b"n" * 16, b"m" * 16).hex(),
                 auth.session_key(b"K" * 32, b"n" * 16, b"m" * 16).hex(), auth.kek_of(b"K" * 32).hex()]
print(json.dumps(out))
"""


def test_hmac_matches_the_standard_library():
    for key, msg in ((b"k", b"msg"), (b"\x01" * 70, b"x" * 200), (b"", b"")):
        assert auth.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def test_badge_and_companion_encode_the_same_bytes(micropython):
    mp = json.loads(micropython(code=_MP).stdout)
    assert mp["hmac"] == [hmac.new(k, m, hashlib.sha256).hexdigest()
                          for k, m in ((b"k", b"msg"), (b"\x01" * 70, b"x" * 200), (b"", b""))]
    assert mp["frame"] == frame.encode(proto.READ, 0xDEADBEEF,
                                       proto.pack_read("bk-1-00000007", 5, 9, 64)).hex()
    assert mp["tag"] == auth.Mac(b"s" * 32).tag(b"C", 7, proto.ACK, frame.F_MAC, b'{"a":1}').hex()
    assert mp["proofs"] == [auth.client_proof(b"K" * 32, "bk-1", b"n" * 16, b"m" * 16).hex(),
                            auth.badge_proof(b"K" * 32, "bk-1", b"n" * 16, b"m" * 16).hex(),
                            auth.session_key(b"K" * 32, b"n" * 16, b"m" * 16).hex(),
                            auth.kek_of(b"K" * 32).hex()]


def test_decoder_resyncs_and_bounds():
    good = frame.encode(proto.PING, 1, b"{}")
    d = frame.Decoder(16, 100)
    d.feed(b"\x00\xb5\x01" + good)
    assert d.poll(0) == frame.EV_JUNK and d.value == 3
    assert d.poll(0) == frame.EV_FRAME and d.typ == proto.PING and bytes(d.payload) == b"{}"
    d.feed(frame.encode(proto.PING, 2, b"x" * 17))
    assert d.poll(0) == frame.EV_TOO_LONG
    bad = bytearray(good)
    bad[-1] ^= 1
    d.reset()
    d.feed(bytes(bad))
    assert d.poll(0) == frame.EV_CRC
    d.reset()
    d.feed(good[:7], now_ms=0)
    assert d.poll(50) is None and d.poll(100) == frame.EV_INCOMPLETE
    # a frame split across many small pieces (BLE writes) still decodes
    d.reset()
    for i in range(len(good)):
        d.feed(good[i:i + 1], now_ms=i)
        ev = d.poll(i)
    assert ev == frame.EV_FRAME
