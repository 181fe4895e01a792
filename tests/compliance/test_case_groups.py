"""Related groups in the published findings: a case's earlier meetings, kept in the
gateway's state folder, credit the required items of a later one (docs/asyncapi.yaml)."""

from __future__ import annotations

import json

from gateway.compliance.casebook import CaseBook
from gateway.compliance.publish import findings_document
from tests.compliance.test_publish import COMMON, validator

FIRST = "今天给您介绍这款产品。犹豫期是十五天，十五天内可以全额退保。"
SECOND = "上次说过的条款您再看看，这款产品的保险责任包括身故和全残。"


def _doc(session: str, text: str, start: str, case: str | None, badge: str = "B0001"):
    transcript = {"schema": "badgekit.transcript/1", "badge": badge, "session": session,
                  "session_start": start, "segments": [{"start": 1.0, "end": 6.0, "text": text}]}
    sidecars = [{"clip_id": f"{badge}-00000001", "session_offset_s": 0.0}]
    if case:
        sidecars[0]["case_id"] = case
    return transcript, {**COMMON, "badge": badge, "session": session}, sidecars


def _item(findings: dict, item_id: str) -> dict:
    return next(i for i in findings["items"] if i["id"] == item_id)


def test_a_disclosure_in_the_first_meeting_counts_for_the_second(tmp_path):
    book = CaseBook(tmp_path / "cases")
    first = findings_document(*_doc("S0001", FIRST, "2026-11-20T09:00:00Z", "K-7"), cases=book)
    assert first is not None and first["group"]["credited"] == []
    assert _item(first["findings"], "cooling_off")["status"] == "said"

    # the gateway restarts: a new CaseBook on the same folder still knows the first meeting
    second = findings_document(*_doc("S0002", SECOND, "2026-11-24T15:00:00Z", "K-7"),
                               cases=CaseBook(tmp_path / "cases"))
    assert second is not None
    alone = _item(second["findings"], "cooling_off")
    assert alone["status"] == "missing" and alone["credited_from"] is None  # the session alone
    g = second["group"]
    assert g["case_id"] == "K-7"
    assert [s["session"] for s in g["sessions"]] == ["S0001", "S0002"]
    grouped = _item(g["findings"], "cooling_off")
    assert (grouped["status"], grouped["credited_from"]) == ("said", "S0001")
    assert "十五天" in grouped["text"] and "cooling_off" in g["credited"]
    assert _item(g["findings"], "coverage")["credited_from"] is None  # said here itself
    for doc in (first, second):
        assert list(validator().iter_errors(doc)) == []
    # not vacuous: a group without its sessions fails the schema
    del g["sessions"]
    assert any("sessions" in e.message for e in validator().iter_errors(second))


def test_a_later_meeting_never_credits_an_earlier_one_and_cases_stay_apart(tmp_path):
    book = CaseBook(tmp_path / "cases")
    later = findings_document(*_doc("S0009", FIRST, "2026-11-30T09:00:00Z", "K-8"), cases=book)
    assert later is not None
    # the earlier meeting arrives last (a badge synced late): still nothing said before it
    early = findings_document(*_doc("S0003", SECOND, "2026-11-21T09:00:00Z", "K-8"), cases=book)
    assert early is not None
    assert [s["session"] for s in early["group"]["sessions"]] == ["S0003", "S0009"]
    assert _item(early["group"]["findings"], "cooling_off")["status"] == "missing"
    # another customer's meeting is not credited by case K-8's
    other = findings_document(*_doc("S0004", SECOND, "2026-12-01T09:00:00Z", "K-9"), cases=book)
    assert other is not None and other["group"]["credited"] == []
    assert [s["session"] for s in other["group"]["sessions"]] == ["S0004"]
    # no case id: no group at all
    plain = findings_document(*_doc("S0005", SECOND, "2026-12-01T10:00:00Z", None), cases=book)
    assert plain is not None and "group" not in plain


def test_a_new_revision_replaces_the_kept_meeting_and_odd_ids_get_safe_names(tmp_path):
    book = CaseBook(tmp_path / "cases")
    findings_document(*_doc("S0001", SECOND, "2026-11-20T09:00:00Z", "K-1"), cases=book)
    findings_document(*_doc("S0001", FIRST, "2026-11-20T09:00:00Z", "K-1"), cases=book)
    kept = book.meetings("K-1")
    assert len(kept) == 1 and "犹豫期" in kept[0]["segments"][0]["text"]
    odd = "../客户 1"
    book.put(odd, "B0001", "S0002", {"segments": []})
    assert [m["session"] for m in book.meetings(odd)] == ["S0002"]
    names = [p.relative_to(tmp_path / "cases").as_posix() for p in (tmp_path / "cases").rglob("*.json")]
    assert all(".." not in n and " " not in n for n in names)
    assert json.loads((tmp_path / "cases" / "K-1" / "B0001__S0001.json").read_text())["case_id"] == "K-1"
