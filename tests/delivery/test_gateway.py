"""The gateway service end to end on real Mosquitto: spool in, verified files out."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from gateway.delivery import BrokerSettings, PublisherSettings, Receiver, ReceiverSettings
from gateway.service import Gateway, GatewaySettings
from tests.delivery.spoolmaker import make_session


def _gateway(broker, spool, state=None, **kw) -> Gateway:
    kw.setdefault("transcribe", False)
    return Gateway(GatewaySettings(
        spool_dir=spool, broker=BrokerSettings.from_url(broker.url), state_dir=state,
        publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw1"), flush_timeout_s=20, **kw))


def _receiver(broker, out) -> Receiver:
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-test"))
    rx.start()
    return rx


def _finish(rx: Receiver, idle_s: float = 0.5):
    summary = rx.run(idle_exit_s=idle_s)
    rx.close()
    return summary


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


def test_spool_to_receiver_chunked_verified_identical(broker, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    sides = make_session(spool, clips=2, blocks_per_clip=600, recovered=(1,))  # 153 KB: two parts each
    sides += make_session(spool, session="S0002", clips=1, blocks_per_clip=20)
    rx = _receiver(broker, out)
    gw = _gateway(broker, spool)
    report = gw.run_once()
    gw.close()
    assert report.delivered and report.clips_in == 3 and report.clips_quarantined == 0
    assert report.unconfirmed == 0  # every message confirmed by the receiver's receipts
    summary = _finish(rx)
    assert (summary.clips_received, summary.clips_verified, summary.duplicates_dropped) == (3, 3, 0)
    assert summary.gaps == [] and summary.missing == [] and summary.failed == []
    assert summary.recovered == [sides[1]["clip_id"]]
    for side in sides:
        got = out / "acme/sh01/B0001" / side["session"] / "clips" / f"{side['clip_id']}.wav"
        assert got.read_bytes() == (spool / "B0001" / side["session"] / f"{side['clip_id']}.wav").read_bytes()
        custody = json.loads(got.with_name(f"{side['clip_id']}.custody.json").read_text())
        assert custody["record"]["sha256"] == side["sha256"]
    manifest = json.loads((out / "acme/sh01/B0001/S0001/manifest.json").read_text())
    assert [c["sha256"] for c in manifest["clips"]] == [s["sha256"] for s in sides[:2]]
    assert [c["recovered"] for c in manifest["clips"]] == [False, True]
    assert manifest["gaps"] == [] and manifest["transcript"]["revision"] is None


def test_lost_gateway_state_redelivers_and_the_receiver_drops_every_copy(broker, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=3, blocks_per_clip=300)
    rx = _receiver(broker, out)
    for _ in range(2):  # second run: state folder wiped, everything is sent again
        shutil.rmtree(spool / ".badgekit-gateway", ignore_errors=True)
        gw = _gateway(broker, spool, signing_key=tmp_path / "gw1.key")  # its identity outlives the state
        assert gw.run_once().delivered
        gw.close()
    summary = _finish(rx)
    assert summary.clips_verified == 3
    assert summary.duplicates_dropped == 3 * 3  # clip record, audio, custody record per clip
    wavs = sorted(p.name for p in (out / "acme/sh01/B0001/S0001/clips").glob("*.wav"))
    assert wavs == ["B0001-00000001.wav", "B0001-00000002.wav", "B0001-00000003.wav"]


def test_bad_spool_files_are_quarantined_with_reasons_and_the_rest_is_delivered(broker, tmp_path):
    spool, out, state = tmp_path / "spool", tmp_path / "out", tmp_path / "state"
    sides = make_session(spool, clips=6, blocks_per_clip=10)
    folder = spool / "B0001" / "S0001"
    wav = [folder / f"{s['clip_id']}.wav" for s in sides]
    data = bytearray(wav[1].read_bytes())
    data[-100] ^= 0xFF  # one flipped bit of audio
    wav[1].write_bytes(bytes(data))
    wav[2].write_bytes(wav[2].read_bytes()[:-300])  # truncated
    wav[3].write_text("this is not audio\n")  # non-audio under a clip's name
    (folder / f"{sides[4]['clip_id']}.json").write_text("{not json")  # broken sidecar
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # a stray file
    make_session(spool, badge="+B9", clips=1, blocks_per_clip=10)  # a folder name no topic can hold
    rx = _receiver(broker, out)
    gw = _gateway(broker, spool, state)
    report = gw.run_once()
    gw.close()
    assert report.delivered and report.clips_in == 2 and report.clips_quarantined == 6
    reasons = {p.name: p.read_text() for p in (state / "quarantine").rglob("*.reason.txt")}
    assert "hash" in reasons[f"{sides[1]['clip_id']}.wav.reason.txt"]
    assert "truncated" in reasons[f"{sides[2]['clip_id']}.wav.reason.txt"].lower()
    assert "RIFF" in reasons[f"{sides[3]['clip_id']}.wav.reason.txt"]
    assert "not valid JSON" in reasons[f"{sides[4]['clip_id']}.json.reason.txt"]
    assert "not a clip file" in reasons["photo.jpg.reason.txt"]
    assert "cannot be a topic level" in reasons["+B9-00000001.wav.reason.txt"]
    summary = _finish(rx)
    assert summary.clips_verified == 2
    # The receiver sees the hole the quarantined clips left in the badge's chain.
    assert [g.missing_seqs for g in summary.gaps] == [(2, 3, 4, 5)]
    manifest = json.loads((out / "acme/sh01/B0001/S0001/manifest.json").read_text())
    assert len(manifest["quarantined"]) == 4


def test_receiver_refuses_altered_audio(broker, make_publisher, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    (side,) = make_session(spool, clips=1, blocks_per_clip=10)
    data = bytearray((spool / "B0001/S0001" / f"{side['clip_id']}.wav").read_bytes())
    data[-1] ^= 1
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out))
    rx.start()
    pub = make_publisher(BrokerSettings.from_url(broker.url))
    cid = side["clip_id"]
    pub.enqueue(f"B0001/S0001/clip/{cid}", {"kind": "clip", "clip_id": cid, "sidecar": side})
    pub.enqueue(f"B0001/S0001/audio/{cid}", bytes(data), kind="audio", content_type="audio/wav")
    pub.enqueue("B0001/S0001/clip/B0001-00000009", b"\x00not json", kind="clip")  # garbage record
    pub.enqueue("B0001/S0001/manifest", [1, 2, 3])  # JSON, but not a document
    assert pub.flush(10)  # every message confirmed: bad content is kept aside, not retried forever
    summary = rx.run(idle_exit_s=0.7)
    rx.close()
    rejected = sorted(p.name for p in (out / "rejected").iterdir())
    assert len(rejected) == 4 and sum(name.endswith(".reason.txt") for name in rejected) == 2
    assert summary.clips_verified == 0
    assert summary.failed and "hash mismatch" in summary.failed[0][1]
    assert (out / "quarantine" / f"{cid}.wav").exists()
    assert not (out / "acme/sh01/B0001/S0001/clips" / f"{cid}.wav").exists()


def test_health_and_prometheus_metrics(broker, tmp_path):
    spool = tmp_path / "spool"
    make_session(spool, clips=2, blocks_per_clip=10)
    (spool / "B0001" / "S0001" / "junk.bin").write_bytes(b"\0")
    rx = _receiver(broker, tmp_path / "out")
    gw = _gateway(broker, spool, metrics_port=0)
    gw.run_once()
    base = f"http://127.0.0.1:{gw.port}"
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    health = json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())
    gw.close()
    _finish(rx, 0.1)
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if not line.startswith("#")}
    assert values["badgekit_gateway_clips_in_total"] == 2
    assert values["badgekit_gateway_clips_quarantined_total"] == 1
    assert values['badgekit_gateway_outbox_depth{state="pending"}'] == 0
    assert values['badgekit_gateway_outbox_depth{state="unconfirmed"}'] == 0
    assert values["badgekit_gateway_errors_total"] >= 1
    assert values["badgekit_gateway_broker_connected"] == 1
    assert "# TYPE badgekit_gateway_seconds_transcribed_total counter" in text
    assert health["status"] == "ok" and health["outbox_depth"] == 0


def test_messages_wait_in_the_outbox_until_a_receiver_subscribes(broker, make_publisher, tmp_path):
    pub = make_publisher(BrokerSettings.from_url(broker.url), hold_s=0.2)
    pub.enqueue("B1/S1/findings", {"kind": "findings", "revision": 1})
    assert not pub.flush(1.0)  # nobody subscribed: the broker would drop it, so it stays
    assert pub.outbox.depth == 1 and pub.held >= 1
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=tmp_path / "out"))
    rx.start()
    assert pub.flush(10)
    summary = rx.run(idle_exit_s=0.5)
    rx.close()
    assert summary.messages == 1


def test_a_pool_of_receivers_on_a_shared_subscription_stores_everything_once(broker, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "out"
    sides = make_session(spool, clips=6, blocks_per_clip=700)  # two audio parts per clip
    pool = [Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out,
                                      share_group="compliance", client_id=f"rx-pool-{i}")) for i in range(2)]
    for rx in pool:
        rx.start()
    gw = _gateway(broker, spool)
    report = gw.run_once()
    gw.close()
    assert report.delivered and report.unconfirmed == 0
    for rx in pool:
        rx.stop()
    handled = [rx.handled for rx in pool]
    summary = pool[0].summary()  # one store: either worker reports for the pool
    for rx in pool:
        rx.close()
    assert summary.clips_verified == len(sides) and summary.duplicates_dropped == 0
    assert summary.messages == 6 * 4 + 1  # clip record, 2 audio parts, custody; 1 manifest
    assert (out / "acme/sh01/B0001/S0001/manifest.json").exists()
    assert sum(handled) == summary.messages and min(handled) > 0  # the broker split the work


def test_service_publishes_a_new_manifest_revision_when_a_session_grows(broker, tmp_path):
    import threading

    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=2, blocks_per_clip=10)
    rx = _receiver(broker, out)
    gw = _gateway(broker, spool, settle_s=0.3, poll_interval_s=0.1)
    stop = threading.Event()
    worker = threading.Thread(target=gw.run, args=(stop,))
    worker.start()
    manifest = out / "acme/sh01/B0001/S0001/manifest.json"

    def clips_in_manifest() -> int:
        try:
            return len(json.loads(manifest.read_text())["clips"])
        except (OSError, ValueError):
            return 0

    try:
        assert _wait_for(lambda: clips_in_manifest() == 2)
        first = json.loads(manifest.read_text())["revision"]
        make_session(spool, clips=1, blocks_per_clip=10, session="S0001")  # a late clip
        assert _wait_for(lambda: clips_in_manifest() == 3)
        assert json.loads(manifest.read_text())["revision"] > first
    finally:
        stop.set()
        worker.join(10)
        gw.close()
    summary = _finish(rx, 0.3)
    assert summary.clips_verified == 3 and summary.gaps == []


def _wait_for(cond, timeout_s: float = 15.0) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_missing_model_is_reported_and_everything_else_is_delivered(broker, tmp_path):
    import subprocess
    import sys

    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=2, blocks_per_clip=10)
    rx = _receiver(broker, out)
    r = subprocess.run(
        [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--mqtt", broker.url,
         "--tenant", "acme", "--branch", "sh01", "--model", str(tmp_path / "no-such-model"), "--once", "-q"],
        capture_output=True, text=True, timeout=120)
    summary = _finish(rx)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert any(line.startswith("error:") and "no-such-model" in line for line in r.stderr.splitlines()), r.stderr
    assert summary.clips_verified == 2
    manifest = json.loads((out / "acme/sh01/B0001/S0001/manifest.json").read_text())
    assert manifest["transcript"]["revision"] is None and "no-such-model" in manifest["transcript"]["error"]


def test_a_second_gateway_on_the_same_state_folder_is_refused(broker, tmp_path):
    from gateway.delivery import DeliveryError

    spool = tmp_path / "spool"
    spool.mkdir()
    first = _gateway(broker, spool)
    with pytest.raises(DeliveryError, match="already using"):
        _gateway(broker, spool)
    first.close()
    _gateway(broker, spool).close()  # free again once the first one is gone
