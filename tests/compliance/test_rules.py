"""Rule packs: the bundled pack loads, malformed packs give one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.compliance import RulesError, check_text, default_rules_path, load_rules, parse_rules


def test_default_pack_has_the_three_kinds():
    pack = load_rules()
    kinds = {it.kind for it in pack.items}
    assert kinds == {"required", "prohibited", "event"}
    ids = {it.id for it in pack.items}
    assert {"cooling_off", "coverage", "exclusions", "surrender_loss", "payment_term",
            "recording_notice", "guaranteed_capital", "guaranteed_return", "zero_risk",
            "better_than_deposit", "deposit_framing", "disparage_competitors", "ask_phone",
            "ask_wechat", "ask_id_number", "customer_confused", "customer_rushed"} <= ids
    assert {it.severity for it in pack.items} == {"提示", "一般", "严重"}
    assert default_rules_path().is_file()


@pytest.mark.parametrize("text,expect", [
    ("[[item]\nid = 'x'", "not valid TOML"),
    ("[pack]\nname = 'x'\n", "no check items"),
    ("[[item]]\nid = 'x'\nkind = 'must'\nseverity = '严重'\nphrases = ['a']\n", "kind 'must'"),
    ("[[item]]\nid = 'x'\nkind = 'required'\nseverity = 'high'\nphrases = ['a']\n", "severity 'high'"),
    ("[[item]]\nid = 'x'\nkind = 'required'\nseverity = '严重'\n", "needs at least one entry"),
    ("[[item]]\nid = 'x'\nkind = 'required'\nseverity = '严重'\nphrase = ['a']\n", "unknown key(s) phrase"),
    ("[[item]]\nid = 'x'\nkind = 'required'\nseverity = '严重'\nphrases = 'a'\n", "list of non-empty strings"),
    ("[[item]]\nid = 'x'\nkind = 'required'\nseverity = '严重'\nnear = [['a']]\n", "[word, word]"),
    ("[[item]]\nid = 'x'\nkind = 'event'\nseverity = '提示'\nphrases = ['a']\n"
     "[[item]]\nid = 'x'\nkind = 'event'\nseverity = '提示'\nphrases = ['b']\n", "appears twice"),
    ("[matching]\ncontext_chars = -1\n[[item]]\nid = 'x'\nkind = 'event'\nseverity = '提示'\n"
     "phrases = ['a']\n", "whole number"),
    ("[matching]\npinyn = true\n[[item]]\nid = 'x'\nkind = 'event'\nseverity = '提示'\n"
     "phrases = ['a']\n", "unknown key(s) pinyn"),
])
def test_malformed_packs_are_named(text, expect):
    with pytest.raises(RulesError) as e:
        parse_rules(text, "pack.toml")
    assert expect in str(e.value) and str(e.value).startswith("pack.toml: ")
    assert "\n" not in str(e.value).strip()


def test_missing_file(tmp_path: Path):
    with pytest.raises(RulesError, match="not found"):
        load_rules(tmp_path / "nope.toml")


def test_officer_edit_takes_effect(tmp_path: Path):
    text = default_rules_path().read_text(encoding="utf-8")
    text = text.replace('"零存整取",', '"零存整取", "钱放进来会下蛋",')
    p = tmp_path / "edited.toml"
    p.write_text(text, encoding="utf-8")
    assert check_text("这个钱放进来会下蛋", p).item("deposit_framing").status == "violated"
    assert check_text("这个钱放进来会下蛋").item("deposit_framing").status == "missing"
