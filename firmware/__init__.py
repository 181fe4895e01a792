# badgekit firmware: plain MicroPython for the ESP32-S3 badge.
# Pure logic (adpcm, vad_gate, clip store, sync framing) lives at this level and runs on
# the badge, under the MicroPython unix port and under CPython; hardware lives in hw/.

# `NAME = const(n)`: MicroPython's compiler folds the value into the code that uses it
# (a `_NAME` is then not even stored in the module). Modules take `const` from here so
# the same source also imports on CPython, where it is the identity.
try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):  # type: ignore[misc]
        return x
