"""Engines, dialect-portable SQL expressions and the case table definition built from the mapping."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from loaders.errors import ConfigError, OpsDataError, QueryFailed, SchemaMismatch, SourceUnavailable
from loaders.settings import Settings

__all__ = [
    "ConnectionInfo",
    "cases_table",
    "connection_info",
    "day_of",
    "engine_for",
    "hours_between",
    "make_engine",
    "mapped_value",
    "redact",
    "translate_error",
]


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str, *, statement_timeout_s: float | None = None) -> Engine:
    """Create an engine for ``url`` and check that it answers.

    Parameters
    ----------
    url : str
        SQLAlchemy URL.
    statement_timeout_s : float, optional
        PostgreSQL and MariaDB cancel any statement running longer; SQLite waits at most this long for a
        lock held by another writer (default 15 s).

    Returns
    -------
    Engine

    Raises
    ------
    ConfigError
        If the URL cannot be parsed or names a driver that is not installed.
    SourceUnavailable
        If the database does not answer a trivial query.
    """
    try:
        parsed = sa.make_url(url)
    except ArgumentError as err:
        raise ConfigError(
            f"database URL {url!r} cannot be parsed",
            hint="Use a SQLAlchemy URL such as sqlite:///path/ops.sqlite or "
            "postgresql+psycopg://user@host:5432/db (set [connections.ops] url in secrets or OPS_DB_URL).",
        ) from err
    kwargs: dict = {"pool_pre_ping": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        # Streamlit serves each session from its own thread; SQLite handles its own locking.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": statement_timeout_s or 15}
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
        if statement_timeout_s:
            kwargs["connect_args"]["options"] = f"-c statement_timeout={round(statement_timeout_s * 1000)}"
    elif backend in ("mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": 5}
        if statement_timeout_s:
            kwargs["connect_args"]["init_command"] = f"SET SESSION max_statement_time={float(statement_timeout_s)}"
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as err:
        raise ConfigError(
            f"no installed driver for {parsed.drivername!r}",
            hint="Install the driver (e.g. psycopg for PostgreSQL, pymysql for MariaDB) or fix the URL's scheme.",
        ) from err
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (OperationalError, DBAPIError) as err:
        engine.dispose()
        raise SourceUnavailable(
            f"cannot connect to {redact(url)}: {str(err.orig).strip().splitlines()[0] if err.orig else err}",
            hint="Check that the server is running and that host, port, user and database in the URL are right.",
        ) from err
    return engine


def engine_for(settings: Settings) -> Engine:
    """:func:`make_engine` for the settings' URL and statement timeout."""
    return make_engine(settings.url, statement_timeout_s=settings.statement_timeout_s)


_LOST = ("server closed the connection", "connection refused", "could not connect", "terminating connection",
         "consuming input failed", "lost connection", "gone away", "can't connect", "connection is closed",
         "connection reset", "broken pipe", "ssl syscall", "connection is lost", "connection timeout expired",
         "connection failed", "no connection to the server", "unable to open database file")
_TIMEOUT = ("statement timeout", "canceling statement", "max_statement_time", "query execution was interrupted")


def translate_error(err: Exception, *, doing: str) -> OpsDataError:
    """Turn a driver error into the narrow error a page can explain (message + hint), never a traceback.

    Parameters
    ----------
    err : Exception
        Usually a :class:`sqlalchemy.exc.DBAPIError`.
    doing : str
        What was being done, for the message (``"reading the roll-up"``).

    Returns
    -------
    OpsDataError
        :class:`SourceUnavailable` (connection lost or refused), :class:`QueryFailed` (timeout, lock,
        permissions, anything else) or :class:`SchemaMismatch` (a table is missing).

    Examples
    --------
    >>> type(translate_error(RuntimeError("database is locked"), doing="reading")).__name__
    'QueryFailed'
    """
    orig = getattr(err, "orig", None) or err
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    low = str(orig).lower()
    if getattr(err, "connection_invalidated", False) or any(m in low for m in _LOST):
        return SourceUnavailable(f"the database stopped answering while {doing}: {first}",
                                 hint="Check that the server is running and reachable, then press Retry; "
                                 "the connection is re-opened automatically.")
    if any(m in low for m in _TIMEOUT):
        return QueryFailed(f"the database cancelled a slow query while {doing}: {first}",
                           hint="Press Retry, narrow the date range, or raise [source] statement_timeout_s "
                           "in the configuration file.")
    if "database is locked" in low or "lock wait timeout" in low or "deadlock" in low:
        return QueryFailed(f"the database is locked by another writer while {doing}: {first}",
                           hint="Another program (an import, a refresh, a backup) is writing; "
                           "press Retry in a moment.")
    if "no such table" in low or "doesn't exist" in low or "does not exist" in low or "undefinedtable" in low:
        return SchemaMismatch(f"a table is missing while {doing}: {first}",
                              hint="Build the roll-up from the Data page, or check [source] table.")
    if "permission denied" in low or "read-only" in low or "readonly" in low or "command denied" in low:
        return QueryFailed(f"the database refused a write while {doing}: {first}",
                           hint="This user may not write here: set [rollup] mode = \"local\" in the "
                           "configuration file to keep the roll-up in a local cache.")
    return QueryFailed(f"the query failed while {doing}: {first}", hint="Press Retry; if it persists, "
                       "check the Data page's column checks.")


@dataclass(frozen=True)
class ConnectionInfo:
    dialect: str
    server_version: str
    latency_ms: float
    url: str


def connection_info(engine: Engine) -> ConnectionInfo:
    """Dialect, server version and round-trip latency of a trivial query.

    Raises
    ------
    SourceUnavailable, QueryFailed
        If the trivial query fails.
    """
    start = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except DBAPIError as err:
        raise translate_error(err, doing="checking the connection") from err
    latency = (time.perf_counter() - start) * 1000
    version = ".".join(str(p) for p in (engine.dialect.server_version_info or ()))
    return ConnectionInfo(engine.dialect.name, version, latency, redact(str(engine.url)))


def mapped_value(column: sa.ColumnElement, mapping: dict[str, tuple[str, ...]] | None) -> sa.ColumnElement:
    """``CASE WHEN col IN (:theirs…) THEN :ours … ELSE col END`` — the source's values renamed to ours.

    Values travel as bound parameters. Group by the result through a subquery: PostgreSQL compares
    GROUP BY expressions including their parameters, which differ between SELECT and GROUP BY.
    """
    if not mapping:
        return column
    whens = [(column.in_(list(theirs)), sa.literal(ours, sa.String)) for ours, theirs in mapping.items()]
    return sa.case(*whens, else_=column)


# --- portable expressions -------------------------------------------------------------------------


class day_of(FunctionElement):  # noqa: N801 - reads like SQL
    """The UTC calendar day of a timestamp column."""

    type = sa.Date()
    inherit_cache = True


@compiles(day_of)
def _day_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_of, "sqlite")
@compiles(day_of, "mysql")
@compiles(day_of, "mariadb")
def _day_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


class hours_between(FunctionElement):  # noqa: N801
    """Hours from the first timestamp to the second (float)."""

    type = sa.Float()
    inherit_cache = True


def _pair(element, compiler, **kw) -> tuple[str, str]:
    start, end = list(element.clauses)
    return compiler.process(start, **kw), compiler.process(end, **kw)


@compiles(hours_between)
def _hours_default(element, compiler, **kw):
    start, end = _pair(element, compiler, **kw)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element, compiler, **kw):
    start, end = _pair(element, compiler, **kw)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


@compiles(hours_between, "mysql")
@compiles(hours_between, "mariadb")
def _hours_mysql(element, compiler, **kw):
    start, end = _pair(element, compiler, **kw)
    return f"(TIMESTAMPDIFF(SECOND, {start}, {end}) / 3600.0)"


# --- the mapped cases table ------------------------------------------------------------------------

_TYPES = {
    "case_id": sa.BigInteger,
    "created_at": sa.DateTime,
    "solved_at": sa.DateTime,
    "workflow": lambda: sa.String(64),
    "vendor_site": lambda: sa.String(64),
    "channel": lambda: sa.String(64),
    "language": lambda: sa.String(16),
    "route": lambda: sa.String(16),
    "handle_time_s": sa.Float,
    "sla_hours": sa.Float,
    "escalated": sa.SmallInteger,
    "reopened": sa.SmallInteger,
    "csat": sa.Float,
    "qa_score": sa.Float,
}


def cases_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    """The cases table as SQLAlchemy Core sees it, with canonical ``.c`` keys and the source's column names.

    ``cases_table(s).c.created_at`` renders as the mapped column (e.g. ``opened_ts``).
    """
    metadata = metadata if metadata is not None else sa.MetaData()
    cols = [
        sa.Column(settings.columns[name], _TYPES[name](), key=name, primary_key=(name == "case_id"),
                  autoincrement=False)
        for name in _TYPES
    ]
    return sa.Table(settings.cases_table, metadata, *cols, schema=settings.schema)
