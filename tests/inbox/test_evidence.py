"""Evidence zips: exported by the inbox, verified offline by `badgekit evidence verify`."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from sqlalchemy import select

from inbox.errors import EvidenceError
from inbox.evidence import verify_zip
from inbox.schema import audit, meetings
from tests.inbox.chain import CASE
from tests.inbox.webclient import login, make_client

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _verify_cli(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "badgekit", "evidence", "verify", str(path)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_meeting_zip_verifies_and_any_changed_byte_fails(inbox, received, tmp_path):
    with make_client(inbox, received) as client:
        assert login(client, "rev1") == 303
        with inbox.engine.connect() as conn:
            mid = conn.execute(select(meetings.c.id).where(meetings.c.session == "S0001")).scalar_one()
        r = client.get(f"/meetings/{mid}/evidence.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    path = tmp_path / "evidence.zip"
    path.write_bytes(r.content)
    v = verify_zip(path)
    assert (v.meetings, v.clips) == (1, 3) and v.manifest_sha256 == r.headers["x-manifest-sha256"]
    with inbox.engine.connect() as conn:
        last = conn.execute(select(audit).where(audit.c.meeting_id == mid).order_by(audit.c.seq.desc())).first()
    assert last.action == "export" and v.manifest_sha256 in last.after
    ok = _verify_cli(path)
    assert ok.returncode == 0 and ok.stdout.startswith("ok:") and "3 clips" in ok.stdout
    data = r.content
    rng = random.Random(28)
    positions = sorted({*range(0, 64), *range(len(data) - 200, len(data)),
                        *(rng.randrange(len(data)) for _ in range(150))})
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x20
        path.write_bytes(bytes(bad))
        with pytest.raises(EvidenceError):
            verify_zip(path)
    bad = bytearray(data)
    bad[len(data) // 2] ^= 1
    path.write_bytes(bytes(bad))
    r = _verify_cli(path)
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_case_zip_holds_the_case_group_and_garbage_is_one_line(inbox, received, tmp_path):
    with make_client(inbox, received) as client:
        assert login(client, "sup") == 303
        r = client.get(f"/cases/{CASE}/evidence.zip")
        assert client.get("/cases/K-none/evidence.zip").status_code == 404
    path = tmp_path / "case.zip"
    path.write_bytes(r.content)
    assert verify_zip(path).meetings == 1
    path.write_bytes(b"PK\x03\x04 not really a zip")
    r = _verify_cli(path)
    assert r.returncode == 1 and "not a readable zip" in r.stderr
