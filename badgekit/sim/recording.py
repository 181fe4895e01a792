"""Run the badge's recording path on an audio file, under CPython or the MicroPython unix port.

`record_file()` converts the input to 16 kHz mono (`badgekit.sim.audio_in`), then runs
`badgekit/sim/fwrecord.py` (the firmware's mic -> gate -> ADPCM -> FolderSink path):
in-process on CPython (plain-Python fallbacks), or as a script under the real
MicroPython unix port (viper fast paths). Both write the same clip bytes.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from badgecore.paths import REPO_ROOT
from badgekit.sim.audio_in import load_16k_mono, write_pcm_wav

__all__ = ["RecordSettings", "RecordResult", "RecordError", "record_file", "record_live",
           "parse_start_time", "INTERPRETERS"]

INTERPRETERS = ("cpython", "micropython")
SCRIPT = REPO_ROOT / "badgekit" / "sim" / "fwrecord.py"


class RecordError(RuntimeError):
    """The firmware run failed (not the input: that is `InputAudioError`)."""


@dataclass(frozen=True)
class RecordSettings:
    badge: str = "BADGE0001"
    """Badge id written into every clip (<= 32 bytes)."""
    session: str | None = None
    """Session id; default derived from the start time like the badge does."""
    start_epoch: int = 0
    """Session start, Unix seconds UTC (the RTC at the button press)."""
    start_ms: int = 0
    """Milliseconds part of the start time."""
    seq: int = 0
    """Per-badge sequence number of the first clip."""
    prev_sha256: str | None = None
    """Hash of the badge's previous clip (64 zeros for the first one)."""
    gain_db: float = 0.0
    """Gain applied after DC removal, in dB (-48 .. +30)."""
    preroll_ms: int = 500
    """Audio kept before detected speech onset."""
    hangover_ms: int = 600
    """Audio kept after the last speech frame."""
    min_clip_ms: int = 1000
    """Shortest clip."""
    max_clip_ms: int = 60000
    """Longest clip; longer speech is split with no sample lost or repeated."""
    state_dir: str | None = None
    """The badge's state folder (`sim badge --state`): enrolled, its clips are sealed with
    the clip key it derives from its enrollment secret (format 2); else format 1."""

    @property
    def gain_q8(self) -> int:
        return max(1, min(8192, round(256 * 10 ** (self.gain_db / 20))))


@dataclass
class RecordResult:
    clips: list[dict[str, Any]]
    frames: int
    input_samples: int
    kept_samples: int
    health: dict[str, Any]
    interpreter: str
    extra: dict[str, Any] = field(default_factory=dict)


def parse_start_time(text: str | None) -> tuple[int, int]:
    """ISO 8601 (UTC if no zone) or Unix seconds -> (epoch, ms); None -> now."""
    if text is None:
        now = datetime.now(UTC)
    else:
        try:
            secs = float(text)
        except ValueError:
            try:
                now = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError(f"--start-time: not ISO 8601 or Unix seconds: {text!r}") from exc
            if now.tzinfo is None:
                now = now.replace(tzinfo=UTC)
        else:
            now = datetime.fromtimestamp(secs, UTC)
    ms_total = int(round(now.timestamp() * 1000))
    return ms_total // 1000, ms_total % 1000


def _args(wav: Path, out: Path, s: RecordSettings, session: str) -> dict[str, Any]:
    args: dict[str, Any] = {
        "path": str(wav), "out": str(out), "badge": s.badge, "session": session,
        "seq": s.seq, "start_epoch": s.start_epoch, "start_ms": s.start_ms,
        "gain_q8": s.gain_q8, "preroll_ms": s.preroll_ms, "hangover_ms": s.hangover_ms,
        "min_clip_ms": s.min_clip_ms, "max_clip_ms": s.max_clip_ms,
    }
    if s.prev_sha256:
        args["prev_sha256"] = s.prev_sha256
    if s.state_dir:
        args["state"] = str(Path(s.state_dir).resolve())
    return args


def record_file(input_path: Path, out: Path, settings: RecordSettings,
                interpreter: str = "micropython", timeout_s: float = 3600) -> RecordResult:
    """Record `input_path` into clips in `out` (created) as the badge would."""
    if interpreter not in INTERPRETERS:
        raise ValueError(f"interpreter must be one of {INTERPRETERS}")
    pcm = load_16k_mono(input_path)
    from firmware.session import session_id

    session = settings.session or session_id(settings.start_epoch, settings.start_ms)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="badgekit-rec-") as td:
        wav = write_pcm_wav(Path(td) / "mic.wav", pcm)
        args = _args(wav, out.resolve(), settings, session)
        if interpreter == "cpython":
            from badgekit.sim import fwrecord

            args["fast"] = 0
            summary = fwrecord.record(**args)
        else:
            summary = _run_micropython(args, timeout_s)
    return RecordResult(clips=summary["clips"], frames=summary["frames"], input_samples=len(pcm),
                        kept_samples=summary["kept_samples"], health=summary["health"],
                        interpreter=interpreter, extra={"fast": summary.get("fast"),
                                                        "sealed": summary.get("sealed", False)})


def _run_micropython(args: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    import subprocess

    from badgecore import mpy

    argv = [f"{k}={v}" for k, v in args.items()]
    try:
        proc = mpy.run(SCRIPT, args=argv, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RecordError(f"MicroPython recording did not finish in {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RecordError("firmware failed under MicroPython: " + (err[-1] if err else "no output"))
    lines = proc.stdout.decode().strip().splitlines()
    if not lines:
        raise RecordError("firmware printed no summary under MicroPython")
    return json.loads(lines[-1])


def record_live(out: Path, settings: RecordSettings, seconds: float,
                device: str | int | None = None) -> RecordResult:
    """Record `seconds` from a live microphone (PortAudio) through the firmware path,
    in-process on CPython (the unix port has no PortAudio)."""
    from badgecore.mic_backends import SoundDeviceMic
    from badgekit.sim import fwrecord
    from firmware.session import session_id

    session = settings.session or session_id(settings.start_epoch, settings.start_ms)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    src = SoundDeviceMic(device=device, seconds=seconds)
    args = _args(Path("mic"), out.resolve(), settings, session)
    args["fast"] = 0
    summary = fwrecord.record(source=src, **args)
    return RecordResult(clips=summary["clips"], frames=summary["frames"],
                        input_samples=summary["frames"] * 320,
                        kept_samples=summary["kept_samples"], health=summary["health"],
                        interpreter="cpython",
                        extra={"overflows": src.overflows, "sealed": summary.get("sealed", False)})
