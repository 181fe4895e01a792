"""`badgekit gateway check` / `rates`: the --json shape others rely on, tables, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from badgekit.cli import app

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, lines: list[str], **extra) -> Path:
    segs = [{"start": 2.0 * i, "end": 2.0 * i + 1.5, "text": t} for i, t in enumerate(lines)]
    path.write_text(json.dumps({"text": "".join(lines), "segments": segs, **extra},
                               ensure_ascii=False), encoding="utf-8")
    return path


def test_json_shape(tmp_path: Path):
    p = write(tmp_path / "t.json", ["本次沟通全程录音", "这个产品保本"], session="S1", badge="B1")
    res = CliRunner().invoke(app, ["gateway", "check", str(p), "--json"])
    assert res.exit_code == 1, res.output  # a violation and missing items
    out = json.loads(res.stdout)
    assert isinstance(out["items"], list) and len(out["items"]) == 17
    for item in out["items"]:
        assert {"id", "kind", "severity", "status", "text", "start"} <= set(item)
        assert item["status"] in {"said", "missing", "violated"}
        assert item["kind"] in {"required", "prohibited", "event"}
        assert item["severity"] in {"提示", "一般", "严重"}
    by_id = {i["id"]: i for i in out["items"]}
    assert (by_id["guaranteed_capital"]["status"], by_id["guaranteed_capital"]["text"],
            by_id["guaranteed_capital"]["start"]) == ("violated", "这个产品保本", 2.0)
    assert by_id["recording_notice"]["status"] == "said"
    assert (by_id["cooling_off"]["status"], by_id["cooling_off"]["text"],
            by_id["cooling_off"]["start"]) == ("missing", "", None)


def test_table_and_clean_exit(tmp_path: Path):
    lines = ["您好，本次沟通全程录音", "这款产品的保险责任是身故", "责任免除您要看一下，酒驾是不赔的",
             "犹豫期十五天", "提前退保会有损失", "每年交一万，交十年", "这个产品不保本"]
    p = write(tmp_path / "ok.json", lines)
    res = CliRunner().invoke(app, ["gateway", "check", str(p)])
    assert res.exit_code == 0, res.output
    assert "recording_notice" in res.output and "said" in res.output


def test_related_group_and_rates(tmp_path: Path):
    a = write(tmp_path / "a.json", ["本次沟通全程录音", "保险责任是身故"], session="m1", case_id="K")
    b = write(tmp_path / "b.json", ["犹豫期十五天"], session="m2", case_id="K")
    res = CliRunner().invoke(app, ["gateway", "check", str(a), str(b), "--json"])
    sessions = json.loads(res.stdout)["sessions"]
    second = {i["id"]: i for i in sessions[1]["items"]}
    assert second["coverage"]["status"] == "said" and second["coverage"]["credited_from"] == "m1"
    res = CliRunner().invoke(app, ["gateway", "rates", str(a), str(b), "--json"])
    assert res.exit_code == 0, res.output
    rates = {r["item"]: r for r in json.loads(res.stdout)["per_item"]}
    assert (rates["coverage"]["hits"], rates["coverage"]["sessions"]) == (1, 2)  # no credit here


def test_malformed_rules_one_line_no_traceback(tmp_path: Path):
    p = write(tmp_path / "t.json", ["你好"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[[item]]\nid = 'x'\nkind = 'required'\nseverity = '严重'\nphrases = [\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "badgekit", "gateway", "check", str(p), "--rules",
                           str(bad)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.toml" in lines[0]
    assert "not valid TOML" in lines[0]


def test_bad_transcript_path(tmp_path: Path):
    res = CliRunner().invoke(app, ["gateway", "check", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "no such file" in res.output


def _receiver_doc(folder: Path, badge: str, session: str, lines: list[str]) -> None:
    """A transcript document as the receiver stores it: the MQTT payload, transcript inside."""
    folder.mkdir(parents=True)
    segs = [{"start": 2.0 * i, "end": 2.0 * i + 1.5, "text": t} for i, t in enumerate(lines)]
    doc = {"kind": "transcript", "tenant": "acme", "branch": "sh01", "gateway": "gw1",
           "badge": badge, "session": session, "revision": 1, "generated_at": "x", "clips": [],
           "vtt": "WEBVTT\n", "transcript": {"badge": None, "session": None, "text": "",
                                              "segments": segs, "clips": []}}
    (folder / "transcript.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def test_rates_over_a_receivers_tree(tmp_path: Path):
    root = tmp_path / "out" / "acme" / "sh01"
    _receiver_doc(root / "B1" / "S1", "B1", "S1", ["本次沟通全程录音", "这个产品保本"])
    _receiver_doc(root / "B1" / "S2", "B1", "S2", ["犹豫期十五天"])
    _receiver_doc(root / "B2" / "S7", "B2", "S7", ["本次沟通全程录音"])
    res = CliRunner().invoke(app, ["gateway", "rates", str(tmp_path / "out"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["sessions"] == 3
    per_agent = {(r["agent"], r["item"]): (r["hits"], r["sessions"]) for r in out["per_agent"]}
    assert per_agent[("B1", "recording_notice")] == (1, 2)
    assert per_agent[("B2", "recording_notice")] == (1, 1)
    assert per_agent[("B1", "guaranteed_capital")] == (1, 2)
    res = CliRunner().invoke(app, ["gateway", "check", str(root / "B1" / "S1"), "--json"])
    found = json.loads(res.stdout)
    assert (found["session"], found["agent"]) == ("S1", "B1")


def test_check_output_carries_the_session_integrity(tmp_path: Path):
    """Findings come with the audio's integrity: verified clips, gaps, unauthenticated clips."""
    from tests.delivery.spoolmaker import make_session

    sides = make_session(tmp_path, clips=4, blocks_per_clip=10, recovered=(3,))
    folder = tmp_path / "B0001" / "S0001"
    for suffix in (".wav", ".json", ".custody.json"):  # clip 2 never arrived
        (folder / f"{sides[1]['clip_id']}{suffix}").unlink()
    write(folder / "transcript.json", ["本次沟通全程录音", "这个产品保本"], session="S0001", badge="B0001")
    res = CliRunner().invoke(app, ["gateway", "check", str(folder), "--json"])
    assert res.exit_code == 1, res.output
    integrity = json.loads(res.stdout)["integrity"]
    assert integrity["status"] == "gaps" and integrity["verified"] == 3
    assert [g["missing_seqs"] for g in integrity["gaps"]] == [[2]]
    assert integrity["recovered"] == [sides[3]["clip_id"]]
    assert len(integrity["unauthenticated"]) == 3  # format 1 clips carry no badge MAC
    table = CliRunner().invoke(app, ["gateway", "check", str(folder)])
    assert "integrity: gaps" in table.output and "3/3 clips verified" in table.output
