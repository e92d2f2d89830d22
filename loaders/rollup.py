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

Value mapping (``[values.workflow]`` …) is applied inside the aggregate (``CASE WHEN … THEN :ours``), so the
roll-up holds our names. With ``[source] kind = "volume"`` the user's daily table *is* the roll-up: nothing is
built, and :func:`read_table` maps its columns and values on the fly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from loaders.engine import cases_table, day_of, hours_between, make_engine, mapped_value, translate_error
from loaders.errors import QueryFailed
from loaders.schema import SchemaReport, check_cases_schema, check_volume_schema
from loaders.settings import DIMENSIONS, MEASURES, Settings

__all__ = [
    "MEASURES",
    "RefreshResult",
    "RollupState",
    "read_table",
    "refresh_rollup",
    "rollup_engine",
    "rollup_state",
    "rollup_table",
    "state_table",
    "volume_source_table",
]
_FLOAT_MEASURES = frozenset({"handle_time_s", "age_at_solve_h", "csat_sum", "qa_sum"})
STATE_TABLE = "ops_rollup_state"


def rollup_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    """The roll-up table definition (created on first refresh)."""
    metadata = metadata if metadata is not None else sa.MetaData()
    schema = settings.schema if settings.rollup_mode == "source" else None
    return sa.Table(
        settings.rollup_table, metadata,
        sa.Column("day", sa.Date, primary_key=True),
        *(sa.Column(d, sa.String(64), primary_key=True) for d in DIMENSIONS),
        *(sa.Column(m, sa.Float if m in _FLOAT_MEASURES else sa.BigInteger, nullable=False, default=0)
          for m in MEASURES),
        schema=schema,
    )


def state_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    metadata = metadata if metadata is not None else sa.MetaData()
    schema = settings.schema if settings.rollup_mode == "source" else None
    return sa.Table(
        STATE_TABLE, metadata,
        sa.Column("rollup_table", sa.String(64), primary_key=True),
        sa.Column("refreshed_at", sa.DateTime, nullable=False),
        sa.Column("max_day", sa.Date),
        sa.Column("source_max_created", sa.DateTime),
        sa.Column("rows", sa.BigInteger),
        sa.Column("kind", sa.String(16)),
        schema=schema,
    )


def volume_source_table(settings: Settings, present: frozenset[str] | None = None) -> sa.Table:
    """The user's daily volume table (``kind = "volume"``) with canonical ``.c`` keys.

    ``present`` (canonical names found in the database) limits the columns; by default all are assumed.
    """
    cols = []
    for name in ("day", *DIMENSIONS, *MEASURES):
        if present is not None and name not in present:
            continue
        coltype = sa.Date() if name == "day" else sa.String(64) if name in DIMENSIONS else sa.Float()
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
    for d in DIMENSIONS:
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


def _aggregate(settings: Settings, report: SchemaReport, since: datetime | None) -> sa.Select:
    """The GROUP BY the database runs: one row per day × dimensions with every measure."""
    raw = cases_table(settings)
    # the mapped, canonical view of the cases: value mapping happens here, grouping happens outside
    t = sa.select(
        *(raw.c[c].label(c) for c in ("created_at", "solved_at", "route", "handle_time_s", "sla_hours")),
        *(mapped_value(raw.c[d], settings.value_maps.get(d)).label(d) for d in DIMENSIONS),
        *(raw.c[c].label(c) for c in ("escalated", "reopened", "csat", "qa_score")
          if c not in report.missing_optional),
    ).subquery("mapped_cases")
    manual = t.c.route.in_(settings.route_values["manual"])
    zero, zero_f = sa.literal_column("0"), sa.literal_column("0.0")

    def optional(name: str) -> sa.ColumnElement:
        return sa.literal_column("NULL") if name in report.missing_optional else t.c[name]

    def count_if(cond: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    dims = [t.c[d].label(d) for d in DIMENSIONS]
    created_day = day_of(t.c.created_at)
    created = sa.select(
        created_day.label("day"), *dims,
        sa.func.count().label("incoming"), count_if(manual).label("incoming_manual"),
        *(zero_f.label(m) if m in _FLOAT_MEASURES else zero.label(m) for m in MEASURES[2:]),
    ).group_by(created_day, *(t.c[d] for d in DIMENSIONS))
    age = hours_between(t.c.created_at, t.c.solved_at)
    solved_day = day_of(t.c.solved_at)
    csat, qa = optional("csat"), optional("qa_score")
    solved = sa.select(
        solved_day.label("day"), *dims, zero.label("incoming"), zero.label("incoming_manual"),
        sa.func.count().label("solved"), count_if(manual).label("solved_manual"),
        sa.func.sum(sa.case((manual & t.c.handle_time_s.is_not(None), t.c.handle_time_s), else_=0.0))
        .label("handle_time_s"),
        sa.func.sum(age).label("age_at_solve_h"),
        count_if(age <= t.c.sla_hours).label("solved_in_sla"),
        (count_if(optional("escalated") == 1) if "escalated" not in report.missing_optional else zero)
        .label("escalated"),
        (count_if(optional("reopened") == 1) if "reopened" not in report.missing_optional else zero)
        .label("reopened"),
        sa.func.coalesce(sa.func.sum(csat), 0.0).label("csat_sum"), sa.func.count(csat).label("csat_n"),
        sa.func.coalesce(sa.func.sum(qa), 0.0).label("qa_sum"), sa.func.count(qa).label("qa_n"),
    ).where(t.c.solved_at.is_not(None)).group_by(solved_day, *(t.c[d] for d in DIMENSIONS))
    if since is not None:
        created = created.where(t.c.created_at >= since)
        solved = solved.where(t.c.solved_at >= since)
    both = sa.union_all(created, solved).subquery("sides")
    return sa.select(
        both.c.day, *(both.c[d] for d in DIMENSIONS),
        *(sa.cast(sa.func.sum(both.c[m]), sa.Float if m in _FLOAT_MEASURES else sa.BigInteger).label(m)
          for m in MEASURES),
    ).group_by(both.c.day, *(both.c[d] for d in DIMENSIONS))


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
        with target.connect() as conn:
            row = conn.execute(sa.select(st).where(st.c.rollup_table == settings.rollup_table)).first()
    except DBAPIError as err:
        raise translate_error(err, doing="reading the roll-up state") from err
    if row is None:
        return RollupState(None, None, None, None, None)
    return RollupState(row.refreshed_at, row.max_day, row.source_max_created, row.rows, row.kind)


def refresh_rollup(source: Engine, settings: Settings, *, full: bool = False, target: Engine | None = None,
                   progress: Callable[[str], None] | None = None) -> RefreshResult:
    """Build the roll-up (first time, or ``full=True``) or refresh it from the watermark.

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
    target = target or rollup_engine(source, settings)
    metadata = sa.MetaData()
    rollup, st = rollup_table(settings, metadata), state_table(settings, metadata)
    state = rollup_state(target, settings)
    try:
        exists = sa.inspect(target).has_table(rollup.name, schema=rollup.schema)
    except DBAPIError as err:
        raise translate_error(err, doing="inspecting the roll-up") from err
    since_day: date | None = None
    if exists and not full and state.max_day is not None:
        since_day = state.max_day - timedelta(days=settings.lookback_days)
    since = datetime.combine(since_day, datetime.min.time()) if since_day else None
    select = _aggregate(settings, report, since)
    names = ["day", *DIMENSIONS, *MEASURES]
    try:
        if not exists or full:
            say("creating the roll-up table")
            rollup.drop(target, checkfirst=True)
            metadata.create_all(target, tables=[rollup, st])
        with source.connect() as src:
            newest = src.execute(sa.select(sa.func.max(cases_table(settings).c.created_at))).scalar()
        say(f"aggregating cases {'since ' + since_day.isoformat() if since_day else '(full build)'}")
        with target.begin() as conn:
            if since_day is not None:
                conn.execute(rollup.delete().where(rollup.c.day >= since_day))
            if target is source:
                _tune(conn, incremental=since_day is not None)
                # without preserve_rowcount SQLAlchemy 2.1 reports -1 for INSERT … SELECT on psycopg
                insert = rollup.insert().from_select(names, select).execution_options(preserve_rowcount=True)
                written = conn.execute(insert).rowcount
            else:
                written = _copy_rows(source, conn, select, rollup, names, incremental=since_day is not None)
            if since_day is None and conn.dialect.name == "postgresql":
                # the pages filter the roll-up by day and slice; a rebuilt table has no statistics until
                # autovacuum gets to it (never, where it is off)
                conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(rollup)}")
            max_day, rows = conn.execute(sa.select(sa.func.max(rollup.c.day), sa.func.count())).one()
            if isinstance(max_day, str):  # SQLite returns the text it stores
                max_day = date.fromisoformat(max_day)
            conn.execute(st.delete().where(st.c.rollup_table == settings.rollup_table))
            conn.execute(st.insert().values(
                rollup_table=settings.rollup_table, refreshed_at=datetime.now(UTC).replace(microsecond=0, tzinfo=None),
                max_day=max_day, source_max_created=newest, rows=rows,
                kind="incremental" if since_day else "full",
            ))
    except DBAPIError as err:
        found = translate_error(err, doing="refreshing the roll-up")
        if type(found) is QueryFailed and not found.hint.startswith("This user"):
            found.hint += " If this user may not write here, set [rollup] mode = \"local\"."
        raise found from err
    say("done")
    return RefreshResult("incremental" if since_day else "full", since_day, int(written or 0),
                         time.perf_counter() - began)


def _copy_rows(source: Engine, conn: sa.Connection, select: sa.Select, rollup: sa.Table,
               names: list[str], *, incremental: bool) -> int:
    """Run the aggregate on the source and store its rows through ``conn`` (read-only mode)."""
    written = 0
    with source.connect() as src:
        _tune(src, incremental=incremental)
        result = src.execution_options(stream_results=True).execute(select)
        while batch := result.fetchmany(20_000):
            conn.execute(rollup.insert(), [dict(zip(names, row, strict=True)) for row in batch])
            written += len(batch)
    return written
