"""Narrow exception types raised by the data layer.

Pages catch :class:`OpsDataError` (or one of its children), show the message and the hint, and stop;
they never show a traceback.
"""

from __future__ import annotations

__all__ = [
    "CasesUnavailable",
    "ConfigError",
    "ImportRejected",
    "OpsDataError",
    "QueryFailed",
    "SchemaMismatch",
    "SourceUnavailable",
]


class OpsDataError(Exception):
    """Base class: ``str(err)`` says what is wrong, ``err.hint`` says how to fix it."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(OpsDataError):
    """The configuration (secrets, environment or ``ops.toml``) is invalid.

    ``key`` is the dotted path of the offending setting (``"columns.created_at"``) when one is to blame;
    ``line`` is its 1-based line in the configuration file once it has been located there.
    """

    def __init__(self, message: str, *, hint: str = "", key: str | None = None, line: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key
        self.line = line


class SourceUnavailable(OpsDataError):
    """The database cannot be reached or refused the connection."""


class SchemaMismatch(OpsDataError):
    """The cases table lacks a column, or a column has the wrong type.

    ``problems`` lists one sentence per column.
    """

    def __init__(self, message: str, *, hint: str = "", problems: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems


class QueryFailed(OpsDataError):
    """A query failed for a reason other than connectivity (timeout, lock, permissions)."""


class CasesUnavailable(OpsDataError):
    """Case rows were asked for, but the source is a daily volume table (``[source] kind = "volume"``)."""


class ImportRejected(OpsDataError):
    """An import was refused or failed; nothing was written (the whole import is one transaction)."""
