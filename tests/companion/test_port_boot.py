"""A badge whose port closes before it answers (it resets as the port opens, or is still
booting) and comes back under the same name: the companion's first hello retries.

The port is a symlink, as udev's /dev/serial/by-id names are: first to a pty whose far
end takes the companion's hello and then closes (the "reset"), then to the real
simulated badge (the firmware under MicroPython) on a new pty.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from pathlib import Path
from typing import Any

from badgekit.sim.badge_cmd import start_serial_badge
from tests.companion.simbadge import make_clips


def _point(link: Path, target: str) -> None:
    tmp = link.with_suffix(".new")
    tmp.symlink_to(target)
    os.replace(tmp, link)  # atomic: the companion sees the old name or the new one


def test_first_hello_retries_when_the_port_resets_on_open(tmp_path, companion):
    clips = tmp_path / "clips"
    make_clips(clips, "boot-1", 2)
    (tmp_path / "work").mkdir()
    port = tmp_path / "ttyBADGE"
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    _point(port, os.ttyname(slave))
    seen: dict[str, Any] = {}

    def reset_then_boot() -> None:
        ready, _, _ = select.select([master], [], [], 30)
        seen["hello_bytes"] = os.read(master, 4096) if ready else b""
        os.close(master)  # the badge resets: the companion's link closes unanswered
        os.close(slave)
        proc, name, slave2, _line = start_serial_badge(clips, tmp_path / "work")
        seen["badge"] = (proc, slave2)
        _point(port, name)  # the port is back under the same name, served by the firmware

    th = threading.Thread(target=reset_then_boot, daemon=True)
    th.start()
    try:
        res = companion("enroll", "--port", str(port), "--agent", "Agent A")
        th.join(30)
        assert seen.get("hello_bytes"), "the companion never said hello on the first port"
        assert res.exit_code == 0, res.stdout + res.stderr
        assert "enrolled badge" in res.stdout and "boot-1" in res.stdout
    finally:
        if "badge" in seen:
            proc, slave2 = seen["badge"]
            proc.kill()
            proc.wait()
            os.close(slave2)


def test_a_port_that_closes_and_never_returns_is_one_clear_error(tmp_path, companion):
    port = tmp_path / "ttyGONE"
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    _point(port, os.ttyname(slave))

    def vanish() -> None:
        select.select([master], [], [], 30)
        os.close(master)
        os.close(slave)
        port.unlink()

    th = threading.Thread(target=vanish, daemon=True)
    th.start()
    res = companion("set-time", "--port", str(port), "--connect-timeout-s", "2")
    th.join(30)
    assert res.exit_code == 1 and "Traceback" not in res.stderr, res.stderr
    assert "error:" in res.stderr and str(port) in res.stderr, res.stderr
