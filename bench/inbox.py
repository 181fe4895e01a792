"""Inbox at scale: import rate, list page and dashboard times at 1,000 and 100,000 meetings,
on SQLite and on a throwaway PostgreSQL, and the page weight.

    nice -n 10 .venv/bin/python bench/inbox.py [--meetings 100000] [--small 1000] [--db sqlite,postgresql]

Meetings are generated like the chain's (a clip per meeting written by the firmware's
clip writer, a transcript of sales-talk segments, findings for every item of the bundled
rule pack with per-agent habits), for a company of 600 agents in 30 branches over 12
weeks. The first `--timed` meetings are filed one by one through `file_session` (the
import's write path, one transaction per meeting: audio store, rows, roll-ups, audit
entry) and give the import rate; the rest are filled in batches of 1,000 meetings per
transaction with the same rows, to reach 100,000 in minutes. Query times are the median of
15 requests through the real app (Starlette's test client: routing, queries, templates),
after two warm-up rounds, alternating between a 1,000-meeting and a 100,000-meeting
database (same generator, same seed) so both see the same load on this shared machine;
the ratio 100,000 / 1,000 is the target (at most 3).
Data halves: seeds 28 and 29 are the sets the list's indexes were chosen on (seed 28's first
100,000-meeting run showed the severity filter sorting 60,000 rows, seed 29's the per-state
counts of one branch scanning every pending meeting); the figures are reported on seed 30.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine  # noqa: E402

from gateway.compliance import load_rules  # noqa: E402
from inbox import audit, stats  # noqa: E402
from inbox.importer import _finding_rows, _meeting_row, file_session  # noqa: E402
from inbox.schema import audit as audit_table  # noqa: E402
from inbox.schema import clips, documents, findings, meetings  # noqa: E402
from inbox.session_files import ClipFile, SessionFiles  # noqa: E402
from inbox.store import AudioStore  # noqa: E402

AGENTS, BRANCHES, DAYS = 600, 30, 84
END = datetime(2026, 12, 4, 18, 0)
PHRASES = ["您好，我是平安保险的客户经理，今天给您介绍一款增额终身寿险。", "这次谈话会全程录音，请您知悉。",
           "这个产品有十五天的犹豫期，期间退保可以全额退还保费。", "保险责任包括身故和全残，具体以合同条款为准。",
           "责任免除的部分请您仔细阅读，酒驾、自杀两年内都不赔。", "如果提前退保，现金价值可能低于您交的保费。",
           "缴费期是十年，每年交两万元。", "您看还有什么不明白的地方，我再给您讲一讲。",
           "这个收益比银行存款高多了，放心吧。", "方便留一下您的手机号吗？"]


def _clip_bytes(work: Path) -> tuple[bytes, dict]:
    from tests.delivery.spoolmaker import make_session

    side = make_session(work / "spool", clips=1, blocks_per_clip=32)[0]
    return (work / "spool/B0001/S0001" / f"{side['clip_id']}.wav").read_bytes(), side


def generate(n: int, seed: int = 28):
    """Yield SessionFiles for n meetings (deterministic)."""
    rng = random.Random(seed)
    pack = load_rules(None)
    habit = {(a, it.id): rng.random() for a in range(AGENTS) for it in pack.items}
    tmp = Path(tempfile.mkdtemp(prefix="bk-bench-clip-"))
    clip, side = _clip_bytes(tmp)
    shutil.rmtree(tmp)
    for i in range(n):
        a = rng.randrange(AGENTS)
        started = END - timedelta(seconds=rng.randrange(DAYS * 86400))
        segs, t = [], 0.5
        for _ in range(rng.randint(6, 10)):
            text = rng.choice(PHRASES)
            segs.append({"start": round(t, 2), "end": round(t + len(text) / 5, 2), "text": text})
            t += len(text) / 5 + rng.uniform(0.3, 2.0)
        items = []
        for it in pack.items:
            p = habit[(a, it.id)]
            if it.kind == "required":
                status = "said" if rng.random() < 0.5 + 0.5 * p else "missing"
            else:
                status = ("violated" if it.kind == "prohibited" else "said") if rng.random() < 0.15 * p else "missing"
            s = rng.choice(segs) if status != "missing" else None
            items.append({"id": it.id, "kind": it.kind, "severity": it.severity, "status": status, "title": it.title,
                          "text": s["text"] if s else "", "start": s["start"] if s else None,
                          "clip": f"BK{a:04d}-{i:08d}" if s else None})
        transcript = {"segments": segs, "session_start": started.isoformat() + "Z", "duration_s": round(t, 2)}
        found = {"agent": f"agent{a:04d}", "items": items, "started": started.isoformat() + "Z"}
        raw = {"transcript.json": json.dumps({"revision": 1, "transcript": transcript}, ensure_ascii=False).encode(),
               "findings.json": json.dumps({"revision": 1, "findings": found}, ensure_ascii=False).encode()}
        c = ClipFile(f"BK{a:04d}-{i:08d}", i, side["sha256"], side["prev_sha256"], clip, 0.5, 8000, 1.0 * 32 * 505 / 16000,
                     started.isoformat() + "Z", False, 0, dict(side),
                     {"received_at": (started + timedelta(hours=rng.expovariate(1 / 20))).isoformat() + "Z"})
        yield SessionFiles("bench", f"br{a % BRANCHES:02d}", f"BK{a:04d}", f"S{i:08d}", [c], transcript, found, None,
                           raw=raw, revision=1, digest=hashlib.sha256(str(i).encode()).hexdigest())


def bulk_file(engine: Engine, store: AudioStore, batch: list[SessionFiles]) -> None:
    """The import's rows for many meetings in one transaction (fill only, not the timed path)."""
    from inbox.render import render_session

    wav = store.put(batch[0].clips[0].wav)
    audio = store.put(render_session(batch[0].clips, batch[0].duration_s))
    rows, items = [], []
    for f in batch:
        it = _finding_rows(f)
        rows.append({**_meeting_row(f, it, audio), "review_state": "pending", "reinspections": 0,
                     "first_reinspection": ""})
        items.append(it)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(meetings.insert().returning(meetings.c.id, sort_by_parameter_order=True),
                                          rows)]
        conn.execute(clips.insert(), [{"meeting_id": mid, "clip_id": f.clips[0].clip_id, "seq": f.clips[0].seq,
                                       "sha256": f.clips[0].sha256, "prev_sha256": f.clips[0].prev_sha256,
                                       "wav_sha256": wav, "offset_s": 0.5, "seconds": f.clips[0].seconds,
                                       "start_time": f.clips[0].start_time, "recovered": False, "dropped_ms": 0,
                                       "custody": json.dumps(f.clips[0].custody)} for mid, f in zip(ids, batch, strict=True)])
        conn.execute(findings.insert(), [{**x, "meeting_id": mid, "review": "open", "review_reason": ""}
                                         for mid, it in zip(ids, items, strict=True) for x in it])
        conn.execute(documents.insert(), [{"meeting_id": mid, "kind": k, "revision": 1,
                                           "sha256": hashlib.sha256(v).hexdigest(), "body": v.decode()}
                                          for mid, f in zip(ids, batch, strict=True) for k, v in f.raw.items()])
        sums: dict[str, dict[tuple, dict]] = {"iw": {}, "aiw": {}, "bd": {}, "ad": {}}

        def add(kind: str, key: dict, adds: dict, extra: dict | None = None) -> None:
            d = sums[kind].setdefault(tuple(key.values()), {**key, **{k: 0 for k in adds}, **(extra or {})})
            for k, v in adds.items():
                d[k] += v

        for r, it in zip(rows, items, strict=True):
            for x in it:
                hit = {"hits": int(stats.is_hit(x["kind"], x["status"])), "sessions": 1}
                key = {"tenant": r["tenant"], "branch": r["branch"], "week": r["week"], "item_id": x["item_id"]}
                add("iw", key, hit, {"kind": x["kind"]})
                add("aiw", {**key, "agent": r["agent"]}, hit, {"kind": x["kind"]})
            day = {"meetings": 1, "seconds": r["speech_s"], "delay_s": r["sync_delay_s"] or 0.0,
                   "delay_n": int(r["sync_delay_s"] is not None)}
            key = {"tenant": r["tenant"], "branch": r["branch"], "day": r["day"]}
            add("bd", key, day)
            add("ad", {**key, "agent": r["agent"]}, day)
        for kind, table, keys, adds in [
                ("iw", stats.stat_item_week, stats.ITEM_KEYS, ["hits", "sessions"]),
                ("aiw", stats.stat_agent_item_week, stats.AGENT_ITEM_KEYS, ["hits", "sessions"]),
                ("bd", stats.stat_branch_day, ["tenant", "branch", "day"], stats.DAY_ADDS),
                ("ad", stats.stat_agent_day, ["tenant", "branch", "day", "agent"], stats.DAY_ADDS)]:
            values = list(sums[kind].values())
            for i in range(0, len(values), 500):
                stats.upsert_many(conn, table, keys, adds, values[i:i + 500])
        entries = []
        for mid in ids:  # each meeting's first audit entry, chained from zero as audit.append does
            e = {"seq": 1, "at": datetime.utcnow().isoformat(timespec="milliseconds") + "Z", "actor": "system:bench",
                 "action": "import", "target": "", "before": "", "after": "", "reason": "", "prev_hash": audit.ZERO}
            e["hash"] = audit.entry_hash(audit.ZERO, e)
            entries.append({**e, "meeting_id": mid})
        conn.execute(audit_table.insert(), entries)


PAGES = [("list page", "/meetings"), ("list, one branch", "/meetings?branch=br07"),
         ("list, 严重 + pending", "/meetings?severity=%E4%B8%A5%E9%87%8D&state=pending"),
         ("list API", "/api/v1/meetings"), ("dashboard page", "/dashboard?from=2026-09-12&to=2026-12-04"),
         ("dashboard, one branch", "/dashboard?from=2026-09-12&to=2026-12-04&branch=br07")]


def _client(url: str, store_dir: Path):  # type: ignore[no-untyped-def]
    import re

    from fastapi.testclient import TestClient

    from inbox.auth import reset_password
    from inbox.db import open_db
    from inbox.web import InboxSettings, make_app

    engine = open_db(url)
    reset_password(engine, "bench", "bench-password", role="supervisor", tenant="bench")
    client = TestClient(make_app(InboxSettings(url, store_dir), engine))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"name": "bench", "password": "bench-password", "csrf": token})
    return client, engine


def measure(small: tuple[str, Path], large: tuple[str, Path], rounds: int = 15) -> dict[str, tuple]:
    """Median ms per page on both databases, requests alternating between them, so both
    sizes are measured under the same load of this shared machine."""
    (a, ea), (b, eb) = _client(*small), _client(*large)
    out = {}
    for name, path in PAGES:
        times: dict[str, list[float]] = {"a": [], "b": []}
        for i in range(rounds + 2):
            for key, client in (("a", a), ("b", b)):
                t0 = time.perf_counter()
                r = client.get(path)
                dt = (time.perf_counter() - t0) * 1000
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                if i >= 2:  # two warm-up rounds
                    times[key].append(dt)
        out[name] = (statistics.median(times["a"]), statistics.median(times["b"]), len(r.content),
                     len(gzip.compress(r.content)))
    for e in (ea, eb):
        e.dispose()
    return out


def run(kind: str, total: int, small: int, timed: int, seed: int) -> None:
    from inbox.db import open_db

    work = Path(tempfile.mkdtemp(prefix=f"bk-bench-{kind}-"))
    pg = None
    if kind == "postgresql":
        from badgekit.pgserver import LocalPostgres

        pg = LocalPostgres().start()
        urls = [pg.create_database("small"), pg.create_database("large")]
    else:
        urls = [f"sqlite:///{work / 'small.db'}", f"sqlite:///{work / 'large.db'}"]
    try:
        stores = [AudioStore(work / "store-small"), AudioStore(work / "store-large")]
        engines = [open_db(u) for u in urls]
        gen = generate(small, seed)
        t0 = time.perf_counter()
        for _ in range(timed):
            file_session(engines[0], stores[0], next(gen), actor="bench")
        rate = timed / (time.perf_counter() - t0)
        print(f"{kind}: import (file_session, one transaction per meeting): {rate:.0f} meetings/s over {timed}")
        for engine, store, n, g in ((engines[0], stores[0], small - timed, gen),
                                    (engines[1], stores[1], total, generate(total, seed))):
            t0 = time.perf_counter()
            for done in range(0, n, 1000):
                bulk_file(engine, store, [next(g) for _ in range(min(1000, n - done))])
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            print(f"{kind}: bulk fill {n} meetings in {time.perf_counter() - t0:.0f} s")
            engine.dispose()
        results = measure((urls[0], work / "store-small"), (urls[1], work / "store-large"))
        print(f"{'':29} {small:>10,} {total:>10,}   ratio   page bytes at {total:,} (gzip)")
        for name, (a, b, size, packed) in results.items():
            print(f"{kind[:6]} {name:<22} {a:8.1f} ms {b:8.1f} ms {b / a:6.2f}x  {size:>9,} ({packed:,})")
    finally:
        if pg:
            pg.close()
        shutil.rmtree(work, ignore_errors=True)


def page_weight() -> None:
    web = Path(__file__).resolve().parent.parent / "inbox/web/static"
    assets = {p.name: p.stat().st_size for p in [web / "app.css", web / "meeting.js", web / "dashboard.js",
                                                  web / "vendor/echarts.min.js"] if p.exists()}
    print("static assets (bytes, uncompressed):", json.dumps(assets))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meetings", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--timed", type=int, default=500, help="meetings filed one by one for the import rate")
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=30,
                    help="28 and 29 are the sets the indexes were chosen on; 30 (the default) was not looked at before")
    args = ap.parse_args()
    for kind in args.db.split(","):
        run(kind, args.meetings, args.small, min(args.timed, args.small), args.seed)
    page_weight()


if __name__ == "__main__":
    main()
