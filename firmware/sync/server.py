"""The badge's sync server: frames in, replies out, never a crash.

Transport-free: a link (firmware.sync.link for serial, firmware.hw.radio for BLE) feeds
received bytes with ``feed``, sends what ``pending`` returns and reports it with
``sent``, and calls ``step`` to let the server work. Every frame, and every problem in
the byte stream (junk, oversize, bad CRC, a frame that stops arriving, unknown types,
bad payloads, failed auth) gets a reply or an ERROR frame. One preallocated reply
buffer holds one frame at a time; a READ streams its DATA frames one by one as the link
drains them (flow control), and any new request stops the stream.

``store`` is a firmware.clips.store.ClipStore (``list_clips``, ``read``, ``ack``,
``mark_synced``, ``status``); ``state`` a firmware.sync.state.BadgeState;
``on_enroll(kek)`` re-keys the store; ``info_fn()`` adds hardware facts (battery, mic).
"""

import gc
import json
import os
import struct

from firmware.sync import admin, auth, frame, fwsync, proto
from firmware.sync.backoff import AuthBackoff
from firmware.sync.checks import Reject as _Reject
from firmware.sync.checks import hexs as _hex
from firmware.sync.checks import integer as _int
from firmware.sync.checks import text as _text
from firmware.sync.checks import unhex as _unhex
from firmware.version import VERSION as FW_VERSION  # the running slot's own version

from firmware import const

__all__ = ["Server", "FW_VERSION", "MAX_REQUEST", "MAX_CHUNK"]

MAX_REQUEST = const(512)  # the largest request payload a badge accepts
MAX_CHUNK = const(1536)  # the largest clip bytes in one DATA frame
_LIST_PAGE = const(12)
_MIN_CHUNK = const(64)


class Server:
    def __init__(self, store, state, on_enroll=None, info_fn=None, chunk_max=MAX_CHUNK,
                 timeout_ms=500):
        self.store = store
        self.state = state
        self.on_enroll = on_enroll
        self.info_fn = info_fn
        self.chunk_max = chunk_max
        self.dec = frame.Decoder(MAX_REQUEST, timeout_ms)
        self.tx = bytearray(frame.frame_size(chunk_max + proto.DATA_HDR, frame.F_MAC))
        self.txv = memoryview(self.tx)
        self.tx_len = self.tx_pos = 0
        self.stats = {"frames": 0, "errors": 0, "bytes_out": 0, "data_bytes": 0}
        self.backoff = AuthBackoff()  # per link: survives reset() (a reopened link)
        self.fw = None  # firmware.fwstage.Stage where updates are set up (firmware.sync.fwsync)
        self.fw_confirm = None  # confirms a firmware on trial (an authenticated session)
        self.reset()

    def reset(self):
        """The link went down: forget the session, the stream and partial input."""
        self.session = None
        self.nc = self.nb = None
        self.rx_seq = 0
        self.stream = None
        self._end_session = False
        self.dec.reset()
        self.tx_len = self.tx_pos = 0

    # ---- link side -------------------------------------------------------------------
    def feed(self, data, now_ms=0):
        """Take received bytes; return how many were taken (feed the rest later)."""
        return self.dec.feed(data, now_ms)

    def pending(self):
        """The unsent part of the current reply frame (memoryview), or None."""
        if self.tx_pos < self.tx_len:
            return self.txv[self.tx_pos:self.tx_len]
        return None

    def sent(self, n):
        self.tx_pos += n
        self.stats["bytes_out"] += n

    def step(self, now_ms=0):
        """Handle one event or one stream chunk; True if there was work."""
        if self.tx_pos < self.tx_len:
            return False
        ev = self.dec.poll(now_ms)
        if ev is None:
            if self.stream is not None:
                self._stream_next()
                return True
            return False
        if ev == frame.EV_FRAME:
            self.stats["frames"] += 1
            self._handle()
        elif ev == frame.EV_JUNK:
            self._error(0, proto.E_JUNK, "{} bytes that are not a frame".format(self.dec.value))
        elif ev == frame.EV_TOO_LONG:
            self._error(0, proto.E_TOO_LONG, "payload {} > {}".format(self.dec.value, MAX_REQUEST))
        elif ev == frame.EV_CRC:
            self._error(0, proto.E_CRC, "frame CRC mismatch")
        else:
            self._error(0, proto.E_INCOMPLETE, "frame incomplete after timeout")
        return True

    # ---- replies ---------------------------------------------------------------------
    def _frame(self, typ, seq, payload, n=0):
        s = self.session
        if s is None:
            self.tx_len = frame.encode_into(self.tx, typ, 0, seq, payload, None, n)
        else:
            body = payload if payload is not None else self.txv[frame.HDR_SIZE:frame.HDR_SIZE + n]
            mac = s.tag(b"B", seq, typ, frame.F_MAC, body)
            self.tx_len = frame.encode_into(self.tx, typ, frame.F_MAC, seq, payload, mac, n)
        self.tx_pos = 0

    def _reply(self, typ, seq, obj):
        body = json.dumps(obj).encode()
        if len(body) > self.chunk_max:
            self._error(seq, proto.E_INTERNAL, "reply too large")
            return
        self._frame(typ | proto.REPLY, seq, body)

    def _error(self, seq, code, msg):
        self.stats["errors"] += 1
        body = json.dumps({"code": code, "msg": str(msg)[:200]}).encode()
        self._frame(proto.ERROR, seq, body)

    # ---- dispatch --------------------------------------------------------------------
    def _handle(self):
        d = self.dec
        typ, seq = d.typ, d.seq
        self.stream = None  # any request stops a running stream
        try:
            self._check_mac(typ, seq)
            if typ == proto.READ:
                self._read(seq, d.payload)
                return
            raw = fwsync.RAW.get(typ)
            if raw is not None:  # binary firmware-update data
                self._reply(typ, seq, raw(self, d.payload))
                return
            h = _HANDLERS.get(typ)
            if h is None:
                raise _Reject(proto.E_UNKNOWN, "unknown message type 0x{:02x}".format(typ))
            try:
                req = json.loads(bytes(d.payload)) if len(d.payload) else {}
            except ValueError:
                raise _Reject(proto.E_BAD_PAYLOAD, "payload is not JSON")
            if not isinstance(req, dict):
                raise _Reject(proto.E_BAD_PAYLOAD, "payload is not a JSON object")
            self._reply(typ, seq, h(self, req))
            if self._end_session:  # enrollment: the old session ends after its reply
                self._end_session = False
                self.session = None
        except _Reject as r:
            self._error(seq, r.code, r.msg)
        except MemoryError:
            self.stream = None
            gc.collect()
            self._error(seq, proto.E_INTERNAL, "out of memory")
        except Exception as e:  # never let a request take the badge down
            self._error(seq, proto.E_INTERNAL, "{}: {}".format(type(e).__name__, e))

    def _check_mac(self, typ, seq):
        d = self.dec
        if self.session is None:
            if d.flags & frame.F_MAC:
                raise _Reject(proto.E_AUTH_REQUIRED, "no session: send hello and auth")
            return
        if typ == proto.HELLO and not d.flags & frame.F_MAC:
            return  # a new handshake replaces the session
        if not d.flags & frame.F_MAC:
            raise _Reject(proto.E_MAC, "frame needs a MAC in a session")
        if not auth.eq(self.session.tag(b"C", seq, typ, d.flags, d.payload), d.mac):
            raise _Reject(proto.E_MAC, "frame MAC mismatch")
        if seq <= self.rx_seq:
            raise _Reject(proto.E_REPLAY, "sequence number reused")
        self.rx_seq = seq

    def need_session(self):
        if self.session is None:
            raise _Reject(proto.E_AUTH_REQUIRED, "authenticate first")

    # ---- handlers --------------------------------------------------------------------
    def _hello(self, req):
        nc = _unhex(req.get("nonce"), 16)
        self.session = None
        self.nc = nc
        self.nb = os.urandom(16)
        self.rx_seq = 0
        st = self.state
        out = {"v": proto.VERSION, "badge": st.badge, "nonce": _hex(self.nb),
               "max_chunk": self.chunk_max, "max_request": MAX_REQUEST}
        if not st.enrolled:  # nothing to hide yet; an enrolled badge tells the rest after AUTH
            out["enrolled"] = False
            out["fw"] = FW_VERSION
        return out

    def _auth(self, req):
        st = self.state
        if not st.enrolled:
            raise _Reject(proto.E_NOT_ENROLLED, "badge is not enrolled")
        if self.nb is None:
            raise _Reject(proto.E_AUTH_REQUIRED, "send hello first")
        mac = _unhex(req.get("mac"), 32)
        nc, nb = self.nc, self.nb
        self.nb = None  # one attempt per challenge
        bo = self.backoff
        wait = bo.wait_ms()
        if wait:
            bo.refused += 1
            raise _Reject(proto.E_AUTH_BACKOFF, "{} failed authentications: retry in {} ms"
                          .format(bo.run, wait))
        if not auth.eq(auth.client_proof(st.secret, st.badge, nc, nb), mac):
            delay = bo.failed()
            st.log("auth_failed", in_a_row=bo.run, backoff_ms=delay)
            raise _Reject(proto.E_AUTH_FAILED, "authentication failed")
        bo.succeeded()
        proof = auth.badge_proof(st.secret, st.badge, nc, nb)
        self.session = auth.Mac(auth.session_key(st.secret, nc, nb))
        self.rx_seq = self.dec.seq
        # what HELLO no longer tells a stranger, in the first MAC'd reply
        return {"mac": _hex(proof), "enrolled": True, "fw": FW_VERSION, "branch": st.branch,
                "agent": st.agent}

    def _info(self, req):
        if self.state.enrolled:
            self.need_session()
        st = self.state
        s = self.store.status()
        out = {"badge": st.badge, "fw": FW_VERSION, "enrolled": st.enrolled, "branch": st.branch,
               "agent": st.agent, "clock": st.now(), "last_sync": st.last_sync,
               "config": st.config, "errors": s.get("warnings", []),
               "auth": self.backoff.status()}
        for k in ("events", "recoveries", "pending_recovery", "locked", "tip_sha256"):
            s.pop(k, None)
        out["storage"] = s
        if self.info_fn is not None:
            out.update(self.info_fn())
        return out

    def _list(self, req):
        self.need_session()
        start = _int(req, "start", 0, 1 << 30, 0)
        k = _int(req, "max", 1, _LIST_PAGE, _LIST_PAGE)
        clips = []
        total = 0
        for c in self.store.list_clips():
            if start <= total < start + k:
                clips.append(c)
            total += 1
        while True:  # as many entries as fit in one reply frame
            nxt = start + len(clips)
            out = {"clips": clips, "total": total, "next": nxt if nxt < total else None}
            if start == 0 and self.state.cases:  # the case id of each tagged meeting
                out["cases"] = self.state.cases
            if len(clips) <= 1 or len(json.dumps(out)) <= self.chunk_max:
                return out
            clips.pop()

    def _read(self, seq, payload):
        self.need_session()
        try:
            cid, off, length, chunk = proto.unpack_read(payload)
        except (ValueError, UnicodeError):
            raise _Reject(proto.E_BAD_PAYLOAD, "malformed read request")
        chunk = max(_MIN_CHUNK, min(chunk, self.chunk_max))
        first = self._chunk(seq, cid, off, min(chunk, length))
        if first is not None and length > first:
            self.stream = [cid, seq, off + first, off + length, chunk]

    def _chunk(self, seq, cid, off, n):
        """Put one DATA frame for ``cid[off:off+n]`` in the tx buffer; bytes sent or None."""
        try:
            data = self.store.read(cid, off, n)
        except ValueError:
            raise _Reject(proto.E_BAD_PAYLOAD, "bad offset or length")
        except OSError as e:
            if getattr(e, "clip_id", None) is not None:
                raise _Reject(proto.E_NOT_FOUND, "no clip " + cid)
            raise _Reject(proto.E_STORE, "read failed: " + str(e))
        h = frame.HDR_SIZE
        struct.pack_into("<I", self.tx, h, off)
        k = len(data)
        self.txv[h + proto.DATA_HDR:h + proto.DATA_HDR + k] = data
        self._frame(proto.READ | proto.REPLY, seq, None, proto.DATA_HDR + k)
        self.stats["data_bytes"] += k
        if k < n:  # the end of the clip: it has been read whole once
            self.stream = None
            try:
                self.store.mark_synced(cid)
            except OSError:
                pass
            return None
        return k

    def _stream_next(self):
        s = self.stream
        if s is None:
            return
        cid, seq, off, end, chunk = s
        try:
            k = self._chunk(seq, cid, off, min(chunk, end - off))
        except _Reject as r:
            self.stream = None
            self._error(seq, r.code, r.msg)
            return
        except MemoryError:
            self.stream = None
            gc.collect()
            self._error(seq, proto.E_INTERNAL, "out of memory")
            return
        except Exception as e:  # never let a stream take the badge down
            self.stream = None
            self._error(seq, proto.E_INTERNAL, "{}: {}".format(type(e).__name__, e))
            return
        if k is None or self.stream is None:
            return
        s[2] = off + k
        if s[2] >= end:
            self.stream = None

    def _ack(self, req):
        self.need_session()
        cid = _text(req, "clip", 64)
        sha = _text(req, "sha256", 64)
        st = self.store
        try:
            deleted = st.ack(cid, sha)
        except OSError as e:
            name = type(e).__name__
            if name == "AckMismatchError":
                raise _Reject(proto.E_HASH, str(e))
            if name == "ClipNotFoundError":
                raise _Reject(proto.E_NOT_FOUND, "no clip " + cid)
            raise _Reject(proto.E_STORE, "ack failed: " + str(e))
        self.state.last_sync = self.state.now()
        return {"clip": cid, "deleted": deleted}

    def _ping(self, req):
        return {"pong": True}


_HANDLERS = {
    proto.HELLO: Server._hello, proto.AUTH: Server._auth, proto.INFO: Server._info,
    proto.LIST: Server._list, proto.ACK: Server._ack, proto.SET_TIME: admin.set_time,
    proto.GET_CONFIG: admin.get_config, proto.SET_CONFIG: admin.set_config,
    proto.ENROLL: admin.enroll, proto.LOGS: admin.logs, proto.PING: Server._ping,
}
_HANDLERS.update(fwsync.HANDLERS)
_HANDLERS[proto.LIST] = fwsync.confirming(Server._list)
