"""The gateway service: spool → verify → transcribe → outbox → broker.

    gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(url)))
    report = gw.run_once()        # everything in the spool now, then flush the outbox
    gw.run(stop_event)            # serve until stopped (SIGTERM/SIGINT in the CLI)

Modules, in the order a clip travels: `spool` (the companion's spool as the gateway
reads it), `ingest` (verify a clip, enqueue its messages, settle sessions),
`transcription` (one loaded model, one call per session), `gateway` (the loop),
`metrics`/`health` (Prometheus and health over HTTP), `worker` (a pool worker that
transcribes from a shared receiver store). The service uses `gateway.delivery` to
publish; delivery never imports the service.
"""

from gateway.service.gateway import Gateway
from gateway.service.settings import GatewayReport, GatewaySettings

__all__ = ["Gateway", "GatewayReport", "GatewaySettings"]
