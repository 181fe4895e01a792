"""The demo's last step: its received meetings in an inbox, with a demo login that works."""

from __future__ import annotations

from fastapi.testclient import TestClient

from badgekit.demo_inbox import load
from inbox.db import default_db_url
from inbox.web import InboxSettings, make_app
from tests.inbox.webclient import csrf_of


def test_demo_loads_meetings_and_prints_a_working_login(received, tmp_path):
    store = tmp_path / "demo-inbox"
    first = load(received, store)
    again = load(received, store)  # a second demo run: same meetings, a new password
    assert first["meetings"] == again["meetings"] == 3 and first["password"] != again["password"]
    assert first["url"] == "http://127.0.0.1:8470/" and first["refused"] == []
    with TestClient(make_app(InboxSettings(default_db_url(store), store)), follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        ok = client.post("/login", data={"name": "demo", "password": again["password"], "csrf": token})
        assert ok.status_code == 303
        assert client.get("/api/v1/meetings").json()["total"] == 0  # the chain's tenant is acme, not demo
