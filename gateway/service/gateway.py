"""The `Gateway` loop (`badgekit gateway run`): watch the spool, verify, transcribe, deliver, exactly once.

    gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(url)))
    report = gw.run_once()        # everything in the spool now, then flush the outbox
    gw.run(stop_event)            # serve until stopped (SIGTERM/SIGINT in the CLI)

Each complete clip (its custody record exists) is handled once: its WAV is verified
with `firmware.clips.fmt` against its sidecar, then in ONE SQLite transaction the clip is
marked done and its messages (clip record, audio parts, custody record) are put in the
outbox. A clip that fails is quarantined with its reason; the rest keeps flowing. A
session whose clips stopped arriving for `settle_s` is transcribed (the transcription
package, one loaded model) and its transcript and manifest are enqueued, again in one
transaction; a later clip produces a new revision. State lives in
`<state>/gateway.db` beside the outbox, so a SIGKILL at any point redoes at most the
unfinished step, and the content-addressed message ids let the receiver drop repeats.

Nothing is shared between gateway processes but the broker: each worker of a pool
has its own spool (or spool partition), state folder and gateway id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from badgecore.privatefs import private_dir
from gateway.delivery.errors import DeliveryError
from gateway.delivery.outbox import Outbox
from gateway.delivery.publisher import Publisher
from gateway.delivery.signing import GatewayKey
from gateway.service.findings import FindingsHook
from gateway.service.health import snapshot
from gateway.service.ingest import GatewayState
from gateway.service.metrics import MetricsServer
from gateway.service.settings import GatewayReport, GatewaySettings
from gateway.service.spool import SpoolClip, SpoolScanner, Stray
from gateway.service.transcription import TranscriptionStep

__all__ = ["Gateway"]

log = logging.getLogger(__name__)


class Gateway:
    """The gateway service: spool → verify → transcribe → outbox → broker."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        rules = None
        if settings.rules_path is not None:  # load first: a broken pack stops start-up, not a session
            from gateway.compliance.rules import load_rules

            rules = load_rules(settings.rules_path)
        badge_keys = None
        if settings.badge_keys is not None:
            from badgecore.badgekeys import BadgeKeysError, load_badge_keys

            try:
                badge_keys = load_badge_keys(settings.badge_keys)
            except BadgeKeysError as exc:
                raise DeliveryError(str(exc)) from None
        state = settings.state_path
        private_dir(state, root=state)  # outbox and quarantine hold audio: 0700
        self._lock = _lock_state(state)
        self.outbox = Outbox(state / "gateway.db")
        self.publisher = Publisher(settings.broker, settings.publisher, self.outbox)
        key_path = settings.signing_key or state / "gateway.key"
        self.publisher.signer = GatewayKey.load_or_create(key_path, settings.publisher.gateway_id)
        log.info("documents signed with key %s (public key: %s.pub)", self.publisher.signer.key_id, key_path)
        self.state = GatewayState(self.outbox, self.publisher, state)
        self.on_transcript(FindingsHook(rules, state / "cases", self.state.session_sidecars))
        self.state.badge_keys = badge_keys
        self.scanner = SpoolScanner(settings.spool_dir)
        self.transcriber = (TranscriptionStep(settings.model_dir, settings.language, settings.compute_type)
                            if settings.transcribe else None)
        self._metrics: MetricsServer | None = None
        self._started = False
        self.port: int | None = None

    def on_transcript(self, hook: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]) -> None:
        """Run `hook(transcript_document)` for every new session transcript, after the hooks
        added before it (the compliance `FindingsHook` comes first); the (kind, payload)
        pairs it returns are published on `…/{badge}/{session}/{kind}` together with the
        transcript. A hook that raises is reported; the session is delivered all the same."""
        self.state.transcript_hooks.append(hook)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker (a refused password raises at once) and start metrics."""
        if self._started:
            return
        self.publisher.start(require=False)
        self._wait_for_broker_verdict()
        if self.settings.metrics_port is not None:
            url = self.settings.broker.url
            self._metrics = MetricsServer(lambda: snapshot(self.state, self.publisher, url),
                                          self.settings.metrics_port, self.settings.metrics_host).start()
            self.port = self._metrics.port
            log.info("metrics on http://%s:%d/metrics", self.settings.metrics_host, self.port)
        self._started = True

    def _wait_for_broker_verdict(self) -> None:
        deadline = time.monotonic() + self.settings.broker.connect_timeout_s
        while time.monotonic() < deadline:
            if self.publisher.fatal:
                raise self.publisher.fatal
            if self.publisher.stats().connected:
                return
            time.sleep(0.05)
        log.warning("broker %s not reachable yet (%s); clips are queued in the outbox",
                    self.settings.broker.url, self.publisher.last_error)

    def stop(self) -> None:
        if self._metrics is not None:
            self._metrics.stop()
            self._metrics = None
        self.publisher.stop()
        self._started = False

    def close(self) -> None:
        self.stop()
        self.outbox.close()
        self._lock.close()

    # -- work ------------------------------------------------------------------------------

    def poll(self, settle_all: bool = False) -> int:
        """One pass: new clips, strays, settled sessions. Returns the number of items handled."""
        if self.publisher.fatal:
            raise self.publisher.fatal
        done = 0
        for item in self.scanner.scan():
            if isinstance(item, Stray):
                self.state.quarantine_stray(item)
            elif isinstance(item, SpoolClip) and not self.state.handled(item):
                if self.state.ingest(item) == "retry":
                    self.scanner.forget(item.folder)
            else:
                continue
            done += 1
        for badge, session in self.state.settled_sessions(0.0 if settle_all else self.settings.settle_s):
            self.state.finish_session(badge, session, self.transcriber)
            done += 1
        return done

    def run_once(self) -> GatewayReport:
        """Handle everything in the spool now (all sessions settled) and wait for delivery."""
        self.start()
        self.poll(settle_all=True)
        delivered = False
        try:
            delivered = self.publisher.flush(self.settings.flush_timeout_s, confirmed=False)
            if delivered:
                self.publisher.flush(self.settings.confirm_wait_s, confirmed=True)
        except DeliveryError as exc:
            self.state.error(str(exc))
        return self.report(delivered)

    def run(self, stop: threading.Event | None = None) -> GatewayReport:
        """Serve until `stop` is set; polls the spool every `poll_interval_s`."""
        stop = stop or threading.Event()
        self.start()
        while not stop.is_set():
            try:
                busy = self.poll()  # a DeliveryError (credentials refused) ends the service
            except OSError as exc:  # a spool on a flaky disk: report, keep serving
                self.state.error(f"spool scan failed: {exc}")
                busy = 0
            if not busy:
                stop.wait(self.settings.poll_interval_s)
        return self.report(self.outbox.stats().pending == 0)

    def report(self, delivered: bool) -> GatewayReport:
        st = self.outbox.stats()
        c = self.state.counters
        return GatewayReport(
            clips_in=int(c["clips_in"]),
            clips_quarantined=int(c["quarantined"]),
            sessions_transcribed=int(c["sessions_transcribed"]),
            seconds_transcribed=round(float(c["seconds_transcribed"]), 3),
            outbox_depth=st.pending,
            unconfirmed=st.unconfirmed,
            messages_rejected=st.rejected,
            errors=list(self.state.errors),
            delivered=delivered and st.pending == 0,
            receipts_refused=self.publisher.receipts_refused,
        )


def _lock_state(state: Path) -> IO[str]:
    """One gateway per state folder: a second one would do all the work twice."""
    import fcntl
    import os

    fd = os.open(state / "gateway.lock", os.O_RDWR | os.O_CREAT, 0o600)
    f = os.fdopen(fd, "a+")  # noqa: SIM115 - held for the gateway's life
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        other = f.read().strip() or "?"
        f.close()
        raise DeliveryError(f"another gateway (pid {other}) is already using {state}; stop it or "
                            "give this one its own --state folder") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f

