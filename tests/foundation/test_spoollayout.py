"""The spool's names (badgecore.spoollayout), and hostile names from a badge refused on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from badgecore import spoollayout as sl
from companion.errors import SpoolError, VerifyError
from companion.spool import Spool
from firmware.clips.sink import FolderSink
from gateway.service.spool import SpoolClip, SpoolScanner, Stray, quarantine_files
from tests.delivery.spoolmaker import make_session, quiet_blocks

HOSTILE = ["../../evil", "..", ".", "a/b", "a\\b", "", ".hidden", " padded", "tab\there", "x" * 129]


@pytest.mark.parametrize("name", ["B0001", "S0001", "bk-5ea1-00000001", "20261125T100000Z", "x" * 128])
def test_plain_names_pass(name):
    assert sl.name_error(name, "session") is None
    assert sl.check_name(name, "session") == name


@pytest.mark.parametrize("name", HOSTILE)
def test_names_that_could_leave_the_spool_are_refused(name):
    err = sl.name_error(name, "session")
    assert isinstance(err, sl.SpoolNameError) and str(err).startswith("session ")
    with pytest.raises(sl.SpoolNameError):
        sl.check_name(name, "session")
    with pytest.raises(sl.SpoolNameError):
        sl.session_dir(Path("/spool"), "B0001", name)


def test_layout_names():
    assert sl.session_dir(Path("/s"), "B1", "S1") == Path("/s/B1/S1")
    assert sl.clip_file(Path("/s/B1/S1"), "B1-00000001", sl.CUSTODY) == Path("/s/B1/S1/B1-00000001.custody.json")
    part = sl.incoming_file(Path("/s"), "B1", "B1-00000001")
    assert part == Path("/s/B1/.incoming/B1-00000001.wav.partial")
    assert sl.offset_file(part) == Path("/s/B1/.incoming/B1-00000001.wav.partial.offset")
    assert [sl.untouched(n) for n in (".incoming", ".rejected", "a.wav.partial", "a.wav", "S1")] == [
        True, True, True, False, False]
    assert "x.custody.json".endswith(sl.CLIP_SUFFIXES[0])  # custody first: not taken for a sidecar


def _hostile_clip(tmp_path: Path, badge: str, session: str) -> tuple[bytes, dict]:
    """A real clip whose header names `session` (written outside any spool)."""
    sink = FolderSink(str(tmp_path / "made"), None)
    sink.open_clip({"badge": badge, "session": session, "seq": 0, "start_epoch": 1_790_000_000,
                    "session_offset_samples": 0, "offset_samples": 0})
    for b in quiet_blocks(8):
        sink.write_block(b)
    side = sink.close_clip(8 * 505)
    return (tmp_path / "made" / f"{side['clip_id']}.wav").read_bytes(), side


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_companion_rejects_a_hostile_session_name_from_a_badge(tmp_path):
    data, side = _hostile_clip(tmp_path, "B0001", "../../evil")
    root = tmp_path / "a" / "b" / "spool"
    spool = Spool(root)
    inc = spool.incoming("B0001", side["clip_id"])
    inc.write(0, data)
    inc.sync()
    before = _files(tmp_path) - _files(root)
    with pytest.raises(VerifyError, match="not a spool folder name"):
        spool.commit("B0001", inc, clip_id=side["clip_id"], seq=0, expect_sha256=side["sha256"], custody={})
    assert _files(tmp_path) - _files(root) == before  # nothing written outside the spool
    assert not (root.parent / "evil").exists()
    rejected = sorted(p.name for p in (root / "B0001" / ".rejected").iterdir())
    assert len(rejected) == 2 and rejected[0].endswith(".reason.json")
    assert list(spool.clips()) == []


def test_companion_refuses_hostile_clip_ids_and_badge_names(tmp_path):
    spool = Spool(tmp_path / "spool")
    with pytest.raises(VerifyError, match="clip id"):
        spool.incoming("B0001", "../../evil")
    with pytest.raises(SpoolError, match="badge"):
        spool.incoming("../evil", "B0001-00000001")
    assert not (tmp_path / "evil").exists()


def test_gateway_reads_the_layout_and_quarantines_inside_its_state(tmp_path):
    spool = tmp_path / "spool"
    make_session(spool, clips=2)
    (spool / "B0001" / "S0001" / "x.wav.partial").write_bytes(b"half")
    (spool / "B0001" / ".incoming").mkdir()
    (spool / "B0001" / "S0001" / "notes.txt").write_text("?")
    items = list(SpoolScanner(spool).scan())
    clips = [i for i in items if isinstance(i, SpoolClip)]
    strays = [i for i in items if isinstance(i, Stray)]
    assert [c.clip_id for c in clips] == ["B0001-00000001", "B0001-00000002"]
    assert [s.path.name for s in strays] == ["notes.txt"]
    state = tmp_path / "state"
    dest = quarantine_files(state, [strays[0].path], "../../evil", "..", "a stray")
    assert dest == state / "quarantine" / "_spool" / "_badge"
    assert (dest / "notes.txt").is_file() and not (tmp_path / "evil").exists()
