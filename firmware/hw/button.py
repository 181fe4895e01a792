"""The badge's one button: debounced short and long presses.

`Decoder` is pure logic (testable anywhere): feed it the pin level and the time, get
`SHORT` when a press shorter than `long_ms` is released and `LONG` as soon as a press
has lasted `long_ms` (once per press). `Button` reads the GPIO from the board pin map.
"""

from firmware import const

__all__ = ["Decoder", "Button", "SHORT", "LONG"]

SHORT = const(1)
LONG = const(2)


class Decoder:
    """Turn a sampled pin level into SHORT / LONG press events."""

    def __init__(self, long_ms=1500, debounce_ms=30):
        self.long_ms = long_ms
        self.debounce_ms = debounce_ms
        self._stable = False  # debounced level: True = pressed
        self._raw = False
        self._raw_since = 0
        self._down_at = 0
        self._long_sent = False

    def update(self, pressed, now_ms):
        """Feed the current level; return SHORT, LONG or 0."""
        pressed = bool(pressed)
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now_ms
        if self._raw != self._stable and now_ms - self._raw_since >= self.debounce_ms:
            self._stable = self._raw
            if self._stable:
                self._down_at = self._raw_since
                self._long_sent = False
            else:
                if not self._long_sent:
                    return SHORT
                return 0
        if self._stable and not self._long_sent and now_ms - self._down_at >= self.long_ms:
            self._long_sent = True
            return LONG
        return 0


class Button:
    """The button GPIO (pin and polarity from the pin map); `poll(now_ms)` -> event."""

    def __init__(self, long_ms=1500, rev=None):
        import machine  # badge only

        from firmware.hw import pins

        board = pins.load(rev)
        self._active_low = board.get("button_active_low", True)
        pull = machine.Pin.PULL_UP if self._active_low else machine.Pin.PULL_DOWN
        self._pin = machine.Pin(board["pins"]["button"], machine.Pin.IN, pull)
        self.decoder = Decoder(long_ms)

    def pressed(self):
        v = self._pin.value()
        return v == 0 if self._active_low else v == 1

    def poll(self, now_ms):
        return self.decoder.update(self.pressed(), now_ms)
