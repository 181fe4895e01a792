"""The command line as scripts use it: user add (password on stdin), token create, serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from badgekit.broker import free_port

BK = [sys.executable, "-m", "badgekit", "inbox"]


def _run(args: list[str], store, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(BK + args + ["--store", str(store)], input=stdin, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_user_token_and_serve(received, tmp_path):
    store = tmp_path / "store"
    assert _run(["import", str(received)], store).returncode == 0
    r = _run(["user", "add", "wang", "--role", "reviewer", "--tenant", "acme", "--branch", "sh01"], store,
             "pw-from-stdin\n")
    assert r.returncode == 0 and "reviewer of acme (sh01)" in r.stdout
    r = _run(["user", "add", "wang", "--role", "reviewer", "--tenant", "acme"], store, "pw-from-stdin\n")
    assert r.returncode == 2 and r.stderr.strip() == "error: user 'wang' exists already"
    r = _run(["user", "add", "li", "--role", "boss", "--tenant", "acme"], store, "pw-from-stdin\n")
    assert r.returncode == 2 and "--role must be one of" in r.stderr
    token = _run(["token", "create", "wang"], store).stdout.strip()
    assert token.startswith("bk_")
    port = free_port()
    proc = subprocess.Popen(BK + ["serve", "--store", str(store), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/meetings",
                                     headers={"Authorization": f"Bearer {token}"})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    body = json.loads(resp.read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert [m["session"] for m in body["items"]] == ["S0001"]  # sh01 only
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(10)
    r = subprocess.run(BK + ["serve", "--store", str(store), "--listen", "nonsense"], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 2 and r.stderr.strip() == "error: --listen 'nonsense': expected HOST:PORT"
