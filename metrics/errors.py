"""The error every rule of the metrics layer raises when its input breaks it (a ``ValueError``: pages show its
message, which states the rule)."""

from __future__ import annotations

__all__ = ["AnomalyInputError", "InsufficientHistoryError"]


class AnomalyInputError(ValueError):
    """Input that breaks a rule of the detector (bad option, bad series)."""


class InsufficientHistoryError(AnomalyInputError):
    """The series is too short to be scored; ``needed`` and ``got`` say by how much."""

    def __init__(self, message: str, *, needed: int, got: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.got = got
