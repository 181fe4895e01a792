"""A stand-in for the ESP32 `machine` module where no badge is attached: the I2S
peripheral, GPIO pins and the RTC record how they were driven and play back test data.
Only `firmware/hw/*` tests use it; everything above the hardware layer runs for real."""

LOG = []


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    levels = {}  # gpio -> input level the test sets

    def __init__(self, gpio, mode=-1, pull=-1, value=None):
        self.gpio = gpio
        self.mode = mode
        self.pull = pull
        self.out = value
        LOG.append(("pin", gpio, mode, pull, value))

    def value(self, v=None):
        if v is None:
            return Pin.levels.get(self.gpio, 1)
        self.out = v
        LOG.append(("set", self.gpio, v))
        return None


class I2S:
    RX = 0
    MONO = 0
    source = []  # 32-bit samples the "microphone" delivers

    def __init__(self, bus, **kw):
        self.kw = kw
        self.pos = 0
        LOG.append(("i2s", bus, kw["sck"].gpio, kw["ws"].gpio, kw["sd"].gpio, kw["mode"],
                    kw["bits"], kw["format"], kw["rate"]))

    def readinto(self, buf):
        mv = memoryview(buf)
        n = len(mv)
        src = I2S.source
        i = 0
        while i < n and self.pos < len(src):
            mv[i] = src[self.pos]
            i += 1
            self.pos += 1
        return 4 * i

    def deinit(self):
        LOG.append(("i2s_deinit",))


class RTC:
    now = (2026, 11, 25, 2, 10, 0, 5, 250000)

    def datetime(self):
        return RTC.now
