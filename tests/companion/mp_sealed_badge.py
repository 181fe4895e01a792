"""A simulated badge already enrolled (so its clips are sealed, format version 2), with the
flash of some clips altered after they were sealed. Run under MicroPython like
badgekit/sim/badge_mp.py, with its arguments and these:

    --secret HEX --branch B --agent A [--tamper I,J]   (I: index of a stored clip)

A tampered clip keeps its audio and hash; its trailer says 1/100 of its samples (the
"hide the speech" edit): only the seal can tell.
"""

import struct
import sys

from badgekit.sim import badge_mp
from firmware.clips import file as clipfile
from firmware.clips import fmt as clipfmt
from firmware.clips import keys as clipkeys
from firmware.clips import mac as clipmac
from firmware.sync import auth, state


def _opts(argv):
    out, rest, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("--secret", "--branch", "--agent", "--tamper"):
            out[a[2:]] = argv[i + 1]
            i += 2
        else:
            rest.append(a)
            i += 1
    return out, rest


def _lower_samples(store, cid):
    seq = int(cid[cid.rfind("-") + 1:])
    store._drop_reader()
    path = store._path(seq)
    pos = clipfmt.HEADER_SIZE + store.index.entries[seq].data_len
    r = clipfile.Reader(path, store.keys)
    traw = bytearray(r.read(pos, clipfmt.TRAILER_SIZE))
    samples = struct.unpack_from("<I", traw, 4)[0]
    struct.pack_into("<I", traw, 4, samples // 100)
    enc = r.ctr.apply(pos, bytes(traw))
    r.close()
    f = open(path, "r+b")
    f.seek(clipfile.FILE_HDR_SIZE + pos)
    f.write(enc)
    f.close()


def main(argv):
    o, rest = _opts(argv)
    secret = bytes.fromhex(o["secret"])
    tamper = [int(x) for x in o.get("tamper", "").split(",") if x]
    fill = badge_mp.fill

    def enrolled_fill(store, folder, names):
        st = state.BadgeState(badge_mp._MNT + "/sync.json", store.badge)
        st.secret, st.branch, st.agent = secret, o["branch"], o["agent"]
        st.save()
        kek = auth.kek_of(secret)
        keys = clipkeys.KeyFile(badge_mp._MNT + "/nvs-key.json")
        keys.enroll(kek)
        store.set_key(kek)
        keys.forget_old()
        store.set_clip_key(clipmac.clip_key_of(secret))
        ids, differ = fill(store, folder, names)
        for i in tamper:
            _lower_samples(store, ids[i])
        return ids, differ

    badge_mp.fill = enrolled_fill
    badge_mp.main(rest)


main(sys.argv[1:])
