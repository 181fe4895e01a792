"""The badge's BLE radio: a GATT peripheral serving the sync protocol (`bluetooth` API).

- Advertising: flags, the name ``BK-<badge id>``, and manufacturer data
  (company 0xFFFF) = ``status byte | badge id``; the scan response carries the sync
  service UUID. Status bits: 0 enrolled, 1 clips waiting, 2 storage warning,
  3 recording, 4 fault (``status_byte``).
- Sync service ``SERVICE_UUID`` with a write characteristic (``RX_UUID``, write and
  write-without-response; the companion's frames) and a notify characteristic
  (``TX_UUID``; the badge's frames). Both carry the same byte stream as the serial
  link (firmware.sync.frame), cut to the connection's MTU (up to 247, ATT payload
  MTU - 3 per notification).
- One central at a time: a second central that connects while one is connected is
  disconnected at once (``stats["refused"]``); the first one's session, MTU and pending
  bytes are left as they were.
- A central that has not authenticated within ``auth_timeout_ms`` is disconnected, so a
  stranger cannot keep the badge's one connection busy.
- Flow control: ``gatts_notify`` raises OSError when the stack has no buffer left
  (NimBLE's ENOMEM); the loop then waits a little and sends the same bytes again, so
  notifications go out as fast as the link drains them and none is lost.

Runs on the badge (MicroPython) and, unmodified, under CPython on the bumble-based
`bluetooth` shim (badgekit.sim.bluetooth_shim). ``ble`` may be passed in (the shim
gives one per simulated badge); by default it is ``bluetooth.BLE()``.
"""

import asyncio

import bluetooth

from firmware import const
from firmware.sync import link
from firmware.sync.adv import (
    COMPANY_ID,
    RX_UUID,
    SERVICE_UUID,
    TX_UUID,
    _ad,
    _uuid128_le,
    adv_payload,
    parse_adv,
    status_byte,
)

__all__ = ["Radio", "SERVICE_UUID", "RX_UUID", "TX_UUID", "COMPANY_ID", "adv_payload",
           "parse_adv", "status_byte"]

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)

_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_MTU = const(247)
_RX_BUF = const(512)


class Radio:
    """Serve ``server`` (firmware.sync.server.Server) over BLE. ``status_fn()`` gives
    the status byte for advertising."""

    def __init__(self, server, badge_id, status_fn=None, ble=None, mtu=_MTU,
                 auth_timeout_ms=30000):
        self.server = server
        self.auth_timeout_ms = auth_timeout_ms  # a central that does not authenticate is dropped
        self.conn_ms = 0
        self.badge_id = badge_id
        self.status_fn = status_fn
        self.ble = ble if ble is not None else bluetooth.BLE()
        self.ble.active(True)
        self.ble.config(mtu=mtu)
        self.ble.irq(self._irq)
        svc = (bluetooth.UUID(SERVICE_UUID), (
            (bluetooth.UUID(RX_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE),
            (bluetooth.UUID(TX_UUID), _FLAG_NOTIFY),
        ))
        handles = self.ble.gatts_register_services((svc,))
        self.rx_h = handles[0][0]
        self.tx_h = handles[0][1]
        self.ble.gatts_set_buffer(self.rx_h, _RX_BUF, True)
        self.conn = None
        self.mtu = 23
        self.rx_ready = False
        self.held = b""
        self.wake = asyncio.Event()
        self.stats = {"notifications": 0, "notify_bytes": 0, "busy": 0, "connections": 0}

    # ---- radio events (scheduled IRQs on the badge, loop callbacks under the shim) ------
    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            if self.conn is not None and self.conn != data[0]:
                # busy with a central: refuse the newcomer, keep the open session as it is
                self.stats["refused"] = self.stats.get("refused", 0) + 1
                self.ble.gap_disconnect(data[0])
                return
            self.conn = data[0]
            self.conn_ms = link.ticks_ms()
            self.mtu = 23
            self.held = b""
            self.ble.gatts_read(self.rx_h)  # drop what an earlier central left unread
            self.server.reset()
            self.stats["connections"] += 1
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if self.conn == data[0]:
                self.conn = None
                self.server.reset()
                self.advertise()
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.rx_h and data[0] == self.conn:
                self.rx_ready = True
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self.conn:
                self.mtu = data[1]
        self.wake.set()

    def advertise(self):
        st = self.status_fn() if self.status_fn is not None else 0
        self.ble.gap_advertise(100000, adv_payload(self.badge_id, st),
                               resp_data=_ad(0x07, _uuid128_le(SERVICE_UUID)))

    # ---- the loop ----------------------------------------------------------------------
    async def _rest(self, seconds):
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def serve(self, stop=None):
        """Advertise and serve connections until ``stop()`` is true."""
        self.advertise()
        srv = self.server
        while stop is None or not stop():
            now = link.ticks_ms()
            if (self.conn is not None and srv.session is None
                    and now - self.conn_ms > self.auth_timeout_ms):
                self.stats["dropped"] = self.stats.get("dropped", 0) + 1
                self.ble.gap_disconnect(self.conn)  # free the badge for its own branch
                self.conn_ms = now
            if self.rx_ready or self.held:
                self.rx_ready = False
                data = self.held + self.ble.gatts_read(self.rx_h)
                k = srv.feed(data, now)
                self.held = data[k:]
            out = srv.pending()
            if out is not None and self.conn is not None:
                n = min(len(out), self.mtu - 3)
                try:
                    # (conn, handle, data): the stubs lag behind MicroPython >= 1.17 here
                    self.ble.gatts_notify(self.conn, self.tx_h, out[:n])  # type: ignore[call-arg, arg-type]
                except OSError:  # no buffer in the stack: let the link drain
                    self.stats["busy"] += 1
                    await self._rest(0.002)
                    continue
                srv.sent(n)
                self.stats["notifications"] += 1
                self.stats["notify_bytes"] += n
                await asyncio.sleep(0)
                continue
            if srv.step(now):
                continue
            await self._rest(0.05)
