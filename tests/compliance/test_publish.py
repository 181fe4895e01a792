"""The findings document the gateway publishes matches docs/asyncapi.yaml."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from gateway.compliance.publish import findings_document

SPEC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
COMMON = {"tenant": "acme", "branch": "sh01", "gateway": "gw1", "badge": "B0001",
          "session": "S0001", "revision": 1_790_000_000_000, "generated_at": "2026-11-25T10:00:00Z"}


def validator() -> jsonschema.Draft202012Validator:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert spec["channels"]["findings"]["address"].endswith("/{badge}/{session}/findings")
    return jsonschema.Draft202012Validator({**spec, "$ref": "#/components/messages/findings/payload"})


def test_findings_payload_matches_the_spec():
    transcript = {"schema": "badgekit.transcript/1", "badge": None, "session": None, "text": "",
                  "segments": [{"start": 3.0, "end": 5.0, "text": "这个产品保本", "clip_id": "B0001-00000002"}],
                  "clips": [{"clip_id": "B0001-00000001", "session_offset_s": 0.0},
                            {"clip_id": "B0001-00000002", "session_offset_s": 2.0}]}
    doc = findings_document(transcript, COMMON, [{"clip_id": "B0001-00000001", "case_id": "K7"}])
    assert doc is not None
    assert list(validator().iter_errors(doc)) == []
    f = doc["findings"]
    assert (f["session"], f["agent"], f["case_id"]) == ("S0001", "B0001", "K7")
    item = next(i for i in f["items"] if i["id"] == "guaranteed_capital")
    assert (item["status"], item["clip"], item["clip_start"]) == ("violated", "B0001-00000002", 1.0)
    # the schema is not vacuous: an unknown status fails it
    item["status"] = "maybe"
    assert any("maybe" in e.message for e in validator().iter_errors(doc))


def test_unreadable_transcript_gives_none_not_an_exception():
    assert findings_document({"segments": "nope"}, COMMON) is None
