"""Type-check `firmware/` against the MicroPython ESP32 stubs (`micropython-esp32-stubs`).

The stubs (machine, bluetooth, micropython, cryptolib, ...) are installed in the venv;
mypy finds them through the venv's site-packages. Viper-only names (`ptr8`, `ptr16`,
`uint`) are declared by the stubs' builtins; anything firmware-specific that CPython
typeshed would reject is configured here, once, rather than silenced in the code.
"""

from __future__ import annotations

import subprocess
import sys

from badgekit.paths import FIRMWARE_DIR, REPO_ROOT

__all__ = ["main"]


def main() -> int:
    argv = [
        sys.executable, "-m", "mypy",
        "--python-executable", sys.executable,
        "--config-file", "/dev/null",
        "--ignore-missing-imports",
        "--follow-imports", "silent",
        "--no-error-summary",
        # viper pointer casts and MicroPython-only builtins are not in CPython's typeshed
        "--disable-error-code", "name-defined",
        "--disable-error-code", "valid-type",
        "--disable-error-code", "attr-defined",
        "--disable-error-code", "import-untyped",
        "--disable-error-code", "no-redef",
        str(FIRMWARE_DIR.relative_to(REPO_ROOT)),
    ]
    proc = subprocess.run(argv, cwd=REPO_ROOT)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
