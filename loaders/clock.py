"""The current time, in one place: naive UTC, like the data's timestamps.

``OPS_NOW`` (an ISO timestamp, UTC) pins it: to replay a past morning exactly as it looked, and so that no
test depends on the day it runs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from loaders.errors import ConfigError

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """Now, naive UTC (``OPS_NOW`` when set).

    Raises
    ------
    ConfigError
        If ``OPS_NOW`` is set but is not an ISO timestamp.

    Examples
    --------
    >>> import os; os.environ["OPS_NOW"] = "2026-07-01T09:00"; utcnow()
    datetime.datetime(2026, 7, 1, 9, 0)
    >>> del os.environ["OPS_NOW"]
    """
    pinned = os.environ.get("OPS_NOW", "").strip()
    if not pinned:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        value = datetime.fromisoformat(pinned)
    except ValueError:
        raise ConfigError(f"OPS_NOW must be an ISO timestamp such as 2026-07-01T09:00, got {pinned!r}",
                          hint="Unset OPS_NOW to use the real clock.") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
