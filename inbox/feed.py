"""`badgekit inbox serve --mqtt URL`: receive meetings from the broker and file them.

The gateway's own `Receiver` does the receiving (persistent MQTT 5 session, message ids,
parts, hash and chain checks, receipts) into `<store>/received/`, exactly like
`gateway receive`; a second thread files each session once its manifest is there and
again whenever its files change (a new revision), through the same import as
`badgekit inbox import`. With `share_group`, several inbox processes split the messages
(an MQTT 5 shared subscription) and write to one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from sqlalchemy import Engine

from inbox.errors import ImportRefused
from inbox.importer import import_session
from inbox.session_files import find_sessions
from inbox.store import AudioStore

__all__ = ["MqttFeed"]

log = logging.getLogger(__name__)


class MqttFeed:
    def __init__(self, engine: Engine, store: AudioStore, received: Path, receiver) -> None:  # type: ignore[no-untyped-def]
        self.engine, self.store, self.received, self.receiver = engine, store, received, receiver
        self._stop = threading.Event()
        self._seen: dict[Path, tuple[int, float]] = {}
        self._thread: threading.Thread | None = None
        self.filed = 0
        self.refused: list[str] = []

    @classmethod
    def from_options(cls, engine: Engine, store: AudioStore, store_dir: Path, url: str, share: str | None,
                     tenant: str = "+", username: str | None = None, tls_ca: Path | None = None,
                     client_id: str | None = None) -> MqttFeed:
        from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings
        from gateway.delivery.security import TlsSettings

        tls = TlsSettings(ca_path=tls_ca) if tls_ca else None
        broker = BrokerSettings.from_url(url, username=username,
                                         password=os.environ.get("BADGEKIT_MQTT_PASSWORD"), tls=tls)
        received = Path(store_dir) / "received"
        if client_id is None:  # fixed, so the broker keeps a lone inbox's queue while it restarts
            client_id = f"badgekit-inbox-{share}-{socket.gethostname()}-{os.getpid()}" if share else "badgekit-inbox"
        rx = Receiver(ReceiverSettings(broker=broker, out_dir=received, tenant=tenant, share_group=share,
                                       client_id=client_id))
        return cls(engine, store, received, rx)

    def start(self) -> None:
        self.receiver.start()
        self._thread = threading.Thread(target=self._loop, name="inbox-filer", daemon=True)
        self._thread.start()

    def _signature(self, folder: Path) -> tuple[int, float]:
        files = [p for p in folder.rglob("*") if p.is_file()]
        return len(files), max((p.stat().st_mtime for p in files), default=0.0)

    def file_ready(self) -> int:
        """File every session whose manifest is in and whose files changed; returns how many."""
        n = 0
        for folder in find_sessions(self.received):
            if not (folder / "manifest.json").exists():
                continue
            sig = self._signature(folder)
            if self._seen.get(folder) == sig:
                continue
            try:
                with self.receiver.lock:  # the receiver writes files under this lock
                    outcome = import_session(self.engine, self.store, folder, actor="mqtt")
                n += outcome in ("new", "updated")
            except ImportRefused as exc:
                log.error("refused %s", exc)
                self.refused.append(str(exc))
            self._seen[folder] = sig
        self.filed += n
        return n

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.file_ready()
            except Exception:  # noqa: BLE001 - keep receiving; the next pass tries again
                log.exception("filing received sessions failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.receiver.close()
        self.file_ready()
