"""`gateway run --rules FILE`: the branch's own compliance rule pack drives the findings."""

from __future__ import annotations

import json
import subprocess
import sys

from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
from gateway.transcribe import decode_wav
from tests.delivery.spoolmaker import make_session
from tests.delivery.test_e2e_model import _adpcm_blocks

PACK = """
[[item]]
id = "song_request"
kind = "event"
severity = "提示"
title = "点歌"
phrases = ["一首歌"]
"""


def _run(spool, broker, rules, model=None):
    argv = [sys.executable, "-m", "badgekit", "gateway", "run", "--spool", str(spool), "--mqtt", broker.url,
            "--tenant", "acme", "--branch", "sh01", "--rules", str(rules), "--once", "--json", "-q"]
    if model:
        argv += ["--model", str(model)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=240)


def test_custom_rule_pack_drives_published_findings(broker_factory, whisper_model, speech, tmp_path):
    broker = broker_factory()
    spool, out = tmp_path / "spool", tmp_path / "out"
    make_session(spool, clips=1, blocks=[_adpcm_blocks(decode_wav(speech["IT0011W0001"]).samples)])
    rules = tmp_path / "pack.toml"
    rules.write_text(PACK, encoding="utf-8")
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out))
    rx.start()
    r = _run(spool, broker, rules, whisper_model.path)
    assert r.returncode == 0, r.stderr
    rx.run(until=lambda s: s.transcripts >= 1 and (out / "acme/sh01/B0001/S0001/findings.json").exists(),
           timeout_s=20)
    rx.close()
    findings = json.loads((out / "acme/sh01/B0001/S0001/findings.json").read_text())["findings"]
    items = {i["id"]: i["status"] for i in findings["items"]}
    assert items == {"song_request": "said"}  # only the branch's pack, not the bundled one


def test_broken_rule_pack_is_one_line_error(broker_factory, tmp_path):
    broker = broker_factory()
    spool = tmp_path / "spool"
    spool.mkdir()
    rules = tmp_path / "pack.toml"
    rules.write_text("[[item]]\nid = 'x'\nkind = 'must'\nseverity = '严重'\nphrases = ['a']\n")
    r = _run(spool, broker, rules)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: --rules") and "kind 'must'" in r.stderr
    assert "Traceback" not in r.stderr
