"""The companion checks each clip's seal (format version 2) before it acknowledges it.

Real parts: the badge firmware under the MicroPython unix port on a pty, the companion
CLI over pyserial. A clip whose trailer was altered on the badge after it was sealed
(its hash still matches: `samples` is outside the hash) is refused in one line and stays
on the badge; the others are acked and carry ``auth: authenticated``; a version 1 clip
is taken and marked unauthenticated.
"""

from __future__ import annotations

import json
from pathlib import Path

from companion.keystore import KeyStore
from tests.sync.helpers import SerialBadge, cli, make_clips

HERE = Path(__file__).parent
SECRET = bytes(range(32))


def _sides(spool: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in spool.glob("*/*/*.json")
            if not p.name.endswith(".custody.json") and p.parent.name != ".rejected"}


def test_bad_seal_is_never_acked_and_stays_on_the_badge(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-5ea1", 3)
    ks = tmp_path / "keys.json"
    KeyStore(ks).put("bk-5ea1", SECRET, "b1", "A")
    spool = tmp_path / "spool"
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    args = ("--secret", SECRET.hex(), "--branch", "b1", "--agent", "A", "--tamper", "1")
    with SerialBadge(tmp_path / "clips", main=HERE / "mp_sealed_badge.py",
                     extra_args=args) as badge:
        for _ in range(2):  # a second sync refuses it again: never acked
            r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool),
                    "--branch", "b1", "--keystore", str(ks), "--json", env=env)
            rep = json.loads(r.stdout)
            rep = rep[0] if isinstance(rep, list) else rep
            bad = [c for c in rep["clips"] if c["status"] == "rejected"]
            assert [c["clip_id"] for c in bad] == ["bk-5ea1-00000001"], r.stdout
            assert not bad[0]["acked"] and "bad_mac" in bad[0]["message"]
            assert "stays on the badge" in bad[0]["message"] and "\n" not in bad[0]["message"]
        r = cli("companion", "status", "--port", badge.port, "--keystore", str(ks), "--branch",
                "b1", "--json", env=env)
        assert r.returncode == 0, r.stderr
        left = [c["clip_id"] for c in json.loads(r.stdout)["clips_unsynced"]]
        assert left == ["bk-5ea1-00000001"]
    sides = _sides(spool)
    assert sorted(sides) == ["bk-5ea1-00000000", "bk-5ea1-00000002"]
    assert {s["auth"] for s in sides.values()} == {"authenticated"}
    assert {s["format_version"] for s in sides.values()} == {2}
    custody = [json.loads(p.read_text()) for p in spool.glob("*/*/*.custody.json")]
    assert len(custody) == 2
    assert {c["auth"] for c in custody} == {"authenticated"}
    assert len(list((spool / "bk-5ea1" / ".rejected").glob("*.reason.json"))) == 2


def test_version_1_clips_are_taken_and_marked_unauthenticated(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-0001", 2)  # recorded before enrollment: version 1
    ks, spool = tmp_path / "keys.json", tmp_path / "spool"
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    with SerialBadge(tmp_path / "clips") as badge:
        r = cli("companion", "enroll", "--port", badge.port, "--agent", "A", "--branch", "b1",
                "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--branch",
                "b1", "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
    sides = _sides(spool)
    assert len(sides) == 2
    assert {(s["auth"], s["format_version"]) for s in sides.values()} == {("unauthenticated", 1)}
