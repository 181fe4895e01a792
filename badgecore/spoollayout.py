"""The spool's names, shared by the companion (which writes it) and the gateway (which reads it).

    <spool>/<badge>/<session>/<clip id>.wav            the clip
    <spool>/<badge>/<session>/<clip id>.json           its sidecar
    <spool>/<badge>/<session>/<clip id>.custody.json   its custody record, written last
    <spool>/<badge>/.incoming/<clip id>.wav.partial    a clip being received (+ .offset)
    <spool>/<badge>/.ledger.jsonl                      every clip the companion committed
    <spool>/<badge>/.rejected/                         clips that failed verification

Readers never touch dot-names or `*.partial` (`untouched`): those belong to a writer
that has not finished. Badge, session and clip names arrive from a badge, so they are
checked (`check_name`) before they become a path: a name that is not one plain folder
name (`..`, a slash, a leading dot, control characters) could reach outside the spool.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CLIP_SUFFIXES",
    "CUSTODY",
    "INCOMING",
    "LEDGER",
    "OFFSET",
    "PARTIAL",
    "REJECTED",
    "SIDECAR",
    "WAV",
    "SpoolNameError",
    "check_name",
    "clip_file",
    "incoming_file",
    "name_error",
    "offset_file",
    "session_dir",
    "untouched",
]

WAV = ".wav"
SIDECAR = ".json"
CUSTODY = ".custody.json"
CLIP_SUFFIXES = (CUSTODY, WAV, SIDECAR)
"""A clip's files; the custody record first: a name ending in it is not a sidecar."""
INCOMING = ".incoming"
PARTIAL = ".partial"
OFFSET = ".offset"
REJECTED = ".rejected"
LEDGER = ".ledger.jsonl"
MAX_NAME = 128
"""Longest badge, session or clip name (one MQTT topic level at the gateway)."""


class SpoolNameError(ValueError):
    """A badge, session or clip name that cannot be a spool folder or file name."""

    def __init__(self, what: str, value: str, problem: str) -> None:
        super().__init__(f"{what} {value[:40]!r} {problem}")
        self.what = what
        self.value = value


def untouched(name: str) -> bool:
    """True for names a spool reader must leave alone: dot-names and `*.partial`."""
    return name.startswith(".") or name.endswith(PARTIAL)


def name_error(value: str, what: str) -> SpoolNameError | None:
    """Why `value` is not a safe badge/session/clip name, or None when it is."""
    if not value or len(value) > MAX_NAME:
        return SpoolNameError(what, value, f"must be 1-{MAX_NAME} characters")
    if "/" in value or "\\" in value or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return SpoolNameError(what, value, "holds a path separator or a control character")
    if value.startswith("."):
        return SpoolNameError(what, value, "starts with a dot (a path outside the spool, or a hidden name)")
    if value != value.strip():
        return SpoolNameError(what, value, "starts or ends with blanks")
    return None


def check_name(value: str, what: str) -> str:
    """Return `value` if it is a safe single folder or file name, else raise `SpoolNameError`."""
    problem = name_error(value, what)
    if problem is not None:
        raise problem
    return value


def session_dir(spool: Path, badge: str, session: str) -> Path:
    """`<spool>/<badge>/<session>`, after checking both names."""
    return Path(spool) / check_name(badge, "badge") / check_name(session, "session")


def clip_file(folder: Path, clip_id: str, suffix: str) -> Path:
    """One of a clip's files (`WAV`, `SIDECAR`, `CUSTODY`) in its session folder."""
    return Path(folder) / f"{check_name(clip_id, 'clip id')}{suffix}"


def incoming_file(spool: Path, badge: str, clip_id: str) -> Path:
    """Where a clip is received before it is verified (its `.offset` lies beside it)."""
    return (Path(spool) / check_name(badge, "badge") / INCOMING
            / f"{check_name(clip_id, 'clip id')}{WAV}{PARTIAL}")


def offset_file(partial: Path) -> Path:
    """The durable length record beside a clip being received."""
    return partial.with_name(partial.name + OFFSET)
