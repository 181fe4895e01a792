"""Bring any audio file to what the badge's microphone delivers: 16 kHz mono int16.

A 16-bit PCM WAV already at 16 kHz mono is taken byte for byte; anything else (other
rates, channel counts, sample formats, or non-WAV files sox reads) goes through sox,
with a numpy fallback for PCM WAVs when sox is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

__all__ = ["InputAudioError", "RATE_HZ", "load_16k_mono", "write_pcm_wav"]

RATE_HZ = 16000


class InputAudioError(ValueError):
    """The input cannot be read as audio, or holds no samples."""


def _via_sox(path: Path) -> np.ndarray:
    sox = shutil.which("sox")
    if sox is None:
        raise InputAudioError(f"{path}: not a PCM WAV this tool reads without sox "
                              "(fix: sudo apt-get install -y sox)")
    proc = subprocess.run(
        [sox, "-V1", "-D", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
         "-r", str(RATE_HZ), "-"],
        capture_output=True,
    )
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputAudioError(f"{path}: cannot read audio ({msg[-1] if msg else 'sox failed'})")
    return np.frombuffer(proc.stdout, "<i2").copy()


def _via_numpy(raw: bytes, rate: int, channels: int, width: int) -> np.ndarray:
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64)
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) * 256
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / 65536
    else:
        raise InputAudioError(f"{width * 8}-bit PCM is not supported without sox")
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    if rate != RATE_HZ and len(x):
        n = int(round(len(x) * RATE_HZ / rate))
        x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def load_16k_mono(path: Path) -> np.ndarray:
    """Samples of `path` as int16 at 16 kHz mono; InputAudioError if unusable or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputAudioError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as w:
            rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError):
        pcm = _via_sox(path)
    else:
        if (rate, ch, width) == (RATE_HZ, 1, 2):
            pcm = np.frombuffer(raw, "<i2")[: len(raw) // 2].copy()
        elif shutil.which("sox"):
            pcm = _via_sox(path)
        else:
            pcm = _via_numpy(raw, rate, ch, width)
    if len(pcm) == 0:
        raise InputAudioError(f"{path}: holds no audio samples")
    return pcm


def write_pcm_wav(path: Path, pcm: np.ndarray) -> Path:
    """Write int16 samples as a 16 kHz mono PCM WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(np.asarray(pcm, "<i2").tobytes())
    return Path(path)
