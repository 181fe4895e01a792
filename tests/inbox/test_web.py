"""The workspace over HTTP (Starlette's test client on the real app), on SQLite and
PostgreSQL: login, scoping, review and its audit chain, API, audio ranges, CSV."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest
from sqlalchemy import select, update

from inbox.auth import create_token
from inbox.schema import audit, findings, meetings
from tests.inbox.chain import CASE
from tests.inbox.webclient import csrf_of, login, make_client


@pytest.fixture
def client(inbox, received):
    with make_client(inbox, received) as c:
        yield c


def _ids(inbox) -> dict[str, int]:
    with inbox.engine.connect() as conn:
        return {r.session: r.id for r in conn.execute(select(meetings.c.session, meetings.c.id))}


def _finding(inbox, item: str) -> int:
    with inbox.engine.connect() as conn:
        return conn.execute(select(findings.c.id).where(findings.c.item_id == item)).scalar_one()


def test_list_filters_sorts_counts_and_paginates(client, inbox):
    assert client.get("/meetings").status_code == 303  # not logged in
    assert login(client, "sup") == 303
    page = client.get("/meetings")
    assert page.status_code == 200 and page.text.count('href="/meetings/') == 3
    api = client.get("/api/v1/meetings", params={"per_page": 2, "sort": "old"}).json()
    assert api["total"] == 3 and api["counts"]["pending"] == 3 and len(api["items"]) == 2
    assert [m["session"] for m in api["items"]] == ["S0001", "S0009"]
    assert client.get("/api/v1/meetings", params={"per_page": 2, "page": 2}).json()["items"][0]["session"] == "S0001"
    for params, want in [({"branch": "sh02"}, {"S0009", "S0010"}), ({"case": CASE}, {"S0001"}),
                         ({"severity": "严重"}, {"S0001"}), ({"state": "passed"}, set()),
                         ({"from": "2026-11-30", "to": "2026-11-30"}, {"S0001"}), ({"badge": "B0002"}, {"S0009", "S0010"})]:
        got = {m["session"] for m in client.get("/api/v1/meetings", params=params).json()["items"]}
        assert got == want, params
    csv = client.get("/meetings.csv", params={"branch": "sh02"})
    assert csv.status_code == 200 and csv.text.count("\n") == 3 and "S0010" in csv.text


def test_reviewer_of_one_branch_gets_404_for_every_other_meeting(client, inbox):
    ids = _ids(inbox)
    other = ids["S0009"]
    assert login(client, "rev1") == 303
    assert {m["session"] for m in client.get("/api/v1/meetings").json()["items"]} == {"S0001"}
    for url in (f"/meetings/{other}", f"/api/v1/meetings/{other}", f"/api/v1/meetings/{other}/audit",
                f"/meetings/{other}/audio.wav", f"/meetings/{other}/clips/B0002-00000001.wav",
                f"/meetings/{other}/evidence.zip", f"/api/v1/meetings/{other}/evidence.zip", "/meetings/99999"):
        assert client.get(url).status_code == 404, url
    token = csrf_of(client.get(f"/meetings/{ids['S0001']}").text)
    r = client.post(f"/meetings/{other}/decision", data={"decision": "pass", "csrf": token})
    assert r.status_code == 404
    assert client.get("/dashboard").status_code == 404  # dashboards are for supervisors
    assert login(client, "stranger") == 303  # another tenant sees nothing of acme
    assert client.get("/api/v1/meetings").json()["total"] == 0
    assert client.get(f"/meetings/{ids['S0001']}").status_code == 404


def test_state_changes_need_the_csrf_token(client, inbox):
    mid = _ids(inbox)["S0001"]
    assert client.post("/login", data={"name": "sup", "password": "x"}).status_code == 403
    assert login(client, "sup") == 303
    for data in ({"decision": "pass"}, {"decision": "pass", "csrf": "forged"}):
        r = client.post(f"/meetings/{mid}/decision", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/api/v1/meetings/{mid}/comments", json={"text": "hi"})
    assert r.status_code == 403
    with inbox.engine.connect() as conn:
        assert conn.execute(select(meetings.c.review_state).where(meetings.c.id == mid)).scalar_one() == "pending"
        assert [a for a in conn.execute(select(audit.c.action).where(audit.c.meeting_id == mid)).scalars()] == ["import"]


def test_review_actions_are_a_hash_chained_audit_log(client, inbox):
    mid = _ids(inbox)["S0001"]
    assert login(client, "rev1") == 303
    token = csrf_of(client.get(f"/meetings/{mid}").text)

    def post(url, **data):
        return client.post(url, data={**data, "csrf": token})

    fid = _finding(inbox, "voice_claim")
    assert post(f"/meetings/{mid}/findings/{fid}", action="confirm").status_code == 303
    r = post(f"/meetings/{mid}/findings/{_finding(inbox, 'cooling_off')}", action="overrule")
    assert r.status_code == 400 and "reason" in r.text
    assert post(f"/meetings/{mid}/findings/{_finding(inbox, 'cooling_off')}", action="overrule",
                reason="在第二次面谈中已说明").status_code == 303
    assert post(f"/meetings/{mid}/decision", decision="reinspect").status_code == 400  # needs a reason
    assert post(f"/meetings/{mid}/decision", decision="reinspect", reason="复听第2段").status_code == 303
    assert post(f"/meetings/{mid}/decision", decision="pass").status_code == 303
    r = post(f"/meetings/{mid}/decision", decision="fail", reason="x")
    assert r.status_code == 400 and "supervisor" in r.text  # a reviewer cannot undo a decision
    assert post(f"/meetings/{mid}/comment", text="已复核").status_code == 303
    log = client.get(f"/api/v1/meetings/{mid}/audit").json()
    assert [(e["action"], e["actor"], e["before"], e["after"]) for e in log[1:]] == [
        ("finding_confirm", "rev1", "open", "confirmed"), ("finding_overrule", "rev1", "open", "overruled"),
        ("reinspect", "rev1", "pending", "reinspect"), ("pass", "rev1", "reinspect", "passed"),
        ("comment", "rev1", "", "")]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(log, log[1:], strict=False))
    view = client.get(f"/api/v1/meetings/{mid}").json()
    assert view["audit_ok"] is None and view["meeting"]["review_state"] == "passed"
    page = client.get(f"/meetings/{mid}").text
    assert "在第二次面谈中已说明" in page and "链完整" in page
    assert "gw-sh01" in page and "K-2026.0017" in page  # custody names the gateway; the case id
    with inbox.engine.begin() as conn:  # an edit behind the application's back shows on the page
        conn.execute(update(audit).where((audit.c.meeting_id == mid) & (audit.c.seq == 3))
                     .values(reason="改过"))
    assert "edited" in client.get(f"/api/v1/meetings/{mid}").json()["audit_ok"]
    assert "链断裂" in client.get(f"/meetings/{mid}").text


def test_api_token_openapi_and_clear_errors(client, inbox):
    mid = _ids(inbox)["S0001"]
    token = create_token(inbox.engine, "rev1")
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/meetings").status_code == 401
    assert client.get("/api/v1/meetings", headers={"Authorization": "Bearer bk_wrong"}).status_code == 401
    assert client.get("/api/v1/meetings", headers=h).json()["total"] == 1
    fid = _finding(inbox, "trade_talk")
    r = client.post(f"/api/v1/meetings/{mid}/findings/{fid}", headers=h, json={"action": "confirm"})
    assert r.status_code == 200 and r.json()["after"] == "confirmed"
    r = client.post(f"/api/v1/meetings/{mid}/findings/{fid}", headers=h, json={"action": "delete"})
    assert r.status_code == 422 and "action" in r.json()["error"]
    r = client.post(f"/api/v1/meetings/{mid}/decision", headers=h, content=b"{not json",
                    )
    assert r.status_code == 422
    assert client.get("/api/v1/meetings/424242", headers=h).json() == {"error": "no meeting 424242"}
    doc = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/meetings", "/api/v1/meetings/{mid}", "/api/v1/meetings/{mid}/decision",
            "/api/v1/dashboard/{name}"} <= set(doc["paths"])
    assert not any(p.startswith("/meetings") for p in doc["paths"])


def test_audio_is_the_clips_on_the_session_time_line_with_ranges(client, inbox, received):
    from gateway.transcribe import decode_wav

    mid = _ids(inbox)["S0001"]
    assert login(client, "rev1") == 303
    full = client.get(f"/meetings/{mid}/audio.wav")
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    part = client.get(f"/meetings/{mid}/audio.wav", headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206 and part.content == full.content[44:1044]
    assert part.headers["content-range"] == f"bytes 44-1043/{len(full.content)}"
    with wave.open(io.BytesIO(full.content)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    clip = received / "acme/sh01/B0001/S0001/clips/B0001-00000003.wav"
    samples = decode_wav(clip).samples
    at = int(round(json.loads(clip.with_suffix(".json").read_text())["sidecar"]["session_offset_samples"]))
    assert np.array_equal(pcm[at : at + len(samples)], samples)  # 1 s of the file is 1 s of the meeting
    original = client.get(f"/meetings/{mid}/clips/B0001-00000003.wav")
    assert original.content == clip.read_bytes()


def test_expired_session_and_login_back_off(inbox, received):
    import time

    with make_client(inbox, received, session_max_age_s=1) as client:
        assert login(client, "rev1") == 303
        assert client.get("/meetings").status_code == 200
        time.sleep(1.2)
        r = client.get("/meetings")
        assert r.status_code == 303 and r.headers["location"] == "/login?expired=1"
        assert client.get("/api/v1/meetings").status_code == 401
        assert "会话已过期" in client.get("/login?expired=1").text
        assert [login(client, "rev1", "wrong") for _ in range(3)] == [401, 401, 401]
        client.cookies.clear()
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"name": "rev1", "password": "pw-for-tests-1", "csrf": token})
        assert r.status_code == 429 and "try again" in r.text  # even the right password waits
        assert login(client, "nobody", "x") == 401  # unknown names are answered the same way
        time.sleep(1.1)
        assert login(client, "rev1") == 303


def test_hostile_text_is_escaped_and_no_path_leaves_the_store(inbox, received, tmp_path):
    import shutil

    copy = tmp_path / "rx"
    shutil.copytree(received / "acme/sh02/B0002/S0009", copy / "acme/sh02/B0002/S0009")
    evil = "<script>alert(1)</script>"
    (copy / "acme/sh02/B0002/S0009/transcript.json").write_text(json.dumps({
        "kind": "transcript", "revision": 10**15, "badge": "B0002", "session": "S0009", "case_id": "<script>x</script>",
        "transcript": {"case_id": "<script>x</script>", "segments": [{"start": 0.1, "end": 1.0, "text": evil}]}}))
    from inbox.importer import import_folder

    with make_client(inbox, received) as client:
        assert len(import_folder(inbox.engine, inbox.store, copy).updated) == 1
        assert login(client, "sup") == 303
        mid = _ids(inbox)["S0009"]
        for url in (f"/meetings/{mid}", "/meetings"):
            page = client.get(url).text
            assert "<script>alert(1)" not in page and "<script>x</script>" not in page
            assert "&lt;script&gt;" in page
        for url in ("/meetings/..%2F..%2Fetc%2Fpasswd", "/meetings/1/clips/..%2F..%2Finbox.db.wav",
                    "/meetings/../inbox.db", "/cases/..%2F..%2Finbox.db/evidence.zip",
                    "/dashboard/..%2F..%2Finbox.db.csv", "/api/v1/meetings/..%2Finbox.db",
                    "/api/v1/dashboard/..%2F..%2Fx", "/static/..%2F..%2F..%2Finbox.db",
                    "/static/../../inbox.db", f"/meetings/{mid}/clips/..wav"):
            r = client.get(url)
            assert r.status_code == 404, url
            assert b"SQLite format" not in r.content and b"root:" not in r.content


def test_concurrent_reviewers_never_fork_the_audit_chain(inbox, received):
    from concurrent.futures import ThreadPoolExecutor

    from inbox import audit as audit_log
    from inbox import service
    from inbox.auth import add_user
    from inbox.importer import import_folder

    import_folder(inbox.engine, inbox.store, received)
    user = add_user(inbox.engine, "r", "reviewer", "acme", [], "pw-123456")
    mid = _ids(inbox)["S0001"]

    def one(n: int) -> None:
        with inbox.engine.begin() as conn:
            service.comment(conn, user, mid, f"comment {n}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(24)))
    with inbox.engine.connect() as conn:
        log = audit_log.entries(conn, mid)
    assert len(log) == 25 and audit_log.verify_chain(log) is None
