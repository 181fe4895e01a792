"""`gateway run` end to end with the real speech model, checked against docs/asyncapi.yaml.

Real Mandarin speech (../shared/data/speech) is encoded to IMA ADPCM by the firmware's
encoder and written as two clips of one session by the clip store's FolderSink; the
gateway (as the `badgekit gateway run --once` command) verifies, transcribes with the
installed Whisper model, and publishes; the receiver stores and verifies; a plain MQTT
subscriber records every message, and each one is validated against the AsyncAPI file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from array import array

import numpy as np

from firmware import adpcm
from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
from gateway.transcribe import decode_wav
from gateway.transcribe.metrics import cer
from tests.delivery.asyncapi_check import Capture, load_spec, validate
from tests.delivery.spoolmaker import make_session


def _adpcm_blocks(pcm: np.ndarray) -> list[bytes]:
    data = adpcm.encode(array("h", pcm.astype("<i2").tobytes()))
    return [data[i : i + 256] for i in range(0, len(data), 256)]


def test_gateway_run_transcribes_and_delivers_valid_asyncapi_payloads(
        broker_factory, whisper_model, speech, speech_transcripts, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    names = ["IT0011W0001", "BAC009S0764W0121"]
    blocks = [_adpcm_blocks(decode_wav(speech[n]).samples) for n in names]
    sides = make_session(spool, clips=2, blocks=blocks)
    capture = Capture(broker.host, broker.port)
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out))
    rx.start()
    r = subprocess.run(
        [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--mqtt", broker.url,
         "--tenant", "acme", "--branch", "sh01", "--gateway-id", "gw-e2e", "--model", str(whisper_model.path),
         "--once", "--json", "-q"],
        capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["clips_in"] == 2 and report["sessions_transcribed"] == 1 and report["delivered"]
    assert report["seconds_transcribed"] > 5
    summary = rx.run(until=lambda s: s.transcripts >= 1 and s.clips_verified >= 2, timeout_s=20)
    rx.close()
    capture.close()
    assert summary.clips_verified == 2 and summary.gaps == [] and summary.missing == []
    session = out / "acme/sh01/B0001/S0001"
    doc = json.loads((session / "transcript.json").read_text())
    text = doc["transcript"]["text"]
    reference = "".join(speech_transcripts[n] for n in names)
    assert cer(text, reference) < 0.35, text
    segments = doc["transcript"]["segments"]
    assert segments and segments[-1]["start"] > 2.0  # the second clip sits later on the timeline
    assert (session / "transcript.vtt").read_text().startswith("WEBVTT")
    assert [c["clip_id"] for c in json.loads((session / "manifest.json").read_text())["clips"]] == \
        [s["clip_id"] for s in sides]
    errors, seen = validate(load_spec(), capture.messages)
    assert errors == []
    assert seen == set(load_spec()["channels"])  # every documented channel was exercised
    # The check is not vacuous: a record without its hash, or a part over 128 KiB, fails it.
    record = next(m for m in capture.messages if "/clip/" in m["topic"])
    broken = json.loads(record["payload"])
    del broken["sha256"]
    bad = [{**record, "payload": json.dumps(broken).encode()},
           {**next(m for m in capture.messages if "/audio/" in m["topic"]), "payload": b"\0" * 131073}]
    errors, _ = validate(load_spec(), bad)
    assert len(errors) == 2 and "'sha256' is a required property" in errors[0]


def test_transcript_hooks_publish_documents_with_the_transcript(broker_factory, whisper_model, speech, tmp_path):
    from gateway.delivery import PublisherSettings
    from gateway.service import Gateway, GatewaySettings

    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=1, blocks=[_adpcm_blocks(decode_wav(speech["IT0011W0001"]).samples)])
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out))
    rx.start()
    gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(broker.url),
                                 model_dir=whisper_model.path,
                                 publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-hook")))
    seen = []

    def summary_hook(transcript: dict) -> list[tuple[str, dict]]:
        seen.append(transcript["transcript"]["text"])
        return [("summary", {"kind": "summary", "revision": transcript["revision"],
                              "text_chars": len(transcript["transcript"]["text"])})]

    def broken(transcript: dict) -> list[tuple[str, dict]]:
        raise RuntimeError("rule pack missing")

    gw.on_transcript(broken)
    gw.on_transcript(summary_hook)
    report = gw.run_once()
    gw.close()
    summary = rx.run(until=lambda s: s.transcripts >= 1, timeout_s=20)
    rx.close()
    assert report.delivered and report.sessions_transcribed == 1 and seen and seen[0]
    assert any("rule pack missing" in e for e in report.errors)
    found = json.loads((out / "acme/sh01/B0001/S0001/summary.json").read_text())
    assert found["text_chars"] == len(seen[0]) and summary.clips_verified == 1


def test_session_documents_keep_their_order_with_findings_as_the_first_hook(broker_factory, whisper_model,
                                                                             speech, tmp_path):
    """transcript, findings (the built-in hook), other hooks' documents, manifest: one transaction."""
    from gateway.delivery import PublisherSettings
    from gateway.service import Gateway, GatewaySettings

    broker = broker_factory()
    spool = tmp_path / "spool"
    make_session(spool, clips=1, blocks=[_adpcm_blocks(decode_wav(speech["IT0011W0001"]).samples)])
    gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(broker.url),
                                 model_dir=whisper_model.path,
                                 publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-order")))
    gw.on_transcript(lambda t: [("summary", {"kind": "summary", "revision": t["revision"]})])
    try:
        gw.poll(settle_all=True)  # no broker connection needed: everything waits in the outbox
        kinds = [m.topic.split("/")[6] for m in gw.outbox.pending(limit=1000)
                 if m.topic.split("/")[6] not in ("clip", "audio", "custody")]
    finally:
        gw.close()
    assert kinds == ["transcript", "findings", "summary", "manifest"]
