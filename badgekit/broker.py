"""A local Mosquitto broker on a free loopback port, for the demo and the tests.

`LocalBroker` writes its own config (persistence on, so a restarted broker keeps
QoS 1 sessions), starts `mosquitto`, waits until the port accepts connections, and
can be killed and restarted on the same port to exercise redelivery.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from badgecore.paths import find_tool

__all__ = ["BrokerError", "LocalBroker", "free_port"]

FIX_MOSQUITTO = "sudo apt-get install -y mosquitto (or run script/bootstrap)"


class BrokerError(RuntimeError):
    """Mosquitto is missing or did not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalBroker:
    """One Mosquitto process; `extra_config` lines are appended (TLS listeners, ACLs...)."""

    def __init__(
        self,
        workdir: Path | None = None,
        port: int | None = None,
        extra_config: str = "",
        allow_anonymous: bool = True,
        message_size_limit: int = 0,
    ) -> None:
        binary = find_tool("mosquitto")
        if not binary:
            raise BrokerError(f"mosquitto not found; fix: {FIX_MOSQUITTO}")
        self.binary = binary
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="badgekit-mqtt-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.extra_config = extra_config
        self.allow_anonymous = allow_anonymous
        self.message_size_limit = message_size_limit
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            # keep an absent or slow receiver's queue: the default drops QoS 1 messages
            # past 1,000 per client, silently (as gateway.delivery.brokerconf does)
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if not any(x.split()[:1] == ["user"] for x in self.extra_config.splitlines()):
            # run as root, mosquitto drops to its own user, which cannot write the save
            # file into this folder: stay the user we are (no effect when not root)
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        if self.message_size_limit:
            lines.append(f"message_size_limit {self.message_size_limit}")
        conf.write_text("\n".join(lines) + "\n" + self.extra_config)
        return conf

    def start(self, timeout: float = 10.0) -> LocalBroker:
        conf = self._write_config()
        log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (self.workdir / "mosquitto.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the broker dies without saving, like a power cut."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
