"""The current time and the team's calendar, in one place.

Now is naive UTC; the business time zone (``[time] timezone``) decides what a day is: the team's today, the
first instant of a day as the source writes timestamps, and the zone's offsets for the roll-up's day of a case.

``OPS_NOW`` (an ISO timestamp, UTC) pins it: to replay a past morning exactly as it looked, and so that no
test depends on the day it runs.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd

from loaders.errors import ConfigError

if TYPE_CHECKING:
    from loaders.settings import Settings

__all__ = ["day_start", "local", "local_column", "source_now", "today", "utc_offsets", "utcnow", "zone_label"]


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


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(settings: Settings, moment: datetime | None, *, stored: bool = False) -> datetime | None:
    """A naive UTC instant (or, ``stored=True``, a timestamp as the source writes it) in the team's time zone."""
    if moment is None or (stored and settings.naive_timestamps == "local"):
        return moment
    return moment.replace(tzinfo=UTC).astimezone(_zone(settings.business_timezone)).replace(tzinfo=None)


def local_column(settings: Settings, values: pd.Series) -> pd.Series:
    """A column of timestamps as the source writes them, on the team's clock (naive): case lists show the
    times that put a case on its day."""
    stamps = pd.to_datetime(values, errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):  # zoned (timestamptz, or text with Z or an offset): instants
        return stamps.dt.tz_convert(settings.business_timezone).dt.tz_localize(None)
    if settings.naive_timestamps == "local" or settings.business_timezone == "UTC":
        return stamps
    return stamps.dt.tz_localize("UTC").dt.tz_convert(settings.business_timezone).dt.tz_localize(None)


def zone_label(settings: Settings) -> str:
    """The business time zone's short name now (``"CST"``, ``"IST"``; ``"UTC"``), for times shown on pages."""
    name = utcnow().replace(tzinfo=UTC).astimezone(_zone(settings.business_timezone)).tzname() or ""
    return name if name and name[0] not in "+-" else settings.business_timezone


def today(settings: Settings) -> date:
    """The team's today: the calendar day now is in the business time zone (``[time] timezone``)."""
    return utcnow().replace(tzinfo=UTC).astimezone(_zone(settings.business_timezone)).date()


def source_now(settings: Settings) -> datetime:
    """Now as the source writes its timestamps: naive UTC, or naive local time (``naive_timestamps = "local"``)."""
    now = utcnow()
    if settings.naive_timestamps == "local":
        return now.replace(tzinfo=UTC).astimezone(_zone(settings.business_timezone)).replace(tzinfo=None)
    return now


def day_start(settings: Settings, day: date) -> datetime:
    """The first instant of the team's ``day``, as the source writes timestamps (naive).

    Case lists and incremental refreshes compare raw timestamps with it, so a day's cases are exactly those the
    roll-up counts on that day.

    Examples
    --------
    >>> from loaders.settings import Settings
    >>> day_start(Settings(url="x", business_timezone="America/Chicago"), date(2026, 7, 1))
    datetime.datetime(2026, 7, 1, 5, 0)
    """
    midnight = datetime.combine(day, time.min)
    if settings.naive_timestamps == "local" or settings.business_timezone == "UTC":
        return midnight
    return midnight.replace(tzinfo=_zone(settings.business_timezone)).astimezone(UTC).replace(tzinfo=None)


def utc_offsets(zone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The business time zone's offset from UTC over ``[start, end]`` (naive UTC), as steps.

    Returns ``[(from_utc, seconds), ...]``: from each instant on (the first is ``start``) the zone is ``seconds``
    ahead of UTC, until the next step. Found day by day, each change then pinned to the minute (zone rules move
    on whole minutes); ~20 ms for 40 years.

    Examples
    --------
    >>> [(t.strftime("%Y-%m-%d %H:%M"), s) for t, s in utc_offsets("Europe/Dublin", datetime(2026, 1, 1),
    ...                                                              datetime(2026, 12, 31))]
    [('2026-01-01 00:00', 0), ('2026-03-29 01:00', 3600), ('2026-10-25 01:00', 0)]
    """
    tz = _zone(zone)

    def offset(at: datetime) -> int:
        return int(at.replace(tzinfo=UTC).astimezone(tz).utcoffset().total_seconds())

    steps = [(start, offset(start))]
    probe = start
    while probe < end:
        nxt = min(probe + timedelta(days=1), end)
        if offset(nxt) != steps[-1][1]:
            lo, hi = probe, nxt  # the change is in (lo, hi]
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == steps[-1][1] else (lo, mid)
            hi = hi.replace(second=0, microsecond=0)
            steps.append((hi if offset(hi) != steps[-1][1] else hi + timedelta(minutes=1), offset(nxt)))
        probe = nxt
    return steps
