"""Build meeting-like recordings from real utterances, with ground truth.

A meeting here is what a badge hears: several talkers taking turns with pauses, each
at their own level, over room noise. `build_meeting()` joins clean utterances with
pauses, brings each talker to a common speech level (± a spread), adds noise at a given
SNR, and returns the mix with a per-sample speech mask and the reference text of every
turn, so benchmarks can score speech retention (gate) and CER (transcription).

SNR is speech level over noise level, both as RMS in dBFS: speech is measured over its
active frames, steady noise (pink, hum) over the whole file, and bursts (knocks, clatter,
rustle) over the time they sound, so "5 dB bursts" are short events nearly as loud as
the talkers; under the bursts lies a steady floor 25 dB below speech.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "RATE_HZ",
    "Meeting",
    "Turn",
    "active_rms_dbfs",
    "build_meeting",
    "read_wav",
    "write_wav",
    "speech_mask",
    "manifest_references",
    "shared_speech_dir",
    "synthesize_speech",
    "HALVES",
    "conversation_meeting",
    "half_utterances",
    "near_far_meeting",
]

RATE_HZ = 16000
_FRAME = 160  # 10 ms frames for level and activity measurement
NOISE_KINDS = ("pink", "hum", "bursts", "babble")


@dataclass(frozen=True)
class Turn:
    """One utterance placed in the meeting."""

    name: str
    start_s: float
    end_s: float
    text: str | None
    """Reference transcript, None where no verified reference exists."""
    level_dbfs: float
    """Active speech RMS of this turn in the mix."""
    speaker: str | None = None
    """"wearer" or "other" in a near/far meeting (`near_far_meeting`), else None."""


@dataclass
class Meeting:
    pcm: np.ndarray
    """int16 mono samples at `rate`."""
    rate: int
    speech_mask: np.ndarray
    """True for every sample that is speech in the clean utterances (ground truth)."""
    turns: list[Turn] = field(default_factory=list)
    noise: str | None = None
    snr_db: float | None = None

    @property
    def seconds(self) -> float:
        return len(self.pcm) / self.rate

    @property
    def speech_fraction(self) -> float:
        return float(self.speech_mask.mean()) if len(self.speech_mask) else 0.0

    @property
    def segments(self) -> list[Turn]:
        return self.turns

    @property
    def reference_text(self) -> str:
        return "".join(t.text for t in self.turns if t.text)

    def write(self, path: Path) -> Path:
        return write_wav(path, self.pcm, self.rate)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV as float32 mono in [-1, 1] and its rate (sox converts other encodings)."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return _read_with_sox(path)
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128.0
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0
    else:
        return _read_with_sox(path)
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x, rate


def _read_with_sox(path: Path) -> tuple[np.ndarray, int]:
    sox = shutil.which("sox")
    if not sox:
        raise ValueError(f"{path}: not a PCM WAV and sox is not installed")
    proc = subprocess.run([sox, str(path), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
                           "-r", str(RATE_HZ), "-"], capture_output=True)
    if proc.returncode != 0:
        raise ValueError(f"{path}: {proc.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(proc.stdout, "<i2").astype(np.float32) / 32768.0, RATE_HZ


def resample(x: np.ndarray, rate: int, target: int = RATE_HZ) -> np.ndarray:
    if rate == target:
        return x
    n = int(round(len(x) * target / rate))
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def write_wav(path: Path, pcm: np.ndarray, rate: int = RATE_HZ) -> Path:
    path = Path(path)
    if pcm.dtype != np.int16:
        pcm = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def _frame_rms(x: np.ndarray) -> np.ndarray:
    n = len(x) // _FRAME
    if n == 0:
        return np.zeros(0)
    f = x[: n * _FRAME].reshape(n, _FRAME).astype(np.float64)
    return np.sqrt((f**2).mean(axis=1) + 1e-12)


def speech_mask(x: np.ndarray, floor_db: float = 30.0) -> np.ndarray:
    """Ground-truth activity of a CLEAN utterance: 10 ms frames within `floor_db` of its loud part.

    Short gaps (< 200 ms) inside a turn count as speech, as a listener would hear them.
    """
    rms_db = 20 * np.log10(_frame_rms(x))
    if len(rms_db) == 0:
        return np.zeros(len(x), bool)
    ref = np.percentile(rms_db, 95)
    active = rms_db > ref - floor_db
    gap = 20
    idx = np.flatnonzero(active)
    for a, b in zip(idx[:-1], idx[1:], strict=False):
        if 1 < b - a <= gap:
            active[a:b] = True
    mask = np.repeat(active, _FRAME)
    return np.concatenate([mask, np.zeros(len(x) - len(mask), bool)])

def load_utterances(utterances: Sequence[str | Path]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, 16 kHz float32 samples, speech mask) of each recording; refuses an empty list."""
    clips = []
    for p in utterances:
        x, rate = read_wav(Path(p))
        x = resample(x, rate)
        clips.append((Path(p).stem, x, speech_mask(x)))
    if not clips:
        raise ValueError("no utterances to build a meeting from")
    return clips



def active_rms_dbfs(x: np.ndarray, mask: np.ndarray | None = None) -> float:
    m = speech_mask(x) if mask is None else mask
    sel = x[m] if m.any() else x
    return float(20 * np.log10(np.sqrt(np.mean(sel.astype(np.float64) ** 2)) + 1e-12))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    f[0] = 1
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def _hum(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE_HZ
    y = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 5))
    y = y + 0.3 * pink_noise(n, rng)  # ventilation: hum plus broadband air
    return (y / np.std(y)).astype(np.float32)


def _bursts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Door knocks, keyboard, cup clatter, paper rustle: ~1 event every 2 s."""
    y = np.zeros(n, np.float32)
    on = np.zeros(n, bool)
    t = 0
    while True:
        t += int(rng.uniform(0.5, 3.5) * RATE_HZ)
        if t >= n:
            break
        kind = rng.integers(4)
        if kind == 0:  # knock: 2-4 damped low thumps
            ev = np.concatenate([np.exp(-np.arange(1600) / 200) * np.sin(2 * np.pi * 120 * np.arange(1600) / RATE_HZ)
                                 for _ in range(rng.integers(2, 5))])
        elif kind == 1:  # keyboard: a run of sharp clicks
            ev = np.zeros(int(rng.uniform(0.3, 1.2) * RATE_HZ), np.float32)
            for p in rng.integers(0, len(ev) - 200, size=max(2, len(ev) // 1600)):
                ev[p:p + 200] += rng.standard_normal(200) * np.exp(-np.arange(200) / 30)
        elif kind == 2:  # cup clatter: ringing high partials
            m = int(0.4 * RATE_HZ)
            tt = np.arange(m) / RATE_HZ
            ev = sum(np.sin(2 * np.pi * f * tt) for f in rng.uniform(2000, 6000, 4)) * np.exp(-tt * 12)
        else:  # paper rustle: band noise with a ragged envelope
            m = int(rng.uniform(0.4, 1.5) * RATE_HZ)
            ev = rng.standard_normal(m) * np.abs(np.convolve(rng.standard_normal(m), np.ones(400) / 400, "same"))
        ev = np.asarray(ev, np.float32)[: n - t]
        y[t:t + len(ev)] += ev / (np.sqrt(np.mean(ev**2)) + 1e-9)
        on[t:t + len(ev)] |= np.abs(ev) > 1e-3 * np.max(np.abs(ev))
        t += len(ev)
    return y, on


def _babble(n: int, rng: np.random.Generator, voices: Sequence[np.ndarray]) -> np.ndarray:
    y = np.zeros(n, np.float32)
    for v in voices:
        rep = np.tile(v, n // len(v) + 1)[:n]
        y += np.roll(rep, int(rng.integers(n)))
    return y / (np.std(y) + 1e-12)


def build_meeting(
    utterances: Sequence[Path],
    *,
    references: dict[str, str] | None = None,
    seed: int = 0,
    target_dbfs: float = -26.0,
    level_spread_db: float = 3.0,
    pause_s: tuple[float, float] = (1.0, 6.0),
    min_seconds: float = 0.0,
    noise: str | None = "pink",
    snr_db: float = 20.0,
    lead_s: float = 1.0,
) -> Meeting:
    """Join `utterances` (repeated in shuffled rounds until `min_seconds`) into one meeting.

    Each turn is scaled so its active speech RMS is `target_dbfs` ± `level_spread_db`
    (uniform; the spread models talkers nearer to and farther from the badge).
    """
    if noise is not None and noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {NOISE_KINDS} or None, not {noise!r}")
    rng = np.random.default_rng(seed)
    clips = load_utterances(utterances)
    pieces: list[np.ndarray] = [np.zeros(int(lead_s * RATE_HZ), np.float32)]
    masks: list[np.ndarray] = [np.zeros(len(pieces[0]), bool)]
    turns: list[Turn] = []
    pos = len(pieces[0])
    while True:
        for i in rng.permutation(len(clips)):
            name, x, m = clips[i]
            level = target_dbfs + rng.uniform(-level_spread_db, level_spread_db)
            gain = 10 ** ((level - active_rms_dbfs(x, m)) / 20)
            pieces.append((x * gain).astype(np.float32))
            masks.append(m)
            text = (references or {}).get(name)
            turns.append(Turn(name, pos / RATE_HZ, (pos + len(x)) / RATE_HZ, text, level))
            pos += len(x)
            gap = int(rng.uniform(*pause_s) * RATE_HZ)
            pieces.append(np.zeros(gap, np.float32))
            masks.append(np.zeros(gap, bool))
            pos += gap
        if pos / RATE_HZ >= min_seconds:
            break
    speech = np.concatenate(pieces)
    mask = np.concatenate(masks)
    n = len(speech)
    mix = speech.copy()
    if noise is not None:
        noise_rms = 10 ** ((target_dbfs - snr_db) / 20)
        if noise == "pink":
            mix += pink_noise(n, rng) * noise_rms
        elif noise == "hum":
            mix += _hum(n, rng) * noise_rms
        elif noise == "babble":
            mix += _babble(n, rng, [c[1] for c in clips]) * noise_rms
        else:
            bursts, on = _bursts(n, rng)
            level_on = np.sqrt(np.mean(bursts[on] ** 2)) if on.any() else 1.0
            mix += bursts / level_on * noise_rms
            mix += pink_noise(n, rng) * 10 ** ((target_dbfs - 25) / 20)
    peak = np.max(np.abs(mix))
    if peak > 0.99:  # keep the mix unclipped; levels shift together, SNR is unchanged
        mix *= 0.99 / peak
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    return Meeting(pcm=pcm, rate=RATE_HZ, speech_mask=mask, turns=turns, noise=noise, snr_db=snr_db)


def shared_speech_dir() -> Path | None:
    """`$BADGEKIT_SHARED/data/speech` (default `../shared` beside the repository, as
    tests/conftest.py reads it; tests and benchmarks only), if present."""
    from badgecore.paths import REPO_ROOT

    shared = os.environ.get("BADGEKIT_SHARED") or str(REPO_ROOT.parent / "shared")
    d = Path(shared).expanduser() / "data" / "speech"
    return d if d.is_dir() else None


def manifest_references(speech_dir: Path) -> dict[str, str]:
    """Verified reference transcripts from the speech folder's MANIFEST.md (by file stem)."""
    manifest = speech_dir.parent / "MANIFEST.md"
    out: dict[str, str] = {}
    if not manifest.exists():
        return out
    for m in re.finditer(r"^\|\s*(\S+)\.wav\s*\|[^|]*\|[^|]*\|\s*([^|]+?)\s*\|", manifest.read_text(), re.M):
        if "no verified" not in m.group(2):
            out[m.group(1)] = m.group(2)
    return out


def referenced_utterances(speech_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """The recordings of `speech_dir` that have a verified reference (sorted by name), and
    the references by file stem: what a scored meeting is built from."""
    refs = manifest_references(speech_dir)
    return [speech_dir / f"{name}.wav" for name in sorted(refs)], refs


def scored_meeting(utterances: Sequence[Path], references: dict[str, str], seed: int,
                   snr_db: float, *, level_spread_db: float = 6.0) -> Meeting:
    """A meeting of the transcription benchmarks (issue 8's set): the referenced
    utterances, talkers at -26 dBFS +/- `level_spread_db`, pauses of 1-4 s (45-53 %
    non-speech), at least 60 s, pink noise `snr_db` under the speech."""
    return build_meeting(utterances, references=references, seed=seed,
                         level_spread_db=level_spread_db, pause_s=(1.0, 4.0), min_seconds=60.0,
                         snr_db=snr_db)


HALVES: dict[str, tuple[str, ...]] = {
    "tune": ("BAC009S0764W0121", "IT0011W0001", "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000",
             "asr_example_zh", "soulx_female_mandarin", "moss_pod_f_enhanced",
             "stepaudio_Tingting_prompt"),
    "report": ("aishell-BAC009S0724W0121", "moss_zh_spk1_moon", "moss_single_reference",
               "fireredtts2_zh_S1", "spark_prompt_audio", "editx_fear_zh_female_prompt",
               "editx_vad_prompt"),
}
"""The fourteen referenced utterances in two halves, fixed before any setting was chosen
on them. Every transcription setting is chosen on "tune"; figures are reported on
"report", which no setting was chosen on. The four sentences the gateway was first tuned
on are all in "tune" (settings were chosen on them), with three of the ten later real
recordings (two podcasts, an expressive read); "report" holds the other seven: a read
AISHELL sentence, a livestream, a two-talker conversation with back-channels, a disfluent
interview, a broadcast advert, emotional and hesitant spontaneous speech (70 s of speech,
"tune" 44 s). "old4" is the first four alone, kept for continuity."""


def half_utterances(speech_dir: Path, half: str) -> tuple[list[Path], dict[str, str]]:
    """The utterances of one half ("tune", "report", or "old4": the first four sentences)
    and their references."""
    utts, refs = referenced_utterances(speech_dir)
    names = HALVES["tune"][:4] if half == "old4" else HALVES[half]
    chosen = [u for u in utts if u.stem in names]
    if len(chosen) != len(names):
        missing = sorted(set(names) - {u.stem for u in chosen})
        raise ValueError(f"{speech_dir}: no referenced recording for {', '.join(missing)}")
    return chosen, {k: v for k, v in refs.items() if k in names}


def conversation_meeting(utterances: Sequence[Path], references: dict[str, str], seed: int,
                         snr_db: float, noise: str = "pink", *, min_seconds: float = 180.0,
                         pause_s: tuple[float, float] = (2.0, 10.0),
                         level_spread_db: float = 6.0) -> Meeting:
    """A meeting of the conversation bench (issue 31): the utterances of one half in
    shuffled rounds, at least `min_seconds` (3-4 min), talkers at -26 dBFS +/- 6 dB,
    pauses of 2-10 s (35-50 % non-speech), `noise` `snr_db` under the speech."""
    return build_meeting(utterances, references=references, seed=seed,
                         level_spread_db=level_spread_db, pause_s=pause_s,
                         min_seconds=min_seconds, noise=noise, snr_db=snr_db)


def reverberant(x: np.ndarray, reverberance: int = 60, room_scale: int = 80) -> np.ndarray:
    """`x` (float32, 16 kHz) as heard from across a room: sox reverb (dry and wet), mono."""
    sox = shutil.which("sox")
    if not sox:
        raise RuntimeError("sox is not installed; fix: sudo apt-get install -y sox")
    raw = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()
    fmt = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r", str(RATE_HZ)]
    proc = subprocess.run([sox, *fmt, "-", *fmt, "-", "reverb", str(reverberance), "50",
                           str(room_scale), "100", "20", "channels", "1"],
                          input=raw, capture_output=True, check=True)
    y = np.frombuffer(proc.stdout, "<i2").astype(np.float32) / 32768.0
    return y[: len(x) + RATE_HZ // 2]  # the reverb tail, at most half a second of it


def near_far_meeting(utterances: Sequence[Path], references: dict[str, str], seed: int, *,
                     near_dbfs: float = -20.0, far_drop_db: tuple[float, float] = (10.0, 16.0),
                     pause_s: tuple[float, float] = (0.5, 3.0), overlap_share: float = 0.25,
                     overlap_s: tuple[float, float] = (0.3, 1.2), min_seconds: float = 60.0,
                     noise: str | None = "pink", snr_db: float = 30.0) -> Meeting:
    """A meeting as the wearer's badge hears it, each turn labelled `speaker`.

    Turns alternate at random between the wearer (near: dry, at `near_dbfs` ± 2 dB) and
    the other party (far: sox reverb, `far_drop_db` lower); `overlap_share` of the turns
    start `overlap_s` before the previous turn ends (the other talker cuts in). Noise is
    `snr_db` under the wearer's level. Utterances are taken in shuffled rounds.
    """
    rng = np.random.default_rng(seed)
    clips = []
    for p in utterances:
        x, rate = read_wav(Path(p))
        x = resample(x, rate)
        clips.append((Path(p).stem, x, speech_mask(x)))
    pos = RATE_HZ
    placed: list[tuple[int, np.ndarray, np.ndarray]] = []
    turns: list[Turn] = []
    prev_end = pos
    while pos / RATE_HZ < min_seconds:
        for i in rng.permutation(len(clips)):
            name, x, m = clips[i]
            near = bool(rng.random() < 0.5)
            level = near_dbfs + rng.uniform(-2, 2) - (0 if near else rng.uniform(*far_drop_db))
            y = x if near else reverberant(x)
            ym = np.concatenate([m, np.zeros(len(y) - len(m), bool)])[: len(y)]
            y = y * 10 ** ((level - active_rms_dbfs(x, m)) / 20)
            start = pos
            if turns and rng.random() < overlap_share:
                start = max(int(turns[-1].start_s * RATE_HZ) + RATE_HZ // 2,
                            prev_end - int(rng.uniform(*overlap_s) * RATE_HZ))
            placed.append((start, y.astype(np.float32), ym))
            turns.append(Turn(name, start / RATE_HZ, (start + len(x)) / RATE_HZ,
                              references.get(name), level, "wearer" if near else "other"))
            prev_end = start + len(x)
            pos = prev_end + int(rng.uniform(*pause_s) * RATE_HZ)
    n = pos + RATE_HZ
    mix = np.zeros(n, np.float32)
    mask = np.zeros(n, bool)
    for start, y, ym in placed:
        k = min(len(y), n - start)
        mix[start:start + k] += y[:k]
        mask[start:start + k] |= ym[:k]
    if noise is not None:
        noise_rms = 10 ** ((near_dbfs - snr_db) / 20)
        mix += (pink_noise(n, rng) if noise == "pink" else _hum(n, rng)) * noise_rms
    peak = float(np.max(np.abs(mix)))
    if peak > 0.99:
        mix *= 0.99 / peak
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    return Meeting(pcm=pcm, rate=RATE_HZ, speech_mask=mask, turns=turns, noise=noise,
                   snr_db=snr_db)


DEFAULT_SCRIPT_EN = [
    "Good morning, thank you for meeting me today. This conversation is being recorded.",
    "This policy has a cooling off period of fifteen days after you receive it.",
    "If you surrender the policy early, you may get back less than you paid in.",
    "The premium is paid every year for ten years.",
    "Please read the exclusions section carefully before you sign.",
]


def synthesize_speech(texts: Sequence[str], out_dir: Path, voice: str = "en-us") -> list[Path]:
    """Make utterances on the spot with espeak-ng (for machines without recorded speech)."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise RuntimeError("espeak-ng is not installed; fix: sudo apt-get install -y espeak-ng")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(texts):
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            subprocess.run([espeak, "-v", voice, "-s", "150", "-w", tmp.name, text], check=True,
                           capture_output=True)
            x, rate = read_wav(Path(tmp.name))
        paths.append(write_wav(out_dir / f"tts_{i:02d}.wav", resample(x, rate)))
    return paths
