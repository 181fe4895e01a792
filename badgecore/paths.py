"""Where badgekit keeps things on a user's machine and in the repository."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import platformdirs

__all__ = [
    "REPO_ROOT",
    "FIRMWARE_DIR",
    "cache_dir",
    "config_dir",
    "data_dir",
    "venv_bin",
    "find_tool",
]

#: The folder that holds `firmware/`, `companion/`, … (the package is installed editable).
REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"


def cache_dir() -> Path:
    """User cache (the joined speech model lives here). `BADGEKIT_CACHE` overrides it."""
    return Path(os.environ.get("BADGEKIT_CACHE") or platformdirs.user_cache_dir("badgekit"))


def config_dir() -> Path:
    """User configuration (companion settings, branch key store)."""
    return Path(os.environ.get("BADGEKIT_CONFIG") or platformdirs.user_config_dir("badgekit"))


def data_dir() -> Path:
    """User data (default spool and outbox)."""
    return Path(os.environ.get("BADGEKIT_DATA") or platformdirs.user_data_dir("badgekit"))


def venv_bin() -> Path:
    """The `bin/` of the interpreter running us: console scripts of our venv live there."""
    return Path(sys.executable).parent


def find_tool(name: str) -> str | None:
    """Find an executable next to our interpreter first (venv), then on PATH and in sbin."""
    local = venv_bin() / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        cand = Path(d) / name
        if cand.exists():
            return str(cand)
    return None
