"""Recording hours that fit in the clip store: 4, 8, 16 MiB flash and a 32 GB card.

    .venv/bin/python bench/store_capacity.py [--clip-s 60]

Measured, not estimated: the real store (firmware.clips.store, encryption on, default space
policy: 64 KiB reserve, 10 s start margin) fills a littlefs2 image of each flash's store
partition under the MicroPython unix port with clips of CLIP_S seconds of 16 kHz IMA
ADPCM until it refuses to record. The store partition is what MicroPython's ESP32-S3
partition table leaves for the filesystem: flash size minus 2 MiB (bootloader, NVS and a
1.94 MiB app). A 32 GB card (littlefs2, 512-byte blocks) is too big to fill in RAM: a
16 MiB card image is filled and its measured efficiency applied to 32e9 bytes.

Baselines in the same run: the raw ADPCM byte rate (no container, no filesystem) and
16-bit PCM (what an uncompressed store would hold).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from badgecore import mpy  # noqa: E402

MIB = 1024 * 1024
ADPCM_BPS = 16000 * 256 / 505  # bytes per second of audio
PCM_BPS = 16000 * 2

FILL = r"""
import json
from firmware import ramdisk
from firmware.clips import store as clipstore
bs, nblk, clip_blocks = {bs}, {nblk}, {clip_blocks}
dev = ramdisk.RAMBlockDev(bs, nblk)
ramdisk.mount(dev, "/f", mkfs=True)
s = clipstore.ClipStore("/f/store", b"capacity-key-016")
blk = bytes([1, 0, 5, 0]) + bytes(range(252))
meta = {{"badge": "cap1", "session": "s", "start_epoch": 1764000000, "sample_rate": 16000}}
blocks = 0
clips = 0
while True:
    try:
        s.open_clip(meta)
    except clipstore.StoreFullError:
        break
    try:
        for i in range(clip_blocks):
            s.write_block(blk)
            blocks += 1
        s.close_clip()
    except clipstore.StoreFullError:
        blocks += 0
    clips += 1
st = s.status()
print(json.dumps({{"blocks": blocks, "clips": clips, "bytes_total": st["bytes_total"],
                  "bytes_free": st["bytes_free"], "used_pct": st["used_pct"]}}))
"""


def fill(size: int, block_size: int, clip_s: float) -> dict:
    clip_blocks = int(clip_s * 16000 / 505)
    code = FILL.format(bs=block_size, nblk=size // block_size, clip_blocks=clip_blocks)
    proc = mpy.run(code=code, heap="512M", timeout=1800)
    r = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    r["audio_s"] = r["blocks"] * 505 / 16000
    r["size"] = size
    r["efficiency"] = r["blocks"] * 256 / size
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-s", type=float, default=60.0)
    ap.add_argument("--card-image-mib", type=int, default=16)
    args = ap.parse_args()
    print(f"clip store capacity, {args.clip_s:.0f} s clips of 16 kHz IMA ADPCM "
          f"({ADPCM_BPS:.0f} B/s), encryption on, default space policy")
    print(f"{'medium':<22}{'store bytes':>15}{'hours':>9}{'minutes':>9}{'raw ADPCM h':>13}"
          f"{'ratio':>7}{'PCM16 h':>9}")
    rows = [(f"{f} MiB flash", (f - 2) * MIB, 4096) for f in (4, 8, 16)]
    for name, size, bs in rows:
        r = fill(size, bs, args.clip_s)
        raw_h = size / ADPCM_BPS / 3600
        h = r["audio_s"] / 3600
        print(f"{name:<22}{size:>15,}{h:>9.2f}{h * 60:>9.1f}{raw_h:>13.2f}{h / raw_h:>7.3f}"
              f"{size / PCM_BPS / 3600:>9.2f}")
    card = fill(args.card_image_mib * MIB, 512, args.clip_s)
    size = 32_000_000_000
    h = card["efficiency"] * size / ADPCM_BPS / 3600
    raw_h = size / ADPCM_BPS / 3600
    print(f"{'32 GB card (littlefs)':<22}{size:>15,}{h:>9.1f}{h * 60:>9.0f}{raw_h:>13.1f}"
          f"{h / raw_h:>7.3f}{size / PCM_BPS / 3600:>9.1f}")
    print(f"  (card: efficiency {card['efficiency']:.4f} measured on a {args.card_image_mib} MiB image, "
          f"{card['clips']} clips)")
    print("hours are continuous audio; the VAD gate stores only speech, so a working day of "
          "meetings needs fewer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
