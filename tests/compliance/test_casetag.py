"""Tagging a synced meeting with its case id in the spool (`companion.casetag`): sidecars
and custody records change, the audio and its hashes do not, and a rerun is a no-op."""

from __future__ import annotations

import hashlib
import json

import pytest

from companion.casetag import tag_session
from companion.errors import SpoolError
from firmware.clips import fmt as clipfmt
from tests.delivery.spoolmaker import make_session


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.wav")}


def test_tag_then_retag_keeps_audio_and_records_every_change(tmp_path):
    sides = make_session(tmp_path, clips=2)
    folder = tmp_path / "B0001" / "S0001"
    wavs = _digest(folder)
    rep = tag_session(folder, "K-1", "staff-a")
    assert rep.tagged == tuple(s["clip_id"] for s in sides) and rep.unchanged == ()
    again = tag_session(folder, "K-1", "staff-a")
    assert again.tagged == () and len(again.unchanged) == 2
    tag_session(folder, "K-2", "staff-b")  # corrected
    assert _digest(folder) == wavs
    for s in sides:
        side = json.loads((folder / f"{s['clip_id']}.json").read_text())
        assert side == {**s, "case_id": "K-2"}  # only the case id changed
        custody = json.loads((folder / f"{s['clip_id']}.custody.json").read_text())
        assert [(h["case_id"], h["previous"], h["operator"]) for h in custody["case_history"]] == [
            ("K-1", None, "staff-a"), ("K-2", "K-1", "staff-b")]
        assert custody["sha256"] == s["sha256"]
        with open(folder / f"{s['clip_id']}.wav", "rb") as f:
            clipfmt.verify_wav(f, expect_sha256=side["sha256"])
    assert not list(folder.glob("*.partial"))


@pytest.mark.parametrize("case_id,msg", [("K 1", "may hold only"), ("", "give a case id"),
                                         ("x" * 33, "at most 32")])
def test_bad_ids_change_nothing(tmp_path, case_id, msg):
    make_session(tmp_path, clips=1)
    folder = tmp_path / "B0001" / "S0001"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(SpoolError, match=msg):
        tag_session(folder, case_id, "staff")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_folder_without_synced_clips_is_refused(tmp_path):
    with pytest.raises(SpoolError, match="no synced clips"):
        tag_session(tmp_path, "K-1", "staff")
