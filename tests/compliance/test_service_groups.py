"""`gateway run` checks a case's meetings together: real speech transcribed by the running
service, findings published through a real Mosquitto broker to a real receiver, the
earlier meeting remembered across a gateway restart (its state folder), and a meeting
tagged in the spool after it was delivered (`badgekit companion case --session`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
from gateway.transcribe import decode_wav
from tests.compliance.test_publish import validator
from tests.delivery.spoolmaker import make_session
from tests.delivery.test_e2e_model import _adpcm_blocks

PACK = """
[[item]]
id = "song_named"
kind = "required"
severity = "一般"
title = "说明曲目"
phrases = ["一首歌"]
"""


def _meeting(spool: Path, session: str, wav: Path, start_epoch: int, case_id: str | None) -> None:
    sides = make_session(spool, session=session, clips=1, start_epoch=start_epoch,
                         blocks=[_adpcm_blocks(decode_wav(wav).samples)])
    for side in sides:  # what the companion writes when the badge tagged the meeting
        if case_id:
            path = spool / "B0001" / session / f"{side['clip_id']}.json"
            path.write_text(json.dumps({**side, "case_id": case_id}))


def _run(spool: Path, state: Path, broker, rules: Path, model: Path) -> None:
    argv = [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--state", str(state),
            "--mqtt", broker.url, "--tenant", "acme", "--branch", "sh01", "--rules", str(rules),
            "--model", str(model), "--once", "--json", "-q"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr


def _findings(out: Path, session: str) -> dict:
    return json.loads((out / "acme/sh01/B0001" / session / "findings.json").read_text())


def test_running_gateway_publishes_the_group_result_across_a_restart(
        broker_factory, whisper_model, speech, tmp_path):
    broker = broker_factory()
    spool, state, out = tmp_path / "spool", tmp_path / "state", tmp_path / "out"
    rules = tmp_path / "pack.toml"
    rules.write_text(PACK, encoding="utf-8")
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out))
    rx.start()
    try:
        quiet = speech["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"]  # 我有的时候说不清楚你们知道吗
        _meeting(spool, "S0001", speech["IT0011W0001"], 1_790_000_000, "K-7")  # 换一首歌
        _meeting(spool, "S0002", quiet, 1_790_100_000, None)  # the agent forgot the case id
        _run(spool, state, broker, rules, whisper_model.path)
        rx.run(until=lambda s: all((out / "acme/sh01/B0001" / x / "findings.json").exists()
                                   for x in ("S0001", "S0002")), timeout_s=20)
        assert "group" not in _findings(out, "S0002")
        wav = next((spool / "B0001" / "S0002").glob("*.wav"))
        before = hashlib.sha256(wav.read_bytes()).hexdigest()

        # staff tag the delivered meeting; another customer's meeting arrives; the gateway restarts
        env = {**os.environ, "BADGEKIT_CONFIG": str(tmp_path / "cfg")}
        env.pop("BADGEKIT_COMPANION_SETTINGS", None)
        r = subprocess.run([sys.executable, "-m", "badgekit", "companion", "case", "--case", "K-7",
                            "--session", str(spool / "B0001" / "S0002"), "--json"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["tagged"] == [wav.stem]
        custody = json.loads(wav.with_name(wav.stem + ".custody.json").read_text())
        assert custody["case_id"] == "K-7" and custody["case_source"] == "companion"
        assert custody["case_history"][0]["previous"] is None
        assert hashlib.sha256(wav.read_bytes()).hexdigest() == before  # the audio is untouched
        _meeting(spool, "S0003", quiet, 1_790_200_000, "K-8")
        _run(spool, state, broker, rules, whisper_model.path)
        rx.run(until=lambda s: (out / "acme/sh01/B0001/S0003/findings.json").exists()
               and "group" in _findings(out, "S0002"), timeout_s=20)
    finally:
        rx.close()

    first, second, other = (_findings(out, s) for s in ("S0001", "S0002", "S0003"))
    for doc in (first, second, other):
        assert list(validator().iter_errors(doc)) == []
    transcript = json.loads((out / "acme/sh01/B0001/S0002/transcript.json").read_text())
    assert transcript["case_id"] == "K-7"  # carried from the clip sidecars

    assert first["group"]["findings"]["items"][0]["status"] == "said"
    alone = second["findings"]["items"][0]
    assert alone["status"] == "missing"  # this meeting on its own
    g = second["group"]
    assert g["case_id"] == "K-7" and [s["session"] for s in g["sessions"]] == ["S0001", "S0002"]
    item = g["findings"]["items"][0]
    assert (item["status"], item["credited_from"]) == ("said", "S0001") and g["ok"]
    assert "一首歌" in item["text"]
    # another customer's meeting gets no credit from case K-7
    assert other["group"]["case_id"] == "K-8" and not other["group"]["ok"]
    assert other["group"]["findings"]["items"][0]["status"] == "missing"
