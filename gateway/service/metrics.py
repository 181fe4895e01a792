"""Health and Prometheus metrics over HTTP (standard library only).

`MetricsServer(port, snapshot)` serves, on a daemon thread:

- `GET /metrics`: Prometheus text format 0.0.4 from `snapshot()`'s metrics;
- `GET /healthz`: JSON `{"status": "ok"|"degraded", ...}`, HTTP 200 or 503.

`snapshot()` returns a `Snapshot`: metrics as (name, type, help, value, labels) and a
health dict; it is called per request, so the numbers are always current.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Metric", "MetricsServer", "Snapshot", "render"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    """`counter` or `gauge`."""
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    metrics: list[Metric]
    health: dict[str, Any]

    @property
    def healthy(self) -> bool:
        return self.health.get("status") == "ok"


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


def render(metrics: list[Metric]) -> str:
    """Prometheus text exposition (one HELP/TYPE per name)."""
    lines: list[str] = []
    done: set[str] = set()
    for m in metrics:
        if m.name not in done:
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            done.add(m.name)
        value = repr(float(m.value)) if not float(m.value).is_integer() else str(int(m.value))
        lines.append(f"{m.name}{_label_text(m.labels)} {value}")
    return "\n".join(lines) + "\n"


class MetricsServer:
    """An HTTP server on `host:port` (port 0: any free port, see `.port`)."""

    def __init__(self, snapshot: Callable[[], Snapshot], port: int = 0, host: str = "127.0.0.1") -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                snap = outer.snapshot()
                if self.path.split("?")[0] == "/metrics":
                    body = render(snap.metrics).encode()
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
                elif self.path.split("?")[0] in ("/healthz", "/health", "/"):
                    body = json.dumps(snap.health, sort_keys=True).encode()
                    self._send(200 if snap.healthy else 503, "application/json", body)
                else:
                    self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self.snapshot = snapshot
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="badgekit-metrics",
                                        daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
