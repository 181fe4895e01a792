"""Who spoke decides whom a finding is against: the transcript's `speaker` per segment."""

from __future__ import annotations

import pytest

from gateway.compliance import check_session

QUOTE = "我朋友说你们这个产品稳赚不赔"
CONFUSED = "说实话这些条款我看不懂"


def _findings(quote_by: str | None, confused_by: str | None):
    segs = [{"start": 0.0, "end": 3.0, "text": "您好我是华安人寿的客户经理小王", "speaker": "wearer"},
            {"start": 4.0, "end": 8.0, "text": QUOTE},
            {"start": 9.0, "end": 12.0, "text": CONFUSED}]
    for seg, who in ((segs[1], quote_by), (segs[2], confused_by)):
        if who is not None:
            seg["speaker"] = who
    return check_session({"session": "s", "segments": segs})


@pytest.mark.parametrize("who", [None, "wearer", "unknown"])
def test_a_promise_counts_unless_the_other_party_said_it(who):
    f = _findings(who, None)
    assert f.item("guaranteed_return").status == "violated"
    assert f.item("customer_confused").status == "said"


def test_a_promise_the_other_party_said_is_dropped_with_the_reason():
    f = _findings("other", "other")
    item = f.item("guaranteed_return")
    assert item.status == "missing"
    assert [d.reason for d in item.dropped] == ["speaker: other party"]
    assert f.item("customer_confused").status == "said"  # the customer's confusion stands


def test_confusion_the_wearer_voices_is_not_the_customers():
    f = _findings(None, "wearer")
    item = f.item("customer_confused")
    assert item.status == "missing" and [d.reason for d in item.dropped] == ["speaker: wearer"]


def test_an_unrecognised_speaker_value_is_ignored():
    f = _findings("customer", None)  # not one of wearer / other / unknown
    assert f.item("guaranteed_return").status == "violated"
