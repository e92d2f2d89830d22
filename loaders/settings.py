"""Settings: where the data lives and how its names map onto ours.

Sources, first match wins for the URL:

1. Streamlit secrets ``[connections.ops] url = "…"`` (passed in by the UI as a plain mapping);
2. the environment variable ``OPS_DB_URL``;
3. ``[source] url`` in the configuration file (``OPS_CONFIG`` or ``ops.toml`` beside ``app.py``);
4. the built-in sample SQLite file, built on first start.

The configuration file maps a deployment's table and column names onto the canonical ones::

    [source]
    table = "support_tickets"
    schema = "ops"              # optional

    [columns]                   # canonical = "theirs"
    created_at = "opened_ts"
    workflow = "queue_name"

    [rollup]
    mode = "source"             # "source": write the roll-up table into the database (needs CREATE/INSERT)
                                # "local":  never write to the source; keep the roll-up in a local SQLite cache
    table = "ops_daily_volume"

Every identifier is validated before it reaches SQL; values always travel as bound parameters.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from loaders.errors import ConfigError

__all__ = [
    "CASE_COLUMNS",
    "DIMENSIONS",
    "PROJECT_ROOT",
    "SAMPLE_DB_PATH",
    "Settings",
    "load_settings",
    "validate_identifier",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DB_PATH = PROJECT_ROOT / "sample_data" / "ops_sample.sqlite"
LOCAL_CACHE_PATH = PROJECT_ROOT / ".cache" / "rollup.sqlite"

DIMENSIONS: tuple[str, ...] = ("workflow", "vendor_site", "channel", "language")

#: canonical column -> (kind, required); kind is what validation checks the database type against.
CASE_COLUMNS: dict[str, tuple[str, bool]] = {
    "case_id": ("id", True),
    "created_at": ("timestamp", True),
    "solved_at": ("timestamp", True),
    "workflow": ("text", True),
    "vendor_site": ("text", True),
    "channel": ("text", True),
    "language": ("text", True),
    "route": ("text", True),
    "handle_time_s": ("number", True),
    "sla_hours": ("number", True),
    "escalated": ("number", False),
    "reopened": ("number", False),
    "csat": ("number", False),
    "qa_score": ("number", False),
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def validate_identifier(name: str, *, what: str) -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise :class:`ConfigError`.

    Parameters
    ----------
    name : str
        Table, schema or column name taken from configuration.
    what : str
        Where it came from, for the message (e.g. ``"columns.created_at"``).

    Raises
    ------
    ConfigError
        If ``name`` is not letters, digits, ``_`` or ``$`` starting with a letter or ``_`` (max 63 chars).

    Examples
    --------
    >>> validate_identifier("opened_ts", what="columns.created_at")
    'opened_ts'
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(
            f"`{what}` must be a plain SQL identifier (letters, digits, _; starting with a letter), got {name!r}",
            hint="Rename the value in the configuration file; quoting and dotted names are not accepted.",
        )
    return name


@dataclass(frozen=True)
class Settings:
    """Resolved, validated configuration of the data layer."""

    url: str
    url_source: str = "sample"
    cases_table: str = "cases"
    schema: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: {c: c for c in CASE_COLUMNS})
    #: canonical route value -> the source's values meaning it (e.g. {"automated": ["bot", "macro"]})
    route_values: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"manual": ("manual",), "automated": ("automated",)}
    )
    rollup_table: str = "ops_daily_volume"
    rollup_mode: Literal["source", "local"] = "source"
    local_cache_path: Path = LOCAL_CACHE_PATH
    lookback_days: int = 2
    stale_after_hours: float = 36.0
    config_path: Path | None = None

    @property
    def is_sample(self) -> bool:
        return self.url_source == "sample"

    def with_url(self, url: str, *, source: str = "override") -> Settings:
        return replace(self, url=url, url_source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"configuration file {path.name} is not valid TOML: {err}",
            hint="Fix the line named above; see docs/configuration.md for the format.",
        ) from err


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"`[{name}]` must be a table in the configuration file, got {type(value).__name__}")
    return value


def settings_from_mapping(doc: Mapping[str, Any], *, url: str | None, url_source: str,
                          config_path: Path | None = None) -> Settings:
    """Build :class:`Settings` from a parsed configuration document (see module docstring)."""
    known = {"source", "columns", "values", "rollup", "freshness"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(f'[{u}]' for u in unknown)} in the configuration file",
            hint=f"Known sections: {', '.join(sorted(known))}.",
        )
    source = _section(doc, "source")
    columns_cfg = _section(doc, "columns")
    bad = sorted(set(columns_cfg) - set(CASE_COLUMNS))
    if bad:
        raise ConfigError(
            f"[columns] names unknown canonical column(s): {', '.join(bad)}",
            hint=f"Canonical columns are: {', '.join(CASE_COLUMNS)}.",
        )
    columns = {c: validate_identifier(columns_cfg.get(c, c), what=f"columns.{c}") for c in CASE_COLUMNS}

    route_cfg = _section(_section(doc, "values"), "route")
    route_values: dict[str, tuple[str, ...]] = {"manual": ("manual",), "automated": ("automated",)}
    for key, vals in route_cfg.items():
        if key not in route_values:
            raise ConfigError(f"[values.route] keys must be 'manual' or 'automated', got {key!r}")
        if isinstance(vals, str):
            vals = [vals]
        if not vals or not all(isinstance(v, str) for v in vals):
            raise ConfigError(f"[values.route] {key} must be a string or a list of strings, got {vals!r}")
        route_values[key] = tuple(vals)

    rollup = _section(doc, "rollup")
    mode = rollup.get("mode", "source")
    if mode not in ("source", "local"):
        raise ConfigError(f"`rollup.mode` must be 'source' or 'local', got {mode!r}")
    lookback = rollup.get("lookback_days", 2)
    if not isinstance(lookback, int) or lookback < 0:
        raise ConfigError(f"`rollup.lookback_days` must be an integer >= 0, got {lookback!r}")
    freshness = _section(doc, "freshness")
    stale = freshness.get("stale_after_hours", 36.0)
    if not isinstance(stale, int | float) or stale <= 0:
        raise ConfigError(f"`freshness.stale_after_hours` must be a number > 0, got {stale!r}")
    schema = source.get("schema")
    cache = rollup.get("local_path")
    resolved_url = url or source.get("url")
    return Settings(
        url=resolved_url or f"sqlite:///{SAMPLE_DB_PATH}",
        url_source=url_source if url else ("config" if resolved_url else "sample"),
        cases_table=validate_identifier(source.get("table", "cases"), what="source.table"),
        schema=validate_identifier(schema, what="source.schema") if schema is not None else None,
        columns=columns,
        route_values=route_values,
        rollup_table=validate_identifier(rollup.get("table", "ops_daily_volume"), what="rollup.table"),
        rollup_mode=mode,
        local_cache_path=Path(cache) if cache else LOCAL_CACHE_PATH,
        lookback_days=lookback,
        stale_after_hours=float(stale),
        config_path=config_path,
    )


def load_settings(secrets: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
                  config_path: Path | str | None = None) -> Settings:
    """Resolve settings from secrets, environment and the configuration file.

    Parameters
    ----------
    secrets : mapping, optional
        Streamlit secrets as a plain mapping; ``secrets["connections"]["ops"]["url"]`` wins if present.
    environ : mapping, optional
        Defaults to ``os.environ``; reads ``OPS_DB_URL`` and ``OPS_CONFIG``.
    config_path : path, optional
        Configuration file; defaults to ``OPS_CONFIG`` or ``ops.toml`` in the project root if it exists.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        If the configuration file is missing (when named explicitly), not TOML, or names invalid identifiers.
    """
    environ = os.environ if environ is None else environ
    url, source = None, "sample"
    try:
        url = secrets["connections"]["ops"]["url"] if secrets else None  # type: ignore[index]
        source = "secrets" if url else source
    except (KeyError, TypeError):
        url = None
    if not url and environ.get("OPS_DB_URL"):
        url, source = environ["OPS_DB_URL"], "environment"
    named = config_path or environ.get("OPS_CONFIG")
    path = Path(named) if named else PROJECT_ROOT / "ops.toml"
    if named and not path.exists():
        raise ConfigError(
            f"configuration file {path} does not exist",
            hint="Set OPS_CONFIG to an existing TOML file, or unset it to use the defaults.",
        )
    doc = _read_toml(path) if path.exists() else {}
    return settings_from_mapping(doc, url=url, url_source=source, config_path=path if path.exists() else None)
