"""CPython-side helpers for the recording tests: run code under MicroPython, IMA WAV I/O."""

from __future__ import annotations

import json
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def mpy_json(micropython, code: str, timeout: float = 120, heap: str | None = None) -> Any:
    """Run `code` under the MicroPython unix port (tests/firmware on its path); parse the
    last line it prints as JSON."""
    proc = micropython(code=code, extra_path=[HERE], timeout=timeout, heap=heap, check=False)
    if proc.returncode != 0:
        raise AssertionError("MicroPython failed:\n" + proc.stderr.decode() + proc.stdout.decode())
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def ima_wav(path: Path, data: bytes, samples: int, rate: int = 16000) -> Path:
    """A plain WAV (format 0x11) around ADPCM blocks, as any encoder would write it."""
    fmt = struct.pack("<HHIIHHHH", 0x11, 1, rate, rate * 256 // 505, 256, 4, 2, 505)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<II", 4, samples)
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def sox_decode(path: Path) -> np.ndarray:
    out = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, "<i2")


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    err = ref - got.astype(np.float64)
    return float(10 * np.log10((ref**2).sum() / max((err**2).sum(), 1e-9)))


def encode_plain(pcm: np.ndarray) -> bytes:
    """Encode int16 samples with firmware.adpcm on CPython (plain path), last block padded."""
    from array import array

    from firmware import adpcm

    return adpcm.encode(array("h", pcm.astype("<i2").tobytes()))
