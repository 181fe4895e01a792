"""The status LED: one blink pattern per badge state.

`level(state, t_ms)` is the pattern (pure, testable): recording = on, with a short off
blip every 2 s so a glance shows it is alive; idle = a 50 ms flash every 5 s;
storage nearly full = two flashes every second while recording goes on; error = 5 Hz
blinking. `Led` drives the GPIO from the board pin map.
"""

__all__ = ["IDLE", "RECORDING", "STORAGE_LOW", "ERROR", "STATES", "level", "Led"]

IDLE = "idle"
RECORDING = "recording"
STORAGE_LOW = "storage_low"
ERROR = "error"
STATES = (IDLE, RECORDING, STORAGE_LOW, ERROR)


def level(state, t_ms):
    """Whether the LED is lit in `state` at time `t_ms`."""
    if state == RECORDING:
        return t_ms % 2000 >= 100
    if state == STORAGE_LOW:
        p = t_ms % 1000
        return p < 100 or 200 <= p < 300
    if state == ERROR:
        return t_ms % 200 < 100
    return t_ms % 5000 < 50  # idle


class Led:
    """The LED GPIO (pin and polarity from the pin map)."""

    def __init__(self, rev=None):
        import machine  # badge only

        from firmware.hw import pins

        board = pins.load(rev)
        self._high = board.get("led_active_high", True)
        self._pin = machine.Pin(board["pins"]["led"], machine.Pin.OUT)
        self.state = IDLE
        self.show(0)

    def set(self, state):
        if state not in STATES:
            raise ValueError("unknown LED state " + str(state))
        self.state = state

    def show(self, t_ms):
        on = level(self.state, t_ms)
        self._pin.value(1 if on == self._high else 0)
