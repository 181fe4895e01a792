"""badgecore.atomicfile: a file is replaced whole or not at all, owner-only by default."""

from __future__ import annotations

import json
import os
import stat

import pytest

from badgecore.atomicfile import atomic_writer, temp_name, write_atomic


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_write_atomic_replaces_whole_file_owner_only(tmp_path):
    p = tmp_path / "clip.json"
    p.write_text("old")
    os.umask(0o022)
    write_atomic(p, '{"new": 1}')
    assert json.loads(p.read_text()) == {"new": 1}
    assert _mode(p) == 0o600
    assert sorted(x.name for x in tmp_path.iterdir()) == ["clip.json"]


def test_mode_is_exact_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "model.json", b"{}", mode=0o644)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "model.json") == 0o644


def test_failure_inside_writer_keeps_old_content_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "state.json"
    p.write_text("kept")
    with pytest.raises(RuntimeError), atomic_writer(p, "w") as f:
        f.write("half")
        raise RuntimeError("power cut")
    assert p.read_text() == "kept"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["state.json"]


def test_temporary_name_is_hidden_partial_and_per_writer(tmp_path):
    t = temp_name(tmp_path / "a.wav")
    assert t.parent == tmp_path and t.name.startswith(".a.wav.") and t.name.endswith(".partial")
    assert str(os.getpid()) in t.name


def test_refuses_a_read_mode(tmp_path):
    with pytest.raises(ValueError), atomic_writer(tmp_path / "x", "rb"):
        pass
