"""Speech kept and non-speech dropped by the badge's gate versus webrtcvad, per noise x SNR.

Meeting-like recordings (badgekit.meeting: the real utterances of ../shared/data/speech,
every talker at -26 dBFS +- 3 dB, 1-6 s pauses, >= 5 minutes, ground truth from the
clean utterances) with pink noise, a ventilation hum and bursts (knocks, keyboard,
clatter, rustle), each at 10 and 5 dB SNR. Our gate runs as firmware under the real
MicroPython unix port (`badgekit sim record` path: gate + ADPCM + clip files); its
clips' offsets and lengths give the kept samples. webrtcvad (mode 2) decides per 20 ms
frame in the same run; its decisions get the same pre-roll and hangover. A cell passes
when the gate keeps >= 99.5 % of the speech, at least as much speech as webrtcvad and
drops at least as much non-speech; the gate's missed speech is shown in ms at a turn's
onset / inside it / at its tail.

    .venv/bin/python bench/record_vad.py [--seconds 300] [--seeds 4 0 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from badgecore import mpy
from badgecore.paths import REPO_ROOT
from badgekit.meeting import build_meeting, shared_speech_dir, write_wav

FRAME = 320
CELLS = [("pink", 10), ("pink", 5), ("hum", 10), ("hum", 5), ("bursts", 10), ("bursts", 5)]
PREROLL_MS = 500
HANGOVER_MS = 600
SCRIPT = REPO_ROOT / "badgekit" / "sim" / "fwrecord.py"


def gate_keep(wav: Path, out: Path, n: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    proc = mpy.run(SCRIPT, args=[f"path={wav}", f"out={out}", "badge=BENCH", "session=S",
                                 f"preroll_ms={PREROLL_MS}", f"hangover_ms={HANGOVER_MS}"],
                   timeout=600)
    dt = time.perf_counter() - t0
    summary = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    keep = np.zeros(n, bool)
    for c in summary["clips"]:
        keep[c["offset_samples"]: c["offset_samples"] + c["samples"]] = True
    return keep, dt


def webrtc_keep(pcm: np.ndarray, mode: int = 2) -> np.ndarray:
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    nf = len(pcm) // FRAME
    act = np.array([vad.is_speech(pcm[i * FRAME:(i + 1) * FRAME].tobytes(), 16000)
                    for i in range(nf)], bool)
    pre = -(-PREROLL_MS // 20)
    hang = -(-HANGOVER_MS // 20)
    keepf = np.zeros(nf, bool)
    for i in np.flatnonzero(act):
        keepf[max(0, i - pre): i + hang + 1] = True
    keep = np.zeros(len(pcm), bool)
    keep[: nf * FRAME] = np.repeat(keepf, FRAME)
    return keep


def score(keep: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    return float(keep[mask].mean()), float(1 - keep[~mask].mean())


def missed_where(keep: np.ndarray, mask: np.ndarray, turns: list) -> str:
    """Missed speech in ms, split by where in its turn it lies: onset / inside / tail."""
    miss = np.flatnonzero(mask & ~keep)
    if not len(miss):
        return "-"
    ms = {"onset": 0.0, "inside": 0.0, "tail": 0.0}
    starts = np.array([round(t.start_s * 16000) for t in turns])
    ends = np.array([round(t.end_s * 16000) for t in turns])
    for run in np.split(miss, np.flatnonzero(np.diff(miss) > 1) + 1):
        i = max(0, int(np.searchsorted(starts, run[0], "right")) - 1)
        where = ("onset" if run[0] - starts[i] <= 16 else
                 "tail" if ends[i] - (run[-1] + 1) <= 16 else "inside")
        ms[where] += len(run) / 16
    return "/".join(f"{v:.0f}" for v in ms.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[4, 0, 1],
                    help="meeting seeds (talker order, levels, pauses, noise)")
    a = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("needs ../shared/data/speech beside the repository", file=sys.stderr)
        return 2
    utts = sorted(speech.glob("*.wav"))
    print(f"gate: pre-roll {PREROLL_MS} ms, hangover {HANGOVER_MS} ms; webrtcvad mode 2 "
          "with the same")
    print(f"{'seed':>4} {'noise':7} {'SNR':>4} {'min':>5} | {'gate kept':>9} {'dropped':>8} | "
          f"{'webrtc kept':>11} {'dropped':>8} | {'gate missed ms':>14} | verdict")
    print(f"{'':>4} {'':7} {'':>4} {'':>5} | {'':>9} {'':>8} | {'':>11} {'':>8} | "
          f"{'onset/in/tail':>14} |")
    ok_all = True
    with tempfile.TemporaryDirectory() as td:
        for seed, (noise, snr) in ((s, c) for s in a.seeds for c in CELLS):
            m = build_meeting(utts, seed=seed, min_seconds=a.seconds, noise=noise, snr_db=snr)
            wav = write_wav(Path(td) / f"{noise}{snr}.wav", m.pcm)
            keep, _ = gate_keep(wav, Path(td) / f"out-{noise}{snr}", len(m.pcm))
            gk, gd = score(keep, m.speech_mask)
            wk, wd = score(webrtc_keep(m.pcm), m.speech_mask)
            ok = gk >= 0.995 and gk >= wk and gd >= wd
            ok_all &= ok
            where = missed_where(keep, m.speech_mask, m.turns)
            print(f"{seed:>4} {noise:7} {snr:>4} {m.seconds / 60:5.1f} | {gk:9.4%} {gd:8.2%} | "
                  f"{wk:11.4%} {wd:8.2%} | {where:>14} | {'PASS' if ok else 'FAIL'}", flush=True)
    print("all cells pass" if ok_all else "SOME CELLS FAIL")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
