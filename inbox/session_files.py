"""Read one received session folder, verify it, and hold it in memory (no database here).

    files = read_session(out / tenant / branch / badge / session)   # or raise ImportRefused

The folder is the receiver's layout (docs/contracts.md, "Delivery"): `clips/<clip id>.wav
|.json|.custody.json`, `transcript.json`, `findings.json`, `manifest.json`. Every path level
is checked with the receiver's own `topics.check_level`, every clip with `badgecore.clipcheck.check_clip`
(trailer hash, then the hash in the clip record) and the session's clips with its
`chain_gaps` (the verifier the gateway uses), so a fix there carries over. Anything that does not verify refuses the whole
session with one reason: a meeting is filed complete or not at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from badgecore.clipcheck import ZERO_HASH, ClipCheck, chain_gaps, check_clip
from gateway.delivery.errors import TopicError
from gateway.delivery.integrity import folder_integrity
from gateway.delivery.topics import check_level
from inbox.errors import ImportRefused

__all__ = ["ClipFile", "SessionFiles", "find_sessions", "parse_time", "read_session"]

MAX_JSON_BYTES = 32 << 20
MAX_WAV_BYTES = 256 << 20
_CLIP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,159}")


@dataclass
class ClipFile:
    clip_id: str
    seq: int
    sha256: str
    prev_sha256: str
    wav: bytes
    offset_s: float
    offset_samples: int
    """Where the clip starts on the session's time line (the renderer places it here exactly)."""
    seconds: float
    start_time: str | None
    recovered: bool
    dropped_ms: int
    record: dict[str, Any]
    custody: dict[str, Any]


@dataclass
class SessionFiles:
    tenant: str
    branch: str
    badge: str
    session: str
    clips: list[ClipFile]
    transcript: dict[str, Any] | None
    findings: dict[str, Any] | None
    manifest: dict[str, Any] | None
    gaps: list[dict[str, Any]] = field(default_factory=list)
    integrity: dict[str, Any] | None = None
    """The receiver's integrity record of the folder (`gateway.delivery.integrity`), where built."""
    raw: dict[str, bytes] = field(default_factory=dict)
    """The session documents as received (`transcript.json`, `transcript.vtt`, …), verbatim."""
    revision: int = 0
    digest: str = ""

    @property
    def where(self) -> str:
        return f"{self.tenant}/{self.branch}/{self.badge}/{self.session}"

    @property
    def agent(self) -> str:
        for c in self.clips:
            if c.custody.get("agent"):
                return str(c.custody["agent"])
        if self.findings and self.findings.get("agent"):
            return str(self.findings["agent"])
        return self.badge

    @property
    def case_id(self) -> str | None:
        for doc in (self.transcript, self.findings):
            if doc and doc.get("case_id"):
                return str(doc["case_id"])[:128]
        for c in self.clips:
            if c.record.get("case_id"):
                return str(c.record["case_id"])[:128]
        return None

    @property
    def started_at(self) -> datetime:
        for value in ((self.findings or {}).get("started"), (self.transcript or {}).get("session_start"),
                      *(c.start_time for c in self.clips)):
            t = parse_time(value)
            if t is not None:
                return t
        raise ImportRefused(self.where, "no start time in the findings, transcript or clip records")

    @property
    def duration_s(self) -> float:
        end = max((c.offset_s + c.seconds for c in self.clips), default=0.0)
        return round(max(end, float((self.transcript or {}).get("duration_s") or 0.0)), 3)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 UTC time as a naive UTC datetime (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def find_sessions(root: Path) -> list[Path]:
    """Session folders under a receiver's output folder (or the folder itself)."""
    root = Path(root)
    if (root / "clips").is_dir():
        return [root]
    return sorted(p.parent for p in root.glob("*/*/*/*/clips") if p.is_dir() and not p.is_symlink())


def _json(path: Path, where: str, what: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    if path.is_symlink() or not path.is_file():
        raise ImportRefused(where, f"{what} is not a regular file")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ImportRefused(where, f"{what} is larger than {MAX_JSON_BYTES >> 20} MiB")
    try:
        doc = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(where, f"{what} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(where, f"{what} must be a JSON object")
    return doc


def _number(d: dict[str, Any], key: str, default: float = 0.0) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return default
    return float(v)


def _clip(folder: Path, wav_path: Path, where: str, digest: Any) -> ClipFile:
    clip_id = wav_path.stem
    if not _CLIP_NAME.fullmatch(clip_id) or wav_path.is_symlink():
        raise ImportRefused(where, f"clips/{wav_path.name}: not a clip file name")
    if wav_path.stat().st_size > MAX_WAV_BYTES:
        raise ImportRefused(where, f"clips/{wav_path.name} is larger than {MAX_WAV_BYTES >> 20} MiB")
    record = _json(folder / f"{clip_id}.json", where, f"clips/{clip_id}.json")
    if record is None:
        raise ImportRefused(where, f"clips/{clip_id}.json (the clip record) is missing")
    sidecar = record.get("sidecar", record)
    if not isinstance(sidecar, dict):
        raise ImportRefused(where, f"clips/{clip_id}.json: the sidecar is not an object")
    wav = wav_path.read_bytes()
    check = check_clip(io.BytesIO(wav), expect_sha256=str(sidecar.get("sha256", "")) or None)
    if not check.ok:
        raise ImportRefused(where, f"clip {clip_id} does not verify: {check.reason}")
    if check.clip_id != clip_id:
        raise ImportRefused(where, f"clips/{wav_path.name} holds clip {check.clip_id}")
    custody_doc = _json(folder / f"{clip_id}.custody.json", where, f"clips/{clip_id}.custody.json") or {}
    custody = custody_doc.get("record", custody_doc)
    if not isinstance(custody, dict):
        custody = {}
    if isinstance(custody_doc.get("gateway"), str):  # who delivered it, beside the companion's record
        custody = {**custody, "gateway": custody_doc["gateway"]}
    if custody.get("sha256") not in (None, check.sha256):
        raise ImportRefused(where, f"the custody record of {clip_id} names another hash")
    for name in (f"{clip_id}.wav", f"{clip_id}.json", f"{clip_id}.custody.json"):
        p = folder / name
        if p.exists():
            digest.update(name.encode() + hashlib.sha256(p.read_bytes()).digest())
    rate = _number(sidecar, "sample_rate", 16000.0) or 16000.0
    return ClipFile(
        clip_id=clip_id, seq=check.seq or 0, sha256=check.sha256 or "", prev_sha256=check.prev_sha256 or "", wav=wav,
        offset_s=round(_number(sidecar, "session_offset_samples") / rate, 3),
        offset_samples=int(_number(sidecar, "session_offset_samples") * 16000 / rate),
        seconds=round(_number(sidecar, "samples") / rate, 3),
        start_time=sidecar.get("start_time") if isinstance(sidecar.get("start_time"), str) else None,
        recovered=check.recovered, dropped_ms=int(_number(sidecar, "dropped_ms")),
        record=sidecar, custody=custody)


def _gaps(files: SessionFiles) -> list[dict[str, Any]]:
    """Breaks inside this session's chain (the receiver's chain_gaps) and the manifest's."""
    checks = [ClipCheck.link(c.clip_id, c.seq, c.sha256, c.prev_sha256) for c in files.clips]
    at = {c.clip_id: c.offset_s for c in files.clips}
    out: list[dict[str, Any]] = []
    for g in chain_gaps(files.badge, checks):
        if not g.after_clip and checks and min(checks, key=lambda c: c.seq or 0).prev_sha256 != ZERO_HASH:
            continue  # the clip before this session's first is in an earlier session
        out.append({**g.as_dict(), "at_s": at.get(g.before_clip, 0.0), "source": "chain"})
    seen = {(g["after_clip"], g["before_clip"]) for g in out}
    for g in (files.manifest or {}).get("gaps") or []:
        if isinstance(g, dict) and (g.get("after_clip"), g.get("before_clip")) not in seen:
            out.append({"badge": files.badge, "after_clip": str(g.get("after_clip") or ""),
                        "before_clip": str(g.get("before_clip") or ""),
                        "missing_seqs": [int(s) for s in g.get("missing_seqs") or [] if isinstance(s, int)],
                        "reason": str(g.get("reason") or ""), "at_s": at.get(str(g.get("before_clip")), 0.0),
                        "source": "manifest"})
    return out


def read_session(folder: Path) -> SessionFiles:
    """Read and verify `<tenant>/<branch>/<badge>/<session>`; raise ImportRefused."""
    folder = Path(folder)
    levels = folder.resolve().parts[-4:]
    where = "/".join(levels)
    try:
        tenant, branch, badge, session = (check_level(v, w) for v, w in
                                          zip(levels, ("tenant", "branch", "badge", "session"), strict=True))
    except (TopicError, ValueError) as exc:
        raise ImportRefused(where, str(exc)) from None
    digest = hashlib.sha256()
    docs: dict[str, dict[str, Any] | None] = {}
    raw: dict[str, bytes] = {}
    for kind in ("transcript", "findings", "manifest"):
        doc = _json(folder / f"{kind}.json", where, f"{kind}.json")
        docs[kind] = doc
        if doc is not None:
            raw[f"{kind}.json"] = (folder / f"{kind}.json").read_bytes()
            digest.update(kind.encode() + hashlib.sha256(raw[f"{kind}.json"]).digest())
            for key, want in (("badge", badge), ("session", session)):
                if doc.get(key) not in (None, want):
                    raise ImportRefused(where, f"{kind}.json names {key} {doc.get(key)!r}")
    vtt = folder / "transcript.vtt"
    if vtt.is_file() and not vtt.is_symlink() and vtt.stat().st_size <= MAX_JSON_BYTES:
        raw["transcript.vtt"] = vtt.read_bytes()
    clip_dir = folder / "clips"
    wavs = sorted(p for p in clip_dir.glob("*.wav") if not p.name.startswith("."))
    if not wavs:
        raise ImportRefused(where, "no clips")
    clips = sorted((_clip(clip_dir, p, where, digest) for p in wavs), key=lambda c: c.seq)
    for c in clips:
        for key, want in (("badge", badge), ("session", session)):
            if c.record.get(key) not in (None, want):
                raise ImportRefused(where, f"clip {c.clip_id} belongs to {key} {c.record.get(key)!r}")
    inner_t = (docs["transcript"] or {}).get("transcript")
    inner_f = (docs["findings"] or {}).get("findings")
    files = SessionFiles(
        tenant, branch, badge, session, clips,
        transcript=inner_t if isinstance(inner_t, dict) else None,
        findings=inner_f if isinstance(inner_f, dict) else None,
        manifest=docs["manifest"], raw=raw,
        revision=max(int(_number(d, "revision")) for d in (*docs.values(), {}) if d is not None),
        digest=digest.hexdigest())
    files.gaps = _gaps(files)
    files.integrity = _integrity(folder, where)
    if files.integrity is not None:
        raw["integrity.json"] = json.dumps(files.integrity, ensure_ascii=False, sort_keys=True).encode()
    files.started_at  # noqa: B018 - refuse a session without any start time now
    return files


def _integrity(folder: Path, where: str) -> dict[str, Any] | None:
    """The receiver's own verdict on a session folder (badge MACs, signed records, manifest),
    where the gateway has one; a `failed` folder is refused like a clip that does not verify."""
    rec = folder_integrity(folder)
    if not isinstance(rec, dict):
        return None
    if rec.get("status") == "failed":
        bad = ", ".join(str(c) for c in [*(rec.get("failed") or []), *(rec.get("bad_mac") or [])][:5])
        raise ImportRefused(where, f"the receiver's integrity check failed ({bad})")
    return rec
