"""The data layer: the only package that talks SQL (through SQLAlchemy).

Pages and metrics receive pandas frames from here and never see a connection.
"""

from loaders.cases import count_cases, create_cases_table, load_cases, newest_case, write_cases
from loaders.engine import ConnectionInfo, connection_info, make_engine, redact
from loaders.errors import ConfigError, OpsDataError, QueryFailed, SchemaMismatch, SourceUnavailable
from loaders.rollup import MEASURES, RefreshResult, RollupState, refresh_rollup, rollup_engine, rollup_state
from loaders.schema import SchemaReport, check_cases_schema
from loaders.settings import CASE_COLUMNS, DIMENSIONS, SAMPLE_DB_PATH, Settings, load_settings, validate_identifier
from loaders.volume import (
    Filters,
    load_daily_volume,
    load_dimension_values,
    load_opening_balance,
    load_rollup_bounds,
)

__all__ = [
    "CASE_COLUMNS", "DIMENSIONS", "MEASURES", "SAMPLE_DB_PATH",
    "ConfigError", "ConnectionInfo", "Filters", "OpsDataError", "QueryFailed", "RefreshResult", "RollupState",
    "SchemaMismatch", "SchemaReport", "Settings", "SourceUnavailable",
    "check_cases_schema", "connection_info", "count_cases", "create_cases_table", "load_cases",
    "load_daily_volume", "load_dimension_values", "load_opening_balance", "load_rollup_bounds", "load_settings",
    "make_engine", "newest_case", "redact", "refresh_rollup", "rollup_engine", "rollup_state",
    "validate_identifier", "write_cases",
]
