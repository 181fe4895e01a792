"""RAM block device for littlefs (``vfs.VfsLfs2``): the badge's flash on a computer.

Implements the extended block protocol (``readblocks``/``writeblocks`` with offsets,
``ioctl`` erase). Used by ``badgekit sim`` to hold a store image (``load``/``save`` a
raw image file, as dumped from a badge) and by the power-cut campaign, which hooks
``on_write`` to snapshot the device at a chosen write and injects faults
(``fail_after``: the device raises EIO, as a worn or unplugged flash does).
"""

__all__ = ["RAMBlockDev", "mount", "umount"]


class RAMBlockDev:
    def __init__(self, block_size=4096, block_count=256, data=None):
        self.bs = block_size
        self.n = block_count
        self.data = bytearray(data) if data is not None else bytearray(b"\xff" * (block_size * block_count))
        if len(self.data) != block_size * block_count:
            raise ValueError("image size is not block_size * block_count")
        self.writes = 0  # program + erase operations so far
        self.on_write = None  # callback(dev, kind, block, offset, buf) before each write
        self.fail_after = -1  # raise EIO on every write once `writes` reaches this

    @classmethod
    def load(cls, path, block_size=4096):
        with open(path, "rb") as f:
            data = f.read()
        return cls(block_size, len(data) // block_size, data)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.data)

    def readblocks(self, block, buf, offset=0):
        a = block * self.bs + offset
        buf[:] = self.data[a:a + len(buf)]

    def _write(self, kind, block, offset, buf):
        if self.fail_after >= 0 and self.writes >= self.fail_after:
            raise OSError(5)
        if self.on_write is not None:
            self.on_write(self, kind, block, offset, buf)
        self.writes += 1

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple protocol: erase + program whole blocks
            offset = 0
        self._write(0, block, offset, buf)
        a = block * self.bs + offset
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.bs
        if op == 6:
            self._write(1, arg, 0, None)
            a = arg * self.bs
            self.data[a:a + self.bs] = b"\xff" * self.bs
            return 0
        return 0


def mount(dev, where, mkfs=False, readonly=False):
    """Mount ``dev`` with littlefs2 at ``where`` (format first if ``mkfs``)."""
    import vfs

    lfs2 = getattr(vfs, "VfsLfs2")
    if mkfs:
        lfs2.mkfs(dev)
    fs = lfs2(dev)
    vfs.mount(fs, where, readonly=readonly)
    return fs


def umount(where):
    import vfs

    try:
        vfs.umount(where)
    except OSError:
        pass
