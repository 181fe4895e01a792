"""Metrics and health of a running gateway, for `MetricsServer`."""

from __future__ import annotations

from gateway.delivery.publisher import Publisher
from gateway.service.ingest import GatewayState
from gateway.service.metrics import Metric, Snapshot

__all__ = ["snapshot"]


def snapshot(state: GatewayState, publisher: Publisher, broker_url: str) -> Snapshot:
    """Metrics and health of a running gateway (for `MetricsServer`)."""
    c = state.counters
    st = publisher.stats()
    ob = state.outbox.stats()
    p = "badgekit_gateway_"
    metrics = [
        Metric(p + "clips_in_total", "counter", "Clips verified and queued for delivery.", c["clips_in"]),
        Metric(p + "clips_quarantined_total", "counter", "Clips and stray files quarantined.", c["quarantined"]),
        Metric(p + "sessions_transcribed_total", "counter", "Session transcripts produced.",
               c["sessions_transcribed"]),
        Metric(p + "seconds_transcribed_total", "counter", "Seconds of audio transcribed.",
               c["seconds_transcribed"]),
        Metric(p + "errors_total", "counter", "Errors (quarantines, failed transcriptions, broker).",
               c["errors"] + st.rejected),
        Metric(p + "outbox_depth", "gauge", "Messages in the outbox: not yet acknowledged by the broker "
               "(pending) or not yet confirmed by a receiver (unconfirmed).", ob.pending, {"state": "pending"}),
        Metric(p + "outbox_depth", "gauge", "", ob.unconfirmed, {"state": "unconfirmed"}),
        Metric(p + "outbox_bytes", "gauge", "Bytes waiting for a broker acknowledgement.", ob.pending_bytes),
        Metric(p + "messages_rejected", "gauge", "Messages the broker refused (kept in the outbox).",
               ob.rejected),
        Metric(p + "messages_acked_total", "counter", "Messages acknowledged by the broker.", ob.acked_total),
        Metric(p + "broker_connected", "gauge", "1 when connected to the broker.", int(st.connected)),
        Metric(p + "broker_reconnects_total", "counter", "Reconnections to the broker.", st.reconnects),
        Metric(p + "receipts_refused_total", "counter", "Receipts refused (unsigned with receiver keys, forged, "
               "replayed); their messages stayed in the outbox.", st.receipts_refused),
    ]
    healthy = st.connected and publisher.fatal is None
    health = {"status": "ok" if healthy else "degraded", "broker_connected": st.connected,
              "broker": broker_url, "outbox_depth": ob.pending,
              "outbox_unconfirmed": ob.unconfirmed, "messages_rejected": ob.rejected,
              "clips_in": int(c["clips_in"]), "receipts_refused": st.receipts_refused, "last_error": st.last_error or (state.errors[-1:] or [""])[0]}
    return Snapshot(metrics, health)
