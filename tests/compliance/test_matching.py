"""The matcher on the default rule pack: negation, disclosure, homophones, paraphrase, near-misses."""

from __future__ import annotations

import pytest

from gateway.compliance import check_text, load_rules, parse_rules


@pytest.fixture(scope="module")
def pack():
    return load_rules()


def status(text: str, item: str, pack) -> str:
    return check_text(text, pack).item(item).status


@pytest.mark.parametrize("text,item", [
    ("这个产品保本的，您放心", "guaranteed_capital"),
    ("买了就是稳赚，收益保证", "guaranteed_return"),
    ("这款产品零风险", "zero_risk"),
    ("这个比存银行划算多了", "better_than_deposit"),
    ("您就把它当成存款", "deposit_framing"),
    ("别家公司都是骗人的", "disparage_competitors"),
])
def test_promises_fire(text, item, pack):
    assert status(text, item, pack) == "violated"


@pytest.mark.parametrize("text,item", [
    ("这个产品不保本", "guaranteed_capital"),
    ("我们不能保证收益，演示利率只是举例", "guaranteed_return"),
    ("分红是不保证的", "guaranteed_return"),
    ("收益不保证", "guaranteed_return"),
    ("保险也不是没有风险的", "zero_risk"),
    ("零风险的产品是不存在的", "zero_risk"),
    ("如果有人跟您说这个稳赚不赔，那是误导", "guaranteed_return"),
    ("保本这个说法是不对的", "guaranteed_capital"),
    ("保险不是存款，不能和银行存款比较收益", "deposit_framing"),
    ("这不是一种存款", "deposit_framing"),
    ("这个是保本的吗", "guaranteed_capital"),
    ("客户问有没有风险", "zero_risk"),
    ("别家公司也不会倒闭", "disparage_competitors"),
])
def test_negation_disclosure_and_questions_do_not_fire(text, item, pack):
    assert status(text, item, pack) == "missing"


def test_dropped_hit_keeps_its_reason(pack):
    r = check_text("这个产品不保本", pack).item("guaranteed_capital")
    assert r.status == "missing" and r.dropped and r.dropped[0].reason.startswith("negated")


def test_contrast_word_ends_the_negation(pack):
    assert status("收益不确定，但是保本", "guaranteed_capital", pack) == "violated"
    assert status("不管怎样，这个产品保本", "guaranteed_capital", pack) == "violated"


def test_homophones_match(pack):
    # recogniser output with homophones of 犹豫期, 稳赚, 录音
    assert status("犹玉期有十五天", "cooling_off", pack) == "said"
    assert status("这个就是稳砖的", "guaranteed_return", pack) == "violated"
    assert status("本次沟通全程路音", "recording_notice", pack) == "said"
    # a misrecognised negation cue still negates (哺能 = 不能)
    assert status("我们哺能保证收益", "guaranteed_return", pack) == "missing"


def test_homophone_rule_phrase_matches_either_way():
    rules = parse_rules('''
[[item]]
id = "manager"
kind = "required"
severity = "提示"
phrases = ["客户经理"]
''')
    assert check_text("我是您的客户经历小王", rules).item("manager").status == "said"
    assert check_text("我是您的客户经验小王", rules).item("manager").status == "missing"


def test_edits_survive_a_dropped_or_extra_character(pack):
    assert status("这款产品的保险的责任是身故", "coverage", pack) == "said"   # extra 的
    assert status("这种情况公司不承担保险任", "exclusions", pack) == "said"  # 责 dropped
    assert status("这种情况公司不承担保险任务", "exclusions", pack) == "said"  # 责→任 (7 chars)
    # short phrases need every character: 4 characters allow no dropped one
    assert status("每年退保能拿多少都写着", "guaranteed_return", pack) == "missing"


def test_edits_never_skip_a_negation(pack):
    # "收益不保证" must not match the prohibited phrase "收益保证" with 不 skipped
    r = check_text("收益不保证", pack).item("guaranteed_return")
    assert all("收益保证" != e.phrase for e in r.evidence + r.dropped)


def test_paraphrases_through_near_pairs(pack):
    assert status("签收之后15天内解除合同，保费全额退给您", "cooling_off", pack) == "said"
    assert status("如果被保险人身故，我们赔付基本保额", "coverage", pack) == "said"
    assert status("酒驾出事是不赔的", "exclusions", pack) == "said"
    assert status("一共要交五年", "payment_term", pack) == "said"
    # a negation right before the pair's second word turns coverage into an exclusion
    assert status("等待期内确诊的重疾是不赔的", "coverage", pack) == "missing"


def test_required_item_needs_its_length(pack):
    r = check_text("合同里有个犹豫期，这个您放心", pack).item("cooling_off")
    assert r.status == "missing" and r.dropped[0].reason.startswith("incomplete")
    assert status("犹豫期是二十天", "cooling_off", pack) == "said"


def test_events_and_their_near_misses(pack):
    assert status("您方便留个电话吗", "ask_phone", pack) == "said"
    assert status("有问题您可以打我们的客服电话", "ask_phone", pack) == "missing"
    assert status("我加一下您的微信吧", "ask_wechat", pack) == "said"
    assert status("您可以关注我们公司的微信公众号", "ask_wechat", pack) == "missing"
    assert status("您的身份证号码报一下", "ask_id_number", pack) == "said"
    assert status("说实话这些条款我看不懂", "customer_confused", pack) == "said"
    assert status("您有什么不明白的随时问我", "customer_confused", pack) == "missing"
    assert status("你别催我，我还没想好", "customer_rushed", pack) == "said"
    assert status("不着急，您慢慢考虑", "customer_rushed", pack) == "missing"


def test_traditional_characters_and_digits(pack):
    assert status("這個產品保本", "guaranteed_capital", pack) == "violated"
    assert status("猶豫期１５天", "cooling_off", pack) == "said"


def test_required_items_survive_a_dropped_character(pack):
    assert status("犹期十五天", "cooling_off", pack) == "said"           # 豫 dropped
    assert status("这款产品的保责任是身故", "coverage", pack) == "said"    # 险 dropped
    # ... but only character for character: 被保险人 is not 保险责任 with 责 dropped
    assert status("被保险人是您女儿", "coverage", pack) == "missing"
    # and never for a prohibited claim: 退保能拿 is not 保证能拿
    assert status("每年退保能拿多少都写着", "guaranteed_return", pack) == "missing"


def test_overlapping_candidates_leftmost_decides(pack):
    # the negated 零风险 decides, not the later pair 风险…不存在
    assert status("零风险的产品是不存在的", "zero_risk", pack) == "missing"
    # the shorter pair 他们家…理赔特别难 decides, not 他们家…骗 with 不 in its gap
    assert status("他们家理赔特别难，我不骗您", "disparage_competitors", pack) == "violated"
