"""MicroPython side of bench/clip_seal.py: the cost of sealing clips on the badge.

    micropython bench/clip_seal_mp.py CLIPS BLOCKS

Two clip stores on one littlefs2 RAM device (firmware.clips.store), one without a clip key
(version 1) and one with (version 2, sealed), record the same clips in alternation;
close_clip is timed (ticks_us) and its allocations counted (gc off around it). Also the
seal alone, the RAM a Sealer holds, and, for comparison, one Ed25519 scalar
multiplication in plain MicroPython integers (the core of a signature; MicroPython has
no Ed25519 and no SHA-512). Prints one JSON line.
"""

import gc
import json
import sys
import time

from firmware import ramdisk
from firmware.clips import mac as clipmac
from firmware.clips import store as clipstore

KEK = b"bench-kek-016-by"
SECRET = b"bench-enrollment-secret-32-bytes"


def blk(seq, i):
    b = bytearray(256)
    b[0], b[1], b[2] = (seq * 13 + i) & 0xFF, i & 0x7F, (seq + i) % 89
    for j in range(4, 256, 7):
        b[j] = (j * 31 + i * 7 + seq * 101) & 0xFF
    return bytes(b)


def meta():
    return {"badge": "bench", "session": "s1", "start_epoch": 1764000000, "start_ms": 0,
            "session_offset_samples": 0, "offset_samples": 0, "sample_rate": 16000}


# ---- Ed25519 scalar multiplication (RFC 8032 arithmetic, extended coordinates) -------
P = 2 ** 255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % P
    B = (y1 + x1) * (y2 + x2) % P
    C = t1 * 2 * D * t2 % P
    Dd = z1 * 2 * z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def scalarmult(pt, e):
    q = (0, 1, 1, 0)
    while e:
        if e & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        e >>= 1
    return q


def ed25519_ms():
    gy = 4 * pow(5, P - 2, P) % P
    u, v = (gy * gy - 1) % P, (D * gy * gy + 1) % P
    x = pow(u * pow(v, P - 2, P), (P + 3) // 8, P)
    if (v * x * x - u) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    base = (x, gy, 1, x * gy % P)
    k = (1 << 254) | 0x1DEADBEEF1234567890ABCDEF  # a clamped scalar: bit 254 set
    t0 = time.ticks_us()
    q = scalarmult(base, k)
    zi = pow(q[2], P - 2, P)  # back to affine, as encoding the point needs
    _ = (q[0] * zi % P, q[1] * zi % P)
    return time.ticks_diff(time.ticks_us(), t0) / 1000


def main(n, blocks):
    dev = ramdisk.RAMBlockDev(4096, 256)
    ramdisk.mount(dev, "/flash", mkfs=True)
    key = clipmac.clip_key_of(SECRET)
    stores = {"plain": clipstore.ClipStore("/flash/a", KEK),
              "sealed": clipstore.ClipStore("/flash/b", KEK, clip_key=key)}
    times = {"plain": [], "sealed": []}
    alloc = {"plain": [], "sealed": []}
    order = ("plain", "sealed")
    for i in range(n):
        for name in (order if i % 2 == 0 else (order[1], order[0])):
            st = stores[name]
            st.open_clip(meta())
            for b in range(blocks):
                st.write_block(blk(i, b))
            gc.collect()
            gc.disable()
            a0 = gc.mem_alloc()
            t0 = time.ticks_us()
            st.close_clip()
            dt = time.ticks_diff(time.ticks_us(), t0)
            alloc[name].append(gc.mem_alloc() - a0)
            gc.enable()
            times[name].append(dt)
            for c in list(st.list_clips()):  # keep the store small: ack what was closed
                st.ack(c["clip_id"])
    sealer = stores["sealed"].sealer
    w = stores["sealed"]
    hraw, traw = bytes(136), bytes(52)
    reps = 500
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(reps):
        sealer.seal(hraw, traw)
    seal_us = time.ticks_diff(time.ticks_us(), t0) / reps
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    sealer.seal(hraw, traw)
    seal_alloc = gc.mem_alloc() - a0
    gc.enable()
    gc.collect()
    a0 = gc.mem_alloc()
    held = clipmac.Sealer(key)
    gc.collect()
    sealer_bytes = gc.mem_alloc() - a0
    del held, w
    print(json.dumps({"times": times, "alloc": alloc, "seal_us": seal_us,
                      "seal_alloc": seal_alloc, "sealer_bytes": sealer_bytes,
                      "ed25519_ms": ed25519_ms(), "blocks": blocks, "clips": n}))


main(int(sys.argv[1]), int(sys.argv[2]))
