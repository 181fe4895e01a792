"""The one clip verifier (badgecore.clipcheck) on real clips from the spool test helpers."""

from __future__ import annotations

import io
import shutil
import struct
import wave
from pathlib import Path

from badgecore.clipcheck import ZERO_HASH, ClipCheck, chain_gaps, check_chain, check_clip
from tests.delivery.spoolmaker import make_session


def _clips(tmp_path: Path, n: int = 4, **kw) -> tuple[list[dict], Path]:
    sides = make_session(tmp_path / "spool", clips=n, **kw)
    return sides, tmp_path / "spool" / "B0001" / "S0001"


def _wav(folder: Path, side: dict) -> Path:
    return folder / f"{side['clip_id']}.wav"


def test_a_good_clip_reads_whole(tmp_path):
    sides, folder = _clips(tmp_path, 1)
    c = check_clip(_wav(folder, sides[0]), expect_sha256=sides[0]["sha256"])
    assert c.ok and c.status == "ok" and c.reason == ""
    assert (c.clip_id, c.badge, c.session, c.seq) == (sides[0]["clip_id"], "B0001", "S0001", 1)
    assert c.sha256 == sides[0]["sha256"] and c.prev_sha256 == ZERO_HASH
    assert c.file_name == f"{sides[0]['clip_id']}.wav"
    same = check_clip(io.BytesIO(_wav(folder, sides[0]).read_bytes()))
    assert same.ok and same.path is None and same.file_name == sides[0]["clip_id"]


def test_altered_audio_is_a_hash_mismatch(tmp_path):
    sides, folder = _clips(tmp_path, 1)
    p = _wav(folder, sides[0])
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    c = check_clip(p)
    assert c.status == "hash_mismatch" and not c.ok and c.reason
    assert c.clip_id == sides[0]["clip_id"]  # the header still names it
    other = check_clip(_wav(folder, sides[0]), expect_sha256="ab" * 32)
    assert other.status == "hash_mismatch"


def test_empty_not_riff_unreadable_and_not_a_clip(tmp_path):
    sides, folder = _clips(tmp_path, 1)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert (check_clip(empty).status, check_clip(empty).reason) == ("not_audio", "empty file")
    text = tmp_path / "text.wav"
    text.write_text("not audio at all, just some text")
    assert (check_clip(text).status, check_clip(text).reason) == ("not_audio", "not a RIFF/WAVE file")
    missing = check_clip(tmp_path / "gone.wav")
    assert missing.status == "corrupt" and missing.reason.startswith("unreadable clip:")
    plain = tmp_path / "plain.wav"
    with wave.open(str(plain), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<100h", *range(100)))
    assert check_clip(plain).status == "not_a_clip"
    cut = tmp_path / "cut.wav"
    cut.write_bytes(_wav(folder, sides[0]).read_bytes()[:200])
    assert check_clip(cut).status in ("truncated", "corrupt", "not_a_clip") and not check_clip(cut).ok


def test_an_intact_chain_has_no_findings(tmp_path):
    sides, folder = _clips(tmp_path, 4)
    checks = [check_clip(_wav(folder, s)) for s in reversed(sides)]
    chain = check_chain("B0001", checks)
    assert chain.gaps == () and chain.repeats == ()
    assert [c.seq for c in chain.order] == [1, 2, 3, 4]
    assert chain_gaps("B0001", checks) == []


def test_a_missing_clip_is_a_gap(tmp_path):
    sides, folder = _clips(tmp_path, 4)
    checks = [check_clip(_wav(folder, s)) for s in sides if s["seq"] != 2]
    [gap] = chain_gaps("B0001", checks)
    assert gap.kind == "missing" and gap.missing_seqs == (2,)
    assert (gap.after_clip, gap.before_clip) == (sides[0]["clip_id"], sides[2]["clip_id"])
    assert gap.as_dict()["badge"] == "B0001" and "badge" not in gap.to_json()


def test_a_broken_prev_hash_link(tmp_path):
    sides, folder = _clips(tmp_path, 2)
    other = make_session(tmp_path / "other", clips=2, prev_sha256="ab" * 32)  # the same seqs, another chain
    swapped = _wav(tmp_path / "other" / "B0001" / "S0001", other[1])
    checks = [check_clip(_wav(folder, sides[0])), check_clip(swapped)]
    [gap] = chain_gaps("B0001", checks)
    assert gap.kind == "broken" and gap.missing_seqs == ()
    assert "chain broken between" in gap.reason


def test_a_repeated_sequence_number(tmp_path):
    sides, folder = _clips(tmp_path, 2)
    copy = tmp_path / "copy"
    make_session(copy, clips=2, prev_sha256="ab" * 32)  # seq 2 again, another hash
    again = check_clip(_wav(copy / "B0001" / "S0001", {"clip_id": sides[1]["clip_id"]}))
    checks = [check_clip(_wav(folder, s)) for s in sides] + [again]
    chain = check_chain("B0001", checks)
    assert len(chain.repeats) == 1 and chain.repeats[0][0] is again
    assert chain.repeat_notes() == [f"{again.file_name} repeats sequence number 2 of {again.file_name}"]
    assert [g.kind for g in chain_gaps("B0001", checks)] == ["repeat"]
    # the same clip stored twice (one record, two readers) is not a repeat
    dup = ClipCheck.link(sides[0]["clip_id"], 1, sides[0]["sha256"], ZERO_HASH)
    assert chain_gaps("B0001", [dup, dup]) == []


def test_a_chain_that_starts_after_the_first_clip(tmp_path):
    sides, folder = _clips(tmp_path, 3)
    later = [check_clip(_wav(folder, s)) for s in sides[1:]]
    [gap] = chain_gaps("B0001", later)
    assert gap.kind == "start" and gap.after_clip == "" and "starts at seq 2" in gap.reason
    linked = check_chain("B0001", later, before=(sides[0]["clip_id"], sides[0]["sha256"]))
    assert linked.gaps == ()
    wrong = check_chain("B0001", later, before=(sides[0]["clip_id"], "cd" * 32))
    assert [g.kind for g in wrong.gaps] == ["broken"]


def test_the_file_and_its_copy_give_one_answer(tmp_path):
    sides, folder = _clips(tmp_path, 1)
    shutil.copy(_wav(folder, sides[0]), tmp_path / "copy.wav")
    a, b = check_clip(_wav(folder, sides[0])), check_clip(tmp_path / "copy.wav")
    assert (a.sha256, a.seq, a.status) == (b.sha256, b.seq, b.status)
