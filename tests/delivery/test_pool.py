"""A company-wide pool: branch gateways deliver, two workers on a shared subscription
transcribe (each session once), compliance receives the transcript. Real model, real broker."""

from __future__ import annotations

import json
import threading
import time

from gateway.delivery import BrokerSettings, PublisherSettings, Receiver, ReceiverSettings
from gateway.service import Gateway, GatewaySettings
from gateway.service.transcription import TranscriptionStep
from gateway.service.worker import PoolWorker, WorkerSettings
from gateway.transcribe import decode_wav
from tests.delivery.spoolmaker import make_session
from tests.delivery.test_e2e_model import _adpcm_blocks


def test_two_workers_share_the_transcription_of_a_branch_gateways_sessions(
        broker_factory, whisper_model, speech, tmp_path):
    broker = broker_factory()
    url = BrokerSettings.from_url(broker.url)
    spool, pool_store, compliance = tmp_path / "spool", tmp_path / "pool", tmp_path / "compliance"
    blocks = [_adpcm_blocks(decode_wav(speech[n]).samples) for n in ("IT0011W0001", "BAC009S0764W0121")]
    make_session(spool, clips=2, blocks=blocks)
    rx = Receiver(ReceiverSettings(broker=url, out_dir=compliance, client_id="compliance"))
    rx.start()
    shared_model = TranscriptionStep(whisper_model.path)  # one process here: load the model once
    workers = [PoolWorker(WorkerSettings(
        receiver=ReceiverSettings(broker=url, out_dir=pool_store, share_group="transcribers",
                                  client_id=f"worker-{i}"),
        worker_id=f"worker-{i}", state_dir=tmp_path / f"w{i}", poll_interval_s=0.2), shared_model)
        for i in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    time.sleep(0.5)
    branch = Gateway(GatewaySettings(spool_dir=spool, broker=url, transcribe=False, publisher=PublisherSettings(
        tenant="acme", branch="sh01", gateway_id="gw-branch")))
    assert branch.run_once().delivered
    branch.close()
    try:
        summary = rx.run(until=lambda s: s.transcripts >= 1 and
                         (compliance / "acme/sh01/B0001/S0001/findings.json").exists(), timeout_s=60)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert summary.transcripts == 1 and summary.clips_verified == 2
    doc = json.loads((compliance / "acme/sh01/B0001/S0001/transcript.json").read_text())
    assert doc["gateway"] in ("worker-0", "worker-1") and doc["transcript"]["text"]
    assert doc["clips"] == ["B0001-00000001", "B0001-00000002"]
    findings = json.loads((compliance / "acme/sh01/B0001/S0001/findings.json").read_text())
    assert findings["revision"] == doc["revision"] and findings["gateway"] == doc["gateway"]
    assert sum(w.transcribed for w in workers) == 1  # claimed once, transcribed once
    assert all(w.receiver.handled > 0 for w in workers)  # the broker spread the messages
