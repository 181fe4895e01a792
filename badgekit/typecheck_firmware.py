"""Type-check `firmware/` as MicroPython code, against `micropython-esp32-stubs`.

The stubs package installs MicroPython's own typeshed (`stdlib/`, whose builtins know
viper's `ptr8`, `ptr16`, `uint`) and the port modules (`machine`, `bluetooth`,
`micropython`, `cryptolib`, ...) into site-packages. mypy gets that typeshed as its
custom typeshed and a folder of links to the port modules as its path, with CPython's
site-packages switched off, so firmware is checked against what the badge really has.
Errors inside the third-party stubs themselves are not ours and are silenced.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from badgecore.paths import FIRMWARE_DIR, REPO_ROOT

__all__ = ["main"]


def _stub_modules(site: Path) -> list[Path]:
    return sorted(list(site.glob("*.pyi")) + [site / "_mpy_shed"])


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    if not (site / "stdlib" / "builtins.pyi").exists() or not (site / "machine.pyi").exists():
        print("micropython-esp32-stubs not installed; fix: pip install micropython-esp32-stubs")
        return 1
    with tempfile.TemporaryDirectory(prefix="badgekit-stubs-") as tmp:
        stubs = Path(tmp) / "stubs"
        stubs.mkdir()
        names = []
        for src in _stub_modules(site):
            (stubs / src.name).symlink_to(src)
            names.append(src.stem if src.suffix else src.name)
        config = Path(tmp) / "mypy.ini"
        config.write_text(
            "[mypy]\n"
            f"mypy_path = {stubs}\n"
            "no_site_packages = True\n"
            "check_untyped_defs = True\n"
            "warn_unused_ignores = False\n"
            + "".join(f"[mypy-{n},{n}.*]\nignore_errors = True\n" for n in names)
        )
        argv = [
            sys.executable, "-m", "mypy",
            "--config-file", str(config),
            "--custom-typeshed-dir", str(site),
            "--cache-dir", str(Path(tmp) / "cache"),
            str(FIRMWARE_DIR.relative_to(REPO_ROOT)),
        ]
        return subprocess.run(argv, cwd=REPO_ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
