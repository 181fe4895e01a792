"""The hardware layer (I2S mic, button, LED, RTC) on the unix port, against a recording
stand-in for `machine` (no badge here); pins come from the real hardware/pinmap.json."""

from __future__ import annotations

import json

from badgecore.paths import REPO_ROOT
from tests.firmware.helpers import HERE, mpy_json

_RUN = """
import json
import machine
from array import array
from firmware.hw import mic, button, led, pins
from firmware.hw.clock import now_unix_ms

machine.I2S.source = [(-1) ** i * (i << 16) for i in range(700)] + [0x7FFFFFFF, -0x80000000]
m = mic.I2SMic(shift=16)
buf = array('h', bytes(640))
got = [m.readinto(buf), list(buf[:4])]
got.append(m.readinto(buf))
got.append(m.readinto(buf))
got.append(list(buf[60:62]))
m.close()
board = pins.load()
machine.Pin.levels[board['pins']['button']] = 0  # pressed (active low)
b = button.Button(long_ms=200)
events = [b.poll(t) for t in range(0, 400, 20)]
lamp = led.Led()
lamp.set(led.RECORDING)
lamp.show(50)
lamp.show(500)
print(json.dumps({'log': machine.LOG, 'got': got, 'events': events, 'rev': board['rev'],
                  'pins': board['pins'], 'clock': list(now_unix_ms())}))
"""


def test_hw_layer_uses_the_pin_map_and_converts_i2s(micropython):
    code = f"import sys\nsys.path.insert(0, {str(HERE / 'fakehw')!r})\n" + _RUN
    out = mpy_json(micropython, code)
    pm = json.loads((REPO_ROOT / "hardware" / "pinmap.json").read_text())
    board = pm["revisions"][pm["default_rev"]]["pins"]
    assert out["pins"] == board
    i2s = [e for e in out["log"] if e[0] == "i2s"][0]
    assert i2s[2:5] == [board["i2s_sck"], board["i2s_ws"], board["i2s_sd"]]
    assert i2s[6:] == [32, 0, 16000]  # 32-bit slots, mono, 16 kHz
    assert ["set", board["mic_en"], 0] in out["log"]  # mic powered down on close
    assert ["i2s_deinit"] in out["log"]
    n, first = out["got"][0], out["got"][1]
    assert n == 320 and first == [0, -1, 2, -3]  # top 16 bits of each 32-bit slot
    assert out["got"][2] == 320 and out["got"][3] == 62  # the source runs dry
    assert out["got"][4] == [32767, -32768]
    assert 2 in out["events"] and out["events"].count(2) == 1  # one LONG while held
    led_sets = [e for e in out["log"] if e[0] == "set" and e[1] == board["led"]]
    assert [e[2] for e in led_sets][-2:] == [0, 1]  # blip off at 50 ms, on at 500 ms
    assert out["clock"] == [1795600805, 250]
