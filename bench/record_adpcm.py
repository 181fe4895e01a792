"""ADPCM quality: SNR of the badge's IMA ADPCM against sox's own IMA ADPCM encoder.

For each input (the real utterances of ../shared/data/speech and a 5-minute meeting
with pink noise at 10 dB SNR), in the same run:
- ours: `firmware.adpcm` blocks in a WAV (format 0x11), decoded by sox;
- sox: `sox in.wav -e ima-adpcm out.wav` (with sox's default dither, as the issue
  names it) and `sox -D ...` (no dither: sox's best), decoded by sox.
SNR = 10 log10(sum x^2 / sum (x - decoded)^2) over the input's samples.
Target: ours >= sox - 0.5 dB on every input.

    .venv/bin/python bench/record_adpcm.py
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from badgekit.meeting import build_meeting, shared_speech_dir, write_wav


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def encode_ours(pcm: np.ndarray) -> bytes:
    from array import array

    from firmware import adpcm

    return adpcm.encode(array("h", pcm.astype("<i2").tobytes()))


def ima_wav(path: Path, data: bytes, samples: int) -> Path:
    fmt = struct.pack("<HHIIHHHH", 0x11, 1, 16000, 16000 * 256 // 505, 256, 4, 2, 505)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact"
            + struct.pack("<II", 4, samples) + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def sox_decode(path: Path, n: int) -> np.ndarray:
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2")[:n]


def snr(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(10 * np.log10((x**2).sum() / ((x - y) ** 2).sum()))


def main() -> int:
    speech = shared_speech_dir()
    if speech is None:
        print("needs ../shared/data/speech beside the repository", file=sys.stderr)
        return 2
    ok = True
    print(f"{'input':42} {'seconds':>7} | {'ours':>6} {'sox':>6} {'sox -D':>6} | "
          f"{'ours - sox':>10} {'ours - sox -D':>13}")
    with tempfile.TemporaryDirectory() as td:
        t = Path(td)
        inputs = [(p.stem, p) for p in sorted(speech.glob("*.wav"))]
        m = build_meeting(sorted(speech.glob("*.wav")), seed=4, min_seconds=300, noise="pink",
                          snr_db=10)
        inputs.append(("meeting, pink noise 10 dB SNR", write_wav(t / "meeting.wav", m.pcm)))
        for name, src in inputs:
            x = read(src)
            ours = sox_decode(ima_wav(t / "ours.wav", encode_ours(x), len(x)), len(x))
            subprocess.run(["sox", str(src), "-e", "ima-adpcm", str(t / "sox.wav")], check=True,
                           capture_output=True)
            subprocess.run(["sox", "-D", str(src), "-e", "ima-adpcm", str(t / "soxD.wav")],
                           check=True, capture_output=True)
            a, b, c = snr(x, ours), snr(x, sox_decode(t / "sox.wav", len(x))), snr(
                x, sox_decode(t / "soxD.wav", len(x)))
            ok &= a >= b - 0.5 and a >= c - 0.5
            print(f"{name[:42]:42} {len(x) / 16000:7.1f} | {a:6.2f} {b:6.2f} {c:6.2f} | "
                  f"{a - b:+10.2f} {a - c:+13.2f}")
    print("target (ours >= sox - 0.5 dB on every input):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
