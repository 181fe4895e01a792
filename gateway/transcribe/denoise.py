"""Gentle stationary-noise suppression before the model: a decision-directed Wiener filter.

Room noise (ventilation, hum, pink-ish air) under a quiet talker is what costs Whisper
most on meeting audio. `wiener(pcm)` estimates the noise spectrum from the quietest
frames of the recording (the pauses between turns), then applies a per-bin gain
G = ξ / (1 + ξ), with the a-priori SNR ξ tracked the decision-directed way (Ephraim and
Malah), which avoids the "musical noise" of plain spectral subtraction. The gain never
falls below `floor_db`, so speech is never carved out, only the noise lowered.

Whisper reads noise better than it reads the artefacts of noise removal, so the filtered
signal is mixed half and half (`wet`) with the recording: noise-only bins drop by about
4 dB at most, speech bins barely change. Half and half read best in bench/transcribe_denoise.py,
and the packaged suppressors tried there read worse than no filter in heavy noise
(docs/transcription.md, "Measurements behind the defaults").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DenoiseSettings", "noise_spectrum", "wiener"]


@dataclass(frozen=True)
class DenoiseSettings:
    enabled: bool = True
    floor_db: float = -12.0
    """Lowest gain of any time-frequency bin."""
    wet: float = 0.5
    """Share of the filtered signal in the output (the rest is the recording as it was)."""
    smoothing: float = 0.98
    """Decision-directed weight of the previous frame's estimate (0..1)."""
    noise_quantile: float = 0.15
    """Share of quietest frames whose mean spectrum is the noise estimate."""
    fft_size: int = 512
    hop: int = 160
    """Frame step in samples (10 ms at 16 kHz)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.wet <= 1.0:
            raise ValueError(f"denoise wet must be within 0..1, not {self.wet}")


def _stft(pcm: np.ndarray, s: DenoiseSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_fft = s.fft_size
    win = np.hanning(n_fft).astype(np.float32)
    padded = np.concatenate([np.zeros(n_fft, np.float32), pcm.astype(np.float32),
                             np.zeros(n_fft, np.float32)])
    frames = (len(padded) - n_fft) // s.hop + 1
    idx = np.arange(n_fft)[None, :] + s.hop * np.arange(frames)[:, None]
    spec = np.fft.rfft(padded[idx] * win, axis=1)
    return spec, (spec.real**2 + spec.imag**2).astype(np.float32), win


def noise_spectrum(pieces: list[np.ndarray], settings: DenoiseSettings | None = None
                   ) -> np.ndarray | None:
    """Mean power spectrum of the quietest frames over all `pieces` (one room, one badge)."""
    s = settings or DenoiseSettings()
    powers = [_stft(p, s)[1] for p in pieces if len(p) >= s.fft_size * 4]
    if not powers:
        return None
    power = np.concatenate(powers)
    energy = power.sum(axis=1)
    return power[energy <= np.quantile(energy, s.noise_quantile)].mean(axis=0)


def wiener(pcm: np.ndarray, settings: DenoiseSettings | None = None,
           noise: np.ndarray | None = None) -> np.ndarray:
    """Return `pcm` (int16 mono) with stationary noise lowered; same length and dtype.

    `noise` is the noise power spectrum (`noise_spectrum`); by default it is estimated
    from `pcm` itself.
    """
    s = settings or DenoiseSettings()
    n_fft, hop = s.fft_size, s.hop
    if len(pcm) < n_fft * 4:
        return pcm
    x = pcm.astype(np.float32)
    spec, power, win = _stft(pcm, s)
    frames = len(spec)
    padded_len = len(x) + 2 * n_fft
    if noise is None:
        energy = power.sum(axis=1)
        noise = power[energy <= np.quantile(energy, s.noise_quantile)].mean(axis=0)
    post = power / (noise.astype(np.float32) + np.float32(1e-9))  # a-posteriori SNR
    gmin = np.float32(10 ** (s.floor_db / 20))
    a, b = np.float32(s.smoothing), np.float32(1 - s.smoothing)
    gains = np.empty_like(post, dtype=np.float32)
    prev = np.maximum(post[0] - 1, 0)
    for t in range(frames):
        prio = a * prev + b * np.maximum(post[t] - 1, 0)
        g = np.maximum(prio / (1 + prio), gmin)
        gains[t] = g
        prev = g * g * post[t]
    out_frames = np.fft.irfft(spec * gains, n=n_fft, axis=1).astype(np.float32) * win
    out = np.zeros(padded_len, np.float64)
    norm = np.zeros(padded_len, np.float64)
    w2 = (win * win).astype(np.float64)
    for t in range(frames):  # overlap-add (a slice add per frame beats np.add.at)
        out[t * hop:t * hop + n_fft] += out_frames[t]
        norm[t * hop:t * hop + n_fft] += w2
    y = out / np.maximum(norm, 1e-3)
    y = s.wet * y[n_fft:n_fft + len(x)] + (1.0 - s.wet) * x
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)
