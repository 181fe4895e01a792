"""An inbox app on a test database with the chain's meetings and four users."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inbox.auth import add_user
from inbox.importer import import_folder
from inbox.web import InboxSettings, make_app

PASSWORD = "pw-for-tests-1"
USERS = {  # name: (role, tenant, branches)
    "rev1": ("reviewer", "acme", ["sh01"]),
    "rev2": ("reviewer", "acme", ["sh02"]),
    "sup": ("supervisor", "acme", []),
    "stranger": ("admin", "other", []),
}


def make_client(inbox, received, **settings) -> TestClient:
    import_folder(inbox.engine, inbox.store, received)
    for name, (role, tenant, branches) in USERS.items():
        add_user(inbox.engine, name, role, tenant, branches, PASSWORD)
    app = make_app(InboxSettings(db_url=inbox.url, store_dir=inbox.store_dir, **settings), inbox.engine)
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token}).status_code
