"""Does the badge keep recording in real time while a companion syncs it?

    .venv/bin/python bench/badge_concurrency.py [--seconds 12]

The badge application (firmware/badge.py, all its asyncio tasks) runs under the
MicroPython unix port with real speech as its mic at the badge's own pace (one 20 ms
frame every 19.9 ms), its store on a file block device and USB sync on a pty. Two
phases of the same run:
- baseline: recording only;
- load: recording while the companion syncs the badge over and over (``ack=False`` into a
  fresh spool each round, so every round streams every clip again).
Printed per phase: frames recorded per second (50 = real time), the worst lateness of a
mic read (how long the I2S DMA buffer must hold audio: the badge allocates 500 ms), the
clip bytes synced per second. On the badge a read later than the buffer would lose
audio, so the figure to watch is worst lateness under load against 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from badgecore.paths import REPO_ROOT
from badgekit.meeting import shared_speech_dir

sys.path.insert(0, str(REPO_ROOT))
from tests.badge.helpers import BadgeProc, meeting_wav  # noqa: E402

I2S_BUFFER_MS = 500


async def _sync_rounds(port: str, ks, work: Path, seconds: float) -> tuple[int, int]:
    from companion.spool import Spool
    from companion.sync import sync_badge
    from companion.transport.serial import SerialTransport

    got = rounds = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        async with SerialTransport(port) as t:
            rep = await sync_badge(t, Spool(work / f"spool{rounds}"), ks, branch="bench",
                                   ack=False)
        got += rep.clip_bytes
        rounds += 1
    return got, rounds


def _phase(b: BadgeProc, seconds: float, load=None) -> dict:
    b.cmd("reset_late")
    s0 = b.status()
    t0 = time.monotonic()
    synced = rounds = 0
    if load is None:
        time.sleep(seconds)
    else:
        synced, rounds = asyncio.run(load(seconds))
    s1 = b.status()
    dt = time.monotonic() - t0
    return {"frames_per_s": (s1["recording"]["frames"] - s0["recording"]["frames"]) / dt,
            "late_max_ms": s1["recording"]["late_max_ms"], "synced_bps": synced / dt,
            "rounds": rounds, "state": s1["recording"]["state"], "errors": s1["errors"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("needs ../shared/data/speech beside the repository", file=sys.stderr)
        return 2
    from companion.keystore import KeyStore
    from companion.sync import enroll_badge
    from companion.transport.serial import SerialTransport

    with tempfile.TemporaryDirectory(prefix="bk-bench-badge-") as tmp:
        work = Path(tmp)
        wavs = {p.stem: p for p in speech.glob("*.wav")}
        wav = meeting_wav(wavs, work / "meeting.wav")
        ks = KeyStore(work / "keys.json")
        with BadgeProc(work / "badge", wav=wav, frame_us=19900) as b:
            async def enroll() -> None:
                async with SerialTransport(b.port) as t:
                    await enroll_badge(t, ks, branch="bench", agent="bench")
            asyncio.run(enroll())
            b.press(100)
            time.sleep(args.seconds)  # some clips to sync
            base = _phase(b, args.seconds)
            load = _phase(b, args.seconds, lambda s: _sync_rounds(b.port, ks, work, s))
    print(f"badge under the unix port, real-time pace, {args.seconds:g} s per phase")
    print(f"{'phase':<22}{'frames/s':>10}{'worst late':>12}{'synced':>14}{'rounds':>8}")
    for name, r in (("recording only", base), ("recording + sync", load)):
        print(f"{name:<22}{r['frames_per_s']:>10.2f}{r['late_max_ms']:>9d} ms"
              f"{r['synced_bps'] / 1024:>10.1f} KiB/s{r['rounds']:>8d}")
    ratio = load["frames_per_s"] / base["frames_per_s"] if base["frames_per_s"] else 0.0
    print(f"frames/s under sync vs recording only: {ratio:.3f} (1.000 = no audio falls behind)")
    print(f"worst mic-read lateness under sync: {load['late_max_ms']} ms of the "
          f"{I2S_BUFFER_MS} ms I2S buffer ({load['late_max_ms'] / I2S_BUFFER_MS:.0%})")
    ok = (load["state"] == "recording" and not load["errors"]
          and load["late_max_ms"] < I2S_BUFFER_MS and ratio > 0.98)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
