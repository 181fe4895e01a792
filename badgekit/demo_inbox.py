"""The demo's last step: file the received meetings into an inbox and show where to look.

`load(received, store)` imports the receiver's folder into the inbox at `store` (SQLite
beside the audio) and (re)sets the `demo` supervisor's password to a fresh random one;
`serve(store, listen)` serves that inbox until Ctrl-C (127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

__all__ = ["DEMO_USER", "load", "serve"]

DEMO_USER = "demo"


def load(received: Path, store: Path, listen: str = "127.0.0.1:8470") -> dict[str, Any]:
    from inbox.auth import reset_password
    from inbox.db import default_db_url, open_db
    from inbox.importer import import_folder
    from inbox.store import AudioStore

    engine = open_db(default_db_url(store))
    try:
        report = import_folder(engine, AudioStore(store), received, actor="demo")
        password = secrets.token_urlsafe(9)
        reset_password(engine, DEMO_USER, password, role="supervisor", tenant="demo")
    finally:
        engine.dispose()
    return {"url": f"http://{listen}/", "user": DEMO_USER, "password": password, "store": str(store),
            "meetings": len(report.new) + len(report.updated) + len(report.unchanged),
            "refused": [f"{w}: {r}" for w, r in report.refused],
            "serve": f"badgekit inbox serve --store {store} --listen {listen}"}


def serve(store: Path, listen: str) -> None:
    import uvicorn

    from inbox.db import default_db_url
    from inbox.web import InboxSettings, make_app

    host, _, port = listen.rpartition(":")
    settings = InboxSettings(db_url=default_db_url(store), store_dir=store,
                             secure_cookies=host not in ("127.0.0.1", "localhost", "::1"))
    uvicorn.run(make_app(settings), host=host, port=int(port), log_level="warning")
