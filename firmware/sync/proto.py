"""Sync messages: type numbers, error codes, and the binary READ / DATA payloads.

Requests have types 0x01..0x3F; a reply has the request's type | 0x80 and echoes its
``seq``; ``ERROR`` (0xFF) can answer anything. Control payloads are small JSON objects
(UTF-8); the bulk path is binary:

- READ request: ``clip id length (1) | clip id | offset (4) | length (4) | chunk (2)``;
  the badge answers with a stream of DATA frames (type READ | 0x80), each
  ``offset (4) | bytes``, until ``length`` bytes or the clip's end; a DATA frame with
  no bytes marks the end of the clip. Any new request stops a stream.
"""

import struct

from firmware import const

__all__ = ["VERSION", "HELLO", "AUTH", "INFO", "LIST", "READ", "ACK", "SET_TIME",
           "GET_CONFIG", "SET_CONFIG", "ENROLL", "LOGS", "PING", "ERROR", "REPLY", "NAMES",
           "pack_read", "unpack_read", "DATA_HDR", "E_BAD_FRAME", "E_TOO_LONG", "E_CRC",
           "E_INCOMPLETE", "E_JUNK", "E_UNKNOWN", "E_BAD_PAYLOAD", "E_AUTH_REQUIRED",
           "E_AUTH_FAILED", "E_AUTH_BACKOFF", "E_MAC", "E_REPLAY", "E_NOT_ENROLLED", "E_ENROLLED",
           "E_NOT_FOUND", "E_HASH", "E_STORE", "E_BUSY", "E_CONFIG", "E_INTERNAL"]

VERSION = const(1)

HELLO = const(0x01)
AUTH = const(0x02)
INFO = const(0x03)
LIST = const(0x04)
READ = const(0x05)
ACK = const(0x06)
SET_TIME = const(0x07)
GET_CONFIG = const(0x08)
SET_CONFIG = const(0x09)
ENROLL = const(0x0A)
LOGS = const(0x0B)
PING = const(0x0C)
ERROR = const(0xFF)
REPLY = const(0x80)

NAMES = {HELLO: "hello", AUTH: "auth", INFO: "info", LIST: "list", READ: "read", ACK: "ack",
         SET_TIME: "set_time", GET_CONFIG: "get_config", SET_CONFIG: "set_config",
         ENROLL: "enroll", LOGS: "logs", PING: "ping"}

# error codes (the "code" field of an ERROR reply)
E_BAD_FRAME = "bad_frame"
E_TOO_LONG = "too_long"
E_CRC = "crc"
E_INCOMPLETE = "incomplete"
E_JUNK = "junk"
E_UNKNOWN = "unknown_type"
E_BAD_PAYLOAD = "bad_payload"
E_AUTH_REQUIRED = "auth_required"
E_AUTH_FAILED = "auth_failed"
E_AUTH_BACKOFF = "auth_backoff"  # too many failed AUTHs on this link: wait (firmware.sync.backoff)
E_MAC = "bad_mac"
E_REPLAY = "replay"
E_NOT_ENROLLED = "not_enrolled"
E_ENROLLED = "enrolled_elsewhere"
E_NOT_FOUND = "not_found"
E_HASH = "hash_mismatch"
E_STORE = "store"
E_BUSY = "busy"
E_CONFIG = "config"
E_INTERNAL = "internal"

DATA_HDR = const(4)


def pack_read(clip_id, offset, length, chunk):
    cid = clip_id.encode()
    return bytes([len(cid)]) + cid + struct.pack("<IIH", offset, length, chunk)


def unpack_read(payload):
    """-> (clip_id, offset, length, chunk); ValueError if malformed."""
    if len(payload) < 1:
        raise ValueError("empty read")
    n = payload[0]
    if n == 0 or len(payload) != 1 + n + 10:
        raise ValueError("read payload length")
    cid = bytes(payload[1:1 + n]).decode()
    offset, length, chunk = struct.unpack("<IIH", bytes(payload[1 + n:]))
    return cid, offset, length, chunk
