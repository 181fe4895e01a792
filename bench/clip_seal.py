"""Cost of the clip seal (clip format version 2) on the badge, under the MicroPython unix port.

The badge's own clip store (firmware.clips.store on littlefs2 in RAM) records the same
clips twice in alternation, without a clip key (version 1: the baseline) and with one
(version 2: HMAC-SHA256 seal at close), in one MicroPython process
(bench/clip_seal_mp.py). Printed: close_clip time (median, mean) with and without the
seal and their ratio, the seal alone, bytes allocated per close, the RAM the sealer
holds, an ESP32-S3 estimate (bench/record_speed.py's cycle factor), and, to say why the
badge does not sign with Ed25519, one Ed25519 scalar multiplication in MicroPython
integers. Budgets (docs/recording.md): the recorder's heap stays within 64 KiB (peak
31.1 KiB measured), and a clip close must fit well inside the 0.5 s I2S buffer that
carries the microphone across it (we require under 10 % of it: 50 ms). Synthetic ADPCM
blocks: no data set is involved, nothing was tuned.

    .venv/bin/python bench/clip_seal.py [--clips 80] [--blocks 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from badgecore import mpy

sys.path.insert(0, str(Path(__file__).parent))
from record_speed import ESP32_HZ, XTENSA_CYCLE_FACTOR, cpu_mhz  # noqa: E402

HEAP_BUDGET = 64 * 1024
RECORDER_PEAK = int(31.1 * 1024)  # docs/recording.md, bench/record_memory.py
I2S_BUFFER_MS = 500  # firmware/badge.py _MIC_IBUF: 0.5 s of 32-bit slots
CLOSE_BUDGET_MS = I2S_BUFFER_MS / 10


def esp32_ms(host_ms: float, mhz: float) -> float:
    return host_ms * 1e-3 * mhz * 1e6 * XTENSA_CYCLE_FACTOR / ESP32_HZ * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=80, help="clips per variant")
    ap.add_argument("--blocks", type=int, default=60, help="ADPCM blocks per clip (60 = 1.9 s)")
    a = ap.parse_args()
    proc = mpy.run(Path(__file__).with_name("clip_seal_mp.py"),
                   args=[str(a.clips), str(a.blocks)], heap="32M", timeout=1200, check=False)
    if proc.returncode != 0:
        print("MicroPython failed: " + proc.stderr.decode()[-500:], file=sys.stderr)
        return 2
    r = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    mhz = cpu_mhz()
    t, al = r["times"], r["alloc"]
    med = {k: statistics.median(v) for k, v in t.items()}
    mean = {k: statistics.fmean(v) for k, v in t.items()}
    extra_alloc = statistics.median(s - p for s, p in zip(al["sealed"], al["plain"], strict=True))
    print(f"MicroPython unix port, host clock {mhz:.0f} MHz; {a.clips} clips x {a.blocks} blocks "
          "per variant, alternating; littlefs2 on a RAM block device")
    print("close_clip (trailer, seal, index record, tip):")
    print(f"  version 1 (baseline) : median {med['plain']:7.0f} us  mean {mean['plain']:7.0f} us")
    print(f"  version 2 (sealed)   : median {med['sealed']:7.0f} us  mean {mean['sealed']:7.0f} us")
    ratio = med["sealed"] / med["plain"]
    print(f"  ratio sealed / baseline: {ratio:.3f} (median), "
          f"{mean['sealed'] / mean['plain']:.3f} (mean)")
    print(f"  the seal alone       : {r['seal_us']:.2f} us per clip "
          f"({100 * r['seal_us'] / med['plain']:.2f} % of a baseline close)")
    print(f"allocations per close: +{extra_alloc:.0f} bytes with the seal (seal alone "
          f"{r['seal_alloc']} B, freed at once); the sealer holds {r['sealer_bytes']} B "
          "(HMAC pads, key id) for as long as the badge is enrolled")
    heap = RECORDER_PEAK + r["sealer_bytes"] + r["seal_alloc"]
    heap_ok = heap <= HEAP_BUDGET
    print(f"heap: recorder peak {RECORDER_PEAK} B + sealer + one seal = {heap} B of "
          f"{HEAP_BUDGET} B budget: {'PASS' if heap_ok else 'FAIL'}")
    e_close = esp32_ms(med["sealed"] / 1000, mhz)
    e_seal = esp32_ms(r["seal_us"] / 1000, mhz)
    close_ok = e_close <= CLOSE_BUDGET_MS
    print(f"ESP32-S3 estimate (x{XTENSA_CYCLE_FACTOR:g} cycles, 240 MHz; RAM, not flash, "
          f"writes): sealed close {e_close:.2f} ms, the seal {e_seal * 1000:.0f} us; budget "
          f"{CLOSE_BUDGET_MS:.0f} ms (10 % of the {I2S_BUFFER_MS} ms I2S buffer): "
          f"{'PASS' if close_ok else 'FAIL'}")
    ed = r["ed25519_ms"]
    print(f"Ed25519 instead (one scalar multiplication, plain MicroPython integers): "
          f"{ed:.1f} ms here, ~{esp32_ms(ed, mhz):.0f} ms on the ESP32-S3 estimate = "
          f"{ed * 1000 / r['seal_us']:.0f}x the seal; not constant-time (the private key "
          "would leak through timing), and SHA-512 is not in MicroPython's hashlib")
    return 0 if heap_ok and close_ok else 1


if __name__ == "__main__":
    sys.exit(main())
