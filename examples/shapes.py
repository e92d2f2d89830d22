"""What the real-world example tables share: their calendar, a seeded arrival process, and a writer.

Each of ``examples/zendesk.py``, ``salesforce.py``, ``servicenow.py`` and ``open311.py`` builds one table in
the shape its product documents (its own table name, column names, types and value conventions) and comes
with a configuration, ``examples/<shape>.toml``, that maps it onto the dashboard. They all cover the same
16 weeks, 5 January – 26 April 2026 (a Monday to a Sunday, across the spring daylight-saving changes), as if
exported at the end of the last day: a case solved after that is still open.

Arrivals follow the team's week and day in its own time zone (fewer cases at weekends and at night, more on
Mondays); the generators turn them into what their product stores (UTC, or local time).

Run one with ``python -m examples.<shape> --url sqlite:///<file>.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from loaders import Settings, load_settings, make_engine

__all__ = [
    "DATA_END",
    "DATA_START",
    "EXAMPLES",
    "EXPORTED_AT",
    "Shape",
    "arrivals",
    "morning_after",
    "pick",
    "run_cli",
    "to_utc",
    "write_table",
]

EXAMPLES = Path(__file__).resolve().parent
#: the first and the last day of every example table (the team's days)
DATA_START = date(2026, 1, 5)
DATA_END = date(2026, 4, 26)
#: Monday .. Sunday: how busy a weekday is against the average
OFFICE_WEEK = (1.25, 1.15, 1.1, 1.05, 1.0, 0.45, 0.35)
#: the share of a day's cases created in each local hour (a business day with a long tail into the night)
OFFICE_HOURS = np.array([0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 3.0, 5.5, 7.5, 8.0, 7.8,
                         7.0, 7.4, 7.6, 7.2, 6.6, 5.8, 4.6, 3.6, 2.8, 2.2, 1.6, 1.2])


#: when every example was exported: the last second of :data:`DATA_END`, in the team's local time
EXPORTED_AT = datetime.combine(DATA_END, time(23, 59, 59))


def morning_after(zone: str, hour: int = 9) -> str:
    """``OPS_NOW`` for the stand-up the morning after the last day, at ``hour`` in ``zone`` (an ISO UTC time)."""
    local = datetime.combine(DATA_END + timedelta(days=1), time(hour)).replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None).isoformat(timespec="seconds")


def arrivals(rng: np.random.Generator, per_day: float, *, week: Sequence[float] = OFFICE_WEEK,
             hours: np.ndarray = OFFICE_HOURS, growth: float = 0.1) -> pd.Series:
    """Creation times (naive, the team's local time) of every case from :data:`DATA_START` to :data:`DATA_END`.

    Each day draws a Poisson number of cases, ``per_day`` times its weekday's weight, growing by ``growth``
    over the period, with day-to-day noise; each case an hour from ``hours`` and a second within it. The
    last hour of the last day always has a case, so the export reads as complete.
    """
    days = pd.date_range(DATA_START, DATA_END, freq="D")
    share = hours / hours.sum()
    stamps: list[np.ndarray] = []
    for i, day in enumerate(days):
        lam = per_day * week[day.weekday()] * (1 + growth * i / len(days)) * rng.lognormal(0.0, 0.08)
        n = int(rng.poisson(lam))
        secs = rng.choice(24, size=n, p=share) * 3600 + rng.integers(0, 3600, size=n)
        if i == len(days) - 1 and not (secs >= 23 * 3600).any():
            secs = np.append(secs, 23 * 3600 + int(rng.integers(0, 3600)))
        stamps.append(day.to_datetime64() + np.sort(secs).astype("timedelta64[s]"))
    return pd.Series(np.concatenate(stamps), name="created").astype("datetime64[s]")


def to_utc(local: pd.Series, zone: str) -> pd.Series:
    """Naive local times in ``zone`` as naive UTC (a time in the spring-forward gap moves forward)."""
    return (local.dt.tz_localize(zone, nonexistent="shift_forward", ambiguous=True)
            .dt.tz_convert("UTC").dt.tz_localize(None))


def pick(rng: np.random.Generator, values: Sequence, weights: Sequence[float], size: int) -> np.ndarray:
    """``size`` draws of ``values`` with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=size, p=p / p.sum())]


def _python(value: object) -> object:
    """A cell as the DBAPI wants it: ``None`` for a missing value, plain Python scalars and datetimes."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_table(engine: Engine, table: sa.Table, frame: pd.DataFrame, *, chunk: int = 5_000) -> int:
    """(Re)create ``table`` in ``engine`` and insert every row of ``frame`` (its columns named as the table's).

    A zoned timestamp column (``DateTime(timezone=True)``) receives UTC-aware values on a database that keeps
    the zone (PostgreSQL's ``timestamptz``); elsewhere naive UTC.
    """
    zoned = [c.name for c in table.c if isinstance(c.type, sa.DateTime) and c.type.timezone]
    keep_zone = engine.dialect.name == "postgresql"
    out = frame[[c.name for c in table.c]].astype(object)
    for name in zoned:
        if keep_zone:
            out[name] = [None if pd.isna(v) else v.tz_localize("UTC") for v in frame[name]]
    rows = [{k: _python(v) for k, v in zip(out.columns, record, strict=True)}
            for record in out.itertuples(index=False, name=None)]
    table.drop(engine, checkfirst=True)
    table.create(engine)
    with engine.begin() as conn:
        for start in range(0, len(rows), chunk):
            conn.execute(table.insert(), rows[start:start + chunk])
    return len(rows)


@dataclass(frozen=True)
class Shape:
    """One example: its name, configuration, generator and writer, and the morning its stand-up replays.

    ``generate(seed)`` returns the table's rows (its own column names and values; timestamps naive, as the
    product stores them); ``table(zoned)`` its definition (``zoned``: a zoned timestamp type where the
    product's times carry a zone); ``now`` the ``OPS_NOW`` of the morning after the last day.
    """

    name: str
    title: str
    config_path: Path
    generate: Callable[..., pd.DataFrame]
    table: Callable[..., sa.Table]
    now: str

    def settings(self, url: str) -> Settings:
        """The example configuration, pointed at ``url``."""
        return load_settings(environ={"OPS_DB_URL": url}, config_path=self.config_path)

    def write(self, engine: Engine, frame: pd.DataFrame | None = None, *, zoned: bool = False) -> int:
        """(Re)create the example table in ``engine`` and fill it (``frame``, else ``generate()``)."""
        return write_table(engine, self.table(zoned=zoned), self.generate() if frame is None else frame)


def run_cli(shape: Shape, doc: str) -> None:
    """``python -m examples.<shape> --url …``: write the example table into any database."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the database to write into")
    parser.add_argument("--zoned", action="store_true", help="zoned timestamp columns (PostgreSQL timestamptz)")
    args = parser.parse_args()
    settings = shape.settings(args.url)
    engine = make_engine(args.url)
    written = shape.write(engine, zoned=args.zoned)
    print(f"wrote {written:,} rows into {settings.source_table}; run the dashboard with "
          f"OPS_CONFIG={shape.config_path.relative_to(EXAMPLES.parent)} OPS_DB_URL={args.url} "
          f"OPS_NOW={shape.now} (the morning after the data's last day)")
