"""Case-level access: writing the sample (fast paths per dialect) and paged, filtered case lists."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from loaders.access import Scope
from loaders.clock import day_start
from loaders.engine import at_or_after, before, cases_table, mapped_value, translate_error
from loaders.errors import CasesUnavailable
from loaders.rollup import NONE_VALUE, dimension_value, newest_created, row_problems, schema_report
from loaders.settings import Settings
from loaders.volume import Filters, _run, scoped

__all__ = ["case_columns", "count_cases", "create_cases_table", "load_cases", "newest_case", "write_cases"]


def create_cases_table(engine: Engine, settings: Settings, *, drop: bool = False) -> sa.Table:
    """Create the (canonical) cases table with the indexes the roll-up refresh relies on."""
    metadata = sa.MetaData()
    table = cases_table(settings, metadata)
    sa.Index(f"ix_{table.name}_created_at", table.c.created_at)
    sa.Index(f"ix_{table.name}_solved_at", table.c.solved_at)
    if drop:
        table.drop(engine, checkfirst=True)
    metadata.create_all(engine)
    return table


def _timestamp_text(values: pd.Series) -> np.ndarray:
    text = np.datetime_as_string(values.to_numpy(dtype="datetime64[s]"), unit="s")
    text = np.char.replace(text, "T", " ").astype(object).copy()
    text[values.isna().to_numpy()] = None
    return text


def write_cases(engine: Engine, frame: pd.DataFrame, *, settings: Settings) -> int:
    """Append canonical case rows to the mapped cases table, by the fastest path of the dialect.

    SQLite: DBAPI ``executemany``; PostgreSQL: ``COPY … FROM STDIN``; others: SQLAlchemy ``executemany``.
    Returns the number of rows written.
    """
    columns = list(settings.case_columns)
    required = [c for c, (_, req) in settings.case_columns.items() if req]
    if missing := [c for c in required if c not in frame.columns]:
        raise ValueError(f"case rows lack column(s) {', '.join(missing)}")
    frame = frame.reindex(columns=columns)  # an optional column not given is written empty
    mapped = [settings.columns[c] for c in columns]
    if engine.dialect.name == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S", na_rep="\\N")
        target = f'"{settings.schema}"."{settings.cases_table}"' if settings.schema else f'"{settings.cases_table}"'
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(
                f"COPY {target} ({', '.join(mapped)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            ) as copy:
                copy.write(buf.getvalue())
            raw.commit()
        finally:
            raw.close()
        return len(frame)
    values = {}
    for c in columns:
        col = frame[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            values[c] = _timestamp_text(col)
        else:
            arr = col.astype(object).to_numpy(copy=True)
            arr[col.isna().to_numpy()] = None
            values[c] = arr
    rows = list(zip(*(values[c].tolist() for c in columns), strict=True))
    if engine.dialect.name == "sqlite":
        placeholders = ", ".join("?" for _ in columns)
        raw = engine.raw_connection()
        try:
            raw.cursor().executemany(
                f"INSERT INTO {settings.cases_table} ({', '.join(mapped)}) VALUES ({placeholders})", rows
            )
            raw.commit()
        finally:
            raw.close()
        return len(rows)
    table = cases_table(settings)
    with engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(sa.insert(table), [dict(zip(columns, r, strict=True)) for r in rows[i:i + 10_000]])
    return len(rows)


def _require_cases(settings: Settings) -> None:
    if not settings.has_cases:
        raise CasesUnavailable(
            "case rows are not available: the data source is a daily volume table",
            hint="KPIs and charts work from the daily totals; to drill down to cases, map a table with one row "
            "per case ([source] kind = \"cases\") or import cases on the Data page.",
        )


def _case_filter(engine: Engine, settings: Settings, filters: Filters, *, side: Literal["created", "solved"],
                 day: date | None, scope: Scope | None) -> tuple[sa.Table, list[sa.ColumnElement]]:
    _require_cases(settings)
    filters = scoped(filters, scope)
    report = schema_report(engine, settings)
    t = cases_table(settings, absent=report.missing_optional)
    col = t.c.created_at if side == "created" else t.c.solved_at
    start, end = (day, day) if day else (filters.start, filters.end)
    # the team's days, as the source writes timestamps: a case list holds the cases its day counted
    lo, hi = day_start(settings, start), day_start(settings, end + timedelta(days=1))
    dims = []
    for d, ours in filters.dimension_filters.items():
        # case rows hold the source's values: ours widened to theirs keeps the filter an indexable IN
        theirs = t.c[d].in_(settings.source_values(d, [v for v in ours if v != NONE_VALUE]))
        dims.append(sa.or_(theirs, t.c[d].is_(None), t.c[d] == "") if NONE_VALUE in ours else theirs)
    # only the rows the roll-up counts: the case list then adds up to the number it explains
    counted = [~problem for problem in row_problems(t, report).values()]
    return t, [at_or_after(col, lo), before(col, hi), *dims, *counted]


def _canonical(t: sa.Table, settings: Settings, name: str) -> sa.ColumnElement:
    """A case column as our names and values (dimension and route values mapped, NULL as "(none)")."""
    if name in settings.dimension_keys:
        return dimension_value(t, settings, name)
    if name == "route":
        return mapped_value(t.c.route, {k: tuple(v) for k, v in settings.route_values.items()})
    return t.c[name]


def load_cases(engine: Engine, *, settings: Settings, filters: Filters, day: date | None = None,
               side: Literal["created", "solved"] = "created", order_by: str = "created_at",
               descending: bool = False, limit: int = 100, offset: int = 0,
               scope: Scope | None = None) -> pd.DataFrame:
    """One page of cases matching the filters (and a single day if given), sorted.

    Parameters
    ----------
    side : {"created", "solved"}
        Whether ``day``/the range applies to ``created_at`` or ``solved_at``.
    order_by : str
        A canonical column name; anything else raises ``ValueError``.
    limit, offset : int
        Paging (``limit`` ≤ 10,000).
    scope : Scope, optional
        The user's scope: only its cases, whatever the filters (``NotAllowed`` for a filter outside it).

    Returns
    -------
    pandas.DataFrame
        Canonical column names and values (``[values.*]`` applied), timestamps as ``datetime64``.

    Raises
    ------
    CasesUnavailable
        If the source is a daily volume table.
    """
    if order_by not in settings.case_columns:
        raise ValueError(f"`order_by` must be one of {', '.join(settings.case_columns)}, got {order_by!r}")
    if side not in ("created", "solved"):
        raise ValueError(f"`side` must be 'created' or 'solved', got {side!r}")
    if not 0 < limit <= 10_000 or offset < 0:
        raise ValueError(f"`limit` must be in 1..10000 and `offset` >= 0, got {limit} and {offset}")
    t, where = _case_filter(engine, settings, filters, side=side, day=day, scope=scope)
    absent = schema_report(engine, settings).missing_optional
    if order_by in absent:
        raise ValueError(f"`order_by` {order_by!r} is not mapped to a column of the cases table")
    key = t.c[order_by].desc() if descending else t.c[order_by].asc()
    # an optional column the table lacks reads as empty, never as a query on a column that is not there
    shown = [(sa.null() if c in absent else _canonical(t, settings, c)).label(c) for c in settings.case_columns]
    stmt = sa.select(*shown).where(*where).order_by(key, t.c.case_id).limit(limit).offset(offset)
    frame = _run(engine, stmt, doing="reading case rows")
    for c in ("created_at", "solved_at", "sla_due_at"):
        frame[c] = pd.to_datetime(frame[c])
    for c in settings.dimension_keys:
        frame[c] = frame[c].astype("str")
    return frame


def case_columns(engine: Engine, *, settings: Settings) -> tuple[str, ...]:
    """The canonical case columns the mapped table has (an optional one it lacks is left out)."""
    _require_cases(settings)
    absent = schema_report(engine, settings).missing_optional
    return tuple(c for c in settings.case_columns if c not in absent)


def count_cases(engine: Engine, *, settings: Settings, filters: Filters, day: date | None = None,
                side: Literal["created", "solved"] = "created", scope: Scope | None = None) -> int:
    """How many cases :func:`load_cases` would page through."""
    t, where = _case_filter(engine, settings, filters, side=side, day=day, scope=scope)
    return int(_run(engine, sa.select(sa.func.count().label("n")).select_from(t).where(*where),
                    doing="counting case rows").iloc[0]["n"])


def newest_case(engine: Engine, *, settings: Settings) -> datetime | None:
    """The newest ``created_at`` in the cases table (the data's freshness); raises ``CasesUnavailable``
    for a daily volume source."""
    _require_cases(settings)
    try:
        return newest_created(engine, settings)
    except DBAPIError as err:
        raise translate_error(err, doing="finding the newest case", engine=engine) from err
