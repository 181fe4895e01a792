"""badgekit: the host-side glue for the recording badge.

Holds the `badgekit` command line, the speech-model installer, `doctor`, the
firmware runner (the badge's MicroPython code on a computer) and the demo.
The parts themselves live in `firmware/`, `companion/`, `gateway/`, `hardware/`.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
