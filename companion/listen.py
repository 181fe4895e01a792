"""`listen --mic`: the computer's microphone as a badge, writing clips into the spool.

The audio goes through the badge's own recording path: the microphone is
`badgecore.mic_backends.SoundDeviceMic` (PortAudio, the firmware's mic interface) and
`firmware.recorder.record_stream` runs the badge's loop (DC removal, gain, voice gate with
pre-roll and hangover, IMA ADPCM, clip sink), so a branch trying badgekit before its
badges arrive gets exactly the clips a badge would make. Ctrl-C ends the session between
frames and closes the open clip, like the badge's button. Clips land
in the spool layout the gateway watches (docs/contracts.md, "Spool"):
``<spool>/<badge>/<session>/<clip id>.wav`` + ``.json`` + ``.custody.json``, each renamed
from ``.partial`` when durable; the custody record comes last, so a clip is complete
exactly when its custody record exists.

A microphone badge has no flash of its own, so its per-badge state (next sequence number
and the hash of its last clip, which chains the next one) lives in the companion's data
folder: the chain continues across runs even after the gateway has taken clips away.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from badgecore.atomicfile import write_atomic
from badgecore.paths import data_dir
from badgecore.privatefs import private_dir
from companion.errors import CompanionError
from companion.settings import CompanionSettings

__all__ = ["ListenError", "ListenReport", "MicBadgeState", "gate_options", "list_inputs", "listen",
           "render"]


class ListenError(CompanionError, RuntimeError):
    """`listen` cannot run or had to stop (spool not writable, disk full, bad settings)."""


@dataclass
class ListenReport:
    """What one `listen` run recorded."""

    badge_id: str
    session: str
    spool: str
    device: str
    audio_s: float = 0.0
    clips: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "done"  # done | interrupted | session_limit | disk_full | mic_error: …
    health: dict[str, Any] = field(default_factory=dict)  # the recorder's mic health
    warnings: list[str] = field(default_factory=list)  # e.g. the spool disk nearly full

    @property
    def kept_s(self) -> float:
        return sum(c.get("samples", 0) for c in self.clips) / 16000.0

    def as_dict(self) -> dict[str, Any]:
        return {"badge_id": self.badge_id, "session": self.session, "spool": self.spool,
                "device": self.device, "audio_s": round(self.audio_s, 3),
                "kept_s": round(self.kept_s, 3), "stopped": self.stopped, "health": self.health,
                "warnings": self.warnings,
                "clips": self.clips}


class MicBadgeState:
    """Persistent seq + last hash of one microphone badge (a small JSON file, atomic)."""

    def __init__(self, badge_id: str, folder: Path | None = None) -> None:
        self.path = (folder or data_dir() / "mic-badges") / f"{badge_id}.json"
        self.next_seq = 1  # a badge's first clip is seq 1 (the spool ledger expects it)
        self.prev_sha256 = "0" * 64
        if self.path.exists():
            try:
                d = json.loads(self.path.read_text())
                self.next_seq, self.prev_sha256 = int(d["next_seq"]), str(d["prev_sha256"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ListenError(f"microphone badge state {self.path} is damaged ({exc}); "
                                  "move it aside to start a new chain") from None

    def advance(self, next_seq: int, sha256: str) -> None:
        self.next_seq, self.prev_sha256 = next_seq, sha256
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps({"next_seq": next_seq, "prev_sha256": sha256}))


def _custody(settings: CompanionSettings, side: dict[str, Any], device: str,
             wav: Path) -> dict[str, Any]:
    """The custody record, with the same fields as the sync spool's (companion.spool)."""
    import getpass
    import hashlib
    import socket

    data = wav.read_bytes()
    wav_sha256, size = hashlib.sha256(data).hexdigest(), len(data)
    now = time.time()
    return {
        "clip_id": side["clip_id"], "badge": side["badge"], "session": side["session"],
        "seq": side["seq"], "sha256": side["sha256"], "prev_sha256": side["prev_sha256"],
        "branch": settings.branch.id, "agent": settings.listen.agent or None,
        "operator": settings.branch.operator or getpass.getuser(),
        "host": socket.gethostname(), "transport": "mic", "source": device,
        "chain": "first" if side["prev_sha256"] == "0" * 64 else "linked",
        "wav_sha256": wav_sha256, "bytes": size, "badge_fw": "listen",
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "received_epoch": now, "verified": True,
        # no badge made these clips, so no seal vouches for them (docs/clip-format.md)
        "auth": "unauthenticated", "format_version": side.get("format_version", 1),
    }


def render(report: ListenReport, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"{report.badge_id} session {report.session} -> {report.spool}"))
    for col in ("clip", "start (UTC)", "seconds", "sha256"):
        table.add_column(col)
    for c in report.clips:
        table.add_row(escape(c["clip_id"]), escape(c.get("start_time", "")),
                      f"{c['samples'] / 16000:.1f}", c["sha256"][:16] + "…")
    console.print(table)
    console.print(f"{report.audio_s:.1f} s heard, {report.kept_s:.1f} s kept in "
                  f"{len(report.clips)} clip(s); stopped: {report.stopped}", markup=False)


_SENSITIVITY_ON_DB10 = {0: 90, 1: 75, 2: 60, 3: 45}  # gate onset level above the floor (dB/10)


def gate_options(settings: CompanionSettings) -> dict[str, int]:
    """Recorder options from the badge config settings (gain, sensitivity, clip length)."""
    from firmware.sync.state import config_error

    b = settings.badge
    for key in ("gain_db", "vad_sensitivity", "max_clip_s", "max_session_min"):
        err = config_error(key, getattr(b, key))  # the badge's own ranges
        if err:
            raise ListenError(f"{err}, got {getattr(b, key)}")
    return {"gain_q8": round(256 * 10 ** (b.gain_db / 20)), "max_clip_ms": b.max_clip_s * 1000,
            "on_db10": _SENSITIVITY_ON_DB10[b.vad_sensitivity]}


class _StopOnCtrlC:
    """While active, Ctrl-C (SIGINT) only asks the loop to stop after the current block,
    so a clip is never cut inside a frame; restored on exit. Main thread only."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _StopOnCtrlC:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._ask)
        return self

    def _ask(self, *_: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class _LiveSource:
    """The microphone as the firmware's mic interface, ending cleanly on Ctrl-C or when
    the device fails (the error is kept for the report)."""

    def __init__(self, mic: Any, stop: _StopOnCtrlC) -> None:
        self.mic, self.stop = mic, stop
        self.samples = 0
        self.error: str | None = None

    def readinto(self, buf: Any) -> int:
        if self.stop.requested or self.error:
            return 0
        try:
            n = int(self.mic.readinto(buf))
        except Exception as exc:  # noqa: BLE001 - PortAudio reports a lost device many ways
            self.error = str(exc) or type(exc).__name__
            return 0
        self.samples += n
        return n


def _device(spec: str) -> str | int | None:
    if not spec:
        return None
    return int(spec) if spec.isdigit() else spec


def list_inputs() -> list[dict[str, Any]]:
    """Input devices as PortAudio lists them: index, name, channels, default rate."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise ListenError(f"sounddevice/PortAudio unavailable ({exc}); fix: "
                          "sudo apt-get install -y libportaudio2") from None
    return [{"index": i, "name": d["name"], "channels": d["max_input_channels"],
             "default_rate_hz": d["default_samplerate"]}
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def _disk_used_pct(path: Path) -> float | None:
    import shutil

    try:
        u = shutil.disk_usage(path)
    except OSError:
        return None
    return 100.0 * (u.total - u.free) / u.total if u.total else None


def _is_full(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def listen(settings: CompanionSettings, progress: Any = None,
           state_dir: Path | None = None) -> ListenReport:
    """Record from the microphone until ``listen.duration_s`` of audio (or Ctrl-C).

    Returns the report; a full spool disk stops the run cleanly (``stopped="disk_full"``,
    the clip being written is dropped, every earlier clip is complete with custody).
    """
    from badgecore.mic_backends import MicUnavailable, SoundDeviceMic
    from firmware import recorder as fw
    from firmware.clips.sink import FolderSink

    lis = settings.listen
    badge = lis.badge_id
    if not badge or len(badge.encode()) > 32 or "/" in badge:
        raise ListenError(f"badge id must be 1..32 bytes without '/': {badge!r}")
    opts = gate_options(settings)
    gain_q8 = opts.pop("gain_q8")
    state = MicBadgeState(badge, state_dir)
    session_s = settings.badge.max_session_min * 60.0
    seconds = min(lis.duration_s, session_s) if lis.duration_s > 0 else session_s
    try:
        mic = SoundDeviceMic(_device(lis.device), seconds=seconds, frame_samples=fw.FRAME_SAMPLES)
    except MicUnavailable as exc:
        raise ListenError(str(exc)) from None
    now = time.time()
    session = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    spool = settings.spool.folder
    folder = spool / badge / session
    try:
        private_dir(folder, root=spool)  # customer speech: 0700 folders, 0600 files (docs/spool.md)
    except OSError as exc:
        mic.close()
        raise ListenError(f"cannot create {folder}: {exc.strerror}") from None
    report = ListenReport(badge, session, str(spool), lis.device or "default")
    sink = FolderSink(str(folder), prev_sha256=state.prev_sha256)

    def on_clip(side: dict[str, Any]) -> None:
        from firmware.clips.sink import write_json

        write_json(str(folder / f"{side['clip_id']}.custody.json"),
                   _custody(settings, side, report.device, folder / f"{side['clip_id']}.wav"))
        state.advance(side["seq"] + 1, side["sha256"])
        report.clips.append(side)
        if progress is not None:
            progress.print(f"clip {side['clip_id']}: {side['samples'] / 16000:.1f} s", markup=False)

    rec = fw.Recorder(sink, badge, session, seq=state.next_seq, start_epoch=int(now),
                      start_ms=int(now * 1000) % 1000, gain_q8=gain_q8, on_clip=on_clip, **opts)
    stop = _StopOnCtrlC()
    src = _LiveSource(mic, stop)
    umask = os.umask(0o077)  # the badge's clip writer opens files plainly: owner only
    try:
        with stop:
            fw.record_stream(src, rec)  # the badge's loop: read, push, and close the clip
    except OSError as exc:
        try:
            sink.abort_clip()  # removes the clip's .partial file
        except OSError:
            pass  # closing a file on a full disk fails again; the file is gone either way
        if not _is_full(exc):
            raise ListenError(f"cannot write to the spool {spool}: {exc.strerror or exc}") from None
        report.stopped = "disk_full"
    finally:
        os.umask(umask)
        mic.close()
    if report.stopped == "done":
        if stop.requested:
            report.stopped = "interrupted"
        elif src.error:
            report.stopped = f"mic_error: {src.error}"
        elif lis.duration_s <= 0 or lis.duration_s > session_s:
            report.stopped = "session_limit"
    health = rec.health()
    if health.code != "ok":
        report.warnings.append(health.text)  # e.g. "mic silent for 12 min"
    disk = _disk_used_pct(spool)
    if disk is not None and disk >= settings.badge.storage_warn_pct:
        report.warnings.append(f"the spool disk is {disk:.0f}% full")
    report.audio_s = src.samples / fw.RATE_HZ
    report.health = health.as_dict()
    report.health["input_overflows"] = mic.overflows
    return report
