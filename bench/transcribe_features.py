"""Benchmark: what the model is fed, for noisy turns: feature floors, subtraction, level, tempo.

Runs the whole gateway pipeline on the meetings of bench/transcribe_meeting.py with one
change at a time to what reaches the model, and prints the pooled CER per SNR and the
character errors per utterance (which sentence the errors sit in):

    gateway                        as it is: mel bands of noisy turns floored at their
                                   40th percentile, the lowest 20 then smoothed over
                                   time with [0.25, 0.5, 0.25] (pipeline step 6)
    no feature floor               `feature_floor_below_db=None`
    floor, no smoothing            the floor alone (the gateway before the smoothing)
    floor inside the padding       the gateway's floor and smoothing computed and applied
                                   only between the region's faded 0.4 s VAD padding
    floor at the background mean   each band raised to its mean over the turn's quietest
                                   frames (10-40 % by frame energy), not to a percentile
    floor at background + 1 sd     the same plus one standard deviation (flattens most
                                   of the noise's upward flicker too)
    time smoothing w[, n bands]    the gateway's floor, then every band (or the lowest n)
                                   smoothed over time with [w, 1 - 2w, w] (averages the
                                   noise's flicker, largest in the narrow low bands)
    mel subtraction a / b          in the mel power domain P' = max(P - a N, b N), N = the
                                   band's 40th percentile: classic robust-ASR subtraction
    no edge fade                   `edge_fade_db=0`: the VAD padding at full level
    level -16 / -24 dBFS           `target_dbfs` instead of -20
    beam 5                         instead of 3
    high-pass 150 / 300 Hz         each region high-passed (sox highpass) before levelling
    tempo 0.9 / 1.1                each region time-stretched (sox tempo, pitch kept)
    generic prompt                 `initial_prompt` "以下是普通话的句子。"

A variant replaces the engine's `noisy_features` (the one place features are changed
before the encoder) or a pipeline setting; everything else is the gateway's defaults. CER only.

    .venv/bin/python bench/transcribe_features.py [--snr 10] [--seeds 1 2 ... 12] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from badgekit.meeting import (
    RATE_HZ,
    Meeting,
    half_utterances,
    read_wav,
    resample,
    scored_meeting,
    shared_speech_dir,
)
from gateway.transcribe import engine as engine_mod
from gateway.transcribe import pipeline
from gateway.transcribe.engine import EngineSettings, FeatureFloor, WhisperEngine, load_engine
from gateway.transcribe.metrics import edit_distance, normalise_for_cer
from gateway.transcribe.segment import Segment

FeatureFn = Callable[[np.ndarray, FeatureFloor, int], np.ndarray]


def background_floor(sd: float) -> FeatureFn:
    """Each band of the audio frames raised to mean + `sd` standard deviations of its
    values over the frames between the 10th and 40th percentile of frame energy."""
    def floored(features: np.ndarray, _floor: FeatureFloor, frames: int) -> np.ndarray:
        frames = min(frames, features.shape[-1])
        out = np.array(features, dtype=np.float32, copy=True)
        body = out[..., :frames]
        energy = body.mean(axis=-2)
        lo, hi = np.quantile(energy, [0.1, 0.4], axis=-1, keepdims=True)
        sel = ((energy >= lo) & (energy <= hi))[..., None, :]
        n = np.maximum(sel.sum(-1, keepdims=True), 1)
        mean = (body * sel).sum(-1, keepdims=True) / n
        dev = np.sqrt((((body - mean) ** 2) * sel).sum(-1, keepdims=True) / n)
        out[..., :frames] = np.maximum(body, mean + sd * dev)
        return out
    return floored


def mel_subtraction(a: float, b: float, percentile: float = 40.0) -> FeatureFn:
    """P' = max(P - a N, b N) in mel power (Whisper's features are (log10 P + 4) / 4)."""
    def floored(features: np.ndarray, _floor: FeatureFloor, frames: int) -> np.ndarray:
        frames = min(frames, features.shape[-1])
        out = np.array(features, dtype=np.float32, copy=True)
        power = 10.0 ** (4 * out[..., :frames].astype(np.float64) - 4)
        noise = np.percentile(power, percentile, axis=-1, keepdims=True)
        out[..., :frames] = ((np.log10(np.maximum(power - a * noise, b * noise)) + 4) / 4)
        return out
    return floored


def quiet_noise_bands(rise_db: float, under_db: float | None) -> FeatureFn:
    """The gateway's features, then every band whose loudest frames (98th percentile)
    rise less than `rise_db` over its median (noise alone: no speech ever reaches it) set
    `under_db` below its median (None: to the window's quietest value), as the band
    looks in a recording whose speech never reached it."""
    gateway = engine_mod.noisy_features

    def quieted(features: np.ndarray, floor: FeatureFloor, frames: int) -> np.ndarray:
        out = np.array(gateway(features, floor, frames), dtype=np.float32, copy=True)
        frames = min(frames, out.shape[-1])
        body = out[..., :frames]
        p50 = np.percentile(body, 50, axis=-1, keepdims=True)
        flat = (np.percentile(body, 98, axis=-1, keepdims=True) - p50) * 40 < rise_db
        low = p50 - under_db / 40 if under_db is not None else np.full_like(p50, features.min())
        out[..., :frames] = np.where(flat, low, body)
        return out
    return quieted


def inside_padding(pad_frames: int = 40) -> FeatureFn:
    """The gateway's features computed and applied only between the region's faded VAD
    padding (its first and last `pad_frames` 10 ms frames), so the fade is not floored."""
    gateway = engine_mod.noisy_features

    def inner(features: np.ndarray, floor: FeatureFloor, frames: int) -> np.ndarray:
        frames = min(frames, features.shape[-1])
        if frames <= 3 * pad_frames:
            return gateway(features, floor, frames)
        out = np.array(features, dtype=np.float32, copy=True)
        a, b = pad_frames, frames - pad_frames
        out[..., a:b] = gateway(np.ascontiguousarray(features[..., a:b]), floor, b - a)
        return out
    return inner


def sox_effect(*effect: str) -> Callable[..., tuple[np.ndarray, float, float]]:
    """pipeline._level on the region passed through a sox effect first."""
    level = pipeline._level

    def changed(pcm: np.ndarray, s: pipeline.PipelineSettings) -> tuple[np.ndarray, float, float]:
        raw = ["-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1"]
        out = subprocess.run(["sox", *raw, "-", *raw, "-", *effect],
                             input=np.asarray(pcm, np.int16).tobytes(), capture_output=True,
                             check=True).stdout
        return level(np.frombuffer(out, np.int16), s)
    return changed


def tempo(factor: float) -> Callable[..., tuple[np.ndarray, float, float]]:
    """Each region time-stretched by `factor` (sox tempo keeps pitch)."""
    return sox_effect("tempo", "-s", str(factor))


def high_pass(hz: float) -> Callable[..., tuple[np.ndarray, float, float]]:
    """Each region high-passed at `hz` (sox, two poles): pink noise holds as much power
    per octave below 200 Hz as above, and speech little of its information."""
    return sox_effect("highpass", str(hz))


def energy_above_db(path: Path, hz: float = 4000.0) -> float:
    """Energy of the recording above `hz`, dB under its total (how band-limited it is)."""
    pcm, rate = read_wav(path)
    x = resample(pcm.astype(np.float64), rate, RATE_HZ) if rate != RATE_HZ else pcm.astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    above = power[np.fft.rfftfreq(len(x), 1 / RATE_HZ) >= hz].sum()
    return float(10 * np.log10(above / power.sum() + 1e-20))


@dataclass(frozen=True)
class Variant:
    name: str
    settings: dict[str, object]
    features: FeatureFn | None = None
    level: Callable[..., tuple[np.ndarray, float, float]] | None = None
    beam_size: int | None = None


@contextmanager
def applied(v: Variant, engine: WhisperEngine) -> Iterator[pipeline.PipelineSettings]:
    noisy, level, settings = engine_mod.noisy_features, pipeline._level, engine.settings
    if v.features is not None:
        engine_mod.noisy_features = v.features  # type: ignore[assignment]
    if v.level is not None:
        pipeline._level = v.level  # type: ignore[assignment]
    if v.beam_size is not None:
        engine.settings = replace(settings, beam_size=v.beam_size)
    try:
        yield replace(pipeline.PipelineSettings(), **v.settings)  # type: ignore[arg-type]
    finally:
        engine_mod.noisy_features, pipeline._level, engine.settings = noisy, level, settings


def errors_per_turn(m: Meeting, segments: list[Segment]) -> dict[str, int]:
    """Character errors per utterance, each segment given to the turn it mostly overlaps."""
    out: dict[str, int] = {}
    for t in m.turns:
        text = "".join(s.text for s in segments
                       if min(s.end_s, t.end_s) - max(s.start_s, t.start_s) > 0.5 * (s.end_s - s.start_s))
        out[t.name] = out.get(t.name, 0) + edit_distance(normalise_for_cer(text),
                                                         normalise_for_cer(t.text or ""))
    return out


VARIANTS = [
    Variant("gateway", {}),
    Variant("no feature floor", {"feature_floor_below_db": None}),
    Variant("floor at the background mean", {}, background_floor(0.0)),
    Variant("floor at background + 1 sd", {}, background_floor(1.0)),
    Variant("floor, no smoothing", {"feature_smooth_weight": 0.0}),
    Variant("time smoothing 0.15", {"feature_smooth_weight": 0.15, "feature_smooth_bands": 80}),
    Variant("time smoothing 0.25", {"feature_smooth_weight": 0.25, "feature_smooth_bands": 80}),
    Variant("time smoothing 0.25, 40 bands", {"feature_smooth_bands": 40}),
    Variant("time smoothing 0.15, 20 bands", {"feature_smooth_weight": 0.15}),
    Variant("floor inside the padding", {}, inside_padding()),
    Variant("quiet noise-only bands, 6 dB", {}, quiet_noise_bands(6.0, None)),
    Variant("quiet noise-only bands, 8 dB, -20 dB", {}, quiet_noise_bands(8.0, 20.0)),
    Variant("mel subtraction 0.5 / 0.5", {}, mel_subtraction(0.5, 0.5)),
    Variant("mel subtraction 1 / 0.3", {}, mel_subtraction(1.0, 0.3)),
    Variant("no edge fade", {"edge_fade_db": 0.0}),
    Variant("level -16 dBFS", {"target_dbfs": -16.0}),
    Variant("level -24 dBFS", {"target_dbfs": -24.0}),
    Variant("beam 5", {}, beam_size=5),
    Variant("high-pass 150 Hz", {}, level=high_pass(150.0)),
    Variant("high-pass 300 Hz", {}, level=high_pass(300.0)),
    Variant("tempo 0.9", {}, level=tempo(0.9)),
    Variant("tempo 1.1", {}, level=tempo(1.1)),
    Variant("generic prompt", {"initial_prompt": "以下是普通话的句子。"}),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 13)))
    ap.add_argument("--only", nargs="+", default=None, help="variant names to run")
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    engine = load_engine(EngineSettings(model_dir=args.model))
    meetings = {(snr, seed): scored_meeting(utts, refs, seed, snr)
                for snr in args.snr for seed in args.seeds}
    names = sorted({t.name for m in meetings.values() for t in m.turns})
    print("energy above 4 kHz, dB under the total: "
          + ", ".join(f"{u.stem} {energy_above_db(u):.0f}" for u in utts))
    print(f"{'variant':<30} {'snr':>4} {'CER':>6}  errors per utterance ({', '.join(names)})")
    for v in VARIANTS:
        if args.only and v.name not in args.only:
            continue
        for snr in args.snr:
            errors, chars, per = 0, 0, dict.fromkeys(names, 0)
            with applied(v, engine) as settings:
                for seed in args.seeds:
                    m = meetings[(snr, seed)]
                    segs = list(pipeline.transcribe_pieces([pipeline.Piece(m.pcm, 0.0)], engine, settings))
                    ref = normalise_for_cer(m.reference_text)
                    errors += edit_distance(normalise_for_cer("".join(s.text for s in segs)), ref)
                    chars += len(ref)
                    for name, e in errors_per_turn(m, segs).items():
                        per[name] += e
            print(f"{v.name:<30} {snr:4.0f} {errors / chars:6.3f}  "
                  + " ".join(f"{per[n]:4d}" for n in names), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
