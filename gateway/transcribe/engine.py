"""The speech model, loaded once: faster-whisper over a local CTranslate2 Whisper folder.

`load_engine(settings)` resolves the folder through `gateway.model.resolve` (the bundled
model by default, `--model DIR` for any other), refuses a folder faster-whisper would
try to complete from the network (no `tokenizer.json`), and loads it; a missing or
wrong folder raises `ModelUnavailableError` with one clear line. faster-whisper and
CTranslate2 are imported here only, on first load.

`WhisperEngine.transcribe_window(audio, ...)` decodes one window of at most 30 s with
the guards the gateway relies on: fixed language, no conditioning on previous text,
temperature fallback when a pass loops (compression ratio; on a low log-probability too
with `fallback_on_log_prob`), and the no-speech gate. Text comes back in simplified
characters (`to_simplified`), whatever script the model chose. A long-running gateway
keeps one engine and calls it for every session. Up to `workers` calls may run at once
from different threads (the pipeline decodes its windows concurrently): Whisper's
decoder is too small to keep two cores busy from inside one call, so one thread per
window on each core decodes faster than every core on one window
(bench/transcribe_meeting.py; docs/transcription.md, "Measurements behind the defaults").
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gateway.transcribe.errors import ModelUnavailableError, TranscribeError

__all__ = [
    "EngineSettings",
    "FeatureFloor",
    "RawSegment",
    "RawWord",
    "WhisperEngine",
    "cpu_compute_type",
    "load_engine",
    "to_simplified",
    "worker_layout",
]


@dataclass(frozen=True)
class EngineSettings:
    """How the model is loaded and how one window is decoded."""

    model_dir: str | None = None
    """Local CTranslate2 Whisper folder; None = the bundled model."""
    language: str = "zh"
    """Language code handed to Whisper (no detection)."""
    compute_type: str = "int16"
    """CTranslate2 compute type on CPU. The model is stored in float16, which CTranslate2
    runs as float32 on a CPU (faster-whisper's default). int16 weights halve what the
    decoder reads at every step, so the decoder, most of the time on one turn per
    window, runs faster, and noisy meetings read as well as float32; int8 decodes faster
    still but misreads more noisy speech (bench/transcribe_meeting.py --compute-type;
    docs/transcription.md, "Measurements behind the defaults"). Where this CPU's CTranslate2
    has no int16 (it has it only with Intel MKL, which it uses on Intel CPUs alone), the
    model loads in float32 (`cpu_compute_type`), and the transcript's
    `model.compute_type` says so."""
    workers: int = 0
    """Windows decoded at once from different threads; 0 = one per core."""
    cpu_threads: int = 0
    """Threads inside each decode; 0 = the cores shared out among the workers."""
    beam_size: int = 3
    """Beam width of the first decoding pass. On one turn per window, 3 reads as well as
    5 (bench/transcribe_meeting.py --beam) and the decoder, not the encoder, is then most
    of the time."""
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    """Fallback temperatures, tried while a pass fails the guards below."""
    compression_ratio_threshold: float = 2.4
    """A pass whose gzip compression ratio exceeds this is a loop: retry hotter."""
    log_prob_threshold: float = -1.0
    """A window more likely silence than `no_speech_threshold` is dropped only when its
    average log-probability is below this; with `fallback_on_log_prob`, a pass below it
    is also retried hotter."""
    fallback_on_log_prob: bool = False
    """Retry a pass hotter for a low log-probability, not only for a loop. On one turn per
    window it changes no transcript's error rate and costs time where it fires (docs/
    transcription.md, "Measurements behind the defaults"): the fallback samples `best_of` = 5
    candidates and keeps the likeliest, which in noise reads no better than the beam."""
    no_speech_threshold: float = 0.6
    """With a low log-probability, a window more likely silence than this is dropped."""
    word_timestamps: bool = True
    """Align every word to the audio (cross-attention DTW)."""
    encoder_min_s: float = 10.0
    """The encoder sees at least this many seconds of features per window, and
    `encoder_pad_s` past the window's audio, not always Whisper's full 30 s: its cost
    grows faster than its length and turns read as well or better (bench/transcribe_encoder.py;
    docs/transcription.md, "How much window the encoder needs"). 30 gives the classic
    full window."""
    encoder_pad_s: float = 6.0
    """Padding the encoder sees after the audio: Whisper was trained on audio followed by
    padding, and ends turns badly when the features stop right after the speech."""


@dataclass(frozen=True)
class FeatureFloor:
    """What is done to the mel features of a window that stands little over its noise,
    before the encoder sees them (`noisy_features`)."""

    percentile: float = 40.0
    """Each mel band of the audio's frames is raised to this percentile of itself."""
    smooth_weight: float = 0.0
    """Then the lowest `smooth_bands` bands are smoothed over time with [w, 1 - 2w, w]."""
    smooth_bands: int = 0
    """How many of the lowest (narrowest) mel bands are smoothed; 0 = none."""


@dataclass(frozen=True)
class RawWord:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class RawSegment:
    """One segment as the model wrote it, times relative to the window."""

    start_s: float
    end_s: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    words: tuple[RawWord, ...] = field(default_factory=tuple)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (zhconv's zh-cn table); other text is unchanged."""
    import zhconv

    return str(zhconv.convert(text, "zh-cn"))


class WhisperEngine:
    """A loaded Whisper model plus the settings it decodes with."""

    def __init__(self, model: Any, settings: EngineSettings, model_path: Path,
                 model_sha256: str | None, workers: int = 1) -> None:
        self.model = model
        self.workers = workers
        """How many `transcribe_window` calls may run at once."""
        self.settings = settings
        self.model_path = model_path
        self.model_sha256 = model_sha256

    @property
    def description(self) -> dict[str, Any]:
        """Model and options, as recorded in every transcript."""
        s = self.settings
        return {"path": str(self.model_path), "sha256": self.model_sha256,
                "compute_type": s.compute_type, "language": s.language,
                "beam_size": s.beam_size, "temperatures": list(s.temperatures),
                "compression_ratio_threshold": s.compression_ratio_threshold,
                "log_prob_threshold": s.log_prob_threshold,
                "no_speech_threshold": s.no_speech_threshold,
                "fallback_on_log_prob": s.fallback_on_log_prob,
                "word_timestamps": s.word_timestamps, "workers": self.workers,
                "encoder_min_s": s.encoder_min_s, "encoder_pad_s": s.encoder_pad_s}

    def encoder_frames(self, samples: int) -> int:
        """Feature frames (10 ms) the encoder sees for a window of `samples` at 16 kHz."""
        return encoder_frames(samples, self.settings)

    def transcribe_window(self, audio: np.ndarray, *, initial_prompt: str | None = None,
                          hotwords: str | None = None, beam_size: int | None = None,
                          word_timestamps: bool | None = None,
                          feature_floor: FeatureFloor | None = None) -> list[RawSegment]:
        """Transcribe float32 16 kHz `audio` (≤ 30 s is one encoder pass) into segments.

        `feature_floor`: the window's mel features are floored (and their low bands
        smoothed) before the encoder sees them (`noisy_features`); None leaves the
        features as faster-whisper made them.
        """
        s = self.settings
        if len(audio) > _FULL_FRAMES * 160:
            raise ValueError(f"a window holds at most 30 s of audio, got {len(audio) / 16000:.1f} s")
        frames = len(audio) // 160
        with decoding_window(self.model, encoder_frames=self.encoder_frames(len(audio)),
                             fallback_on_log_prob=s.fallback_on_log_prob,
                             feature_floor=None if feature_floor is None else (feature_floor, frames)):
            segments, _info = self.model.transcribe(
                audio, language=s.language, task="transcribe",
                beam_size=beam_size or s.beam_size, best_of=5,
                temperature=list(s.temperatures),
                compression_ratio_threshold=s.compression_ratio_threshold,
                log_prob_threshold=s.log_prob_threshold,
                no_speech_threshold=s.no_speech_threshold,
                condition_on_previous_text=False,
                initial_prompt=initial_prompt or None, hotwords=hotwords or None,
                word_timestamps=s.word_timestamps if word_timestamps is None else word_timestamps,
                vad_filter=False, without_timestamps=False)
            out = []
            for seg in segments:  # the generator encodes and decodes as it is read
                words = tuple(RawWord(w.start, w.end, to_simplified(w.word), w.probability)
                              for w in (seg.words or ()))
                out.append(RawSegment(seg.start, seg.end, to_simplified(seg.text.strip()),
                                      seg.avg_logprob, seg.no_speech_prob,
                                      seg.compression_ratio, seg.temperature or 0.0, words))
        return out


def load_engine(settings: EngineSettings | None = None) -> WhisperEngine:
    """Resolve and load the model once; raise `ModelUnavailableError` with the reason."""
    from gateway.model import ModelError, resolve

    s = settings or EngineSettings()
    try:
        info = resolve(s.model_dir)
    except ModelError as exc:
        raise ModelUnavailableError(str(exc), exc.path) from None
    if not (info.path / "tokenizer.json").is_file():
        raise ModelUnavailableError(
            f"model folder {info.path} has no tokenizer.json (faster-whisper would try to "
            "download one; nothing is downloaded at run time)", info.path)
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelUnavailableError(
            f"faster-whisper is not installed ({exc}); fix: pip install 'badgekit[gateway]'"
        ) from None
    s = replace(s, compute_type=cpu_compute_type(s.compute_type))
    workers, threads = worker_layout(s)
    try:
        model = _gateway_whisper(WhisperModel)(str(info.path), device="cpu", compute_type=s.compute_type,
                             cpu_threads=threads, num_workers=workers, local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelUnavailableError(
            f"cannot load the Whisper model in {info.path}: {exc}", info.path) from None
    if s.language not in model.supported_languages:
        raise TranscribeError(f"language {s.language!r} is not one the model knows (e.g. zh, "
                              f"en, yue); it knows {len(model.supported_languages)} codes")
    return WhisperEngine(model, s, info.path, info.sha256, workers)


def cpu_compute_type(want: str) -> str:
    """`want` if this CPU's CTranslate2 build runs it; the default int16 becomes float32
    (the model's own precision) where it does not (CTranslate2 has int16 only with Intel
    MKL, which it uses on Intel CPUs alone: not on AMD or ARM); any other type it lacks
    is refused with the ones it has."""
    import ctranslate2

    have = set(ctranslate2.get_supported_compute_types("cpu"))
    if want in have or want in ("default", "auto"):
        return want
    if want == "int16" and "float32" in have:
        return "float32"
    raise ModelUnavailableError(f"compute type {want!r} does not run on this CPU; it runs "
                                f"{', '.join(sorted(have))}")


_FULL_FRAMES = 3000
"""Whisper's window: 30 s of 10 ms feature frames."""


@dataclass(frozen=True)
class _Window:
    """What the gateway set for the window the calling thread decodes."""

    encoder_frames: int | None
    fallback_on_log_prob: bool
    feature_floor: tuple[FeatureFloor, int] | None


def _gateway_whisper(base: type) -> type:
    """`base` (faster-whisper's WhisperModel) with per-thread options for the window the
    calling thread decodes, set by `decoding_window` (windows are decoded from several
    threads at once on one model; outside it a thread gets faster-whisper's own
    behaviour):

    - an encoder that sees only `encoder_frames` instead of the full 30 s: faster-whisper
      always pads a window's features to 3000 frames, and CTranslate2's encoder accepts
      fewer. The caller keeps the count at least the window's own frames
      (`WhisperEngine.encoder_frames`), so no audio is cut off;
    - temperature fallback for loops only (`fallback_on_log_prob=False`): the
      log-probability threshold still gates silence, but no longer sends a pass to the
      sampling temperatures;
    - a floor under each mel band of the audio's frames, then the low bands smoothed
      over time (`feature_floor`, `noisy_features`): in heavy noise, a band's dips below
      the noise's typical level carry no speech, only the noise's own flicker (docs/
      transcription.md, "Measurements behind the defaults").
    """

    class GatewayWhisper(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.window = threading.local()

        def _window(self) -> _Window | None:
            return getattr(self.window, "options", None)

        def encode(self, features: np.ndarray) -> Any:
            w = self._window()
            if w is not None and w.encoder_frames is not None and features.shape[-1] > w.encoder_frames:
                features = np.ascontiguousarray(features[..., :w.encoder_frames])
            if w is not None and w.feature_floor is not None:
                features = noisy_features(features, *w.feature_floor)
            return super().encode(features)

        def generate_with_fallback(self, encoder_output: Any, prompt: list[int],
                                   tokenizer: Any, options: Any) -> Any:
            w = self._window()
            if w is not None and not w.fallback_on_log_prob:
                options = replace(options, log_prob_threshold=None)
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)

    return GatewayWhisper


@contextmanager
def decoding_window(model: Any, *, encoder_frames: int | None = None,
                    fallback_on_log_prob: bool = True,
                    feature_floor: tuple[FeatureFloor, int] | None = None) -> Iterator[None]:
    """Within the block, `model`'s passes on this thread see `encoder_frames` of features
    (None: the full window), fall back hotter on a low log-probability or not, and floor
    the mel bands of the first frames (`feature_floor` = (how, frames), None: features as
    they are). A model without these options is left alone."""
    local = getattr(model, "window", None)
    if not isinstance(local, threading.local):
        yield
        return
    local.options = _Window(encoder_frames, fallback_on_log_prob, feature_floor)
    try:
        yield
    finally:
        local.options = None


def encoder_frames(samples: int, settings: EngineSettings) -> int:
    """Feature frames (10 ms) the encoder sees for `samples` of 16 kHz audio: the audio plus
    `encoder_pad_s`, at least `encoder_min_s`, at most Whisper's 30 s."""
    want = max(settings.encoder_min_s, samples / 16000 + settings.encoder_pad_s)
    return min(_FULL_FRAMES, math.ceil(want * 100))


def floored(features: np.ndarray, percentile: float, frames: int) -> np.ndarray:
    """`features` with each mel band of its first `frames` frames (the audio; the padding
    after it is left alone) raised to `percentile` of that band over those frames."""
    frames = min(frames, features.shape[-1])
    if frames <= 0:
        return features
    out = np.array(features, dtype=np.float32, copy=True)
    body = out[..., :frames]
    out[..., :frames] = np.maximum(body, np.percentile(body, percentile, axis=-1, keepdims=True))
    return out


def smoothed(features: np.ndarray, weight: float, bands: int, frames: int) -> np.ndarray:
    """`features` with its lowest `bands` mel bands over the first `frames` frames smoothed
    over time with [weight, 1 - 2 weight, weight] (the first and last frame kept)."""
    frames = min(frames, features.shape[-1])
    bands = min(bands, features.shape[-2])
    if frames < 3 or bands <= 0 or weight <= 0:
        return features
    out = np.array(features, dtype=np.float32, copy=True)
    body = out[..., :bands, :frames].copy()
    out[..., :bands, 1:frames - 1] = (weight * body[..., :-2] + (1 - 2 * weight) * body[..., 1:-1]
                                      + weight * body[..., 2:])
    return out


def noisy_features(features: np.ndarray, floor: FeatureFloor, frames: int) -> np.ndarray:
    """The features of a noisy window as the encoder sees them: each band floored at
    `floor.percentile`, then the lowest `floor.smooth_bands` smoothed over time. In that
    much noise, a band's dips below the noise's typical level and its frame-to-frame
    flicker carry no speech, and Whisper base reads both as syllables; the flicker is
    largest in the narrow low bands, where smoothing every band would blur the rest."""
    return smoothed(floored(features, floor.percentile, frames),
                    floor.smooth_weight, floor.smooth_bands, frames)


def worker_layout(settings: EngineSettings) -> tuple[int, int]:
    """(concurrent decodes, threads per decode) for this machine."""
    cores = os.cpu_count() or 1
    workers = max(1, settings.workers or cores)
    threads = max(1, settings.cpu_threads or cores // workers)
    return workers, threads
