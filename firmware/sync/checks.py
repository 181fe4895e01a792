"""Request checks for the sync server: a named refusal and typed field readers.

``Reject(code, msg)`` ends a request with an ERROR reply (codes in firmware.sync.proto);
``integer``, ``text`` and ``unhex`` read one JSON field or refuse the request.
"""

from firmware.sync import proto

__all__ = ["Reject", "hexs", "unhex", "integer", "text"]


class Reject(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def hexs(b):
    import binascii

    return binascii.hexlify(b).decode()


def unhex(s, n):
    import binascii

    if not isinstance(s, str) or len(s) != 2 * n:
        raise Reject(proto.E_BAD_PAYLOAD, "expected {} hex bytes".format(n))
    try:
        return binascii.unhexlify(s)
    except ValueError:
        raise Reject(proto.E_BAD_PAYLOAD, "not hex")


def integer(d, key, lo, hi, default=None):
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
        raise Reject(proto.E_BAD_PAYLOAD, "{} must be an integer {}..{}".format(key, lo, hi))
    return v


def text(d, key, maxlen=32):
    v = d.get(key)
    if not isinstance(v, str) or not v or len(v) > maxlen:
        raise Reject(proto.E_BAD_PAYLOAD, "{} must be 1..{} characters".format(key, maxlen))
    return v
