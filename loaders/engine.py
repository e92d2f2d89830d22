"""Engines, dialect-portable SQL expressions and the case table definition built from the mapping."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from loaders.errors import ConfigError, SourceUnavailable
from loaders.settings import Settings

__all__ = [
    "ConnectionInfo",
    "cases_table",
    "connection_info",
    "day_of",
    "hours_between",
    "make_engine",
    "redact",
]


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` and check that it answers.

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
    if parsed.get_backend_name() == "sqlite":
        # Streamlit serves each session from its own thread; SQLite handles its own locking.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    elif parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": 5}
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


@dataclass(frozen=True)
class ConnectionInfo:
    dialect: str
    server_version: str
    latency_ms: float
    url: str


def connection_info(engine: Engine) -> ConnectionInfo:
    """Dialect, server version and round-trip latency of a trivial query."""
    start = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    latency = (time.perf_counter() - start) * 1000
    version = ".".join(str(p) for p in (engine.dialect.server_version_info or ()))
    return ConnectionInfo(engine.dialect.name, version, latency, redact(str(engine.url)))


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
