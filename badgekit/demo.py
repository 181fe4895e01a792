"""`badgekit demo`: the whole chain on one machine, end to end, with nothing to set up.

Stages (each timed, each a real part):
  1. meeting   build a meeting-like recording (shared speech, `--input`, `--mic`, or
               speech synthesised on the spot) and say which was used;
  2. enrol     the companion enrols both simulated badges (each keeps its enrollment in
               its state folder), so from then on they seal every clip they close;
  3. record    the firmware recording path under the real MicroPython unix port, on two
               badges: the agent's meeting badge and a second badge with a short turn;
               each seals its clips with the clip key it derives from its enrollment
               secret (clip format 2);
  4. sync      the simulated badges serve those clips; the companion syncs one over the
               pty serial link and the other over the bumble BLE link, verifying hashes,
               seals and the chain and writing custody records;
  5. gateway   a local Mosquitto, the gateway transcribing the spool and publishing over
               MQTT, the reference receiver writing and verifying every session;
  6. summary   clips recorded / synced / transcribed / published / received / verified /
               authenticated (the seal checked by the companion, the gateway, the
               receiver and the demo itself), seconds of speech kept, the transcript with
               times, wall time per stage.

Every helper process is started in its own process group and stopped on the way out,
so nothing keeps running after the demo, even on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from badgecore.cli_convention import BAD_INPUT, FINDINGS

__all__ = ["DemoSummary", "run_demo"]

BADGKIT = [sys.executable, "-m", "badgekit"]


@dataclass
class DemoSummary:
    source: str = ""
    recorded: int = 0
    synced: int = 0
    transcribed: int = 0
    published: int = 0
    received: int = 0
    verified: int = 0
    authenticated: int = 0
    """Clips whose seal the companion, the gateway, the receiver and the demo all verified."""
    speech_seconds_kept: float = 0.0
    input_seconds: float = 0.0
    transcript: list[dict] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    inbox: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.__dict__)


class DemoError(RuntimeError):
    """A stage failed; the message says which and why, `code` is the exit code it ends with."""

    def __init__(self, message: str, code: int = FINDINGS) -> None:
        super().__init__(message)
        self.code = code


class _Procs:
    """Background processes of the demo; all are killed (with their groups) at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGINT)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()


def _cli(args: list[str], timeout: float = 600, what: str = "") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(BADGKIT + args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise DemoError(f"{what or args[0]} failed ({proc.returncode}): " + " | ".join(tail))
    return proc


@contextmanager
def _stage(console: Console, summary: DemoSummary, name: str, quiet: bool) -> Iterator[None]:
    t0 = time.monotonic()
    if quiet:
        yield
    else:
        with console.status(f"[bold]{name}[/] …"):
            yield
    dt = time.monotonic() - t0
    summary.stage_seconds[name] = round(dt, 2)
    if not quiet:
        console.print(f"[green]✓[/] {name} ({dt:.1f} s)")


# ---------------------------------------------------------------- stage 1: the meeting


def _make_meeting(work: Path, input: str | None, mic: bool, mic_seconds: float) -> tuple[Path, str, str]:
    """Return (wav path, which source was used, language)."""
    from badgekit.meeting import (
        DEFAULT_SCRIPT_EN,
        build_meeting,
        manifest_references,
        shared_speech_dir,
        synthesize_speech,
        write_wav,
    )

    if input:
        path = Path(input).expanduser()
        if not path.is_file():
            raise DemoError(f"--input {path}: no such file", BAD_INPUT)
        return path, f"--input {path}", "zh"
    if mic:
        import numpy as np
        import sounddevice as sd

        pcm = sd.rec(int(mic_seconds * 16000), samplerate=16000, channels=1, dtype="int16")
        sd.wait()
        return write_wav(work / "mic.wav", np.asarray(pcm).reshape(-1)), f"--mic ({mic_seconds:.0f} s)", "zh"
    speech = shared_speech_dir()
    if speech:
        utts = sorted(speech.glob("*.wav"))
        m = build_meeting(utts, references=manifest_references(speech), seed=7, noise="pink",
                          snr_db=25, pause_s=(1.0, 3.0), level_spread_db=3)
        return m.write(work / "meeting.wav"), f"real Mandarin speech from {speech} ({m.seconds:.0f} s meeting)", "zh"
    utts = synthesize_speech(DEFAULT_SCRIPT_EN, work / "tts")
    m = build_meeting(utts, seed=7, noise="pink", snr_db=25, pause_s=(1.0, 3.0), level_spread_db=3)
    return m.write(work / "meeting.wav"), "English speech synthesised with espeak-ng (no recordings found)", "en"


# ---------------------------------------------------------------- stages 2-3: badges


@dataclass
class _Badge:
    badge_id: str
    agent: str
    link: str  # "serial" | "ble"
    clips: Path
    state: Path  # the badge's state folder: its enrollment, kept across `sim badge` runs
    recorded: list[dict] = field(default_factory=list)


def _record(badge: _Badge, meeting: Path) -> None:
    _cli(["sim", "record", str(meeting), "--out", str(badge.clips), "--interpreter", "micropython",
          "--badge", badge.badge_id, "--state", str(badge.state)], what=f"recording on {badge.badge_id}")
    badge.recorded = [json.loads(p.read_text()) for p in sorted(badge.clips.glob("*.json"))]
    if not badge.recorded:
        raise DemoError(f"{badge.badge_id} recorded no clips: the input holds no speech")


def _serve(procs: _Procs, badge: _Badge) -> list[str]:
    """Start the simulated badge; return the companion's link options."""
    argv = BADGKIT + ["sim", "badge", "--clips", str(badge.clips), "--badge", badge.badge_id,
                      "--state", str(badge.state)]
    if badge.link == "ble":
        argv.append("--ble")
    p = procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    first = p.stdout.readline().strip()
    if badge.link == "serial" and first.startswith("serial: "):
        return ["--port", first.split(": ", 1)[1]]
    if badge.link == "ble" and first.startswith("ble: "):
        parts = first.split()
        return ["--ble", parts[1], "--hci", parts[3]]
    err = p.stderr.read() if p.poll() is not None and p.stderr else ""
    raise DemoError(f"simulated badge {badge.badge_id} did not start: {first} {err}".strip())


def _enrol(procs: _Procs, badge: _Badge, keystore: Path) -> None:
    """Enrol the badge before it records, so it seals every clip (the badge keeps its
    enrollment in its state folder; the branch keeps the secret in its key store)."""
    badge.clips.mkdir(parents=True, exist_ok=True)  # nothing recorded yet
    link = _serve(procs, badge)
    _cli(["companion", "enroll", *link, "--agent", badge.agent, "--keystore", str(keystore), "--branch",
          "demo-branch"], what=f"enroll {badge.badge_id}")
    procs.stop_all()


def _sync(procs: _Procs, badge: _Badge, spool: Path, keystore: Path) -> dict:
    link = _serve(procs, badge)
    common = ["--keystore", str(keystore), "--branch", "demo-branch"]
    out = _cli(["companion", "sync", *link, "--spool", str(spool), "--json", *common],
               what=f"sync {badge.badge_id} over {badge.link}").stdout
    return json.loads(out)


# ---------------------------------------------------------------- stage 4: gateway and receiver


def _model_or_fail(model: str | None) -> None:
    """No speech model means no transcript: say so before anything runs (not `transcribed: 0`)."""
    from gateway.model import ModelError, resolve

    try:
        resolve(model)
    except ModelError as exc:
        raise DemoError(f"no speech model: {exc}; or run with --no-transcribe to skip transcription "
                        "on purpose", BAD_INPUT) from None


def _deliver(procs: _Procs, work: Path, spool: Path, language: str, model: str | None,
             transcribe: bool = True) -> tuple[dict, dict]:
    from badgekit.broker import LocalBroker

    broker = LocalBroker(workdir=work / "broker").start()
    try:
        recv_out = work / "received"
        # the gateway's signing key, enrolled with the receiver, which keeps only what verifies
        key, keys = work / "gateway.key", work / "keys"
        _cli(["gateway", "key", "new", "--key", str(key), "--gateway-id", "demo-gw"], what="gateway key new")
        _cli(["gateway", "key", "enrol", f"{key}.pub", "--keys", str(keys), "--tenant", "demo", "--branch",
              "demo-branch", "--gateway-id", "demo-gw"], what="gateway key enrol")
        # the badges' clip keys, so that the gateway checks every clip's seal (clip format 2)
        badge_keys = work / "badge-keys.json"
        _cli(["companion", "clip-keys", "--out", str(badge_keys), "--keystore", str(work / "keystore.json")],
             what="companion clip-keys")
        receiver = procs.start(
            BADGKIT + ["gateway", "receive", "--mqtt", broker.url, "--out", str(recv_out),
                       "--keys", str(keys), "--badge-keys", str(badge_keys), "--json", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gw_args = ["gateway", "run", "--spool", str(spool), "--mqtt", broker.url, "--once", "--json",
                   "--settle-s", "0", "--language", language, "--tenant", "demo", "--branch", "demo-branch",
                   "--gateway-id", "demo-gw", "--signing-key", str(key), "--badge-keys", str(badge_keys)]
        if model:
            gw_args += ["--model", model]
        if not transcribe:
            gw_args.append("--no-transcribe")
        gateway = json.loads(_cli(gw_args, what="gateway").stdout)
        # `gateway run --once` returns only when the receiver has confirmed every message,
        # so the receiver can be told to stop now and print its summary.
        os.killpg(receiver.pid, signal.SIGTERM)
        try:
            out, err = receiver.communicate(timeout=300)
        except subprocess.TimeoutExpired as exc:
            raise DemoError("the receiver did not stop within 5 minutes") from exc
        if receiver.returncode not in (0, 1):
            raise DemoError(f"receiver failed ({receiver.returncode}): {err.strip()[-300:]}")
        return gateway, json.loads(out)
    finally:
        broker.close()


def _authenticated(work: Path, spool: Path, received: dict, badges: list[_Badge]) -> tuple[int, list[str]]:
    """Clips whose seal every stage verified: the companion (spool sidecar), the gateway (its
    signed clip record), the receiver (its summary) and here, with the branch's clip keys."""
    from badgecore.badgekeys import load_badge_keys
    from firmware.clips import mac as clipmac

    keys = load_badge_keys(work / "badge-keys.json")
    recv_out = work / "received"
    n, problems = 0, []
    for badge in badges:
        for rec in badge.recorded:
            cid = rec["clip_id"]
            seen = {"companion": "missing", "gateway": "missing", "receiver": received.get("auth", {}).get(cid, "missing"),
                    "demo": "missing"}
            for side in spool.rglob(f"{cid}.json"):
                seen["companion"] = json.loads(side.read_text()).get("auth", "missing")
            for doc in recv_out.rglob(f"clips/{cid}.json"):
                seen["gateway"] = json.loads(doc.read_text()).get("auth", "missing")
            for wav in recv_out.rglob(f"clips/{cid}.wav"):
                with open(wav, "rb") as f:
                    seen["demo"] = clipmac.verify_wav(f, keys).status
            if set(seen.values()) == {clipmac.AUTHENTICATED}:
                n += 1
            else:
                problems.append(f"{cid}: seal not authenticated everywhere: {seen}")
    return n, problems


def _verify_received(recv_out: Path, badges: list[_Badge]) -> tuple[int, list[str]]:
    """Check each received clip against what the badge recorded: same hash, intact WAV, chain."""
    from firmware.clips import fmt as clipfmt

    verified, problems = 0, []
    for badge in badges:
        prev = None
        for rec in sorted(badge.recorded, key=lambda r: r["seq"]):
            found = list(recv_out.rglob(f"{rec['clip_id']}.wav"))
            if not found:
                problems.append(f"{rec['clip_id']}: not received")
                prev = None
                continue
            try:
                with open(found[0], "rb") as f:
                    clipfmt.verify_wav(f, prev_sha256=prev or rec["prev_sha256"], expect_sha256=rec["sha256"])
            except Exception as exc:  # noqa: BLE001 - every failure is reported by clip
                problems.append(f"{rec['clip_id']}: {exc}")
                prev = None
                continue
            verified += 1
            prev = rec["sha256"]
    return verified, problems


def _transcript(recv_out: Path, badge_id: str) -> list[dict]:
    segs: list[dict] = []
    for path in sorted(recv_out.rglob("transcript.json")):
        doc = json.loads(path.read_text())
        if doc.get("badge") != badge_id:
            continue
        for s in doc.get("transcript", {}).get("segments", []):
            segs.append({"start": s["start"], "end": s["end"], "wall_start": s.get("wall_start"),
                         "text": s["text"]})
    return segs


# ---------------------------------------------------------------- the whole run


def _table(summary: DemoSummary) -> Table:
    t = Table(title="badgekit demo: one meeting from badge to compliance")
    cols = ("recorded", "synced", "transcribed", "published", "received", "verified", "authenticated")
    for col in cols:
        t.add_column(col, justify="right")
    t.add_row(*(str(getattr(summary, c)) for c in cols))
    return t


def _print_summary(console: Console, summary: DemoSummary) -> None:
    console.print(Text(f"source: {summary.source}"))
    console.print(_table(summary))
    console.print(f"speech kept: {summary.speech_seconds_kept:.1f} s of {summary.input_seconds:.1f} s "
                  f"per badge; links: {summary.links}")
    tr = Table(title="transcript (agent's badge)")
    tr.add_column("from", justify="right")
    tr.add_column("to", justify="right")
    tr.add_column("wall clock (UTC)")
    tr.add_column("text")
    for s in summary.transcript:
        tr.add_row(f"{s['start']:.1f}", f"{s['end']:.1f}", (s.get("wall_start") or "")[11:19], Text(s["text"]))
    console.print(tr)
    st = Table(title="wall time per stage")
    st.add_column("stage")
    st.add_column("seconds", justify="right")
    for k, v in summary.stage_seconds.items():
        st.add_row(k, f"{v:.1f}")
    console.print(st)
    for g in summary.gaps:
        console.print(Text.assemble(("problem:", "red"), f" {g}"))


def run_demo(input: str | None = None, mic: bool = False, json_out: bool = False,
             model: str | None = None, mic_seconds: float = 20.0, keep: str | None = None,
             transcribe: bool = True, inbox: bool = True, listen: str = "127.0.0.1:8470") -> int:
    from badgecore.paths import data_dir

    # the user's, so the inbox outlives the demo's work folder (with --keep: beside the rest)
    inbox_store = Path(keep) / "inbox" if keep else data_dir() / "demo-inbox"
    console = Console(stderr=json_out)
    quiet = json_out
    summary = DemoSummary()
    procs = _Procs()
    tmp = tempfile.TemporaryDirectory(prefix="badgekit-demo-")
    work = Path(keep) if keep else Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    env_keys = {"BADGEKIT_CONFIG": str(work / "config"), "BADGEKIT_DATA": str(work / "data")}
    saved_env = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)  # the demo's badges and keys never touch the user's real ones
    badges = [
        _Badge("BK-DEMO-0001", "agent-wang", "serial", work / "clips-serial", work / "badge-state" / "BK-DEMO-0001"),
        _Badge("BK-DEMO-0002", "agent-li", "ble", work / "clips-ble", work / "badge-state" / "BK-DEMO-0002"),
    ]
    spool = work / "spool"
    try:
        if transcribe:
            _model_or_fail(model)
        with _stage(console, summary, "meeting", quiet):
            meeting, summary.source, language = _make_meeting(work, input, mic, mic_seconds)
            from badgekit.meeting import read_wav

            try:
                x, rate = read_wav(meeting)
            except (ValueError, OSError) as exc:
                raise DemoError(f"cannot read the meeting recording: {exc}") from None
            if len(x) == 0:
                raise DemoError(f"{meeting} holds no audio")
            summary.input_seconds = round(len(x) / rate, 2)
        if not quiet:
            console.print(Text(f"  source: {summary.source}"))
        with _stage(console, summary, "enrol", quiet):
            for b in badges:
                _enrol(procs, b, work / "keystore.json")
        with _stage(console, summary, "record (MicroPython)", quiet):
            for b in badges:
                _record(b, meeting)
            summary.recorded = sum(len(b.recorded) for b in badges)
            summary.speech_seconds_kept = round(sum(r["samples"] for r in badges[0].recorded) / 16000, 2)
        with _stage(console, summary, "sync (serial + BLE)", quiet):
            for b in badges:
                results = _sync(procs, b, spool, work / "keystore.json")
                for r in results:
                    if isinstance(r, str):
                        raise DemoError(f"sync {b.badge_id}: {r}")
                    summary.synced += int(r["synced"])
                    summary.links[b.link] = summary.links.get(b.link, 0) + int(r["synced"])
            procs.stop_all()
        with _stage(console, summary, "transcribe + publish + receive", quiet):
            gateway, received = _deliver(procs, work, spool, language, model, transcribe)
            summary.transcribed = sum(len(b.recorded) for b in badges) if gateway.get(
                "sessions_transcribed", 0) >= len(badges) else 0
            summary.published = int(gateway.get("clips_in", 0)) if gateway.get("delivered") else 0
            summary.received = int(received.get("clips_received", 0))
            summary.gaps += [str(g) for g in received.get("gaps", []) + received.get("failed", [])]
        with _stage(console, summary, "verify", quiet):
            summary.verified, problems = _verify_received(work / "received", badges)
            summary.gaps += problems
            summary.authenticated, unsealed = _authenticated(work, spool, received, badges)
            summary.gaps += unsealed
            summary.transcript = _transcript(work / "received", badges[0].badge_id)
        if inbox:
            with _stage(console, summary, "inbox", quiet):
                from badgekit.demo_inbox import load

                summary.inbox = load(work / "received", inbox_store, listen)
    except DemoError as exc:
        console.print(Text.assemble(("demo failed:", "red"), f" {exc}"))
        return exc.code
    finally:
        procs.stop_all()
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if not keep:
            tmp.cleanup()
    if json_out:
        print(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_summary(console, summary)
    ok = summary.verified == summary.recorded == summary.received == summary.authenticated and not summary.gaps
    ok = ok and (summary.transcribed == summary.recorded or not transcribe)  # --no-transcribe: skipped on purpose
    if summary.inbox and not json_out:
        i = summary.inbox
        console.print(f"[bold]inbox:[/] {i['url']}  login [bold]{i['user']}[/] / [bold]{i['password']}[/]"
                      f"  ({i['meetings']} meetings; later: {i['serve']})")
        if sys.stdout.isatty():
            console.print("serving the inbox; Ctrl-C to stop")
            from badgekit.demo_inbox import serve

            try:
                serve(inbox_store, listen)
            except KeyboardInterrupt:
                pass
    return 0 if ok else 1
