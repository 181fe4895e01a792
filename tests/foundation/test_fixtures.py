"""Each real part from DESIGN.md, reached for real."""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import subprocess
import time

from bumble.core import UUID
from bumble.gatt import Characteristic, Service

from badgecore import mpy


def test_micropython_sha256_matches_cpython(micropython):
    data = bytes(range(256)) * 40
    proc = micropython(
        code="import sys, hashlib, binascii\n"
        "d = sys.stdin.buffer.read()\n"
        "print(binascii.hexlify(hashlib.sha256(d).digest()).decode())",
        input=data,
    )
    assert proc.stdout.decode().strip() == hashlib.sha256(data).hexdigest()


def test_micropython_has_the_modules_firmware_needs(micropython):
    proc = micropython(code="import vfs, cryptolib, micropython, select\n"
                            "print(hasattr(vfs, 'VfsLfs2'), micropython.opt_level() >= 0)")
    assert proc.stdout.decode().split() == ["True", "True"]


def test_micropython_viper_runs(micropython):
    code = (
        "import micropython\n"
        "@micropython.viper\n"
        "def s(b) -> int:\n"
        "    p = ptr8(b)\n"
        "    t = 0\n"
        "    for i in range(int(len(b))):\n"
        "        t += p[i]\n"
        "    return t\n"
        "print(s(bytearray(b'\\x01\\x02\\x03')))\n"
    )
    assert micropython(code=code).stdout.decode().strip() == "6"


def test_mpy_cross_compiles_for_esp32s3(mpy_cross, tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import micropython\n@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n")
    out = mpy_cross(src, tmp_path / "m.mpy")
    blob = out.read_bytes()
    assert blob[0:1] == b"M" and len(blob) > 10
    # mpy header byte 2 holds the native arch in its top bits: MP_NATIVE_ARCH_XTENSAWIN = 10
    assert blob[2] >> 2 == 10


def test_every_firmware_module_cross_compiles(mpy_cross, tmp_path):
    modules = mpy.firmware_modules()
    assert modules, "firmware/ holds no modules"
    for src in modules:
        mpy_cross(src, tmp_path / (src.stem + ".mpy"))


def test_mqtt_round_trip_through_real_broker(mosquitto):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[bytes] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe("badgekit/test/#", qos=1)
    sub.loop_start()
    time.sleep(0.2)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    pub.publish("badgekit/test/x", b"hello", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    pub.loop_stop()
    sub.loop_stop()
    assert got == [b"hello"]


async def test_gatt_read_over_bumble_link(ble_link):
    from bumble.device import Peer

    _link, badge, companion = ble_link
    char = Characteristic(
        "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        Characteristic.Properties.READ,
        Characteristic.READABLE,
        b"badge-0001",
    )
    badge.add_service(Service("6e400001-b5a3-f393-e0a9-e50e24dcca9e", [char]))
    await badge.start_advertising(advertising_interval_min=1.0)
    conn = await asyncio.wait_for(companion.connect(badge.random_address), 10)
    peer = Peer(conn)
    await peer.discover_services()
    await peer.discover_characteristics()
    [c] = peer.get_characteristics_by_uuid(UUID("6e400003-b5a3-f393-e0a9-e50e24dcca9e"))
    value = await asyncio.wait_for(c.read_value(), 5)
    assert bytes(value) == b"badge-0001"


def test_pty_byte_round_trip(pty_pair):
    import serial

    master, name = pty_pair
    port = serial.Serial(name, 115200, timeout=2)
    payload = bytes(range(256))
    port.write(payload)
    got = b""
    while len(got) < len(payload):
        r, _, _ = select.select([master], [], [], 2)
        assert r, "pty delivered nothing"
        got += os.read(master, 4096)
    assert got == payload
    os.write(master, payload[::-1])
    assert port.read(256) == payload[::-1]
    port.close()


def test_speech_fixture_checks_manifest(speech):
    assert {"asr_example_zh", "BAC009S0764W0121", "0478_00017"} <= set(speech)


def test_sox_decodes_speech(speech):
    from badgecore.paths import find_tool

    sox = find_tool("sox")
    assert sox, "sox missing; fix: sudo apt-get install -y sox"
    out = subprocess.run([sox, "--i", "-D", str(speech["asr_example_zh"])],
                         capture_output=True, text=True, check=True).stdout
    assert abs(float(out) - 5.55) < 0.05
