# mypy: ignore-errors
"""MicroPython side of the sync fuzz campaign (run by bench/fuzz_sync.py and the tests).

    micropython bench/sync_fuzz_mp.py CASES SEED

Builds a badge (a ClipStore on littlefs2 over a RAM block device, a few clips, an
enrolled BadgeState) and its firmware sync Server, then feeds it CASES inputs: random
bytes, valid frames of random type and payload, mutated frames from a real session
(bit flips, truncation, length and type changes, insertions, duplication), and
authenticated frames with a valid MAC but hostile payloads. After each input the clock
advances past the frame timeout and the server runs until idle. Each input must get at
least one reply frame, every reply must decode (CRC) and be a reply type or ERROR, the
server must never raise, and no input may keep it busy forever. Prints one JSON line.
"""

import json
import os
import random
import struct
import sys

from firmware import ramdisk
from firmware.clips import keys as clipkeys
from firmware.clips import store as clipstore
from firmware.sync import auth, frame, proto, server, state

_SECRET = b"\x42" * 32
_MAXSTEPS = 20000


class Badge:
    def __init__(self):
        dev = ramdisk.RAMBlockDev(4096, 96)
        ramdisk.mount(dev, "/fz", mkfs=True)
        key, _o, _s = clipkeys.KeyFile("/fz/k.json").load()
        self.store = clipstore.ClipStore("/fz/store", key, badge="bk-fuzz")
        blk = bytearray(256)
        for seq in range(3):
            self.store.open_clip({"badge": "bk-fuzz", "session": "s1", "start_epoch": 1764000000 + seq,
                                  "sample_rate": 16000})
            for b in range(6):
                blk[0] = b
                blk[2] = 10
                blk[3] = 0
                self.store.write_block(blk)
            self.store.close_clip()
        self.st = state.BadgeState("/fz/sync.json", "bk-fuzz")
        self.st.secret, self.st.branch, self.st.agent = _SECRET, "b1", "fuzz"
        self.srv = server.Server(self.store, self.st, on_enroll=lambda k: 0)
        self.now = 0
        self.out = bytearray()

    def run(self, data):
        """Feed ``data``; run until idle; return the bytes the badge sent."""
        srv = self.srv
        out = bytearray()
        mv = memoryview(data)
        steps = 0
        while True:
            if len(mv):
                k = srv.feed(mv, self.now)
                mv = mv[k:]
            p = srv.pending()
            if p is not None:
                out.extend(p)
                srv.sent(len(p))
            elif not srv.step(self.now):
                if len(mv):
                    continue
                if srv.dec.fill == 0 and srv.dec.junk == 0:
                    return out, steps
                self.now += 1000  # let a stalled frame time out
            steps += 1
            if steps > _MAXSTEPS:
                return None, steps


class Client:
    """Just enough of the companion to hold a real session for mutation seeds."""

    def __init__(self):
        self.seq = 0
        self.mac = None

    def frame(self, typ, payload, mac=True):
        self.seq += 1
        if self.mac is not None and mac:
            tag = self.mac.tag(b"C", self.seq, typ, frame.F_MAC, payload)
            return frame.encode(typ, self.seq, payload, frame.F_MAC, tag)
        return frame.encode(typ, self.seq, payload)


def decode_all(data):
    dec = frame.Decoder(8192, 1 << 30)
    frames = []
    bad = 0
    mv = memoryview(data)
    while len(mv):
        k = dec.feed(mv, 0)
        mv = mv[k:]
        while True:
            ev = dec.poll(0)
            if ev is None:
                break
            if ev == frame.EV_FRAME:
                frames.append((dec.typ, bytes(dec.payload)))
            else:
                bad += 1
    if dec.fill:
        bad += 1
    return frames, bad


def handshake(b, c):
    nc = os.urandom(16)
    c.mac = None
    out, _ = b.run(c.frame(proto.HELLO, json.dumps({"v": 1, "nonce": _hex(nc)}).encode()))
    fr, _bad = decode_all(out)
    nb = _unhex(json.loads(fr[-1][1])["nonce"])
    proof = auth.client_proof(_SECRET, "bk-fuzz", nc, nb)
    out, _ = b.run(c.frame(proto.AUTH, json.dumps({"mac": _hex(proof)}).encode()))
    c.mac = auth.Mac(auth.session_key(_SECRET, nc, nb))
    return out


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def _unhex(s):
    import binascii

    return binascii.unhexlify(s)


def rbytes(n):
    return bytes(random.getrandbits(8) for _ in range(n))


_PAYLOADS = [b"", b"{}", b"[]", b"null", b"{\"start\":-1}", b"{\"max\":999}", b"{\"clip\":1}",
             b"{\"epoch\":\"x\"}", b"{\"gain_db\":1000}", b"{\"nonce\":\"zz\"}", b"[[[[[[[[[[]]]]]]]]]]",
             b"{\"branch\":\"\",\"agent\":\"a\",\"key\":\"00\"}", b"\xff\xfe", b"{\"a\":" * 40]


def seeds(c):
    s = [
        c.frame(proto.INFO, b"{}"), c.frame(proto.LIST, b"{\"start\":0,\"max\":12}"),
        c.frame(proto.READ, proto.pack_read("bk-fuzz-00000001", 0, 300, 128)),
        c.frame(proto.READ, proto.pack_read("bk-fuzz-00000002", 999999, 10, 64)),
        c.frame(proto.ACK, b"{\"clip\":\"bk-fuzz-00000000\",\"sha256\":\"" + b"0" * 64 + b"\"}"),
        c.frame(proto.SET_TIME, b"{\"epoch\":1764000000}"),
        c.frame(proto.GET_CONFIG, b"{}"), c.frame(proto.SET_CONFIG, b"{\"gain_db\":6}"),
        c.frame(proto.LOGS, b"{}"), c.frame(proto.PING, b"{}"),
    ]
    return s


def mutate(f):
    f = bytearray(f)
    kind = random.getrandbits(3)
    if kind == 0 and len(f):
        for _ in range(1 + random.getrandbits(2)):
            i = random.getrandbits(16) % len(f)
            f[i] ^= 1 << random.getrandbits(3)
    elif kind == 1:
        f = f[:random.getrandbits(16) % (len(f) + 1)]
    elif kind == 2 and len(f) >= 10:
        struct.pack_into("<H", f, 8, random.getrandbits(16))
    elif kind == 3 and len(f) >= 3:
        f[2] = random.getrandbits(8)
    elif kind == 4:
        i = random.getrandbits(16) % (len(f) + 1)
        f = f[:i] + rbytes(1 + random.getrandbits(4)) + f[i:]
    elif kind == 5:
        f = f + f
    elif kind == 6:
        f = rbytes(random.getrandbits(4)) + f
    else:
        f = f[:len(f) // 2] + rbytes(random.getrandbits(5))
    return bytes(f)


def main(argv):
    n = int(argv[0]) if argv else 1000
    random.seed(int(argv[1]) if len(argv) > 1 else 1)
    b = Badge()
    c = Client()
    handshake(b, c)
    stats = {"cases": 0, "crashes": 0, "hangs": 0, "unanswered": 0, "bad_replies": 0,
             "replies": 0, "errors": {}, "kinds": {}}
    first_crash = None
    unanswered = []
    internal = []  # handler exceptions answered with an error (kept for the report)
    for i in range(n):
        kind = i % 5
        if kind == 0:
            data = rbytes(random.getrandbits(10) % 700)
        elif kind == 1:
            typ = random.getrandbits(8)
            pl = _PAYLOADS[random.getrandbits(8) % len(_PAYLOADS)] if random.getrandbits(1) else rbytes(random.getrandbits(9) % 520)
            data = c.frame(typ, pl, mac=False)
        elif kind == 2:
            data = mutate(seeds(c)[random.getrandbits(8) % 10])
        elif kind == 3:
            typ = random.getrandbits(4)
            data = c.frame(typ, _PAYLOADS[random.getrandbits(8) % len(_PAYLOADS)])
        else:
            data = mutate(c.frame(random.getrandbits(4), rbytes(random.getrandbits(6))))
        if not data:
            data = b"\x00"  # an empty input is no input: send one junk byte instead
        stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
        stats["cases"] += 1
        try:
            out, _steps = b.run(data)
        except Exception as e:  # a crash: the badge would reboot
            stats["crashes"] += 1
            if first_crash is None:
                first_crash = f"{type(e).__name__}: {e}"
            b.srv.reset()
            continue
        if out is None:
            stats["hangs"] += 1
            b.srv.reset()
            continue
        fr, bad = decode_all(out)
        stats["bad_replies"] += bad
        if not fr:
            stats["unanswered"] += 1
            unanswered.append(_hex(data[:40]))
        for typ, pl in fr:
            stats["replies"] += 1
            if typ == proto.ERROR:
                err = json.loads(pl)
                code = err["code"]
                stats["errors"][code] = stats["errors"].get(code, 0) + 1
                if code == proto.E_INTERNAL:
                    internal.append(err["msg"])
            elif not typ & proto.REPLY:
                stats["bad_replies"] += 1
        if i % 97 == 96:  # now and then a fresh session, as a reconnecting companion
            b.srv.reset()
            c = Client()
            handshake(b, c)
    left = 0
    for _c in b.store.list_clips():
        left += 1
    stats["clips_left"] = left
    stats["first_crash"] = first_crash
    seen = {}
    for m in internal:
        seen[m[:80]] = seen.get(m[:80], 0) + 1
    stats["internal_kinds"] = seen
    stats["unanswered_inputs"] = unanswered[:5]
    print(json.dumps(stats))


main(sys.argv[1:])
