"""Decode clip and PCM WAV files into 16 kHz mono int16 samples.

`decode_wav(path)` reads the RIFF chunks itself, so a bad file fails with a named
error and one clear reason (`NotAudioError`, `UnsupportedAudioError`,
`CorruptAudioError`, `TruncatedAudioError`) instead of a traceback from a codec:

- IMA ADPCM (format 0x11, the badge's clips: 256-byte mono blocks of 505 samples) is
  decoded here with numpy, vectorised across blocks (each block restarts the predictor,
  so all blocks advance together one nibble at a time). The result equals sox's decode
  sample for sample; the `fact` chunk bounds the sample count.
- PCM WAV (8/16/24/32-bit integer, 32/64-bit float, `WAVE_FORMAT_EXTENSIBLE`) is
  converted with numpy; stereo is averaged to mono. Rates other than 16 kHz are
  resampled with sox (a Debian dependency of badgekit).

Unknown chunks (the clip's `bkcl`/`bktr`) are skipped; hashes and chain links are
checked by `gateway.transcribe.verify` through `firmware.clips.fmt`.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.transcribe.errors import (
    CorruptAudioError,
    NotAudioError,
    TruncatedAudioError,
    UnsupportedAudioError,
)

__all__ = ["RATE_HZ", "DecodedAudio", "decode_ima_adpcm", "decode_wav", "resample_with_sox"]

RATE_HZ = 16000
_FMT_PCM = 0x0001
_FMT_FLOAT = 0x0003
_FMT_IMA = 0x0011
_FMT_EXT = 0xFFFE

_STEPS = np.array([
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60,
    66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
    408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878,
    2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845,
    8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086,
    29794, 32767], dtype=np.int32)
_INDEX_ADJ = np.array([-1, -1, -1, -1, 2, 4, 6, 8] * 2, dtype=np.int32)


@dataclass(frozen=True)
class DecodedAudio:
    """Mono 16 kHz audio decoded from one file."""

    samples: np.ndarray
    """int16 samples at `rate_hz`."""
    rate_hz: int
    encoding: str
    """`ima_adpcm`, `pcm16`, `pcm24`, `float32`, … (the source encoding)."""
    source_rate_hz: int
    channels: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate_hz

    def float32(self) -> np.ndarray:
        """Samples as float32 in [-1, 1), the form the speech model takes."""
        return self.samples.astype(np.float32) / 32768.0


def decode_ima_adpcm(data: bytes, block_align: int = 256, channels: int = 1,
                     samples: int | None = None) -> np.ndarray:
    """Decode IMA ADPCM blocks (WAV layout, mono) to int16; a short last block is allowed."""
    if channels != 1:
        raise UnsupportedAudioError(f"IMA ADPCM with {channels} channels is not supported")
    if block_align < 5:
        raise CorruptAudioError(f"IMA ADPCM block align {block_align} is too small")
    nfull, tail = divmod(len(data), block_align)
    blocks = [np.frombuffer(data, np.uint8, nfull * block_align).reshape(nfull, block_align)]
    if tail >= 4:  # a last, partial block: decode the nibbles it has (as sox does)
        last = np.zeros((1, block_align), np.uint8)
        last[0, :tail] = np.frombuffer(data, np.uint8, tail, nfull * block_align)
        blocks.append(last)
    b = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    per_block = 1 + 2 * (block_align - 4)
    count = nfull * per_block + (1 + 2 * (tail - 4) if tail >= 4 else 0)
    if samples is not None:
        count = min(count, samples)
    if len(b) == 0 or count == 0:
        return np.zeros(0, np.int16)
    pred = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8))
    pred = np.where(pred >= 0x8000, pred - 0x10000, pred)
    index = b[:, 2].astype(np.int32)
    bad = np.flatnonzero(index > 88)
    if len(bad):
        raise CorruptAudioError(f"ADPCM block {int(bad[0])} has step index {int(index[bad[0]])} "
                                "(must be 0..88): the data is corrupt")
    body = b[:, 4:]
    nib = np.empty((len(b), body.shape[1] * 2), np.int32)
    nib[:, 0::2] = body & 0x0F
    nib[:, 1::2] = body >> 4
    out = np.empty((len(b), per_block), np.int32)
    out[:, 0] = pred
    for i in range(nib.shape[1]):
        n = nib[:, i]
        step = _STEPS[index]
        diff = step >> 3
        diff = diff + np.where(n & 4, step, 0) + np.where(n & 2, step >> 1, 0) \
            + np.where(n & 1, step >> 2, 0)
        pred = np.clip(np.where(n & 8, pred - diff, pred + diff), -32768, 32767)
        index = np.clip(index + _INDEX_ADJ[n], 0, 88)
        out[:, i + 1] = pred
    return out.reshape(-1)[:count].astype(np.int16)


def _chunks(raw: bytes, path: Path) -> dict[bytes, tuple[int, int]]:
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        kind = "empty" if not raw else "not a RIFF/WAVE file"
        raise NotAudioError(f"{path.name}: {kind}", path)
    found: dict[bytes, tuple[int, int]] = {}
    pos = 12
    while pos + 8 <= len(raw):
        cid, clen = struct.unpack_from("<4sI", raw, pos)
        start = pos + 8
        if cid == b"data":
            if start + clen > len(raw):
                raise TruncatedAudioError(
                    f"{path.name}: data chunk announces {clen} bytes, only {len(raw) - start} "
                    "present (truncated file)", path)
            found[cid] = (start, clen)
            break
        if start + clen > len(raw):
            raise TruncatedAudioError(f"{path.name}: chunk {cid!r} runs past the end of the file",
                                      path)
        found.setdefault(cid, (start, clen))
        pos = start + clen + (clen & 1)
    if b"fmt " not in found:
        raise CorruptAudioError(f"{path.name}: WAV has no fmt chunk", path)
    if b"data" not in found:
        raise TruncatedAudioError(f"{path.name}: WAV has no data chunk (truncated file)", path)
    return found


def resample_with_sox(samples: np.ndarray, rate_hz: int, target_hz: int = RATE_HZ) -> np.ndarray:
    """Resample int16 mono samples with sox (`rate` effect, high quality)."""
    sox = shutil.which("sox")
    if not sox:
        raise UnsupportedAudioError(f"{rate_hz} Hz audio needs sox to resample; fix: "
                                    "sudo apt-get install -y sox")
    raw = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1"]
    proc = subprocess.run([sox, *raw, "-r", str(rate_hz), "-", *raw, "-r", str(target_hz), "-"],
                          input=samples.astype("<i2").tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise UnsupportedAudioError("sox failed to resample: "
                                    + proc.stderr.decode(errors="replace").strip())
    return np.frombuffer(proc.stdout, "<i2").astype(np.int16)


def _pcm(data: bytes, tag: int, bits: int, channels: int, path: Path) -> tuple[np.ndarray, str]:
    width = bits // 8
    frame = width * channels
    if width == 0 or bits % 8:
        raise UnsupportedAudioError(f"{path.name}: {bits}-bit samples are not supported", path)
    data = data[: len(data) - len(data) % frame]
    if tag == _FMT_FLOAT:
        if width not in (4, 8):
            raise UnsupportedAudioError(f"{path.name}: {bits}-bit float is not supported", path)
        x = np.frombuffer(data, "<f4" if width == 4 else "<f8").astype(np.float64) * 32768.0
        enc = f"float{bits}"
    elif width == 1:
        x = (np.frombuffer(data, np.uint8).astype(np.float64) - 128.0) * 256.0
        enc = "pcm8"
    elif width == 2:
        x = np.frombuffer(data, "<i2").astype(np.float64)
        enc = "pcm16"
    elif width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / 256.0
        enc = "pcm24"
    elif width == 4:
        x = np.frombuffer(data, "<i4").astype(np.float64) / 65536.0
        enc = "pcm32"
    else:
        raise UnsupportedAudioError(f"{path.name}: {bits}-bit PCM is not supported", path)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), enc


def decode_wav(path: Path | str, samples: int | None = None) -> DecodedAudio:
    """Decode a WAV file (IMA ADPCM or PCM) to 16 kHz mono int16; raise a named error.

    `samples`: the IMA ADPCM sample count to use instead of the `fact` chunk's (a badge
    clip's count checked against its hashed blocks, `bounds.trusted_samples`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotAudioError(f"{path}: cannot read ({exc.strerror})", path) from None
    ch = _chunks(raw, path)
    fs, fl = ch[b"fmt "]
    if fl < 16:
        raise CorruptAudioError(f"{path.name}: fmt chunk too short ({fl} bytes)", path)
    tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", raw, fs)
    if tag == _FMT_EXT and fl >= 40:
        tag = struct.unpack_from("<H", raw, fs + 24)[0]  # sub-format GUID's first two bytes
    if channels < 1 or not 1000 <= rate <= 384000:
        raise CorruptAudioError(f"{path.name}: fmt chunk says {channels} channels at {rate} Hz",
                                path)
    ds, dl = ch[b"data"]
    data = raw[ds : ds + dl]
    if tag == _FMT_IMA:
        declared = None
        if b"fact" in ch and ch[b"fact"][1] >= 4:
            declared = struct.unpack_from("<I", raw, ch[b"fact"][0])[0]
        if samples is not None:
            declared = samples
        pcm = decode_ima_adpcm(data, align, channels, declared)
        if declared is not None and len(pcm) < declared:
            raise TruncatedAudioError(f"{path.name}: fact chunk announces {declared} samples, the "
                                      f"data holds {len(pcm)} (truncated file)", path)
        enc = "ima_adpcm"
    elif tag in (_FMT_PCM, _FMT_FLOAT):
        pcm, enc = _pcm(data, tag, bits, channels, path)
    else:
        raise UnsupportedAudioError(f"{path.name}: WAV format 0x{tag:04x} is not supported "
                                    "(IMA ADPCM 0x11 and PCM only)", path)
    if rate != RATE_HZ:
        pcm = resample_with_sox(pcm, rate)
    return DecodedAudio(samples=pcm, rate_hz=RATE_HZ, encoding=enc, source_rate_hz=rate,
                        channels=channels)
