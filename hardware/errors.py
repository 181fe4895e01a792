"""Named errors of the reference-design tools; every one has a one-line message."""

from __future__ import annotations

__all__ = ["HardwareError", "BomError", "PinMapError", "BudgetError", "DeployError"]


class HardwareError(Exception):
    """Base of every error raised by `hardware`."""


class BomError(HardwareError):
    """The bill of materials is missing, malformed or names an unknown variant."""


class PinMapError(HardwareError):
    """The pin map cannot be read or breaks an ESP32-S3 constraint."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class BudgetError(HardwareError):
    """The power data or a day plan is inconsistent (e.g. more meeting than day)."""


class DeployError(HardwareError):
    """Building, copying or self-testing the firmware failed."""
