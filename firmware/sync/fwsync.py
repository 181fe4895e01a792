"""Sync messages of firmware updates (badge side): begin, data, commit, status.

| type | request | reply |
| --- | --- | --- |
| FW_BEGIN 0x20 | ``{"size", "sha256", "version"}`` | ``{"offset", "size", "running"}``: send from ``offset`` (resume) |
| FW_DATA 0x21 | binary ``offset (4) | bytes`` (<= 508 bytes) | ``{"offset"}``: the next offset |
| FW_COMMIT 0x22 | ``{}`` | ``{"version", "slot", "verify_ms", "previous", "reboot": true}`` |
| FW_STATUS 0x23 | ``{}`` | ``{"version", "slot", "state", "last", ...}`` |

All need an authenticated session. Each handler takes the server and the request and
returns the reply object or raises Reject; the work is done by firmware.fwstage.Stage,
found as ``server.fw`` (None where updates are not set up). FW_STATUS, INFO and LIST in
a session confirm a firmware on trial (``server.fw_confirm``): the first sync does.
"""

import struct

from firmware import const
from firmware.sync import proto
from firmware.sync.checks import Reject, integer, text

__all__ = ["FW_BEGIN", "FW_DATA", "FW_COMMIT", "FW_STATUS", "HANDLERS", "RAW", "NAMES",
           "E_OFFSET", "E_UPDATE", "confirming"]

FW_BEGIN = const(0x20)
FW_DATA = const(0x21)
FW_COMMIT = const(0x22)
FW_STATUS = const(0x23)
E_OFFSET = "offset"
E_UPDATE = "update"
NAMES = {FW_BEGIN: "fw_begin", FW_DATA: "fw_data", FW_COMMIT: "fw_commit", FW_STATUS: "fw_status"}
_CODES = {"busy": proto.E_BUSY, "store": proto.E_STORE, "hash_mismatch": proto.E_HASH,
          "bad_payload": proto.E_BAD_PAYLOAD, "offset": E_OFFSET, "update": E_UPDATE}


def _stage(srv):
    srv.need_session()
    st = getattr(srv, "fw", None)
    if st is None:
        raise Reject(E_UPDATE, "firmware updates are not set up on this badge")
    return st


def _run(fn, *args):
    from firmware.fwstage import UpdateRefused

    try:
        return fn(*args)
    except UpdateRefused as e:
        raise Reject(_CODES.get(e.code, E_UPDATE), e.msg)
    except OSError as e:
        raise Reject(proto.E_STORE, "update storage: {}".format(e))


def begin(srv, req):
    st = _stage(srv)
    size = integer(req, "size", 1, 1 << 24)
    sha = text(req, "sha256", 64)
    version = text(req, "version", 32)
    off = _run(st.begin, size, sha, version)
    if off == 0:
        srv.state.log("fw_update_start", version=version, size=size)
    return {"offset": off, "size": size, "running": st.running}


def data(srv, payload):
    st = _stage(srv)
    if len(payload) < 4:
        raise Reject(proto.E_BAD_PAYLOAD, "fw data needs an offset")
    off = struct.unpack("<I", bytes(payload[:4]))[0]
    return {"offset": _run(st.write, off, payload[4:])}


def commit(srv, req):
    st = _stage(srv)
    try:
        out = _run(st.commit)
    except Reject as r:
        srv.state.log("fw_update_refused", why=r.msg[:100])
        raise
    srv.state.log("fw_updated", version=out["version"], slot=out["slot"],
                  previous=out["previous"], verify_ms=out["verify_ms"])
    out["reboot"] = True
    return out


def status(srv, req):
    st = _stage(srv)
    confirm = getattr(srv, "fw_confirm", None)
    if confirm is not None:
        confirm()
    return st.slots.status(st.running)


def confirming(handler):
    """``handler`` (LIST: the first request of every sync) that first confirms a firmware on
    trial: an authenticated sync proves the new firmware can still be reached and fixed."""

    def h(srv, req):
        if srv.session is not None and srv.fw_confirm is not None:
            srv.fw_confirm()
        return handler(srv, req)

    return h


HANDLERS = {FW_BEGIN: begin, FW_COMMIT: commit, FW_STATUS: status}
RAW = {FW_DATA: data}  # binary requests: (server, payload memoryview) -> reply object
