"""A pool of transcription workers: MQTT 5 shared subscriptions, one shared store.

For a company that runs transcription centrally, branch gateways deliver without
transcribing (`gateway run --no-transcribe`) and N workers (`gateway work --share GROUP
--store DIR`, on any machines that mount one store) share the work:

1. each worker is a `Receiver` in the shared-subscription group: the broker spreads the
   messages over the workers and all of them file into the same store;
2. a session is *ready* when the store holds its manifest (without a transcript) and
   every clip the manifest lists is verified;
3. the first worker to claim the session (a row in the store, keyed by the manifest's
   revision; a claim older than `claim_stale_s` can be taken over) transcribes the clips
   from the store and publishes the transcript through its own durable outbox.

Nothing is shared between workers but the broker and the store, so adding a worker adds
throughput and a dead worker's sessions are claimed by another after `claim_stale_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.compliance.publish import findings_document
from gateway.delivery.outbox import Outbox
from gateway.delivery.publisher import Publisher
from gateway.delivery.receiver import Receiver, ReceiverSettings
from gateway.delivery.settings import PublisherSettings
from gateway.delivery.signing import GatewayKey
from gateway.delivery.store import ReceiverStore
from gateway.service.transcription import TranscriptionStep, TranscriptionStepError

__all__ = ["PoolWorker", "WorkerSettings", "ready_sessions"]

log = logging.getLogger(__name__)

_CLAIMS = """CREATE TABLE IF NOT EXISTS claims (
  session_key TEXT PRIMARY KEY, revision INTEGER NOT NULL, worker TEXT NOT NULL, at REAL NOT NULL)"""


@dataclass(frozen=True)
class WorkerSettings:
    receiver: ReceiverSettings
    """The store (`out_dir`) and the shared-subscription group (`share_group`)."""
    worker_id: str
    state_dir: Path
    """This worker's own outbox folder (not shared)."""
    model_dir: Path | None = None
    language: str | None = None
    compute_type: str | None = None
    """CTranslate2 compute type; None: the engine's default."""
    claim_stale_s: float = 600.0
    """A claim older than this (its worker died) may be taken over."""
    poll_interval_s: float = 0.5
    publisher: dict[str, Any] = field(default_factory=dict)
    """Extra `PublisherSettings` fields (chunk size, window…)."""
    signing_key: Path | None = None
    """This worker's Ed25519 key for its transcripts; None: `<state_dir>/gateway.key` (made
    when missing). Its public half is enrolled per branch like a gateway's."""


def ready_sessions(store: ReceiverStore) -> list[dict[str, Any]]:
    """Manifests without a transcript whose clips are all verified in the store."""
    verified = {c["clip_id"] for c in store.clips() if c["verified"]}
    done = {}
    for (body,) in store.db.execute("SELECT body FROM docs WHERE kind='transcript'"):
        t = json.loads(body)
        done[(t.get("tenant"), t.get("branch"), t.get("badge"), t.get("session"))] = set(t.get("clips", []))
    out = []
    for m in store.manifests():
        ids = [c["clip_id"] for c in m.get("clips", [])]
        key = (m.get("tenant"), m.get("branch"), m.get("badge"), m.get("session"))
        if not ids or (m.get("transcript") or {}).get("revision") is not None:
            continue
        if done.get(key) == set(ids) or not set(ids) <= verified:
            continue
        out.append(m)
    return out


def _claim(store: ReceiverStore, manifest: dict[str, Any], worker: str, stale_s: float) -> bool:
    key = "/".join(str(manifest.get(k)) for k in ("tenant", "branch", "badge", "session"))
    rev = int(manifest["revision"])
    now = time.time()
    db = store.db
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT revision, worker, at FROM claims WHERE session_key=?", (key,)).fetchone()
        if row and row[0] >= rev and now - row[2] < stale_s:
            db.execute("COMMIT")
            return False
        db.execute("INSERT OR REPLACE INTO claims(session_key, revision, worker, at) VALUES(?,?,?,?)",
                   (key, rev, worker, now))
        db.execute("COMMIT")
        return True
    except BaseException:
        db.execute("ROLLBACK")
        raise


class PoolWorker:
    """One worker of the pool: receive into the shared store, claim, transcribe, publish."""

    def __init__(self, settings: WorkerSettings, transcriber: TranscriptionStep | None = None) -> None:
        if not settings.receiver.share_group:
            raise ValueError("a pool worker needs a shared-subscription group (--share)")
        self.settings = settings
        self.receiver = Receiver(settings.receiver)
        with self.receiver.lock:
            self.receiver.store.db.execute(_CLAIMS)
        self.transcriber = transcriber or TranscriptionStep(
            settings.model_dir, settings.language, settings.compute_type)
        self._publishers: dict[tuple[str, str], Publisher] = {}
        self.transcribed = 0

    def _publisher(self, tenant: str, branch: str) -> Publisher:
        key = (tenant, branch)
        if key not in self._publishers:
            s = PublisherSettings(tenant=tenant, branch=branch, gateway_id=self.settings.worker_id,
                                  **self.settings.publisher)
            box = Outbox(Path(self.settings.state_dir) / f"outbox-{tenant}-{branch}.db")
            pub = Publisher(self.settings.receiver.broker, s, box)
            pub.signer = GatewayKey.load_or_create(
                self.settings.signing_key or Path(self.settings.state_dir) / "gateway.key", self.settings.worker_id)
            pub.start()
            self._publishers[key] = pub
        return self._publishers[key]

    def step(self) -> int:
        """Claim and transcribe every ready session once; returns how many were done."""
        store = self.receiver.store
        with self.receiver.lock:
            ready = ready_sessions(store)
            mine = [m for m in ready if _claim(store, m, self.settings.worker_id, self.settings.claim_stale_s)]
        for m in mine:
            self._transcribe(m)
        return len(mine)

    def _transcribe(self, m: dict[str, Any]) -> None:
        folder = self.receiver.store.out / m["tenant"] / m["branch"] / m["badge"] / m["session"]
        wavs = [folder / "clips" / f"{c['clip_id']}.wav" for c in m["clips"]]
        try:
            text = self.transcriber.session(wavs)
        except TranscriptionStepError as exc:
            log.error("session %s not transcribed: %s", folder, exc)
            return
        revision = max(int(m["revision"]) + 1, int(time.time() * 1000))
        common = {"tenant": m["tenant"], "branch": m["branch"], "gateway": self.settings.worker_id,
                  "badge": m["badge"], "session": m["session"], "revision": revision,
                  "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        doc = {"kind": "transcript", **common, "clips": [c["clip_id"] for c in m["clips"]],
               "transcript": text.document, "vtt": text.vtt}
        pub = self._publisher(m["tenant"], m["branch"])
        base = f"{m['badge']}/{m['session']}"
        msgs = pub.messages(f"{base}/transcript", doc, kind="transcript")
        findings = self._findings(text.document, common, wavs)
        if findings is not None:
            msgs += pub.messages(f"{base}/findings", findings, kind="findings")
        pub.outbox.put(msgs)  # transcript and findings in one transaction
        pub.wake()
        self.transcribed += 1
        log.info("worker %s transcribed %s/%s (%.1f s of audio)", self.settings.worker_id, m["badge"],
                 m["session"], text.audio_s)

    @staticmethod
    def _findings(document: dict[str, Any], common: dict[str, Any], wavs: list[Path]) -> dict[str, Any] | None:
        """The compliance findings for the transcript, as the branch gateway publishes them."""
        sidecars = []
        for wav in wavs:
            try:
                sidecars.append(json.loads(wav.with_suffix(".json").read_text()).get("sidecar", {}))
            except (OSError, ValueError):
                continue
        return findings_document(document, common, sidecars)

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set."""
        self.receiver.start()
        try:
            while not stop.wait(self.settings.poll_interval_s):
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        for pub in self._publishers.values():
            pub.flush(5)
            pub.stop()
            pub.outbox.close()
        self._publishers.clear()
        self.receiver.close()
