"""Findings per session, related groups across a customer's meetings, execution rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.compliance import (
    TranscriptError,
    check_group,
    check_session,
    execution_rates,
    load_transcript,
)

FULL = [
    "您好，本次沟通全程录音",
    "这款产品的保险责任是身故和全残",
    "责任免除您要看一下，酒驾是不赔的",
    "犹豫期十五天，签收后可以全额退",
    "提前退保会有损失，只能拿回现金价值",
    "每年交一万，交十年",
]


def transcript(session: str, lines: list[str], case: str | None = None, agent: str = "A1") -> dict:
    segs, t = [], 0.0
    for line in lines:
        segs.append({"start": t, "end": t + 3.0, "text": line})
        t += 4.0
    doc: dict = {"session": session, "badge": agent, "segments": segs}
    if case:
        doc["case_id"] = case
    return doc


def test_every_item_has_a_status_segment_time_and_clip():
    doc = {
        "schema": "badgekit.transcript/1", "badge": "B7", "session": "S42",
        "text": "",
        "segments": [
            {"start": 1.0, "end": 3.0, "text": "本次沟通全程录音", "clip_id": "B7-00000001"},
            {"start": 12.5, "end": 15.0, "text": "这个产品保本，您放心", "clip_id": "B7-00000002"},
        ],
        "clips": [{"clip_id": "B7-00000001", "session_offset_s": 0.0},
                  {"clip_id": "B7-00000002", "session_offset_s": 10.0}],
    }
    f = check_session(doc)
    assert f.session == "S42" and f.agent == "B7"
    rec = f.item("recording_notice")
    assert rec.status == "said" and rec.evidence[0].clip == "B7-00000001"
    bad = f.item("guaranteed_capital")
    assert bad.status == "violated"
    ev = bad.evidence[0]
    assert (ev.text, ev.start, ev.clip, ev.clip_start) == ("这个产品保本，您放心", 12.5, "B7-00000002", 2.5)
    assert "保本" in ev.context
    assert f.item("cooling_off").status == "missing"
    out = json.loads(f.to_json())
    assert {i["id"] for i in out["items"]} == {r.id for r in f.items}
    assert out["ok"] is False and out["summary"]["violated"] == 1


def test_clip_from_session_offsets_when_segments_have_none():
    doc = {"segments": [{"start": 25.0, "end": 27.0, "text": "加个微信吧"}],
           "clips": [{"clip_id": "c1", "session_offset_samples": 0, "sample_rate": 16000},
                     {"clip_id": "c2", "session_offset_samples": 320000, "sample_rate": 16000}]}
    ev = check_session(doc).item("ask_wechat").evidence[0]
    assert (ev.clip, ev.clip_start) == ("c2", 5.0)


def test_compliant_session_is_ok():
    f = check_session(transcript("s", FULL))
    assert not f.problems, [(r.id, r.status) for r in f.problems]


def test_related_group_credits_earlier_meeting():
    first = check_session(transcript("m1", FULL[:3], case="CASE-9"))
    second = check_session(transcript("m2", FULL[3:], case="CASE-9"))
    other = check_session(transcript("m3", FULL[3:], case="CASE-7"))
    assert second.item("coverage").status == "missing"
    g1, g2, g3 = check_group([first, second, other])
    assert g2.item("coverage").status == "said"
    assert g2.item("coverage").credited_from == "m1"
    assert g2.item("coverage").evidence[0].session == "m1"
    assert not g2.problems
    # another customer's meeting gets no credit, and credit never flows backwards
    assert g3.item("coverage").status == "missing"
    assert g1.item("cooling_off").status == "missing"


def test_execution_rates_per_agent_and_item():
    fs = [check_session(transcript("a", FULL, agent="A1")),
          check_session(transcript("b", FULL[1:], agent="A1")),
          check_session(transcript("c", FULL[1:] + ["这个产品保本"], agent="A2"))]
    t = execution_rates(fs)
    rate = {(r.agent, r.item): (r.hits, r.sessions) for r in t.per_agent}
    total = {r.item: (r.hits, r.sessions) for r in t.per_item}
    assert total["recording_notice"] == (1, 3)
    assert rate[("A1", "recording_notice")] == (1, 2)
    assert rate[("A2", "recording_notice")] == (0, 1)
    assert rate[("A2", "guaranteed_capital")] == (1, 1)
    assert total["coverage"] == (3, 3)
    assert t.to_dict()["sessions"] == 3


def test_session_folder_with_sidecars(tmp_path: Path):
    sess = tmp_path / "B1" / "S9"
    sess.mkdir(parents=True)
    (sess / "B1-00000003.json").write_text(json.dumps({
        "clip_id": "B1-00000003", "badge": "B1", "session": "S9", "case_id": "K1",
        "session_offset_samples": 160000, "sample_rate": 16000}))
    (sess / "B1-00000003.custody.json").write_text("{}")
    (sess / "transcript.json").write_text(json.dumps(
        {"segments": [{"start": 12.0, "end": 14.0, "text": "您的身份证号码报一下"}]}, ensure_ascii=False))
    t = load_transcript(sess)
    assert (t.session, t.agent, t.case_id) == ("S9", "B1", "K1")
    ev = check_session(sess).item("ask_id_number").evidence[0]
    assert (ev.clip, ev.clip_start) == ("B1-00000003", 2.0)


@pytest.mark.parametrize("content,expect", [
    ("not json", "not a readable JSON"),
    ("[1, 2]", "JSON object"),
    ('{"segments": 3}', "'segments' must be a list"),
    ('{"segments": [{"start": "x", "text": "a"}]}', "number of seconds"),
    ('{"segments": [{"start": 1}]}', "'text' string"),
])
def test_bad_transcripts_are_named(tmp_path: Path, content, expect):
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(TranscriptError, match=expect):
        check_session(p)


def test_empty_folder(tmp_path: Path):
    with pytest.raises(TranscriptError, match="no transcript"):
        check_session(tmp_path)


def test_related_group_follows_meeting_start_times():
    later = dict(transcript("m2", FULL[3:], case="K"), session_start="2026-11-25T10:00:00.000Z")
    earlier = dict(transcript("m1", FULL[:3], case="K"), session_start="2026-11-20T09:00:00.000Z")
    g_later, g_earlier = check_group([check_session(later), check_session(earlier)])
    assert g_later.session == "m2" and g_later.item("coverage").credited_from == "m1"
    assert g_earlier.item("cooling_off").status == "missing"  # no credit back in time
    assert json.loads(g_later.to_json())["started"] == "2026-11-25T10:00:00.000Z"
