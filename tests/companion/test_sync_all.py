"""`badgekit companion sync` with no badge named: every reachable badge of this branch."""

from __future__ import annotations

import json


def test_sync_without_names_takes_every_reachable_badge_of_the_branch(tray, companion, tmp_path):
    ours = [tray("BKA-0001", clips=2), tray("BKA-0002", clips=3)]
    stranger = tray("BKZ-0009", clips=1)  # never enrolled here
    for b in ours:
        res = companion("enroll", "--port", b.port, "--agent", "wang")
        assert res.exit_code == 0, res.output
    ports = ", ".join(f"'{b.port}'" for b in [*ours, stranger])
    settings = tmp_path / "pc1" / "cfg" / "companion.toml"
    settings.write_text(settings.read_text() + f"\n[scan]\nble = false\nports = [{ports}]\n")
    res = companion("sync", "--spool", str(companion.spool), "--json")
    assert res.exit_code == 0, res.output
    reports = json.loads(res.stdout)
    assert sorted((r["badge"], r["synced"]) for r in reports) == [("BKA-0001", 2), ("BKA-0002", 3)]
    assert "BKZ-0009" in res.stderr and "not enrolled" in res.stderr
    assert len(list(companion.spool.rglob("*.custody.json"))) == 5


def test_sync_without_names_and_nothing_in_reach_is_one_line(companion, tmp_path):
    settings = tmp_path / "pc1" / "cfg" / "companion.toml"
    settings.write_text(settings.read_text() + "\n[scan]\nble = false\nserial = false\n")
    res = companion("sync", "--spool", str(companion.spool))
    assert res.exit_code == 1
    assert "no badge of this branch within reach" in res.output
    assert "Traceback" not in res.output
