"""`badgekit inbox import`: sessions from the real chain filed on SQLite and PostgreSQL,
idempotently, one transaction per meeting, bad input refused with nothing written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

from sqlalchemy import func, select

from inbox.importer import import_folder
from inbox.schema import audit, clips, documents, findings, meetings, metadata
from tests.inbox.chain import CASE


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_import_files_every_session_once(inbox, received):
    report = import_folder(inbox.engine, inbox.store, received)
    assert (len(report.new), report.refused) == (3, [])
    again = import_folder(inbox.engine, inbox.store, received)
    assert (len(again.new), len(again.updated), len(again.unchanged)) == (0, 0, 3)
    with inbox.engine.connect() as conn:
        m = conn.execute(select(meetings).where(meetings.c.badge == "B0001")).one()
        assert (m.tenant, m.branch, m.case_id, m.agent, m.clips, m.recovered, m.dropped_ms) == (
            "acme", "sh01", CASE, "B0001", 3, 1, 400)
        assert (m.problems, m.worst, m.review_state) == (2, 0, "pending")  # violated 严重 + missing 严重
        items = {f.item_id: (f.status, f.start_s) for f in conn.execute(select(findings).where(
            findings.c.meeting_id == m.id))}
        assert items["voice_claim"][0] == "violated" and items["cooling_off"] == ("missing", None)
        assert abs(items["trade_talk"][1] - 3.1) < 0.5
        gap = conn.execute(select(meetings).where(meetings.c.session == "S0010")).one()
        assert gap.gaps == 1  # seq 2-3 never arrived: the gateway's manifest says so, the inbox keeps it
        assert conn.execute(select(func.count()).select_from(audit)).scalar_one() == 3  # one import entry each
    if inbox.url.startswith("sqlite"):  # transcripts and the session key
        assert stat.S_IMODE(os.stat(inbox.url.split("///", 1)[1]).st_mode) == 0o600
    # every clip in the store is the received file, byte for byte, 0600 in 0700 folders
    with inbox.engine.connect() as conn:
        for c in conn.execute(select(clips)):
            path = inbox.store.path(c.wav_sha256)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            got = list(received.rglob(f"{c.clip_id}.wav"))[0].read_bytes()
            assert path.read_bytes() == got


def test_a_changed_byte_refuses_that_meeting_only_and_writes_nothing_of_it(inbox, received, tmp_path):
    copy = tmp_path / "rx"
    shutil.copytree(received, copy)
    wav = copy / "acme/sh01/B0001/S0001/clips/B0001-00000002.wav"
    data = bytearray(wav.read_bytes())
    data[len(data) // 2] ^= 0x01
    wav.write_bytes(bytes(data))
    report = import_folder(inbox.engine, inbox.store, copy)
    assert len(report.new) == 2
    assert [w for w, _ in report.refused] == ["acme/sh01/B0001/S0001"]
    assert "B0001-00000002 does not verify" in report.refused[0][1]
    with inbox.engine.connect() as conn:
        assert conn.execute(select(meetings.c.badge)).scalars().all() == ["B0002", "B0002"]
        assert conn.execute(select(func.count()).select_from(clips)).scalar_one() == 3


def test_a_broken_document_or_hostile_folder_name_is_one_clear_refusal(inbox, received, tmp_path):
    copy = tmp_path / "rx"
    shutil.copytree(received, copy)
    (copy / "acme/sh01/B0001/S0001/findings.json").write_text("{not json")
    os.rename(copy / "acme/sh02/B0002/S0009", copy / "acme/sh02/B0002/+S9")
    report = import_folder(inbox.engine, inbox.store, copy)
    reasons = dict(report.refused)
    assert "findings.json is not valid JSON" in reasons["acme/sh01/B0001/S0001"]
    assert "cannot be a topic level" in reasons["acme/sh02/B0002/+S9"]
    assert _count(inbox.engine, meetings) == 1 and _count(inbox.engine, findings) == 0


def test_a_new_revision_replaces_documents_and_keeps_verdicts(inbox, received, tmp_path):
    from inbox import service
    from inbox.auth import add_user

    copy = tmp_path / "rx"
    shutil.copytree(received, copy)
    import_folder(inbox.engine, inbox.store, copy)
    user = add_user(inbox.engine, "li", "reviewer", "acme", [], "pw-123456")
    with inbox.engine.begin() as conn:
        mid = conn.execute(select(meetings.c.id).where(meetings.c.badge == "B0001")).scalar_one()
        fid = conn.execute(select(findings.c.id).where(findings.c.item_id == "voice_claim")).scalar_one()
        service.review_finding(conn, user, mid, fid, "confirm", "")
    path = copy / "acme/sh01/B0001/S0001/findings.json"
    doc = json.loads(path.read_text())
    doc["revision"] += 1
    doc["findings"]["items"] = [i for i in doc["findings"]["items"] if i["id"] != "song_request"]
    path.write_text(json.dumps(doc, ensure_ascii=False))
    report = import_folder(inbox.engine, inbox.store, copy)
    assert (len(report.updated), len(report.unchanged)) == (1, 2)
    with inbox.engine.connect() as conn:
        rows = {f.item_id: f.review for f in conn.execute(select(findings).where(findings.c.meeting_id == mid))}
        assert rows == {"trade_talk": "open", "voice_claim": "confirmed", "cooling_off": "open"}
        body = conn.execute(select(documents.c.body).where(
            (documents.c.meeting_id == mid) & (documents.c.kind == "findings.json"))).scalar_one()
        assert json.loads(body)["revision"] == doc["revision"]
        assert [e.action for e in conn.execute(select(audit).where(audit.c.meeting_id == mid)
                                               .order_by(audit.c.seq))] == ["import", "finding_confirm", "reimport"]


def test_migrations_make_exactly_the_schema(inbox):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with inbox.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_import_cli_reports_and_exits(received, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    argv = [sys.executable, "-m", "badgekit", "inbox", "import", str(received), "--store", str(tmp_path / "s"),
            "--json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new"] == 3
    r = subprocess.run(argv[:5] + [str(tmp_path / "nope")], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "Traceback" not in r.stderr
