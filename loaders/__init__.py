"""The data layer: the only package that talks SQL (through SQLAlchemy).

Pages and metrics receive pandas frames from here and never see a connection.
"""

from loaders import clock
from loaders.access import LOCAL_USER, Access, NotAllowed, Scope, User
from loaders.cases import case_columns, count_cases, create_cases_table, load_cases, newest_case, write_cases
from loaders.engine import ConnectionInfo, connection_info, engine_for, make_engine, redact, translate_error
from loaders.errors import (
    CasesUnavailable,
    ConfigError,
    ImportRejected,
    OpsDataError,
    QueryFailed,
    SchemaMismatch,
    SourceUnavailable,
)
from loaders.rollup import (
    MEASURES,
    RefreshResult,
    RollupState,
    available_measures,
    refresh_rollup,
    rollup_engine,
    rollup_state,
)
from loaders.schema import SchemaReport, check_cases_schema, check_volume_schema
from loaders.settings import (
    CASE_COLUMNS,
    SAMPLE_DB_PATH,
    SAMPLE_DIMENSIONS,
    VOLUME_COLUMNS,
    Dimension,
    Settings,
    load_settings,
    validate_identifier,
)
from loaders.volume import (
    Filters,
    load_daily_volume,
    load_dimension_values,
    load_opening_balance,
    load_rollup_bounds,
)

__all__ = [
    "CASE_COLUMNS",
    "LOCAL_USER",
    "MEASURES",
    "SAMPLE_DB_PATH",
    "SAMPLE_DIMENSIONS",
    "VOLUME_COLUMNS",
    "Access",
    "CasesUnavailable",
    "ConfigError",
    "ConnectionInfo",
    "Dimension",
    "Filters",
    "ImportRejected",
    "NotAllowed",
    "OpsDataError",
    "QueryFailed",
    "RefreshResult",
    "RollupState",
    "SchemaMismatch",
    "SchemaReport",
    "Scope",
    "Settings",
    "SourceUnavailable",
    "User",
    "available_measures",
    "case_columns",
    "check_cases_schema",
    "check_volume_schema",
    "clock",
    "connection_info",
    "count_cases",
    "create_cases_table",
    "engine_for",
    "load_cases",
    "load_daily_volume",
    "load_dimension_values",
    "load_opening_balance",
    "load_rollup_bounds",
    "load_settings",
    "make_engine",
    "newest_case",
    "redact",
    "refresh_rollup",
    "rollup_engine",
    "rollup_state",
    "translate_error",
    "validate_identifier",
    "write_cases",
]
