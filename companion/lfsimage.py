"""Recover clips from a littlefs image dumped from a badge (one that no longer boots).

Reads the image with littlefs-python on a private copy (the dump is never modified),
decrypts every clip file with the badge's key (from the branch key store: it was
issued at enrollment), closes unfinished clips in memory exactly as the badge's boot
recovery would, and writes standard WAV + JSON sidecar files, each verified with
``firmware.clips.fmt`` (hash and chain) before it is renamed into place.

    from companion.lfsimage import recover_image
    report = recover_image("badge.img", "out/", keys=[key])
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from badgecore.atomicfile import write_atomic
from companion.errors import CompanionError
from firmware import aesctr
from firmware.clips import file as clipfile
from firmware.clips import fmt as clipfmt
from firmware.clips.index import STATE_NAMES, ClipIndex, IndexCorruptError

__all__ = ["LfsImageError", "ImageClip", "open_image", "iter_clips", "recover_image", "load_keys"]


class LfsImageError(CompanionError, RuntimeError):
    """The image cannot be mounted or holds no badgekit store."""


@dataclass(frozen=True)
class ImageClip:
    """One clip found in an image. ``state``: the index's word for it (closed, synced,
    acked, quarantined, missing, or unknown); ``problem`` is set when it is unreadable."""

    clip_id: str
    state: str
    header: clipfmt.Header | None
    trailer: clipfmt.Trailer | None
    audio: bytes
    quarantined: bool
    problem: str = ""

    def wav_bytes(self) -> bytes:
        assert self.header is not None and self.trailer is not None
        t = self.trailer
        traw = t.raw if t.raw is not None else clipfmt.pack_trailer(t)
        return clipfmt.wav_prefix(self.header.raw, traw, t.data_len, t.samples,
                                  self.header.sample_rate, t.seal) + self.audio


def load_keys(values: Iterable[str]) -> dict[bytes, bytes]:
    """Keys from hex strings or files (raw 16/32 bytes, hex text, or a badge key file)."""
    keys: dict[bytes, bytes] = {}
    for v in values:
        found: list[bytes] = []
        p = Path(v)
        if p.is_file():
            raw = p.read_bytes()
            if len(raw) in (16, 32):
                found = [raw]
            else:
                text = raw.decode(errors="replace").strip()
                if text.startswith("{"):
                    d = json.loads(text)
                    found = [bytes.fromhex(d["key"])] + [bytes.fromhex(k) for k in d.get("old", [])]
                else:
                    found = [bytes.fromhex(text)]
        else:
            try:
                found = [bytes.fromhex(v)]
            except ValueError:
                raise LfsImageError(f"key {v!r} is neither a file nor hex") from None
        for k in found:
            if len(k) not in (16, 32):
                raise LfsImageError(f"key from {v!r} is {len(k)} bytes; AES keys are 16 or 32")
            keys[aesctr.key_id(k)] = k
    return keys


def open_image(path: str | Path, block_size: int = 4096):
    """Mount a copy of the image with littlefs-python (geometry of MicroPython's VfsLfs2)."""
    from littlefs import LittleFS, UserContext

    data = bytearray(Path(path).read_bytes())
    if not data or len(data) % block_size:
        raise LfsImageError(f"{path}: size {len(data)} is not a multiple of {block_size}")
    # mount=False: littlefs-python would format an image it cannot mount
    fs = LittleFS(context=UserContext(len(data), data), block_size=block_size,
                  block_count=len(data) // block_size, read_size=32, prog_size=32,
                  lookahead_size=32, mount=False)
    try:
        fs.mount()
    except Exception as exc:  # littlefs raises LittleFSError and friends
        raise LfsImageError(f"{path}: not a mountable littlefs image ({exc})") from exc
    return fs


def _read(fs, path: str) -> bytes:
    with fs.open(path, "rb") as f:
        return f.read()


def _index(fs, root: str) -> ClipIndex | None:
    idx = ClipIndex(root)
    try:
        idx.load_bytes(_read(fs, f"{root}/index.log"))
    except (OSError, IndexCorruptError, ValueError):
        return None
    except Exception:  # littlefs-python's not-found error is not an OSError subclass everywhere
        return None
    return idx


def iter_clips(image: str | Path, keys: dict[bytes, bytes], root: str = "store",
               block_size: int = 4096, lost_bound_ms: int = 500) -> Iterator[ImageClip]:
    """Yield every clip file of the store in the image, in seq order (work starts at once)."""
    fs = open_image(image, block_size)
    try:
        names = fs.listdir(f"{root}/clips")
    except Exception as exc:
        raise LfsImageError(f"{image}: no badgekit store at /{root}") from exc
    try:
        qnames = fs.listdir(f"{root}/q")
    except Exception:
        qnames = []
    idx = _index(fs, root)
    found = [(n, False) for n in names if n.endswith(".bkc")]
    found += [(n, True) for n in qnames if n.endswith(".bkc")]
    found.sort(key=lambda x: x[0])
    for name, quarantined in found:
        cid = name[:-4]
        try:
            seq = int(cid.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            seq = -1
        entry = idx.entries.get(seq) if idx else None
        state = STATE_NAMES.get(entry.state, "unknown") if entry else "unknown"
        data = _read(fs, f"{root}/{'q' if quarantined else 'clips'}/{name}")
        try:
            hdr, trl, audio = clipfile.decode(data, keys, lost_bound_ms)
        except (OSError, ValueError) as exc:
            yield ImageClip(cid, state, None, None, b"", quarantined, str(exc))
            continue
        yield ImageClip(cid, state, hdr, trl, audio, quarantined)


def recover_image(image: str | Path, out_dir: str | Path, keys: dict[bytes, bytes],
                  root: str = "store", block_size: int = 4096) -> list[dict]:
    """Write ``<clip id>.wav`` + ``.json`` for every readable clip; return one report each.

    Each report: clip_id, state, ok, recovered, chain ("ok", "first", "gap" or "broken"),
    problem. Acknowledged clips whose deletion a power cut interrupted are exported too
    (state "acked"): the branch already holds them, nothing is lost by a second copy.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reports: list[dict] = []
    prev_seq, prev_sha = None, None
    for clip in iter_clips(image, keys, root, block_size):
        rep = {"clip_id": clip.clip_id, "state": clip.state, "ok": False, "recovered": False,
               "chain": "", "problem": clip.problem, "quarantined": clip.quarantined}
        reports.append(rep)
        if clip.header is None or clip.trailer is None:
            continue
        wav = clip.wav_bytes()
        try:
            info = clipfmt.verify_wav(io.BytesIO(wav))
        except clipfmt.ClipFormatError as exc:
            rep["problem"] = str(exc)
            continue
        h = clip.header
        if prev_seq is None:
            rep["chain"] = "first"
        elif h.seq == prev_seq + 1:
            rep["chain"] = "ok" if h.prev_sha256 == prev_sha else "broken"
        else:
            rep["chain"] = "gap"
        prev_seq, prev_sha = h.seq, info.sha256
        side = info.sidecar()
        write_atomic(out / f"{clip.clip_id}.wav", wav)
        write_atomic(out / f"{clip.clip_id}.json",
                      (json.dumps(side, indent=2, sort_keys=True) + "\n").encode())
        rep.update(ok=True, recovered=clip.trailer.recovered, sha256=info.sha256,
                   samples=clip.trailer.samples)
    return reports
