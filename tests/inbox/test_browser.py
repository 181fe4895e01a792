"""The workspace in Debian's real Chromium (Playwright for Python driving /usr/bin/chromium;
nothing downloaded): log in, open a meeting received through the real chain, jump to a
finding, confirm it, export and verify the evidence, check a chart against the database.

Set BADGEKIT_SCREENSHOTS=docs/inbox to refresh the screenshots in docs/inbox.md.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import case, func, select

from badgekit.broker import free_port
from inbox.evidence import verify_zip
from inbox.schema import findings, meetings
from tests.inbox.webclient import PASSWORD, USERS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
WINDOW = "from=2026-09-01&to=2026-12-31"


@pytest.fixture(scope="module")
def server(received, tmp_path_factory):
    import uvicorn

    from inbox.auth import add_user
    from inbox.db import open_db
    from inbox.importer import import_folder
    from inbox.store import AudioStore
    from inbox.web import InboxSettings, make_app

    work = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{work / 'inbox.db'}"
    engine = open_db(url)
    store = AudioStore(work / "store")
    import_folder(engine, store, received)
    for name, (role, tenant, branches) in USERS.items():
        add_user(engine, name, role, tenant, branches, PASSWORD)
    port = free_port()
    app = make_app(InboxSettings(db_url=url, store_dir=work / "store"), engine)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine, work
    srv.should_exit = True
    t.join(10)
    engine.dispose()


def _wait_until(page, predicate: str, arg=None, timeout_s: float = 10.0) -> None:
    """Poll `predicate` in the page. Playwright's wait_for_function evaluates its
    predicate with eval(), which the inbox's Content-Security-Policy (rightly) forbids;
    page.evaluate goes through the debugger protocol and is not subject to it."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"page never satisfied: {predicate}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing; fix: sudo apt-get install -y chromium fonts-noto-cjk (or script/bootstrap)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page, name: str, work: Path) -> None:
    path = work / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    dest = os.environ.get("BADGEKIT_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(dest) / path.name)


def test_review_a_meeting_in_chromium(server, browser, tmp_path):
    base, engine, work = server
    page = browser.new_page(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/meetings")
    assert page.url.endswith("/login")
    page.fill("input[name=name]", "sup")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/meetings")
    assert page.locator("table.list tbody tr").count() == 3
    _shot(page, "list", work)
    page.click("table.list tbody tr:has(td.case:text('K-2026.0017')) a")
    page.wait_for_selector("#player")
    with engine.connect() as conn:
        start = conn.execute(select(findings.c.start_s).where(findings.c.item_id == "trade_talk")).scalar_one()
    page.click("tr[data-item=trade_talk] a.seek")
    _wait_until(page, "t => { const p = document.getElementById('player'); return !p.seeking && p.readyState >= 1 "
                "&& Math.abs(p.currentTime - t) < 0.5; }", start)
    now = page.evaluate("document.getElementById('player').pause() || document.getElementById('player').currentTime")
    assert abs(now - start) < 0.5
    _shot(page, "meeting", work)
    row = page.locator("tr[data-item=trade_talk]")
    row.locator("input[name=reason]").fill("已听，确实说明了交易情况")
    row.locator("button[value=confirm]").click()
    page.wait_for_selector("tr.audit-entry[data-action=finding_confirm]")
    entry = page.locator("tr.audit-entry[data-action=finding_confirm]").inner_text()
    assert "sup" in entry and "confirmed" in entry and "已听" in entry
    assert page.locator("tr[data-item=trade_talk] .review-confirmed").count() == 1
    with page.expect_download() as dl:
        page.click("#export")
    zpath = tmp_path / "evidence.zip"
    dl.value.save_as(zpath)
    v = verify_zip(zpath)
    assert (v.meetings, v.clips) == (1, 3)
    page.click("a.lang")
    assert page.locator("h2:text('Findings')").count() == 1
    page.click("a.lang")
    page.goto(f"{base}/dashboard?{WINDOW}")
    _wait_until(page, "() => typeof echarts !== 'undefined' && "
                "echarts.getInstanceByDom(document.getElementById('chart-rates')) !== undefined")
    option = page.evaluate("(() => { const o = echarts.getInstanceByDom(document.getElementById('chart-rates'))"
                           ".getOption(); return {x: o.xAxis[0].data, y: o.series[0].data}; })()")
    hit = case((((findings.c.kind == "prohibited") & (findings.c.status == "violated"))
                | ((findings.c.kind != "prohibited") & (findings.c.status == "said")), 1), else_=0)
    with engine.connect() as conn:
        rows = conn.execute(select(findings.c.item_id, func.sum(hit), func.count())
                            .join(meetings, meetings.c.id == findings.c.meeting_id)
                            .group_by(findings.c.item_id).order_by(findings.c.item_id)).all()
    assert option["x"] == [r[0] for r in rows]
    assert option["y"] == [round(int(h) / int(n), 4) for _, h, n in rows]
    _shot(page, "dashboard", work)
    assert errors == []
    page.close()
