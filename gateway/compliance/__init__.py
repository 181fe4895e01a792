"""Compliance check of sales meetings: required disclosures, misleading promises, events.

Rules live in TOML (`rules/life_savings.toml` is the default pack for life and savings
products). `check_session(transcript_json, rules)` checks one transcript and returns
`Findings` (`.to_json()` is the payload of `badgekit gateway check --json` and of the
MQTT findings topic); `check_group` carries required items across sessions of one
customer or case; `execution_rates` gives per-agent, per-item rates (开口率); `CaseBook` keeps a case's
meetings for the gateway's related-group checks (docs/compliance.md).
"""

from gateway.compliance.casebook import CaseBook
from gateway.compliance.check import check_group, check_session, check_text
from gateway.compliance.errors import ComplianceError, RulesError, TranscriptError
from gateway.compliance.findings import Evidence, Findings, ItemResult
from gateway.compliance.rates import Rate, RateTable, execution_rates
from gateway.compliance.rules import Item, RulePack, default_rules_path, load_rules, parse_rules
from gateway.compliance.transcript import (
    Transcript,
    TranscriptSegment,
    load_transcript,
    parse_transcript,
)

__all__ = [
    "CaseBook",
    "ComplianceError",
    "Evidence",
    "Findings",
    "Item",
    "ItemResult",
    "Rate",
    "RateTable",
    "RulePack",
    "RulesError",
    "TranscriptSegment",
    "Transcript",
    "TranscriptError",
    "check_group",
    "check_session",
    "check_text",
    "default_rules_path",
    "execution_rates",
    "load_rules",
    "load_transcript",
    "parse_rules",
    "parse_transcript",
]
