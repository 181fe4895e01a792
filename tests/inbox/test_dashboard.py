"""Dashboards: the roll-ups give the numbers `gateway rates` gives and the rows hold."""

from __future__ import annotations

import csv
import io

from sqlalchemy import case, func, select

from gateway.compliance import check_session, execution_rates, load_rules
from inbox.schema import findings, meetings
from tests.inbox.webclient import csrf_of, login, make_client

WINDOW = {"from": "2026-09-01", "to": "2026-12-31"}


def test_dashboard_numbers_equal_gateway_rates_and_the_database(inbox, received, tmp_path):
    rules = tmp_path / "pack.toml"
    from tests.inbox.chain import PACK

    rules.write_text(PACK, encoding="utf-8")
    expected = execution_rates([check_session(received / "acme/sh01/B0001/S0001", load_rules(rules))])
    with make_client(inbox, received) as client:
        assert login(client, "sup") == 303
        rates = client.get("/api/v1/dashboard/rates", params=WINDOW).json()
        got = {r["item_id"]: (r["hits"], r["sessions"], r["rate"]) for r in rates["rows"]}
        assert got == {r.item: (r.hits, r.sessions, round(r.rate, 4)) for r in expected.per_item}
        said = (findings.c.kind != "prohibited") & (findings.c.status == "said")
        violated = (findings.c.kind == "prohibited") & (findings.c.status == "violated")
        hit = case((said | violated, 1), else_=0)
        q = (select(meetings.c.agent, findings.c.item_id, func.sum(hit).label("h"), func.count().label("n"))
             .join(meetings, meetings.c.id == findings.c.meeting_id).group_by(meetings.c.agent, findings.c.item_id))
        with inbox.engine.connect() as conn:  # the same from the findings rows, not the roll-up
            sql = {(r.agent, r.item_id): (int(r.h), int(r.n)) for r in conn.execute(q)}
        by_agent = client.get("/api/v1/dashboard/rates_agent", params=WINDOW).json()["rows"]
        assert {(r["agent"], r["item_id"]): (r["hits"], r["sessions"]) for r in by_agent} == sql
        days = client.get("/api/v1/dashboard/agent_days", params=WINDOW).json()["rows"]
        assert sum(r["meetings"] for r in days) == 3
        weeks = client.get("/api/v1/dashboard/findings_week", params=WINDOW).json()["rows"]
        assert sum(r["violated"] for r in weeks) == 1 and sum(r["missing"] for r in weeks) == 1
        text = client.get("/dashboard/rates_agent.csv", params=WINDOW).text.lstrip("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {(r["agent"], r["item_id"]): (int(r["hits"]), int(r["sessions"])) for r in rows} == sql
        # 复检一次通过率: sent back once, then passed
        mid = next(r["id"] for r in client.get("/api/v1/meetings").json()["items"] if r["session"] == "S0001")
        token = csrf_of(client.get(f"/meetings/{mid}").text)
        client.post(f"/meetings/{mid}/decision", data={"decision": "reinspect", "reason": "复听", "csrf": token})
        client.post(f"/meetings/{mid}/decision", data={"decision": "pass", "csrf": token})
        fp = client.get("/api/v1/dashboard/first_pass", params=WINDOW).json()["rows"]
        assert [(r["reinspected"], r["first_pass"], r["rate"]) for r in fp] == [(1, 1, 1.0)]
        page = client.get("/dashboard", params=WINDOW)
        assert page.status_code == 200 and "echarts.min.js" in page.text and "trade_talk" in page.text
