"""The firmware's own version (MAJOR.MINOR.PATCH).

`badgekit release build --version V` writes this module into the bundle with V, so the
firmware in every slot knows its own version: HELLO, INFO and the boot record report it.
"""

VERSION = "0.1.0"
