"""Two badges in one meeting through the gateway service (issue 31): the second session of
a case to be transcribed is paired with the first, and the first is published again.

Both badges' recordings are a real two-badge meeting (`badgekit.pair_meeting`, tuning
half), encoded to ADPCM and written to the spool by the clip store's sink. Most tests
replace the speech model by a step that returns the meeting's true turns with the labels
one badge gives them (`speaker.attribute`), so everything after transcription is the
service's own; the last runs the real `TranscriptionStep`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from gateway.delivery import BrokerSettings, PublisherSettings
from gateway.service import Gateway, GatewaySettings
from gateway.service.transcription import SessionText
from gateway.transcribe.pipeline import Segment
from gateway.transcribe.transcript import SessionTranscript
from gateway.transcribe.verify import check_session_clips
from tests.delivery.spoolmaker import make_session, quiet_blocks
from tests.delivery.test_e2e_model import _adpcm_blocks
from tests.gateway.transcribe_support import single_badge_segments, two_badge_meetings

RATE = 16000
CASE = "CASE-4711"


@pytest.fixture(scope="module")
def meetings(speech):
    return two_badge_meetings(speech)



class TurnsStep:
    """Stands in for `TranscriptionStep`: each badge's given segments on its real clips."""

    def __init__(self, segments: dict[str, list[Segment]]) -> None:
        self.segments = segments

    def session(self, wavs: list[Path]) -> SessionText:
        check = check_session_clips(wavs)
        first = check.clips[0]
        assert first.start_epoch_s is not None
        tr = SessionTranscript(
            segments=list(self.segments[str(first.badge)]), clips=list(check.clips),
            session_start_epoch_s=first.start_epoch_s - first.session_offset_s,
            badge=first.badge, session=first.session,
            duration_s=max(c.session_offset_s + c.samples / RATE for c in check.clips))
        return SessionText(tr.to_json(), tr.to_vtt(), tr.duration_s)


def _session(spool: Path, badge: str, session: str, blocks: list[bytes], start: float,
             case_id: str | None) -> None:
    for side in make_session(spool, badge, session, clips=1, blocks=[blocks], start_epoch=int(start)):
        path = spool / badge / session / f"{side['clip_id']}.json"
        if case_id:  # set afterwards on the companion, as `badgekit companion case` does
            path.write_text(json.dumps({**side, "case_id": case_id}))


@pytest.fixture
def gateway(tmp_path):
    """A gateway over `tmp_path/spool` that is never connected (the outbox keeps everything);
    `seen` collects every published transcript document."""
    gw = Gateway(GatewaySettings(
        spool_dir=tmp_path / "spool", broker=BrokerSettings.from_url("mqtt://127.0.0.1:1"),
        state_dir=tmp_path / "state", transcribe=False,
        publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw1")))
    seen: list[dict] = []
    gw.on_transcript(lambda t: seen.append(t) or [])
    gw.seen = seen  # type: ignore[attr-defined]
    yield gw
    gw.close()


def _labels(t: dict) -> list[str]:
    return [s["speaker"] for s in t["transcript"]["segments"]]


def test_the_second_badge_relabels_both_and_the_first_gets_a_new_revision(meetings, gateway, tmp_path):
    pm = meetings[0]
    spool = tmp_path / "spool"
    a_segs, b_segs = single_badge_segments(pm.a), single_badge_segments(pm.b)
    gateway.transcriber = TurnsStep({"B0001": a_segs, "B0002": b_segs})
    _session(spool, "B0001", "S0001", _adpcm_blocks(pm.a.pcm), pm.a_start, CASE)
    gateway.poll(settle_all=True)
    (first,) = gateway.seen
    assert _labels(first) == [s.speaker for s in a_segs]
    assert not any("paired_with" in s for s in first["transcript"]["segments"])

    _session(spool, "B0002", "S0001", _adpcm_blocks(pm.b.pcm), pm.b_start, CASE)
    gateway.poll(settle_all=True)
    b_doc, a_again = gateway.seen[1:]
    assert (b_doc["badge"], a_again["badge"]) == ("B0002", "B0001")
    assert a_again["session"] == "S0001" and a_again["revision"] > first["revision"]
    assert a_again["case_id"] == b_doc["case_id"] == CASE
    want_a = ["wearer" if who == "agent" else "other" for who in pm.talkers]
    want_b = ["wearer" if who == "colleague" else "other" for who in pm.talkers]
    assert (_labels(a_again), _labels(b_doc)) == (want_a, want_b)
    assert _labels(a_again) != _labels(first)  # one badge alone had some turns wrong
    for doc, other in ((a_again, "B0002"), (b_doc, "B0001")):
        for seg in doc["transcript"]["segments"]:
            assert seg["paired_with"] == other
    # every other key of the first revision is kept as it was
    for old, new in zip(first["transcript"]["segments"], a_again["transcript"]["segments"], strict=True):
        assert {k: v for k, v in new.items() if k not in ("speaker", "speaker_confidence", "paired_with")} \
            == {k: v for k, v in old.items() if k not in ("speaker", "speaker_confidence")}
    assert a_again["vtt"] == first["vtt"] and a_again["clips"] == first["clips"]
    with gateway.outbox.lock:
        revs = dict(gateway.outbox.db.execute("SELECT badge, revision FROM gw_sessions").fetchall())
    assert revs == {"B0001": a_again["revision"], "B0002": b_doc["revision"]}


def _quiet_segments() -> list[Segment]:
    return [Segment(1.0, 4.0, "你好", 0, -0.2, 0.0, 1.0, 0.0, speaker="wearer", speaker_confidence=0.8),
            Segment(5.0, 9.0, "请问", 0, -0.2, 0.0, 1.0, 0.0, speaker="other", speaker_confidence=0.7)]


@pytest.mark.parametrize("b_case, b_shift_s, why", [
    ("CASE-0815", 0.0, "no transcribed session of another badge with case id"),
    (CASE, 7200.0, "no transcribed session of another badge with case id"),
    (None, 0.0, "no case id"),
])
def test_other_cases_and_other_times_are_not_paired(gateway, tmp_path, caplog, b_case, b_shift_s, why):
    spool = tmp_path / "spool"
    gateway.transcriber = TurnsStep({"B0001": _quiet_segments(), "B0002": _quiet_segments()})
    blocks = quiet_blocks(400)  # 12.8 s each
    _session(spool, "B0001", "S0001", blocks, 1_790_000_000, CASE)
    gateway.poll(settle_all=True)
    _session(spool, "B0002", "S0001", blocks, 1_790_000_001 + b_shift_s, b_case)
    with caplog.at_level(logging.INFO, logger="gateway.service.pairing_step"):
        gateway.poll(settle_all=True)
    assert [t["badge"] for t in gateway.seen] == ["B0001", "B0002"]  # no new revision of B0001
    assert _labels(gateway.seen[1]) == ["wearer", "other"]
    assert not any("paired_with" in s for s in gateway.seen[1]["transcript"]["segments"])
    assert why in caplog.text and "B0002/S0001: single-badge speaker labels" in caplog.text


def test_an_unalignable_or_unreadable_partner_leaves_the_labels(meetings, gateway, tmp_path, caplog):
    pm, other = meetings
    spool = tmp_path / "spool"
    a_segs = single_badge_segments(pm.a)
    gateway.transcriber = TurnsStep({"B0001": a_segs, "B0002": a_segs, "B0003": _quiet_segments()})
    _session(spool, "B0001", "S0001", _adpcm_blocks(pm.a.pcm), pm.a_start, CASE)
    gateway.poll(settle_all=True)
    # another meeting's recording, claimed to be this one
    _session(spool, "B0002", "S0001", _adpcm_blocks(other.b.pcm), pm.b_start, CASE)
    with caplog.at_level(logging.INFO, logger="gateway.service.pairing_step"):
        gateway.poll(settle_all=True)
    assert [t["badge"] for t in gateway.seen] == ["B0001", "B0002"]
    assert _labels(gateway.seen[1]) == [s.speaker for s in a_segs]
    assert "B0002/S0001: single-badge speaker labels (cannot be paired with B0001/S0001" in caplog.text

    # the partners' clips are gone from disk (the spool cleaned): reported, not raised
    shutil.rmtree(spool / "B0001")
    shutil.rmtree(spool / "B0002")
    caplog.clear()
    _session(spool, "B0003", "S0001", quiet_blocks(400), pm.a_start, CASE)
    with caplog.at_level(logging.INFO, logger="gateway.service.pairing_step"):
        gateway.poll(settle_all=True)
    assert [t["badge"] for t in gateway.seen] == ["B0001", "B0002", "B0003"]
    assert _labels(gateway.seen[2]) == ["wearer", "other"]
    assert "B0003/S0001: single-badge speaker labels (could not pair with B0001/S0001: " \
        "no usable clip in the clip list (B0001-00000001.wav: corrupt: unreadable clip: " in caplog.text


def _truth_score(doc: dict, meeting, want: list[str]) -> float:
    """Share of segments whose label is that of the true turn they overlap most."""
    segs = doc["transcript"]["segments"]
    hits = 0
    for s in segs:
        overlap = [max(0.0, min(s["end"], t.end_s) - max(s["start"], t.start_s)) for t in meeting.turns]
        hits += s["speaker"] == want[int(np.argmax(overlap))]
    return hits / max(1, len(segs))


def test_real_transcription_of_both_badges_is_paired(meetings, whisper_model, gateway, tmp_path):
    """The same through the real `TranscriptionStep`: Whisper's segments, not the true turns."""
    from gateway.service.transcription import TranscriptionStep

    pm = meetings[1]
    spool = tmp_path / "spool"
    gateway.transcriber = TranscriptionStep(whisper_model.path)
    _session(spool, "B0001", "S0001", _adpcm_blocks(pm.a.pcm), pm.a_start, CASE)
    gateway.poll(settle_all=True)
    _session(spool, "B0002", "S0001", _adpcm_blocks(pm.b.pcm), pm.b_start, CASE)
    gateway.poll(settle_all=True)
    assert [t["badge"] for t in gateway.seen] == ["B0001", "B0002", "B0001"]
    first, b_doc, a_again = gateway.seen
    assert a_again["revision"] > first["revision"]
    assert all(s["paired_with"] == "B0002" for s in a_again["transcript"]["segments"])
    assert [s["text"] for s in a_again["transcript"]["segments"]] == \
        [s["text"] for s in first["transcript"]["segments"]]
    want_a = ["wearer" if who == "agent" else "other" for who in pm.talkers]
    want_b = ["wearer" if who == "colleague" else "other" for who in pm.talkers]
    with gateway.outbox.lock:  # B's own labels, before the pairing, as the gateway kept them
        b_single = json.loads(gateway.outbox.db.execute(
            "SELECT doc FROM gw_transcripts WHERE badge='B0002'").fetchone()[0])
    before = (_truth_score(first, pm.a, want_a), _truth_score({"transcript": b_single}, pm.b, want_b))
    after = (_truth_score(a_again, pm.a, want_a), _truth_score(b_doc, pm.b, want_b))
    assert after[0] >= before[0] and after[1] >= before[1] and sum(after) > sum(before)
    assert min(after) >= 0.95
