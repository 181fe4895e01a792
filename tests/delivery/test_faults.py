"""Faults: the broker killed mid-publish, the gateway and the receiver SIGKILLed and restarted.

Each test checks the delivery promise at the receiver: every clip arrives, verified,
exactly once (copies are counted as dropped duplicates, never kept twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
from tests.delivery.spoolmaker import make_session

BADGEKIT = [sys.executable, "-m", "badgekit"]


def _wait(cond, timeout_s: float = 20.0, step_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step_s)
    return False


def test_broker_killed_and_restarted_while_publishing(broker_factory, make_publisher, tmp_path):
    broker = broker_factory()
    settings = BrokerSettings.from_url(broker.url, reconnect_max_s=0.5)
    rx = Receiver(ReceiverSettings(broker=settings, out_dir=tmp_path / "out", client_id="rx-faults"))
    rx.start()
    time.sleep(1.2)  # the broker saves its sessions every second: let it keep our subscription
    pub = make_publisher(settings, window=10)
    n = 300
    for i in range(n):
        pub.enqueue(f"B1/S{i:03d}/notes", {"kind": "notes", "revision": 1, "i": i, "pad": "x" * 8000})
    kills = 0
    for threshold in (30, 120):
        assert _wait(lambda t=threshold: pub.stats().connected and pub.acked >= t, 20, 0.001)
        if pub.stats().outbox_depth == 0:
            break  # everything went through already (a fast run): nothing left to interrupt
        broker.kill()  # SIGKILL: no goodbye, like a crash
        kills += 1
        time.sleep(0.3)
        broker.start()
    assert pub.flush(30), pub.stats()
    assert kills >= 1 and pub.stats().reconnects >= kills
    summary = rx.run(until=lambda s: s.messages >= n, timeout_s=20, idle_exit_s=5)
    rx.close()
    files = sorted((tmp_path / "out/acme/sh01/B1").glob("*/notes.json"))
    assert len(files) == n and summary.messages == n
    assert pub.outbox.rejected() == []


def _run_gateway(spool: Path, url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*BADGEKIT, "gateway", "run", "--spool", str(spool), "--mqtt", url, "--no-transcribe", "--settle-s", "0.3",
         "--tenant", "acme", "--branch", "sh01", "--gateway-id", "gw-kill", "-q", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_gateway_sigkilled_and_restarted_delivers_everything_once(broker_factory, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    sides = make_session(spool, clips=8, blocks_per_clip=700)  # ~180 KB each: 2 audio parts
    sides += make_session(spool, session="S0002", clips=4, blocks_per_clip=700)
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-gwkill"))
    rx.start()
    kills = 0
    for threshold in (1, 12, 25):  # kill at three different points of the stream
        gw = _run_gateway(spool, broker.url)
        if _wait(lambda t=threshold: rx.summary().messages >= t, 30, 0.005):
            os.killpg(gw.pid, signal.SIGKILL)
            kills += 1
        gw.wait(10)
    final = _run_gateway(spool, broker.url, "--once")
    out_text, err_text = final.communicate(timeout=60)
    assert final.returncode == 0, err_text
    summary = rx.run(until=lambda s: s.clips_verified >= len(sides) and s.messages >= 3 * len(sides) + 2,
                     timeout_s=20, idle_exit_s=3)
    rx.close()
    assert kills >= 2
    assert summary.clips_verified == len(sides) and summary.failed == []
    assert summary.missing == [] and summary.gaps == []
    for side in sides:
        got = out / "acme/sh01/B0001" / side["session"] / "clips" / f"{side['clip_id']}.wav"
        assert got.read_bytes() == (spool / "B0001" / side["session"] / f"{side['clip_id']}.wav").read_bytes()
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.partial"))


def test_receiver_sigkilled_and_restarted_keeps_its_queue(broker_factory, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    sides = make_session(spool, clips=10, blocks_per_clip=400)
    receive = [*BADGEKIT, "gateway", "receive", "--mqtt", broker.url, "--out", str(out), "--client-id", "rx-kill",
               "--json", "-q"]
    rx = subprocess.Popen([*receive, "--idle-exit-s", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
    assert _wait(lambda: (out / "receiver.db").exists(), 20)
    time.sleep(0.5)
    gw = _run_gateway(spool, broker.url, "--once", "--confirm-wait-s", "0.5")
    assert _wait(lambda: len(list(out.rglob("*.wav"))) >= 2, 30, 0.005)
    os.killpg(rx.pid, signal.SIGKILL)
    rx.wait(10)
    gw.communicate(timeout=60)
    assert gw.returncode == 0  # acknowledged: the broker holds the receiver's queue while it is dead
    again = subprocess.run([*receive, "--once"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    import json

    summary = json.loads(again.stdout)
    assert summary["clips_verified"] == len(sides)
    assert summary["missing"] == [] and summary["gaps"] == [] and summary["failed"] == []
    assert len(list((out / "acme/sh01/B0001/S0001/clips").glob("*.wav"))) == len(sides)


def test_status_is_retained_online_then_offline_by_last_will_then_stopped(broker_factory, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    spool.mkdir()
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-lwt"))
    rx.start()
    status = out / "acme/sh01/_gateway/gw-kill.status.json"

    def state() -> str:
        import json

        try:
            return json.loads(status.read_text())["state"]
        except (OSError, ValueError):
            return ""

    gw = _run_gateway(spool, broker.url)
    assert _wait(lambda: state() == "online", 30)
    os.killpg(gw.pid, signal.SIGKILL)
    gw.wait(10)
    assert _wait(lambda: state() == "offline", 10)  # the broker published the last will
    gw = _run_gateway(spool, broker.url)
    assert _wait(lambda: state() == "online", 30)
    gw.send_signal(signal.SIGTERM)
    assert gw.wait(20) == 0
    assert _wait(lambda: state() == "stopped", 10)
    rx.close()
