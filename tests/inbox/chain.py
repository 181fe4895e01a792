"""Received folders made by the real chain: clip writer → spool → gateway (real Whisper,
a rule pack whose phrases the speech says) → real Mosquitto → `gateway receive`'s Receiver.

Branch sh01: one meeting of real Mandarin speech in three clips (the second closed as
after a power cut), tagged with case K-2026.0017, transcribed and checked. Branch sh02:
a meeting without transcript whose badge chain has a hole (seq 2-3 never synced).
"""

from __future__ import annotations

import json
from pathlib import Path

from gateway.delivery import BrokerSettings, PublisherSettings, Receiver, ReceiverSettings
from gateway.service import Gateway, GatewaySettings
from gateway.transcribe import decode_wav
from tests.delivery.spoolmaker import make_session
from tests.delivery.test_e2e_model import _adpcm_blocks

SPEECH = ["IT0011W0001", "BAC009S0764W0121", "asr_example_zh"]
CASE = "K-2026.0017"
PACK = """
[[item]]
id = "song_request"
kind = "event"
severity = "提示"
title = "点歌"
phrases = ["一首歌"]

[[item]]
id = "trade_talk"
kind = "required"
severity = "一般"
title = "交易说明"
phrases = ["交易"]

[[item]]
id = "voice_claim"
kind = "prohibited"
severity = "严重"
title = "夸大语音识别"
phrases = ["语音识别"]

[[item]]
id = "cooling_off"
kind = "required"
severity = "严重"
title = "犹豫期"
phrases = ["犹豫期"]
"""


def _tag_case(spool: Path, badge: str, session: str, case: str) -> None:
    for side in (spool / badge / session).glob("*.json"):
        if side.name.endswith(".custody.json"):
            continue
        doc = json.loads(side.read_text())
        doc["case_id"] = case
        side.write_text(json.dumps(doc))


def build_received(work: Path, broker_url: str, speech: dict[str, Path], model_dir: Path) -> Path:
    """Run the chain once; returns the receiver's output folder."""
    out = work / "received"
    rules = work / "pack.toml"
    rules.write_text(PACK, encoding="utf-8")
    broker = BrokerSettings.from_url(broker_url)
    rx = Receiver(ReceiverSettings(broker=broker, out_dir=out, client_id="inbox-test-rx"))
    rx.start()
    try:
        spool1 = work / "spool1"
        blocks = [_adpcm_blocks(decode_wav(speech[n]).samples) for n in SPEECH]
        make_session(spool1, badge="B0001", session="S0001", clips=3, blocks=blocks, recovered=(1,),
                     start_epoch=1_796_000_000)
        _tag_case(spool1, "B0001", "S0001", CASE)
        gw = Gateway(GatewaySettings(
            spool_dir=spool1, broker=broker, model_dir=model_dir, language="zh", rules_path=rules, settle_s=0,
            publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-sh01"), flush_timeout_s=60))
        assert gw.run_once().delivered
        gw.close()
        spool2 = work / "spool2"
        make_session(spool2, badge="B0002", session="S0009", clips=1, blocks_per_clip=40, start_epoch=1_796_100_000)
        make_session(spool2, badge="B0002", session="S0010", clips=2, blocks_per_clip=40, first_seq=4,
                     prev_sha256="ab" * 32, start_epoch=1_796_200_000)
        gw2 = Gateway(GatewaySettings(
            spool_dir=spool2, broker=broker, transcribe=False, settle_s=0,
            publisher=PublisherSettings(tenant="acme", branch="sh02", gateway_id="gw-sh02"), flush_timeout_s=60))
        assert gw2.run_once().delivered
        gw2.close()
        rx.run(until=lambda s: s.clips_verified >= 6 and (out / "acme/sh01/B0001/S0001/findings.json").exists()
               and (out / "acme/sh02/B0002/S0010/manifest.json").exists(), timeout_s=30)
    finally:
        rx.close()
    return out
