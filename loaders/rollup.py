"""The daily roll-up: day × workflow × vendor site × channel × language, additive measures only.

Built and refreshed by SQL that the database runs (``INSERT … SELECT … GROUP BY``); no case row is read
into Python. Created-side measures land on the day a case was created, solved-side measures on the day it
was solved, so a refresh only has to recompute the days on or after a watermark:

    since = newest day in the roll-up − ``lookback_days``
    delete roll-up rows with day ≥ since
    insert the aggregate of cases created ≥ since (created side) and solved ≥ since (solved side)

Rows before ``since`` depend only on cases created or solved before it, which later data does not change
(a case's ``created_at`` never moves; a ``solved_at`` is only ever set once). ``lookback_days`` re-reads a
few recent days to absorb late-arriving rows. The result equals a full rebuild (tested).

With ``rollup.mode = "local"`` nothing is written to the source: the same aggregate query runs there and
its (small) result is stored in a local SQLite cache.

Safety. The roll-up lives in tables the app created and registered as its own (:data:`OWNED_TABLE`); a
configured name that collides with any other table is refused, never dropped or written. A rebuild builds a
new table beside the live one and swaps it in, inside one transaction where the database has transactional
DDL (PostgreSQL, SQLite), or with MariaDB's atomic ``RENAME TABLE``: a failure at any point leaves the
previous roll-up and its state row exactly as they were. Rows that cannot be counted (no readable
``created_at``, a date before :data:`EARLIEST_DAY`, text in a number column) are left out of every
measure and reported by :func:`find_bad_rows`; a NULL or empty dimension value is rolled up as
:data:`NONE_VALUE`.

Value mapping (``[values.workflow]`` …) is applied inside the aggregate (``CASE WHEN … THEN :ours``), so the
roll-up holds our names. With ``[source] kind = "volume"`` the user's daily table *is* the roll-up: nothing is
built, and :func:`read_table` maps its columns and values on the fly.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from loaders.clock import day_start, utc_offsets, utcnow
from loaders.engine import (
    at_or_after,
    cases_table,
    day_of,
    hours_between,
    is_number,
    make_engine,
    mapped_value,
    redact,
    shifted,
    translate_error,
    valid_timestamp,
)
from loaders.errors import ConfigError, QueryFailed
from loaders.schema import SchemaReport, check_cases_schema, check_volume_schema, reflect_columns
from loaders.settings import MEASURES, OWNED_TABLE, STATE_TABLE, Settings, measures_from_columns

__all__ = [
    "EARLIEST_DAY",
    "MEASURES",
    "NONE_VALUE",
    "OWNED_TABLE",
    "BadRows",
    "RefreshResult",
    "RollupState",
    "available_measures",
    "dimension_value",
    "find_bad_rows",
    "forget_schemas",
    "mapping_signature",
    "newest_created",
    "owned_table",
    "read_table",
    "refresh_rollup",
    "rollup_engine",
    "rollup_state",
    "rollup_table",
    "row_problems",
    "schema_report",
    "state_table",
    "volume_source_table",
]
_FLOAT_MEASURES = frozenset({"handle_time_s", "age_at_solve_h", "csat_sum", "qa_sum"})
OWNER = "identity-ops-dashboard"
#: a NULL or empty dimension value is rolled up under this name
NONE_VALUE = "(none)"
#: a case created before this day is taken for a bad row (0001-01-01, a zero date), not for history
EARLIEST_DAY = date(1990, 1, 1)
_SLA_SLACK_H = 1e-6 / 3.6  # one millisecond, in hours
_NUMBER_COLUMNS = ("handle_time_s", "sla_hours", "escalated", "reopened", "csat", "qa_score")
#: how far past now the time zone's offsets are written out (cases are never created in the future; a solve
#: time a little ahead of the clock still finds its offset)
_OFFSETS_AHEAD = timedelta(days=400)


def local_day(ts: sa.ColumnElement, settings: Settings, since: datetime | None = None) -> sa.ColumnElement:
    """The team's calendar day of a timestamp column: in ``[time] timezone``.

    Naive timestamps meant as UTC are moved by the zone's offset at that instant (a ``CASE`` over the zone's
    changes, newest first, every instant and offset a bound parameter); local ones, or a UTC business day, are
    read as written. ``since`` (naive UTC) limits the changes written out to those an incremental refresh reads.
    """
    if settings.naive_timestamps == "local" or settings.business_timezone == "UTC":
        return day_of(ts)
    start = since - timedelta(days=1) if since is not None else datetime.combine(EARLIEST_DAY, datetime.min.time())
    steps = utc_offsets(settings.business_timezone, start, utcnow() + _OFFSETS_AHEAD)
    if len(steps) == 1:
        return day_of(shifted(ts, sa.literal(steps[0][1], sa.Integer)))
    offset = sa.case(*((at_or_after(ts, at), sa.literal(secs, sa.Integer))
                       for at, secs in reversed(steps[1:])), else_=sa.literal(steps[0][1], sa.Integer))
    return day_of(shifted(ts, offset))


def rollup_table(settings: Settings, metadata: sa.MetaData | None = None, *, name: str | None = None) -> sa.Table:
    """The roll-up table definition (created on first refresh); ``name`` for a table being built.

    The primary key is named after the table, so a table built under a temporary name and renamed keeps a
    constraint name no later build reuses (PostgreSQL's constraint names are schema-wide).
    """
    name = name or settings.rollup_table
    return _app_table(
        settings, metadata, name,
        sa.Column("day", sa.Date),
        *(sa.Column(d, sa.String(64)) for d in settings.dimension_keys),
        # DOUBLE: MariaDB's FLOAT keeps ~6 digits (a day's 1,234,567.25 handle seconds read 1,234,570)
        *(sa.Column(m, sa.Double if m in _FLOAT_MEASURES else sa.BigInteger, nullable=False, default=0)
          for m in MEASURES),
        sa.PrimaryKeyConstraint("day", *settings.dimension_keys, name=f"pk_{name}"[:63]),
    )


def owned_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    """The registry of the tables the app created (``purpose``: rollup, building, retired)."""
    return _app_table(
        settings, metadata, OWNED_TABLE,
        sa.Column("table_name", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def _app_table(settings: Settings, metadata: sa.MetaData | None, name: str, *columns: sa.SchemaItem) -> sa.Table:
    """A table the app keeps: in the source's schema, or in the local cache (``mode = "local"``)."""
    return sa.Table(name, metadata if metadata is not None else sa.MetaData(), *columns,
                    schema=settings.schema if settings.rollup_mode == "source" else None)


def state_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    """One row per roll-up: its last refresh, newest day and size."""
    return _app_table(
        settings, metadata, STATE_TABLE,
        sa.Column("rollup_table", sa.String(64), primary_key=True),
        sa.Column("refreshed_at", sa.DateTime, nullable=False),
        sa.Column("max_day", sa.Date),
        sa.Column("source_max_created", sa.DateTime),
        sa.Column("rows", sa.BigInteger),
        sa.Column("kind", sa.String(16)),
        # what the roll-up was built from (columns, value maps, the measures the source had): when it changes,
        # the next refresh rebuilds everything instead of mixing old and new rows
        sa.Column("mapping", sa.String(64)),
        # the version of the rows themselves: a refresh that rewrote the same rows keeps it (see `content`)
        sa.Column("content", sa.String(64)),
    )


def volume_source_table(settings: Settings, present: frozenset[str] | None = None) -> sa.Table:
    """The user's daily volume table (``kind = "volume"``) with canonical ``.c`` keys.

    ``present`` (canonical names found in the database) limits the columns; by default all are assumed.
    """
    cols = []
    dims = settings.dimension_keys
    for name in ("day", *dims, *MEASURES):
        if present is not None and name not in present:
            continue
        coltype = sa.Date() if name == "day" else sa.String(64) if name in dims else sa.Float()
        cols.append(sa.Column(settings.columns[name], coltype, key=name))
    return sa.Table(settings.cases_table, sa.MetaData(), *cols, schema=settings.schema)


def read_table(settings: Settings, present: frozenset[str] | None = None) -> sa.FromClause:
    """What the volume loaders read, with canonical ``.c`` keys: the roll-up, or the mapped volume source.

    For a volume source, a missing dimension reads as ``'all'``, a missing measure as 0, and the source's
    dimension values are renamed through ``[values.<dimension>]``.
    """
    if settings.source_kind == "cases":
        return rollup_table(settings)
    t = volume_source_table(settings, present)
    names = set(t.c.keys())
    cols = [t.c.day.label("day")]
    for d in settings.dimension_keys:
        raw = t.c[d] if d in names else sa.literal("all", sa.String)
        cols.append(mapped_value(raw, settings.value_maps.get(d)).label(d))
    for m in MEASURES:
        cols.append((sa.func.coalesce(t.c[m], 0) if m in names else sa.literal(0)).label(m))
    return sa.select(*cols).subquery("volume_source")


def rollup_engine(source: Engine, settings: Settings) -> Engine:
    """Where the roll-up lives: the source itself (always for a volume source), or the local SQLite cache."""
    if settings.rollup_mode == "source" or settings.source_kind == "volume":
        return source
    settings.local_cache_path.parent.mkdir(parents=True, exist_ok=True)
    return make_engine(f"sqlite:///{settings.local_cache_path}")


def dimension_value(raw: sa.FromClause, settings: Settings, name: str) -> sa.ColumnElement:
    """A dimension as the roll-up holds it: mapped to our values, NULL or empty as :data:`NONE_VALUE`."""
    mapped = mapped_value(raw.c[name], settings.value_maps.get(name))
    return sa.func.coalesce(sa.func.nullif(mapped, ""), sa.literal(NONE_VALUE, sa.String))


_REPORTS: dict[tuple[str, str], SchemaReport] = {}


def _report_key(engine: Engine, settings: Settings) -> tuple[str, str]:
    return str(engine.url), repr(settings)


def schema_report(engine: Engine, settings: Settings) -> SchemaReport:
    """:func:`check_cases_schema`, remembered per database and mapping (case lists ask it on every page);
    every refresh renews it, :func:`forget_schemas` drops it."""
    key = _report_key(engine, settings)
    if key not in _REPORTS:
        _REPORTS[key] = check_cases_schema(engine, settings)
    return _REPORTS[key]


def forget_schemas() -> None:
    """Read every table's columns again on the next use (after the source or the configuration changed)."""
    _REPORTS.clear()


def available_measures(engine: Engine, settings: Settings) -> frozenset[str]:
    """The roll-up measures the source can fill: from the case columns it has (see ``MEASURE_INPUTS``), or
    the measures a daily volume table has. The others are stored as 0 and no page may show them.

    Raises
    ------
    SchemaMismatch, SourceUnavailable
        If the source does not match the contract or cannot be inspected.
    """
    if settings.source_kind == "volume":
        return frozenset(check_volume_schema(engine, settings)) & frozenset(MEASURES)
    # from the columns there, without the contract's other checks: a refresh that fails on a missing
    # dimension must not also hide what the previous roll-up can still show
    reflected = reflect_columns(engine, settings)
    present = {c for c, name in settings.columns.items() if name.lower() in reflected}
    return measures_from_columns(present, sla_from_config=settings.sla_from_config)


def row_problems(raw: sa.Table, report: SchemaReport) -> dict[str, sa.ColumnElement]:
    """Why a case row cannot be counted, one condition per reason (true where the row has that problem)."""
    created = raw.c.created_at
    problems = {
        "created_at is empty or not a timestamp": ~valid_timestamp(created),
        f"created_at is before {EARLIEST_DAY:%Y-%m-%d}":
            valid_timestamp(created) & (day_of(created) < sa.literal(EARLIEST_DAY, sa.Date)),
    }
    if "solved_at" not in report.missing_optional:
        problems["solved_at is not a timestamp"] = raw.c.solved_at.is_not(None) & ~valid_timestamp(raw.c.solved_at)
    if "sla_due_at" not in report.missing_optional:
        problems["sla_due_at is not a timestamp"] = raw.c.sla_due_at.is_not(None) & ~valid_timestamp(raw.c.sla_due_at)
    for name in _NUMBER_COLUMNS:
        if name not in report.missing_optional:
            problems[f"{name} holds text, not a number"] = ~is_number(raw.c[name])
    return problems


@dataclass(frozen=True)
class BadRows:
    """Case rows left out of the roll-up, by reason, with a few example case ids; and NULL dimensions.

    ``rows`` is how many rows were looked at; ``counts[reason]`` how many of them have that problem (a row
    can have several); ``none_values[dimension]`` how many rows have no value there (rolled up as
    :data:`NONE_VALUE`, not left out).
    """

    rows: int
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)
    none_values: dict[str, int] = field(default_factory=dict)

    @property
    def left_out(self) -> int:
        """Rows with at least one problem (an upper bound when a row has two: the sum of the reasons)."""
        return sum(self.counts.values())


def find_bad_rows(engine: Engine, settings: Settings, *, since: datetime | None = None,
                  examples: int = 3) -> BadRows:
    """Count the case rows the roll-up leaves out, by reason, with up to ``examples`` case ids each.

    Parameters
    ----------
    engine : Engine
        The source database.
    settings : Settings
    since : datetime, optional
        Only rows created on or after it (an indexed range); by default the whole table.
    examples : int
        Case ids listed per reason.

    Returns
    -------
    BadRows

    Raises
    ------
    SchemaMismatch, SourceUnavailable, QueryFailed
        If the table does not match the contract or the database does not answer.
    """
    report = check_cases_schema(engine, settings)
    raw = cases_table(settings, absent=report.missing_optional)
    problems = row_problems(raw, report)
    where = [at_or_after(raw.c.created_at, since)] if since is not None else []
    counts = [sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0) for cond in problems.values()]
    empties = [sa.func.coalesce(sa.func.sum(sa.case(
        (sa.or_(raw.c[d].is_(None), raw.c[d] == ""), 1), else_=0)), 0) for d in settings.dimension_keys]
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(sa.func.count(), *counts, *empties).select_from(raw).where(*where)).one()
            found = {reason: int(n) for reason, n in zip(problems, row[1:1 + len(problems)], strict=True) if n}
            ids = {reason: tuple(str(v) for v in conn.execute(
                       sa.select(raw.c.case_id).where(problems[reason], *where).limit(examples)).scalars())
                   for reason in found}
    except DBAPIError as err:
        raise translate_error(err, doing="counting rows that cannot be rolled up", engine=engine) from err
    nones = {d: int(n) for d, n in zip(settings.dimension_keys, row[1 + len(problems):], strict=True) if n}
    return BadRows(int(row[0]), found, ids, nones)


def _aggregate(settings: Settings, report: SchemaReport, since: datetime | None) -> sa.Select:
    """The GROUP BY the database runs: one row per day × dimensions with every measure."""
    absent = report.missing_optional
    raw = cases_table(settings, absent=absent)
    # the mapped, canonical view of the cases: value mapping happens here, grouping happens outside; rows that
    # cannot be counted are left out here, so no measure ever reads them (as 0 or otherwise). A measure whose
    # column the table lacks is written as 0 and reported unavailable (SchemaReport.measures): no page shows it.
    has = {c: c not in absent for c in ("sla_hours", "sla_due_at")}
    target = _sla_target(raw, settings, has["sla_hours"])
    t = sa.select(
        *(_flag(raw, report, c).label(c) for c in ("created_at", "solved_at", "route", "handle_time_s", "sla_due_at",
                                                   "escalated", "reopened", "csat", "qa_score") if c not in absent),
        *((target.label("sla_target"),) if target is not None else ()),
        *(dimension_value(raw, settings, d).label(d) for d in settings.dimension_keys),
    ).where(*(~problem for problem in row_problems(raw, report).values())).subquery("mapped_cases")
    manual = sa.false() if "route" in absent else t.c.route.in_(settings.route_values["manual"])
    zero, zero_f = sa.literal_column("0"), sa.literal_column("0.0")

    def optional(name: str) -> sa.ColumnElement:
        # a typed NULL: PostgreSQL cannot pick sum() for an untyped one ("function sum(unknown) is not unique")
        return sa.cast(sa.null(), sa.Float) if name in report.missing_optional else t.c[name]

    def count_if(cond: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    keys = settings.dimension_keys
    dims = [t.c[d].label(d) for d in keys]
    created_day = local_day(t.c.created_at, settings, since)
    created = sa.select(
        created_day.label("day"), *dims,
        sa.func.count().label("incoming"), count_if(manual).label("incoming_manual"),
        *(zero_f.label(m) if m in _FLOAT_MEASURES else zero.label(m) for m in MEASURES[2:]),
    ).group_by(created_day, *(t.c[d] for d in keys))
    if "solved_at" in absent:  # nothing is ever solved, as far as the data says: only the created side
        if since is not None:
            created = created.where(at_or_after(t.c.created_at, since))
        return created
    age = hours_between(t.c.created_at, t.c.solved_at)
    solved_day = local_day(t.c.solved_at, settings, since)
    csat, qa = optional("csat"), optional("qa_score")
    handle = zero_f if "handle_time_s" in absent else sa.func.sum(
        sa.case((manual & t.c.handle_time_s.is_not(None), t.c.handle_time_s), else_=0.0))
    solved = sa.select(
        solved_day.label("day"), *dims, zero.label("incoming"), zero.label("incoming_manual"),
        sa.func.count().label("solved"), count_if(manual).label("solved_manual"),
        handle.label("handle_time_s"),
        sa.func.sum(age).label("age_at_solve_h"),
        _in_sla(t, age, due=has["sla_due_at"], target=target is not None).label("solved_in_sla"),
        (count_if(optional("escalated") == 1) if "escalated" not in report.missing_optional else zero)
        .label("escalated"),
        (count_if(optional("reopened") == 1) if "reopened" not in report.missing_optional else zero)
        .label("reopened"),
        sa.func.coalesce(sa.func.sum(csat), 0.0).label("csat_sum"), sa.func.count(csat).label("csat_n"),
        sa.func.coalesce(sa.func.sum(qa), 0.0).label("qa_sum"), sa.func.count(qa).label("qa_n"),
    ).where(t.c.solved_at.is_not(None)).group_by(solved_day, *(t.c[d] for d in keys))
    if since is not None:
        created = created.where(at_or_after(t.c.created_at, since))
        solved = solved.where(at_or_after(t.c.solved_at, since))
    both = sa.union_all(created, solved).subquery("sides")
    return sa.select(
        both.c.day, *(both.c[d] for d in keys),
        *(sa.cast(sa.func.sum(both.c[m]), sa.Double if m in _FLOAT_MEASURES else sa.BigInteger).label(m)
          for m in MEASURES),
    ).group_by(both.c.day, *(both.c[d] for d in keys))


def _flag(raw: sa.FromClause, report: SchemaReport, name: str) -> sa.ColumnElement:
    """A case column for the aggregate; a 0/1 flag stored as a boolean (Salesforce's ``IsEscalated``) read as 0/1,
    since PostgreSQL has no ``boolean = integer`` (other columns, and flags stored as numbers, unchanged)."""
    boolean = name in ("escalated", "reopened") and report.column_types.get(name, "").upper().startswith("BOOL")
    return sa.cast(raw.c[name], sa.Integer) if boolean else raw.c[name]


def _sla_target(raw: sa.FromClause, settings: Settings, column: bool) -> sa.ColumnElement | None:
    """A case's SLA target in hours: its own ``sla_hours``, else the ``[sla]`` target of its value of the SLA
    dimension, else ``[sla] default_hours``; ``None`` when nothing gives one."""
    configured = None
    if settings.sla_hours_by and settings.sla_dimension:
        value = dimension_value(raw, settings, settings.sla_dimension)
        configured = sa.case(*((value == sa.literal(v, sa.String), sa.literal(h, sa.Float))
                               for v, h in settings.sla_hours_by.items()),
                             else_=sa.literal(settings.sla_default_hours, sa.Float))
    elif settings.sla_default_hours is not None:
        configured = sa.literal(settings.sla_default_hours, sa.Float)
    if column and configured is not None:
        return sa.func.coalesce(raw.c.sla_hours, configured)
    return raw.c.sla_hours if column else configured


def _in_sla(t: sa.Subquery, age: sa.ColumnElement, *, due: bool, target: bool) -> sa.ColumnElement:
    """Cases solved within their SLA: by the due time where a case has one, else within the target hours."""
    # a millisecond of slack: SQLite's julianday() differences make a solve exactly at its target 0.0000000037 h late
    by_target = age <= t.c.sla_target + sa.literal(_SLA_SLACK_H, sa.Float) if target else sa.false()
    if due:
        cond = sa.or_(sa.and_(t.c.sla_due_at.is_not(None), t.c.solved_at <= t.c.sla_due_at),
                      sa.and_(t.c.sla_due_at.is_(None), by_target))
    else:
        cond = by_target
    return sa.func.sum(sa.case((cond, 1), else_=0)) if (due or target) else sa.literal_column("0")


# Transaction-local planner settings for the aggregate, measured at 30 M cases on PostgreSQL 15:
# - work_mem: with the default 4 MB the solved side of a one-day refresh sorts on disk (18 MB), and a
#   full build sorts every case on disk;
# - jit: the one-day plan's cost grows with the table's statistics and crosses jit_above_cost, paying
#   compilation for a query that reads a few hundred thousand rows;
# - enable_indexscan: the planner walks the solved_at index row by row because solved_at follows the heap
#   order overall (correlation 0.99998), but the cases solved in a window were created over weeks, so the
#   walk hops between pages: 174,000 buffer reads for 185,000 rows, where a bitmap scan reads the 6,600
#   pages once each, in heap order. Warm, the aggregate took 0.81 s with the defaults, 0.3-0.45 s with
#   these settings; on a cold or contended cache the walk turns into random reads, the likely cause of
#   an 18 s refresh measured once.
_PG_REFRESH = ("SET LOCAL work_mem = '64MB'",)
_PG_INCREMENTAL = ("SET LOCAL jit = off", "SET LOCAL enable_indexscan = off")


def _tune(conn: sa.Connection, *, incremental: bool) -> None:
    """Transaction-local planner settings for the aggregate (PostgreSQL only; nothing persists)."""
    if conn.dialect.name != "postgresql":
        return
    for statement in _PG_REFRESH + (_PG_INCREMENTAL if incremental else ()):
        conn.exec_driver_sql(statement)


@dataclass(frozen=True)
class RollupState:
    refreshed_at: datetime | None
    max_day: date | None
    source_max_created: datetime | None
    rows: int | None
    kind: str | None
    mapping: str | None = None
    #: the version of the roll-up's rows: it changes when a refresh changes a row (a new day, a late solve) and
    #: not when it rewrites the same rows, so whatever is computed from the rows stays valid across refreshes
    #: that brought nothing new (``None``: built by an earlier version, until its next refresh)
    content: str | None = None


@dataclass(frozen=True)
class RefreshResult:
    kind: str  # "full" | "incremental" | "none" (a volume source: nothing to build)
    since: date | None
    rows_written: int
    seconds: float


def rollup_state(target: Engine, settings: Settings) -> RollupState:
    """The roll-up's last refresh (all fields ``None`` if it was never built).

    For a volume source (nothing is built) ``kind`` is ``"volume"`` and ``max_day``/``rows`` describe the
    user's table itself.

    Raises
    ------
    SourceUnavailable, QueryFailed
        If the database does not answer.
    """
    st = state_table(settings)
    try:
        if settings.source_kind == "volume":
            present = check_volume_schema(target, settings)
            t = volume_source_table(settings, present)
            with target.connect() as conn:
                max_day, rows = conn.execute(sa.select(sa.func.max(t.c.day), sa.func.count())).one()
            if isinstance(max_day, str):
                max_day = date.fromisoformat(max_day[:10])
            elif isinstance(max_day, datetime):
                max_day = max_day.date()
            return RollupState(None, max_day, None, int(rows), "volume")
        if not sa.inspect(target).has_table(st.name, schema=st.schema):
            return RollupState(None, None, None, None, None)
        # an earlier version's state table has no `mapping` / `content` column until the next refresh adds it
        there = {c["name"].lower() for c in sa.inspect(target).get_columns(st.name, schema=st.schema)}
        with target.connect() as conn:
            row = conn.execute(sa.select(*(c for c in st.c if c.name in there))
                               .where(st.c.rollup_table == settings.rollup_table)).first()
    except DBAPIError as err:
        raise translate_error(err, doing="reading the roll-up state") from err
    if row is None:
        return RollupState(None, None, None, None, None)
    return RollupState(row.refreshed_at, row.max_day, row.source_max_created, row.rows, row.kind,
                       getattr(row, "mapping", None), getattr(row, "content", None))


def _mysql(conn: sa.Connection | Engine) -> bool:
    return conn.dialect.name in ("mysql", "mariadb")


#: the state table's columns that later versions added (a refresh adds them to an earlier version's table)
_LATER_STATE_COLUMNS = ("mapping", "content")


def _found_columns(inspector: sa.Inspector, table: sa.Table) -> set[str]:
    """The columns the database's table of that name has (lower case)."""
    return {c["name"].lower() for c in inspector.get_columns(table.name, schema=table.schema)}


def _layout_ok(inspector: sa.Inspector, table: sa.Table) -> bool:
    """Whether the database's table of that name has exactly the columns the app gives it."""
    return _found_columns(inspector, table) == {c.name.lower() for c in table.c}


def _where(settings: Settings) -> str:
    return "the local cache" if settings.rollup_mode == "local" else "the database"


def _claim_rollup(target: Engine, settings: Settings) -> bool:
    """Check that every table a refresh would touch is the app's own; return whether the roll-up exists.

    A roll-up built by an earlier version (before the registry) is adopted when its state row names it and
    its columns are exactly the roll-up's.

    Raises
    ------
    ConfigError
        When a configured name belongs to a table the app did not create (it is left untouched).
    """
    metadata = sa.MetaData()
    rollup, st = rollup_table(settings, metadata), state_table(settings, metadata)
    owned = owned_table(settings, metadata)
    inspector = sa.inspect(target)
    if inspector.has_table(st.name, schema=st.schema):  # a state table of an earlier version: ours, short
        found = _found_columns(inspector, st)
        short = [c for c in _LATER_STATE_COLUMNS if c not in found]
        if short and found == {c.name.lower() for c in st.c} - set(short):
            with target.begin() as conn:
                for column in short:
                    conn.execute(sa.text(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(st)} "
                                         f"ADD COLUMN {column} VARCHAR(64)"))
            inspector = sa.inspect(target)
    for support in (owned, st):
        if inspector.has_table(support.name, schema=support.schema) and not _layout_ok(inspector, support):
            raise ConfigError(
                f"{_where(settings)} already has a table `{support.name}` that the dashboard did not create; "
                "the dashboard never changes it, so it cannot keep its roll-up there",
                hint="Rename that table yourself, or set [rollup] mode = \"local\" to keep the roll-up in a "
                "local cache.", key="rollup.mode")
    if not inspector.has_table(rollup.name, schema=rollup.schema):
        return False
    with target.connect() as conn:
        registered = inspector.has_table(owned.name, schema=owned.schema) and conn.execute(
            sa.select(owned.c.purpose).where(owned.c.table_name == rollup.name)).scalar() == "rollup"
        if registered:
            return True
        legacy = (inspector.has_table(st.name, schema=st.schema)
                  and conn.execute(sa.select(sa.func.count()).select_from(st)
                                   .where(st.c.rollup_table == rollup.name)).scalar()
                  and _layout_ok(inspector, rollup))
    if not legacy:
        raise ConfigError(
            f"[rollup] table = \"{rollup.name}\" names a table that already exists in {_where(settings)} and "
            "was not created by the dashboard; the dashboard never drops or overwrites it",
            hint="Set [rollup] table to a name no table has yet (the default is \"ops_daily_volume\").",
            key="rollup.table")
    with target.begin() as conn:
        owned.create(conn, checkfirst=True)
        _register(conn, owned, rollup.name, "rollup")
    return True


def _register(conn: sa.Connection, owned: sa.Table, name: str, purpose: str) -> None:
    conn.execute(owned.delete().where(owned.c.table_name == name))
    conn.execute(owned.insert().values(table_name=name, purpose=purpose, owner=OWNER,
                                       created_at=utcnow().replace(microsecond=0)))


def _drop_leftovers(conn: sa.Connection, settings: Settings, owned: sa.Table) -> None:
    """Drop tables a killed rebuild left behind (registered as building or retired, so they are ours)."""
    inspector = sa.inspect(conn)
    # only this roll-up's: another roll-up's build may be running beside it
    prefix = f"{settings.rollup_table[:44]}__"
    names = conn.execute(sa.select(owned.c.table_name).where(owned.c.purpose.in_(("building", "retired")),
                                                             owned.c.table_name.startswith(prefix, autoescape=True))
                         ).scalars()
    for name in list(names):
        if inspector.has_table(name, schema=owned.schema):
            sa.Table(name, sa.MetaData(), schema=owned.schema).drop(conn)
        conn.execute(owned.delete().where(owned.c.table_name == name))


def _rename(conn: sa.Connection, table: sa.Table, new_name: str) -> None:
    quote = conn.dialect.identifier_preparer
    if _mysql(conn):
        target = sa.Table(new_name, sa.MetaData(), schema=table.schema)
        conn.exec_driver_sql(f"RENAME TABLE {quote.format_table(table)} TO {quote.format_table(target)}")
    else:
        conn.exec_driver_sql(f"ALTER TABLE {quote.format_table(table)} RENAME TO {quote.quote(new_name)}")


@contextlib.contextmanager
def _long_statements(conn: sa.Connection, settings: Settings) -> Iterator[None]:
    """Give the roll-up's own statements ``[rollup] statement_timeout_s`` instead of the pages' short one."""
    seconds = float(settings.refresh_timeout_s)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {round(seconds * 1000)}")
        yield
    elif _mysql(conn):
        before = conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar()
        conn.exec_driver_sql(f"SET SESSION max_statement_time = {seconds}")
        try:
            yield
        finally:
            with contextlib.suppress(DBAPIError):
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {float(before or 0)}")
    else:
        yield


def mapping_signature(settings: Settings, report: SchemaReport) -> str:
    """A short digest of what the roll-up's rows are computed from: when it changes, they must be rebuilt."""
    parts = (redact(settings.url), settings.schema, settings.cases_table,
             sorted(settings.columns.items()), sorted((d, sorted(m.items())) for d, m in settings.value_maps.items()),
             sorted(settings.route_values.items()), sorted(report.measures), EARLIEST_DAY.isoformat(), NONE_VALUE,
             settings.dimension_keys, sorted(settings.sla_hours_by.items()), settings.sla_dimension,
             settings.sla_default_hours, settings.business_timezone, settings.naive_timestamps)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _window_rows(conn: sa.Connection, table: sa.Table, since: date) -> list[tuple]:
    """The roll-up's rows from ``since`` on, in key order (a refresh's window: a few days' rows)."""
    key = [table.c.day, *(c for c in table.c if c.name not in MEASURES and c.name != "day")]
    return [tuple(row) for row in conn.execute(sa.select(*table.c).where(table.c.day >= since).order_by(*key))]


def _same_rows(before: list[tuple], after: list[tuple]) -> bool:
    """Whether a refresh wrote back the rows it deleted: the same keys and counts, and sums of seconds or scores
    equal up to the last bits (a database may add the same floats in another order from one run to the next)."""
    if len(before) != len(after):
        return False
    for old, new in zip(before, after, strict=True):
        for a, b in zip(old, new, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None or abs(float(a) - float(b)) > 1e-9 * max(abs(float(a)), abs(float(b)), 1.0):
                    return False
            elif a != b:
                return False
    return True


def _next_content(previous: str | None, same: bool) -> str:
    """The roll-up's content version after a refresh: the previous one when it wrote back the same rows, else a
    new one (a full build, which rewrites everything, is always new)."""
    return previous if previous and same else uuid.uuid4().hex


def _state_values(conn: sa.Connection, table: sa.Table, settings: Settings, newest: datetime | None,
                  kind: str, mapping: str, content: str, rows: int | None = None) -> dict:
    """The state row; ``rows`` when the caller knows the count (an incremental refresh: counting millions of rows
    on every refresh would cost more than the refresh)."""
    if rows is None or rows < 0:
        max_day, rows = conn.execute(sa.select(sa.func.max(table.c.day), sa.func.count()).select_from(table)).one()
    else:
        max_day = conn.execute(sa.select(sa.func.max(table.c.day))).scalar()
    if isinstance(max_day, str):  # SQLite returns the text it stores
        max_day = date.fromisoformat(max_day)
    return dict(rollup_table=settings.rollup_table,
                refreshed_at=utcnow().replace(microsecond=0),
                max_day=max_day, source_max_created=newest, rows=rows, kind=kind, mapping=mapping, content=content)


def _write_state(conn: sa.Connection, st: sa.Table, values: dict) -> None:
    conn.execute(st.delete().where(st.c.rollup_table == values["rollup_table"]))
    conn.execute(st.insert().values(**values))


def _fill(source: Engine, conn: sa.Connection, table: sa.Table, select: sa.Select, names: list[str],
          settings: Settings, *, incremental: bool) -> int:
    """Insert the aggregate into ``table`` through ``conn``: in the database itself, or copied (local mode)."""
    if conn.engine is source or conn.engine.url == source.url:
        _tune(conn, incremental=incremental)
        # without preserve_rowcount SQLAlchemy 2.1 reports -1 for INSERT … SELECT on psycopg
        insert = table.insert().from_select(names, select).execution_options(preserve_rowcount=True)
        count = conn.execute(insert).rowcount
        return int(count) if count is not None else -1  # -1: not known (the state's row count is then counted)
    return _copy_rows(source, conn, select, table, names, settings, incremental=incremental)


def _rebuild(source: Engine, target: Engine, settings: Settings, select: sa.Select, names: list[str], *,
             exists: bool, newest: datetime | None, mapping: str, say: Callable[[str], None]) -> int:
    """Build the whole roll-up under a new name and swap it in atomically; return the rows written.

    PostgreSQL and SQLite run every step, DDL included, in one transaction: any failure rolls all of it
    back. MariaDB commits each DDL statement, so the new table is built under its own name first and
    swapped in with one atomic ``RENAME TABLE live TO old, new TO live``; until that statement the live
    table and its state row are untouched, and a table left by a killed build is registered, so the next
    build drops it.
    """
    metadata = sa.MetaData()
    token = uuid.uuid4().hex[:8]
    live, st, owned = rollup_table(settings, metadata), state_table(settings, metadata), owned_table(settings, metadata)
    build = rollup_table(settings, metadata, name=f"{settings.rollup_table[:44]}__build_{token}")
    retired = rollup_table(settings, metadata, name=f"{settings.rollup_table[:44]}__old_{token}")
    if not _mysql(target):
        with target.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")  # pysqlite would run the DDL below outside any transaction
            with _long_statements(conn, settings):
                owned.create(conn, checkfirst=True)
                st.create(conn, checkfirst=True)
                _drop_leftovers(conn, settings, owned)
                _register(conn, owned, build.name, "building")
                say("building the new roll-up beside the current one")
                build.create(conn)
                written = _fill(source, conn, build, select, names, settings, incremental=False)
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(build)}")
                say("swapping in the new roll-up")
                if exists:
                    live.drop(conn)
                _rename(conn, build, live.name)
                conn.execute(owned.delete().where(owned.c.table_name == build.name))
                _register(conn, owned, live.name, "rollup")
                _write_state(conn, st, _state_values(conn, live, settings, newest, "full", mapping,
                                                     _next_content(None, False)))
        return written
    # MariaDB / MySQL: DDL commits by itself; register first so whatever is left behind is known to be ours
    with target.begin() as conn:
        owned.create(conn, checkfirst=True)
        st.create(conn, checkfirst=True)
        _drop_leftovers(conn, settings, owned)
        _register(conn, owned, build.name, "building")
        _register(conn, owned, retired.name, "retired")
        # the live name too, before the rename makes it so: a kill right after the rename leaves a table the
        # next refresh knows as its own
        _register(conn, owned, live.name, "rollup")
    try:
        build.create(target)
        say("building the new roll-up beside the current one")
        with target.begin() as conn, _long_statements(conn, settings):
            written = _fill(source, conn, build, select, names, settings, incremental=False)
            values = _state_values(conn, build, settings, newest, "full", mapping, _next_content(None, False))
        say("swapping in the new roll-up")
        with target.begin() as conn:
            quote = conn.dialect.identifier_preparer
            if exists:  # one statement, atomic: readers see the old table or the new one, never neither
                conn.exec_driver_sql(f"RENAME TABLE {quote.format_table(live)} TO {quote.format_table(retired)}, "
                                     f"{quote.format_table(build)} TO {quote.format_table(live)}")
            else:
                _rename(conn, build, live.name)
        with target.begin() as conn:
            _register(conn, owned, live.name, "rollup")
            conn.execute(owned.delete().where(owned.c.table_name == build.name))
            _write_state(conn, st, values)
    except BaseException:
        with contextlib.suppress(Exception), target.begin() as conn:
            _drop_leftovers(conn, settings, owned)
        raise
    with contextlib.suppress(DBAPIError), target.begin() as conn:
        _drop_leftovers(conn, settings, owned)
    return written


def refresh_rollup(source: Engine, settings: Settings, *, full: bool = False, target: Engine | None = None,
                   progress: Callable[[str], None] | None = None) -> RefreshResult:
    """Build the roll-up (first time, or ``full=True``) or refresh it from the watermark.

    A build writes a new table and swaps it in atomically; an incremental refresh deletes and re-inserts
    the recent days in one transaction. Either way a failure leaves the previous roll-up and its state
    exactly as they were. Only tables the app created are ever written (see :func:`owned_table`).

    Parameters
    ----------
    source : Engine
        Database holding the cases table.
    settings : Settings
        Mapping and roll-up options.
    full : bool
        Rebuild everything instead of refreshing from the watermark.
    target : Engine, optional
        Where the roll-up lives; defaults to :func:`rollup_engine`.
    progress : callable, optional
        Called with a short message at each step.

    Returns
    -------
    RefreshResult

    Raises
    ------
    ConfigError
        If ``[rollup] table`` (or a table the app keeps beside it) names a table the app did not create.
    SchemaMismatch
        If the cases table does not match the contract.
    QueryFailed
        If the database rejects the statements (permissions, timeout, lock).
    """
    say = progress or (lambda _msg: None)
    began = time.perf_counter()
    if settings.source_kind == "volume":
        # the user's daily table is the roll-up: check it, write nothing
        check_volume_schema(source, settings)
        say("done: the source is a daily volume table, nothing to build")
        return RefreshResult("none", None, 0, time.perf_counter() - began)
    report = check_cases_schema(source, settings)
    _REPORTS[_report_key(source, settings)] = report  # case lists follow what this refresh saw
    target = target or rollup_engine(source, settings)
    metadata = sa.MetaData()
    rollup, st = rollup_table(settings, metadata), state_table(settings, metadata)
    try:
        exists = _claim_rollup(target, settings)
        state = rollup_state(target, settings)
        mapping = mapping_signature(settings, report)
        since_day: date | None = None
        if exists and not full and state.max_day is not None:
            if state.mapping == mapping:
                since_day = state.max_day - timedelta(days=settings.lookback_days)
            else:  # rows built from another mapping (or by an earlier version): refreshing would mix the two
                say("the mapping changed since the last build: rebuilding everything")
        since = day_start(settings, since_day) if since_day else None
        select = _aggregate(settings, report, since)
        names = ["day", *settings.dimension_keys, *MEASURES]
        newest = newest_created(source, settings)
        if since_day is None:
            say("aggregating cases (full build)")
            written = _rebuild(source, target, settings, select, names, exists=exists, newest=newest,
                               mapping=mapping, say=say)
        else:
            say(f"aggregating cases since {since_day.isoformat()}")
            with target.begin() as conn, _long_statements(conn, settings):
                # read again in this transaction: another refresh (a second server, a command) may have committed
                # since `state` was read, and the rows compared below are already its rows
                content, rows = conn.execute(sa.select(st.c.content, st.c.rows)
                                             .where(st.c.rollup_table == settings.rollup_table)).one()
                before = _window_rows(conn, rollup, since_day) if content else None
                deleted = conn.execute(rollup.delete().where(rollup.c.day >= since_day)).rowcount
                say(f"replacing the days since {since_day.isoformat()}")
                written = _fill(source, conn, rollup, select, names, settings, incremental=True)
                same = before is not None and _same_rows(before, _window_rows(conn, rollup, since_day))
                content = _next_content(content, same)
                known = (rows - deleted + written if rows is not None and deleted is not None
                         and deleted >= 0 and written is not None and written >= 0 else None)
                _write_state(conn, st, _state_values(conn, rollup, settings, newest, "incremental", mapping,
                                                     content, known))
    except DBAPIError as err:
        found = translate_error(err, doing="refreshing the roll-up", engine=target)
        if type(found) is QueryFailed and not found.hint.startswith("This user"):
            found.hint += " If this user may not write here, set [rollup] mode = \"local\"."
        raise found from err
    say("done")
    return RefreshResult("incremental" if since_day else "full", since_day, max(int(written or 0), 0),
                         time.perf_counter() - began)


def newest_created(engine: Engine | sa.Connection, settings: Settings) -> datetime | None:
    """The newest readable ``created_at`` of the cases (``None`` when there is none).

    Read by the index, newest first: on SQLite a text that is no timestamp sorts above every date, so the
    top values are parsed here and the unreadable ones skipped. Only ``created_at`` is read, so this works
    whatever else the mapping lacks. Raises the driver's ``DBAPIError``.
    """
    t = sa.Table(settings.cases_table, sa.MetaData(),
                 sa.Column(settings.columns["created_at"], sa.DateTime, key="created_at"), schema=settings.schema)
    raw = sa.type_coerce(t.c.created_at, sa.String)  # no parsing on the way out: a bad value stays text
    with engine.connect() if isinstance(engine, Engine) else contextlib.nullcontext(engine) as conn:
        top = conn.execute(sa.select(raw).where(t.c.created_at.is_not(None))
                           .order_by(t.c.created_at.desc()).limit(50)).scalars().all()
        parsed = _readable(top)
        if top and not parsed:  # more than 50 unreadable values on top: let the database filter them
            parsed = _readable(conn.execute(sa.select(sa.func.max(raw)).where(valid_timestamp(t.c.created_at)))
                               .scalars().all())
    return max(parsed) if parsed else None


def _readable(values: list) -> list[datetime]:
    # zoned and naive texts side by side (SQLite keeps whatever was written): all read as UTC, naive out
    stamps = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", format="mixed", utc=True).dropna()
    return [s.tz_localize(None).to_pydatetime() for s in stamps if s.year >= EARLIEST_DAY.year]


def _copy_rows(source: Engine, conn: sa.Connection, select: sa.Select, rollup: sa.Table,
               names: list[str], settings: Settings, *, incremental: bool) -> int:
    """Run the aggregate on the source and store its rows through ``conn`` (read-only mode)."""
    written = 0
    with source.begin() as src, _long_statements(src, settings):
        _tune(src, incremental=incremental)
        result = src.execution_options(stream_results=True).execute(select)
        while batch := result.fetchmany(20_000):
            conn.execute(rollup.insert(), [dict(zip(names, row, strict=True)) for row in batch])
            written += len(batch)
    return written
