"""The paraphrase word classes of the default pack, and the speaker guard of customer-only
events: new ways of phrasing a promise fire, while negations, disclosures, contractual
terms and the agent's own offers to explain do not."""

from __future__ import annotations

import pytest

from gateway.compliance import check_text, load_rules, parse_rules


@pytest.fixture(scope="module")
def pack():
    return load_rules()


def fired(text: str, item: str, pack) -> bool:
    r = check_text(text, pack).item(item)
    return r.status in ("violated", "said")


@pytest.mark.parametrize("text,item", [
    ("这款产品的结算利率一直都是百分之四点五", "guaranteed_return"),
    ("分红这么多年就没降过，以后也差不了", "guaranteed_return"),
    ("交一万进来，明年肯定变成一万零四百", "guaranteed_return"),
    ("放我们这里稳稳地增值", "guaranteed_return"),
    ("您交进来的钱只会多不会少", "guaranteed_capital"),
    ("这笔钱只增不减，您放心", "guaranteed_capital"),
    ("放银行一年利息才一百多块", "better_than_deposit"),
    ("这个比买大额存单划算", "better_than_deposit"),
    ("那些小保险公司随时可能关门", "disparage_competitors"),
    ("某某人寿那边理赔出了名的慢", "disparage_competitors"),
])
def test_paraphrased_promises_fire(text, item, pack):
    assert fired(text, item, pack)


@pytest.mark.parametrize("text,item", [
    ("收益率一直都是浮动的，不保证", "guaranteed_return"),
    ("分红一直都是不确定的", "guaranteed_return"),
    ("结算利率不会低于保证利率，这是合同写明的", "guaranteed_return"),
    ("每年都是百分之三点五的保证利率写在合同里", "guaranteed_return"),
    ("过去五年分红率没降过，但不代表以后", "guaranteed_return"),
    ("不能说肯定增值，也可能贬值", "guaranteed_return"),
    ("您交的钱前几年退保会少一部分", "guaranteed_capital"),
    ("保费不会少于每年一万", "guaranteed_capital"),
    ("银行定期利息才是确定的，分红不确定", "better_than_deposit"),
    ("存银行跟买保险没法比，性质不一样", "better_than_deposit"),
    ("这个产品几乎没风险，比买基金稳当多了", "better_than_deposit"),
    ("各家保险公司都有优点，人寿那边服务也不错", "disparage_competitors"),
    ("小保险公司也受监管，不会轻易倒闭", "disparage_competitors"),
])
def test_negations_disclosures_and_near_misses_stay_quiet(text, item, pack):
    assert not fired(text, item, pack)


@pytest.mark.parametrize("text,item", [
    ("您先看看，不明白的地方我再讲", "customer_confused"),
    ("您有什么没听懂的随时问我", "customer_confused"),
    ("现金价值表我给您讲一下，不明白的我再解释", "customer_confused"),
    ("您可以回家想想，不着急", "customer_rushed"),
])
def test_the_agent_offering_to_explain_is_not_the_customer(text, item, pack):
    r = check_text(text, pack).item(item)
    assert r.status == "missing"
    assert r.dropped and any(e.reason and e.reason.startswith(("speaker: agent", "near-miss"))
                             for e in r.dropped)


@pytest.mark.parametrize("text,item", [
    ("这个我真不明白，您再讲讲", "customer_confused"),
    ("这个我还是有点不懂", "customer_confused"),
    ("我还要问问我儿子，你别这么着急", "customer_rushed"),
    ("你们能不能让我回家想两天", "customer_rushed"),
])
def test_the_customer_still_counts(text, item, pack):
    assert check_text(text, pack).item(item).status == "said"


def test_the_guard_looks_only_at_the_same_segment(pack):
    """An agent's answer in the next segment does not hide the customer's words."""
    doc = {"session": "s", "segments": [
        {"start": 0.0, "end": 2.0, "text": "这个现金价值我不明白"},
        {"start": 2.5, "end": 4.0, "text": "好的我再讲一遍"}]}
    from gateway.compliance import check_session

    r = check_session(doc, pack).item("customer_confused")
    assert r.status == "said" and r.evidence[0].start == 0.0


def test_speaker_must_be_customer_or_absent():
    base = "[[item]]\nid = 'x'\nkind = 'event'\nseverity = '提示'\nphrases = ['听不懂']\n"
    assert parse_rules(base + "speaker = 'customer'\n").items[0].speaker == "customer"
    with pytest.raises(Exception, match="'speaker' must be"):
        parse_rules(base + "speaker = 'agent'\n")
