"""One MQTT 5 connection (paho-mqtt 2.x, callback API v2) that reconnects by itself.

`Connection.start()` connects once in the foreground so that a refused password, a
failed TLS handshake or an unreachable broker is reported as a named error with one
clear line; afterwards paho's network thread keeps reconnecting (its own in-flight QoS 1
messages are re-sent on reconnect). A CONNACK that refuses the credentials stops the
retries and is kept in `fatal`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gateway.delivery.errors import BrokerAuthError, BrokerUnavailableError, DeliveryError
from gateway.delivery.security import BrokerSettings

__all__ = ["Connection", "load_paho", "user_properties"]

log = logging.getLogger(__name__)

# CONNACK reason codes that will not get better by retrying.
_FATAL_CONNACK = {0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C}


def load_paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise DeliveryError(
            "paho-mqtt is not installed; fix: pip install 'badgekit[gateway]' (or script/bootstrap)"
        ) from None
    return mqtt


def user_properties(props: Any) -> dict[str, str]:
    """MQTT 5 user properties of a received message as a dict (last value wins)."""
    pairs = getattr(props, "UserProperty", None) or []
    return {str(k): str(v) for k, v in pairs}


class Connection:
    """A paho client plus connection state; callbacks may be attached before `start()`."""

    def __init__(
        self,
        broker: BrokerSettings,
        client_id: str,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        will: tuple[str, bytes] | None = None,
        on_connected: Callable[[bool], None] | None = None,
    ) -> None:
        mqtt = load_paho()
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.broker = broker
        self.client_id = client_id
        self.connected = threading.Event()
        self.fatal: DeliveryError | None = None
        self.disconnects = 0
        self.max_packet_bytes = 0
        """The broker's Maximum Packet Size from its CONNACK (0: not announced)."""
        self._on_connected = on_connected
        self._clean_start = clean_start
        self._props = Properties(PacketTypes.CONNECT)
        if session_expiry_s:
            self._props.SessionExpiryInterval = session_expiry_s
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(1, max(1, int(broker.reconnect_max_s)))
        broker.apply(self.client)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self._started = False

    def _handle_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        code = int(getattr(rc, "value", rc))
        if code == 0:
            self.max_packet_bytes = int(getattr(props, "MaximumPacketSize", 0) or 0)
            self.connected.set()
            log.info("connected to %s as %s", self.broker.url, self.client_id)
            if self._on_connected:
                self._on_connected(bool(getattr(flags, "session_present", False)))
            return
        if code in _FATAL_CONNACK:
            self.fatal = BrokerAuthError(self.broker.url, f"{rc} (reason code 0x{code:02X})")
            log.error("%s", self.fatal)
            threading.Thread(target=self.client.disconnect, daemon=True).start()
        else:
            log.warning("broker refused the connection for now: %s (0x%02X); retrying", rc, code)

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self.connected.is_set():
            self.disconnects += 1
            code = int(getattr(rc, "value", rc) or 0)
            if code == 0x8E:
                log.error("disconnected from %s: another client with the id %s took over the session "
                          "(give every gateway and receiver its own id)", self.broker.url, self.client_id)
            else:
                (log.info if code == 0 else log.warning)("disconnected from %s: %s", self.broker.url, rc)
        self.connected.clear()

    def start(self, require: bool = True) -> None:
        """Connect; with `require`, raise a named error unless connected within the timeout."""
        try:
            self.client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.broker.keepalive_s,
                clean_start=self._clean_start,
                properties=self._props,
            )
        except OSError as exc:
            if require:
                raise BrokerUnavailableError(self.broker.url, _describe(exc)) from None
            log.warning("broker %s unavailable (%s); will keep retrying", self.broker.url, _describe(exc))
            self.client.connect_async(
                self.broker.host,
                self.broker.port,
                keepalive=self.broker.keepalive_s,
                clean_start=self._clean_start,
                properties=self._props,
            )
        self.client.loop_start()
        self._started = True
        if require:
            self.wait_connected(self.broker.connect_timeout_s)

    def wait_connected(self, timeout_s: float) -> None:
        """Wait for a CONNACK; raise the fatal error, or `BrokerUnavailableError` on timeout."""
        step = 0.05
        waited = 0.0
        while waited < timeout_s:
            if self.fatal:
                raise self.fatal
            if self.connected.wait(step):
                return
            waited += step
        if self.fatal:
            raise self.fatal
        raise BrokerUnavailableError(self.broker.url, f"no CONNACK within {timeout_s:g}s")

    def stop(self) -> None:
        if not self._started:
            return
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
            self._started = False
            self.connected.clear()


def _describe(exc: OSError) -> str:
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message}); check --tls-ca"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running on that port?)"
    return str(exc) or type(exc).__name__
