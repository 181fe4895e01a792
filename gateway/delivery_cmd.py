"""`badgekit gateway run` and `badgekit gateway receive`: the delivery commands.

    badgekit gateway run --spool DIR --mqtt mqtt://host:1883 [--tenant T --branch B]
        [--username U --password P] [--tls-ca CA --tls-cert C --tls-key K]
        [--model DIR] [--compute-type T] [--no-transcribe] [--metrics-port 9108] [--once]
    badgekit gateway receive --mqtt mqtt://host:1883 --out DIR [--once | --idle-exit-s S]
        [--share GROUP] [--json]

Only this module reads options; it builds the frozen settings and hands them to
`gateway.service.Gateway` and `gateway.delivery.Receiver`. Every failure ends with one
`error:` line and exit code 2 (configuration, broker) or 1 (not everything delivered).
The password may come from `BADGEKIT_MQTT_PASSWORD` instead of the command line.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from badgecore.cli_convention import (
    BAD_INPUT,
    FINDINGS,
    QUIET,
    VERBOSE,
    fail,
    renamed,
    set_verbosity,
)
from gateway.transcribe_cmd import COMPUTE_TYPE

if TYPE_CHECKING:
    from gateway.delivery.security import BrokerSettings

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("receive")(receive)
    app.command("work")(work)


def _fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    return fail(message, code)


def _broker(url: str, username: str | None, password: str | None, ca: Path | None,
            cert: Path | None, key: Path | None) -> BrokerSettings:
    from gateway.delivery.security import BrokerSettings, TlsSettings

    tls = TlsSettings(ca, cert, key) if (ca or cert or key) else None
    return BrokerSettings.from_url(url, username=username, password=password, tls=tls)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _default_gateway_id(spool: Path) -> str:
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname()) or "host"
    tag = hashlib.sha256(str(spool.resolve()).encode()).hexdigest()[:6]
    return f"{host.lstrip('._-') or 'host'}-{tag}"


_MQTT = typer.Option("mqtt://127.0.0.1:1883", "--mqtt", help="Broker URL: mqtt://host:port or mqtts://host:port.")
_USER = typer.Option(None, "--username", help="MQTT username.")
_PASS = typer.Option(None, "--password", envvar="BADGEKIT_MQTT_PASSWORD", help="MQTT password.")
_CA = typer.Option(None, "--tls-ca", help="CA certificate (PEM) of the broker; enables TLS.")
_CERT = typer.Option(None, "--tls-cert", help="Client certificate (PEM).")
_KEY = typer.Option(None, "--tls-key", help="Client private key (PEM).")


@renamed(settle_s="--settle", confirm_wait_s="--confirm-wait")
def run(
    spool: Path = typer.Option(..., "--spool", help="The companion's spool folder to watch."),
    mqtt: str = _MQTT,
    tenant: str = typer.Option("default", "--tenant", help="Tenant (company) topic level."),
    branch: str = typer.Option("branch", "--branch", help="Branch topic level."),
    gateway_id: str = typer.Option(None, "--gateway-id", help="Unique id of this gateway (default: host + spool)."),
    username: str = _USER,
    password: str = _PASS,
    tls_ca: Path = _CA,
    tls_cert: Path = _CERT,
    tls_key: Path = _KEY,
    model: Path = typer.Option(None, "--model", help="A local CTranslate2 Whisper folder."),
    language: str = typer.Option(None, "--language", help="Spoken language (default: zh)."),
    compute_type: str = COMPUTE_TYPE,
    transcribe: bool = typer.Option(True, "--transcribe/--no-transcribe", help="Transcribe sessions."),
    rules: Path = typer.Option(None, "--rules", help="Compliance rule pack (TOML) for the findings; default: the bundled pack."),
    settle_s: float = typer.Option(10.0, "--settle-s", min=0, help="Seconds without a new clip before a session is transcribed."),
    state: Path = typer.Option(None, "--state", help="State + outbox folder (default: SPOOL/.badgekit-gateway)."),
    signing_key: Path = typer.Option(None, "--signing-key", help="Ed25519 key signing every document "
                                     "(default: STATE/gateway.key, made on first start; see `gateway key`)."),
    badge_keys: Path = typer.Option(None, "--badge-keys", help="Badge clip key file (`companion clip-keys`): "
                                    "check every clip's seal; a bad one is quarantined."),
    receiver_keys: Path = typer.Option(None, "--receiver-keys", help="Enrolled receiver public keys (`gateway "
                                       "key enrol --receiver-id`): only receipts they signed confirm messages."),
    chunk_kib: int = typer.Option(128, "--chunk-kib", min=1, max=128, help="Largest MQTT message payload in KiB."),
    metrics_port: int = typer.Option(None, "--metrics-port", help="Serve /metrics and /healthz on 127.0.0.1:PORT."),
    once: bool = typer.Option(False, "--once", help="Handle what is in the spool, deliver it, exit."),
    confirm_wait_s: float = typer.Option(5.0, "--confirm-wait-s", min=0,
                                         help="--once: seconds to wait for receivers' receipts."),
    json_out: bool = typer.Option(False, "--json", help="Print the final report as JSON."),
    verbose: bool = VERBOSE,
    quiet: bool = QUIET,
) -> None:
    """Watch the spool; verify, transcribe and deliver every clip over MQTT exactly once."""
    from gateway.compliance import ComplianceError
    from gateway.delivery import DeliveryError, PublisherSettings
    from gateway.service import Gateway, GatewaySettings
    from gateway.service.transcription import TranscriptionStepError

    set_verbosity(verbose, quiet)
    if not spool.is_dir():
        raise _fail(f"--spool {spool}: no such folder")
    try:
        settings = GatewaySettings(
            spool_dir=spool,
            broker=_broker(mqtt, username, password, tls_ca, tls_cert, tls_key),
            publisher=PublisherSettings(tenant=tenant, branch=branch,
                                        gateway_id=gateway_id or _default_gateway_id(spool),
                                        chunk_bytes=chunk_kib * 1024, receiver_keys=receiver_keys),
            state_dir=state, model_dir=model, language=language, compute_type=compute_type,
            transcribe=transcribe, rules_path=rules, signing_key=signing_key, badge_keys=badge_keys,
            settle_s=settle_s, metrics_port=metrics_port, confirm_wait_s=confirm_wait_s,
        )
        gw = Gateway(settings)
    except DeliveryError as exc:
        raise _fail(str(exc)) from None
    except ComplianceError as exc:
        raise _fail(f"--rules: {exc}") from None
    if gw.transcriber is not None:
        try:
            gw.transcriber.check()
        except TranscriptionStepError as exc:
            typer.echo(f"error: {exc}; sessions are delivered without transcripts", err=True)
    stop = _stop_on_signals()
    try:
        gw.start()
        report = gw.run_once() if once else gw.run(stop)
    except DeliveryError as exc:
        gw.close()
        raise _fail(str(exc)) from None
    gw.close()
    if json_out:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        typer.echo(
            f"clips in {report.clips_in}, quarantined {report.clips_quarantined}, sessions transcribed "
            f"{report.sessions_transcribed} ({report.seconds_transcribed:.1f} s), unacknowledged "
            f"{report.outbox_depth}, unconfirmed {report.unconfirmed}, rejected {report.messages_rejected}, "
            f"delivered: {'yes' if report.delivered else 'no'}")
    if report.receipts_refused and not json_out:
        typer.echo(f"warning: {report.receipts_refused} receipts refused (unsigned, forged or replayed); "
                   "their messages stayed in the outbox", err=True)
    if once and not report.delivered:
        raise typer.Exit(FINDINGS)


@renamed(idle_exit_s="--idle-exit")
def receive(
    out: Path = typer.Option(..., "--out", help="Folder for sessions, audio, transcripts, custody records."),
    mqtt: str = _MQTT,
    tenant: str = typer.Option("+", "--tenant", help="Tenant to receive (+: all)."),
    branch: str = typer.Option("+", "--branch", help="Branch to receive (+: all)."),
    share: str = typer.Option(None, "--share", help="MQTT 5 shared-subscription group (a pool of receivers)."),
    client_id: str = typer.Option("badgekit-receiver", "--client-id", help="Fixed client id (keeps the queue)."),
    keys: Path = typer.Option(None, "--keys", help="Enrolled gateway public keys (`gateway key enrol`): keep "
                              "only documents that verify. Without it documents are filed unchecked."),
    badge_keys: Path = typer.Option(None, "--badge-keys", help="Badge clip key file: check clip seals here "
                                    "too (else the gateway's signed record says what it checked)."),
    signing_key: Path = typer.Option(None, "--signing-key", help="This receiver's Ed25519 key (`gateway key "
                                     "new`) signing its receipts; gateways enrol its .pub. Without it receipts "
                                     "are unsigned."),
    receiver_id: str = typer.Option("receiver", "--receiver-id", help="The id gateways enrolled the key under."),
    username: str = _USER,
    password: str = _PASS,
    tls_ca: Path = _CA,
    tls_cert: Path = _CERT,
    tls_key: Path = _KEY,
    once: bool = typer.Option(False, "--once", help="Receive what is queued, exit after 3 s without a message."),
    idle_exit_s: float = typer.Option(None, "--idle-exit-s", min=0.1, help="Exit after this many seconds without a message."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    verbose: bool = VERBOSE,
    quiet: bool = QUIET,
) -> None:
    """Receive, verify and store sessions (the reference consumer); report gaps."""
    from gateway.delivery import DeliveryError, Receiver, ReceiverSettings

    set_verbosity(verbose, quiet)
    try:
        settings = ReceiverSettings(
            broker=_broker(mqtt, username, password, tls_ca, tls_cert, tls_key),
            out_dir=out, tenant=tenant, branch=branch, share_group=share, client_id=client_id, keys_dir=keys,
            badge_keys=badge_keys, signing_key=signing_key, receiver_id=receiver_id)
        receiver = Receiver(settings)
    except DeliveryError as exc:
        raise _fail(str(exc)) from None
    stop = _stop_on_signals()
    try:
        receiver.start()
        summary = receiver.run(until=lambda _s: stop.is_set(), idle_exit_s=3.0 if once else idle_exit_s)
    except DeliveryError as exc:
        receiver.close()
        raise _fail(str(exc)) from None
    receiver.close()
    if keys is None:
        typer.echo("warning: no --keys: documents were filed without checking who signed them", err=True)
    if json_out:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        typer.echo(
            f"clips received {summary.clips_received}, verified {summary.clips_verified}, "
            f"duplicates dropped {summary.duplicates_dropped}, failed {len(summary.failed)}, "
            f"gaps {len(summary.gaps)}, missing {len(summary.missing)}, transcripts {summary.transcripts}")
        for clip, reason in summary.failed:
            typer.echo(f"  failed {clip}: {reason}")
        for g in summary.gaps:
            typer.echo(f"  gap {g.badge}: {g.reason}")
        for m in summary.missing:
            typer.echo(f"  missing {m}")
        for r in summary.recovered:
            typer.echo(f"  recovered after a power cut {r}")
        for x in summary.refused:
            typer.echo(f"  refused {x['topic']}: {x['reason']}")
        for x in summary.conflicts:
            typer.echo(f"  conflict {x['clip_id']}: {x['reason']}")
        for clip, seal in sorted(summary.auth.items()):
            if seal != "authenticated":
                typer.echo(f"  seal {clip}: {seal}")
        for s in summary.integrity:
            typer.echo(f"  session {s['badge']}/{s['session']}: {s['status']} ({s['verified']}/{s['clips']} "
                       f"verified, {len(s['unauthenticated'])} unauthenticated, {len(s['gaps'])} gaps)")


def work(
    store: Path = typer.Option(..., "--store", help="The store shared by the pool (a receiver's --out)."),
    share: str = typer.Option("transcribers", "--share", help="The pool's shared-subscription group."),
    mqtt: str = _MQTT,
    tenant: str = typer.Option("+", "--tenant", help="Tenant to serve (+: all)."),
    branch: str = typer.Option("+", "--branch", help="Branch to serve (+: all)."),
    worker_id: str = typer.Option(None, "--worker-id", help="Unique id of this worker (default: host + store)."),
    state: Path = typer.Option(None, "--state", help="This worker's outbox folder (default: STORE/.workers/ID)."),
    model: Path = typer.Option(None, "--model", help="A local CTranslate2 Whisper folder."),
    language: str = typer.Option(None, "--language", help="Spoken language (default: zh)."),
    compute_type: str = COMPUTE_TYPE,
    keys: Path = typer.Option(None, "--keys", help="Enrolled gateway public keys: file only what verifies."),
    badge_keys: Path = typer.Option(None, "--badge-keys", help="Badge clip key file: check clip seals here too."),
    signing_key: Path = typer.Option(None, "--signing-key", help="Key signing this worker's transcripts "
                                     "(default: STATE/gateway.key) and, given here, its receipts too (as "
                                     "receiver WORKER_ID)."),
    receiver_keys: Path = typer.Option(None, "--receiver-keys", help="Enrolled receiver public keys: only "
                                       "receipts they signed confirm this worker's transcripts."),
    username: str = _USER,
    password: str = _PASS,
    tls_ca: Path = _CA,
    tls_cert: Path = _CERT,
    tls_key: Path = _KEY,
    verbose: bool = VERBOSE,
    quiet: bool = QUIET,
) -> None:
    """One worker of a transcription pool: shared subscription in, transcripts out."""
    from gateway.delivery import DeliveryError, ReceiverSettings
    from gateway.service.transcription import TranscriptionStepError
    from gateway.service.worker import PoolWorker, WorkerSettings

    set_verbosity(verbose, quiet)
    wid = worker_id or f"worker-{_default_gateway_id(store)}"
    try:
        settings = WorkerSettings(
            receiver=ReceiverSettings(broker=_broker(mqtt, username, password, tls_ca, tls_cert, tls_key),
                                      out_dir=store, tenant=tenant, branch=branch, share_group=share,
                                      client_id=f"badgekit-{wid}", keys_dir=keys, badge_keys=badge_keys,
                                      signing_key=signing_key, receiver_id=wid),
            worker_id=wid, state_dir=state or store / ".workers" / wid, model_dir=model, language=language,
            compute_type=compute_type, signing_key=signing_key,
            publisher={"receiver_keys": receiver_keys} if receiver_keys else {})
        worker = PoolWorker(settings)
        worker.transcriber.check()
    except (DeliveryError, TranscriptionStepError) as exc:
        raise _fail(str(exc)) from None
    stop = _stop_on_signals()
    try:
        worker.run(stop)
    except DeliveryError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"worker {wid}: {worker.transcribed} sessions transcribed")
