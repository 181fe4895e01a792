"""The badge's clip key: where it lives, first-boot device key, enrollment hand-over.

Clips are encrypted under a key-encryption key (KEK, firmware.aesctr). The KEK is never
stored in the clip partition: on the badge this file lives in the ESP32's encrypted NVS
(flash encryption on), in the simulator beside the store image. It never leaves the
badge: the sync protocol can set it (enrollment) but has no command to read it.

- First boot, unenrolled: a random 16-byte device key is generated here, so the badge
  records (encrypted) before it is enrolled. ``source`` is ``"device"``.
- Enrollment: the companion sends the branch-issued key over the authenticated link;
  ``enroll(new)`` stores it durably with the old key kept as ``old``;
  ``ClipStore.set_key(new)`` re-wraps every clip's data key; ``forget_old()`` erases
  the old key. A power cut between the steps is finished at the next boot (the store
  gets ``old_keys`` and re-wraps what is left).
"""

import json
import os

from firmware import aesctr

__all__ = ["KeyFile"]


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def _unhex(s):
    import binascii

    return binascii.unhexlify(s)


class KeyFile:
    def __init__(self, path):
        self.path = path

    def _read(self):
        try:
            with open(self.path) as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def _write(self, d):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(d))
        os.rename(tmp, self.path)

    def load(self):
        """Return (key, old_keys, source); make a device key on first boot."""
        d = self._read()
        if d is None:
            d = {"key": _hex(aesctr.new_key(16)), "old": [], "source": "device"}
            self._write(d)
        return _unhex(d["key"]), [_unhex(k) for k in d.get("old", [])], d.get("source", "device")

    def enroll(self, new_key):
        """Make ``new_key`` current (durably), keeping the previous key as old."""
        if len(new_key) not in (16, 32):
            raise ValueError("enrollment keys are 16 or 32 bytes")
        key, old, _src = self.load()
        olds = [k for k in [key] + old if k != bytes(new_key)]
        self._write({"key": _hex(new_key), "old": [_hex(k) for k in olds], "source": "enrolled"})

    def forget_old(self):
        key, _old, src = self.load()
        self._write({"key": _hex(key), "old": [], "source": src})

    def key_id(self):
        return _hex(aesctr.key_id(self.load()[0]))
