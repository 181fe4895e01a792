"""The clip store's filesystem: littlefs2 on the microSD card, on a flash partition, or on
a block device the caller hands in (the simulator and tests).

    medium = storage.mount(board)          # board: firmware.hw.pins.load()
    store_root = medium.store_root         # "/sd/store", "/store/store" or "/store"

Which medium: a block device passed as ``bdev`` > the microSD card on a board revision
whose pin map has the ``sd`` feature (it is then required: no card is an error, never a
silent fall-back to a second store) > a data partition labelled ``store`` > a ``store``
folder on the badge's own littlefs root filesystem.

Formatting protects evidence: a device that does not mount is formatted with littlefs2
only if it holds no littlefs at all (blank, or a card as it comes from the shop). A
device with a littlefs superblock that fails to mount is left untouched
(`StorageError`): its clips can still be read on a computer (companion.lfsimage).
"""

import os
import time

__all__ = ["StorageError", "Medium", "mount", "makedirs", "holds_littlefs", "SD_MOUNT", "PART_MOUNT"]

SD_MOUNT = "/sd"
PART_MOUNT = "/store"
_LFS_MAGIC = b"littlefs"


class StorageError(OSError):
    """The store's medium is missing or unusable (the badge shows an error, records nothing)."""


class Medium:
    """Where the store lives: ``kind`` (sd | partition | flash | device), the mount point,
    the store folder, and whether this boot formatted it."""

    def __init__(self, kind, path, store_root, formatted=False):
        self.kind = kind
        self.path = path
        self.store_root = store_root
        self.formatted = formatted

    def as_dict(self):
        return {"kind": self.kind, "path": self.path, "formatted": self.formatted}


def makedirs(path):
    """Create ``path`` and its parents (no error if they exist)."""
    cur = ""
    for part in path.strip("/").split("/"):
        cur += "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass


def _block_size(dev):
    try:
        bs = dev.ioctl(5, 0)
    except (OSError, AttributeError, TypeError):
        bs = None
    return bs if isinstance(bs, int) and bs > 0 else 512


def holds_littlefs(dev):
    """True if block 0 or 1 carries a littlefs superblock (its name at byte 8)."""
    buf = bytearray(_block_size(dev))
    for block in (0, 1):
        try:
            dev.readblocks(block, buf)
        except OSError:
            continue
        if bytes(buf[8:16]) == _LFS_MAGIC:
            return True
    return False


def _umount(where):
    import vfs

    try:
        vfs.umount(where)
    except OSError:
        pass


def _mount_lfs(dev, where, what):
    """Mount ``dev`` at ``where`` with littlefs2; format it first only if it holds none.
    Returns True if it was formatted."""
    import vfs

    lfs2 = getattr(vfs, "VfsLfs2")
    _umount(where)  # a soft reset may have left it mounted
    try:
        vfs.mount(lfs2(dev), where)
        return False
    except OSError as exc:
        if holds_littlefs(dev):
            raise StorageError(what + " holds a littlefs filesystem that does not mount ("
                               + str(exc) + "); left untouched: read it on a computer")
    try:
        lfs2.mkfs(dev)
        vfs.mount(lfs2(dev), where)
    except OSError as exc:
        raise StorageError("cannot format " + what + ": " + str(exc))
    return True


def _sd_card(board):
    import machine

    p = board["pins"]
    if "sd_en" in p:
        on = 0 if board.get("sd_en_active_low", True) else 1
        machine.Pin(p["sd_en"], machine.Pin.OUT, value=on)
        time.sleep_ms(50)  # card power-up
    try:
        card = getattr(machine, "SDCard")(
            slot=2, sck=machine.Pin(p["sd_sck"]), mosi=machine.Pin(p["sd_mosi"]),
            miso=machine.Pin(p["sd_miso"]), cs=machine.Pin(p["sd_cs"]))
        card.readblocks(0, bytearray(512))  # no card: this is where it fails
    except (AttributeError, KeyError, OSError, ValueError) as exc:
        raise StorageError("no microSD card: " + str(exc))
    return card


def _store_partition():
    try:
        import esp32  # type: ignore[import-not-found]  # badge only
    except ImportError:
        return None
    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="store")
    return found[0] if found else None


def mount(board, bdev=None, where=None):
    """Mount the store's medium (see module doc); returns a `Medium`, raises `StorageError`."""
    if bdev is not None:
        where = where or PART_MOUNT
        fmt = _mount_lfs(bdev, where, "the store device")
        return Medium("device", where, where + "/store", fmt)
    features = board.get("features", {}) if board else {}
    if features.get("sd"):
        where = where or SD_MOUNT
        fmt = _mount_lfs(_sd_card(board), where, "the microSD card")
        return Medium("sd", where, where + "/store", fmt)
    part = _store_partition()
    if part is not None:
        where = where or PART_MOUNT
        fmt = _mount_lfs(part, where, "the store partition")
        return Medium("partition", where, where + "/store", fmt)
    try:
        os.statvfs("/")
    except OSError as exc:
        raise StorageError("no filesystem for the store: " + str(exc))
    return Medium("flash", "/", "/store", False)
