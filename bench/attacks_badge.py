"""The badge's rows of bench/attacks.py: an AUTH flood and what HELLO tells a stranger.

The real firmware under the MicroPython unix port on a pty (tests.sync.helpers.SerialBadge),
enrolled by the companion, then probed with the companion's own client over pyserial.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from attacks_lab import Row  # noqa: E402

__all__ = ["badge_rows"]

BRANCH, AGENT = "branch-sh-0071", "Agent Zed Hu"
FLOOD_S = 5.0


async def _rows(work: Path) -> list[Row]:
    from companion.client import BadgeClient
    from companion.errors import AuthError
    from companion.keystore import KeyStore
    from companion.link import Target, make_transport
    from companion.sync import enroll_badge
    from firmware.sync import proto
    from tests.sync.helpers import SerialBadge, make_clips

    make_clips(work / "clips", "bk-a77a", 1)
    ks = KeyStore(work / "keys.json")
    with SerialBadge(work / "clips") as badge:
        async with make_transport(Target("serial", badge.port)) as t:
            await enroll_badge(t, ks, branch=BRANCH, agent=AGENT)
        checked = refused = 0
        async with make_transport(Target("serial", badge.port)) as t, BadgeClient(t) as c:
            end = time.monotonic() + FLOOD_S
            while time.monotonic() < end:
                await c.hello()
                try:
                    await c.authenticate(bytes(32))
                except AuthError as exc:
                    if "retry in" in str(exc):
                        refused += 1
                    else:
                        checked += 1
            r = await c.request(proto.HELLO, {"v": proto.VERSION, "nonce": "22" * 16})
        said = repr(r)
        leaks = [w for w in (BRANCH, AGENT, "branch", "agent", "fw") if w in said]
    flood_ok = checked <= 5 and refused > 0
    hello_ok = not leaks and set(r) <= {"v", "badge", "nonce", "max_chunk", "max_request"}
    return [
        Row(f"AUTH flood on the badge ({FLOOD_S:.0f} s of wrong keys, one link)",
            "back-off: a handful checked, the rest refused",
            f"{checked} checked, {refused} refused without checking", flood_ok),
        Row("HELLO before authentication (enrolled badge)", "badge id and protocol version only",
            f"fields {sorted(r)}; leaks {leaks or 'none'}", hello_ok),
    ]


def badge_rows() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="badgekit-attacks-badge-") as tmp:
        return asyncio.run(_rows(Path(tmp)))
