"""When an update may start (firmware.fwstage.space_refusal), under the MicroPython unix port."""

from __future__ import annotations

import json

_CODE = """
import json
from firmware.fwstage import space_refusal
K = 1024
cases = [
    (1000 * K, 240 * K, 1000 * K, 4000 * K, 0, True),    # room, nothing unsynced
    (200 * K, 240 * K, 200 * K, 4000 * K, 0, True),      # not room for bundle + slot
    (1000 * K, 240 * K, 1000 * K, 4000 * K, 3, True),    # one flash, clips: 760/4000 < 20 %
    (1100 * K, 240 * K, 1100 * K, 4000 * K, 3, True),    # one flash, clips: 860/4000 >= 20 %
    (1000 * K, 240 * K, 700 * K, 4000 * K, 3, False),    # microSD under 20 %, clips: refused
    (1000 * K, 240 * K, 900 * K, 4000 * K, 3, False),    # microSD at 22 %: fine
]
print(json.dumps([space_refusal(*c) for c in cases]))
"""


def test_update_space_rules(micropython):
    got = json.loads(micropython(code=_CODE).stdout.decode())
    assert got[0] is None
    assert "not enough space" in got[1]
    assert "3 unsynced clip(s)" in got[2] and "sync the clips first" in got[2]
    assert got[3] is None
    assert "20 %" in got[4]
    assert got[5] is None
