"""Settings: where the data lives and how its names map onto ours.

Sources, first match wins for the URL:

1. Streamlit secrets ``[connections.ops] url = "…"`` (passed in by the UI as a plain mapping);
2. the environment variable ``OPS_DB_URL``;
3. ``[source] url`` in the configuration file (``OPS_CONFIG`` or ``ops.toml`` beside ``app.py``);
4. the built-in sample SQLite file, built on first start.

The configuration file maps a deployment's table, column names and values onto the canonical ones
(the full reference is ``docs/configuration.md``)::

    [source]
    table = "support_tickets"
    schema = "ops"              # optional

    [columns]                   # canonical = "theirs"
    created_at = "opened_ts"
    workflow = "queue_name"

    [values.workflow]           # ours = their value(s)
    copyright = ["Q-COPY", "Q-DMCA"]

    [rollup]
    mode = "source"             # "source": write the roll-up table into the database (needs CREATE/INSERT)
                                # "local":  never write to the source; keep the roll-up in a local SQLite cache
    table = "ops_daily_volume"

Every identifier is validated before it reaches SQL; values always travel as bound parameters. A semantic
error in the file names the line it is on (``ops.toml line 7: …``).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loaders.access import Access, access_from_mapping
from loaders.errors import ConfigError

__all__ = [
    "ALTERNATIVE_INPUTS",
    "CASE_COLUMNS",
    "DIMENSIONS",
    "MAX_DIMENSIONS",
    "MEASURES",
    "MEASURE_INPUTS",
    "PROJECT_ROOT",
    "SAMPLE_DB_PATH",
    "SAMPLE_DIMENSIONS",
    "VOLUME_COLUMNS",
    "Dimension",
    "Settings",
    "config_file",
    "default_label",
    "load_settings",
    "locate_key",
    "measures_from_columns",
    "settings_from_mapping",
    "validate_identifier",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DB_PATH = PROJECT_ROOT / "sample_data" / "ops_sample.sqlite"
LOCAL_CACHE_PATH = PROJECT_ROOT / ".cache" / "rollup.sqlite"

#: the sample's dimensions, and every deployment's that declares no ``[dimensions]`` of its own
DIMENSIONS: tuple[str, ...] = ("workflow", "vendor_site", "channel", "language")

#: how many dimensions a deployment may declare (each is a column of the roll-up's primary key)
MAX_DIMENSIONS = 6


@dataclass(frozen=True)
class Dimension:
    """One way to split the cases: ``key`` names it in the roll-up, URLs and filters; ``label`` is what a
    reader sees. The source column is ``Settings.columns[key]``; value mapping lives in ``[values.<key>]``.

    Examples
    --------
    >>> Dimension("request_type", "Request type").label
    'Request type'
    """

    key: str
    label: str


def default_label(key: str) -> str:
    """``"vendor_site"`` -> ``"Vendor site"``."""
    return key.replace("_", " ").capitalize()


SAMPLE_DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension(d, default_label(d)) for d in DIMENSIONS)

#: canonical case column -> (kind, required), without the dimensions (each configured dimension is a required
#: text column, placed after ``solved_at``: see :meth:`Settings.case_columns`); kind is what validation checks
#: the database type against.
CASE_COLUMNS: dict[str, tuple[str, bool]] = {
    "case_id": ("id", True),
    "created_at": ("timestamp", True),
    "solved_at": ("timestamp", False),
    "route": ("text", False),
    "handle_time_s": ("number", False),
    "sla_hours": ("number", False),
    "sla_due_at": ("timestamp", False),
    "escalated": ("number", False),
    "reopened": ("number", False),
    "csat": ("number", False),
    "qa_score": ("number", False),
}

#: additive measures of the roll-up, in table order; see docs/architecture.md for their meaning
MEASURES: tuple[str, ...] = (
    "incoming", "incoming_manual", "solved", "solved_manual", "handle_time_s", "age_at_solve_h",
    "solved_in_sla", "escalated", "reopened", "csat_sum", "csat_n", "qa_sum", "qa_n",
)

#: the case columns each roll-up measure is computed from: a measure whose columns the table lacks is not
#: available, and neither is any KPI made from it (the pages say which column would enable it)
MEASURE_INPUTS: dict[str, tuple[str, ...]] = {
    "incoming": ("created_at",),
    "incoming_manual": ("created_at", "route"),
    "solved": ("solved_at",),
    "solved_manual": ("solved_at", "route"),
    "handle_time_s": ("solved_at", "route", "handle_time_s"),
    "age_at_solve_h": ("solved_at",),
    "solved_in_sla": ("solved_at", "sla_hours"),  # or sla_due_at, or [sla] targets: see Settings.sla_inputs
    "escalated": ("solved_at", "escalated"),
    "reopened": ("solved_at", "reopened"),
    "csat_sum": ("solved_at", "csat"), "csat_n": ("solved_at", "csat"),
    "qa_sum": ("solved_at", "qa_score"), "qa_n": ("solved_at", "qa_score"),
}

#: columns that can stand in for an input of MEASURE_INPUTS: an SLA is judged from a target in hours, a due time,
#: or the ``[sla]`` targets of the configuration
ALTERNATIVE_INPUTS: dict[str, tuple[str, ...]] = {"sla_hours": ("sla_due_at",)}


def measures_from_columns(present: Collection[str], *, sla_from_config: bool = False) -> frozenset[str]:
    """The roll-up measures a cases table with the canonical columns ``present`` can fill (see MEASURE_INPUTS)."""
    have = set(present)
    for column, alternatives in ALTERNATIVE_INPUTS.items():
        if have & set(alternatives):
            have.add(column)
    if sla_from_config:
        have.add("sla_hours")
    return frozenset(m for m, cols in MEASURE_INPUTS.items() if set(cols) <= have)


#: canonical column of a daily volume source (``[source] kind = "volume"``) -> required, without the
#: dimensions (each configured one is optional: a report without it reads as one value "all")
VOLUME_COLUMNS: dict[str, bool] = {
    "day": True,
    **{m: m in ("incoming", "solved") for m in MEASURES},  # other measures read as 0 when absent
}

#: tables the dashboard keeps beside its roll-up: the refresh state, and the registry of the tables it created
STATE_TABLE = "ops_rollup_state"
OWNED_TABLE = "ops_owned_tables"
RESERVED_TABLES = frozenset({STATE_TABLE, OWNED_TABLE})

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
            key=what,
        )
    return name


@dataclass(frozen=True)
class Delivery:
    """Where digests are sent from (``[smtp]``) and where their links point (``[digest] base_url``).

    ``smtp_url`` is ``smtp://host:port`` (STARTTLS when ``starttls``) or ``smtps://host:port`` (TLS from the
    start); a user and password may be in the URL (from secrets or ``OPS_SMTP_URL``, never the file) or in
    ``OPS_SMTP_USER`` / ``OPS_SMTP_PASSWORD``.
    """

    smtp_url: str | None = None
    sender: str = "identity-ops@localhost"
    starttls: bool = True
    base_url: str = "http://localhost:8501"
    timeout_s: float = 20.0
    #: hosts a webhook may post to (shell patterns): the server makes a request wherever a webhook points
    webhook_hosts: tuple[str, ...] = ("hooks.slack.com", "*.webhook.office.com", "*.logic.azure.com")
    #: the scheduler process (``python -m reports.scheduler``), on the team's clock: the daily digest at
    #: ``daily_at``, the weekly one on ``weekly_on`` at the same time, alerts every ``alerts_every_min``
    daily_at: str = "08:30"
    weekly_on: str = "mon"
    alerts_every_min: int = 5


@dataclass(frozen=True)
class Settings:
    """Resolved, validated configuration of the data layer.

    ``columns`` maps canonical -> source column names: the case columns (:data:`CASE_COLUMNS`) for a
    ``"cases"`` source, the roll-up's columns (:data:`VOLUME_COLUMNS`) for a ``"volume"`` source; names not
    given map to themselves. ``value_maps`` maps, per dimension, our value -> the source's values meaning it.
    """

    url: str
    url_source: str = "sample"
    cases_table: str = "cases"
    schema: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    #: canonical route value -> the source's values meaning it (e.g. {"automated": ["bot", "macro"]})
    route_values: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"manual": ("manual",), "automated": ("automated",)}
    )
    rollup_table: str = "ops_daily_volume"
    rollup_mode: Literal["source", "local"] = "source"
    local_cache_path: Path = LOCAL_CACHE_PATH
    #: where page results are kept across restarts (``[cache] dir`` or ``OPS_CACHE_DIR``, by default beside the
    #: local cache; ``None``: not kept, as for settings made in code; see ``ui.page_cache``)
    page_cache: Path | None = None
    lookback_days: int = 2
    stale_after_hours: float = 36.0
    config_path: Path | None = None
    #: "cases": one row per case (the roll-up is built from it); "volume": a daily volume table is the roll-up
    source_kind: Literal["cases", "volume"] = "cases"
    #: dimension -> {our value: (their values, …)}; values not listed pass through unchanged
    value_maps: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    #: queries running longer are cancelled by the server (PostgreSQL, MariaDB); SQLite waits this long on a lock
    statement_timeout_s: float | None = None
    #: the roll-up refresh's own statements may run this long (a full build of tens of millions of cases)
    refresh_timeout_s: float = 1800.0
    #: the ways to split the cases, in order: the first is the main split (small multiples, SLA targets), the
    #: first two are the scanned slices, the second (or the only one) is the scorecard's rows
    dimensions: tuple[Dimension, ...] = SAMPLE_DIMENSIONS
    #: SLA targets from configuration: hours per value of ``sla_dimension``, and for values not listed
    sla_hours_by: Mapping[str, float] = field(default_factory=dict)
    sla_dimension: str | None = None
    sla_default_hours: float | None = None
    #: the team's time zone: it decides what a day is (the roll-up's days, the stand-up's "yesterday")
    business_timezone: str = "UTC"
    #: how naive timestamps in the source are meant: "UTC", or "local" (already in the business time zone)
    naive_timestamps: Literal["UTC", "local"] = "UTC"
    #: the judgment (``[detector]``): flag above ``threshold`` robust standard deviations, and only a change of
    #: at least ``min_cases`` cases (counts) and ``min_change`` of the expected value (every series)
    threshold: float = 4.0
    min_cases: float = 3.0
    min_change: float = 0.05
    #: the app's own database (``[app_db] url`` or ``OPS_APP_DB_URL``): decks, saved views; never the source
    app_db_url: str = f"sqlite:///{LOCAL_CACHE_PATH.parent / 'app.sqlite'}"
    #: sign-in and roles (``[auth]``, ``[roles]``): who may see which values (``loaders.access``)
    access: Access = field(default_factory=Access)
    #: how digests go out (``[smtp]``, ``[digest]``; ``OPS_SMTP_URL`` overrides the server)
    delivery: Delivery = field(default_factory=lambda: Delivery())

    def __post_init__(self) -> None:
        wanted = self.case_columns if self.source_kind == "cases" else self.volume_columns
        object.__setattr__(self, "columns", {c: dict(self.columns).get(c, c) for c in wanted})

    @property
    def dimension_keys(self) -> tuple[str, ...]:
        """The configured dimensions' keys, in order (the roll-up's primary key after ``day``)."""
        return tuple(d.key for d in self.dimensions)

    def label(self, key: str) -> str:
        """A dimension's display label (``"vendor_site"`` -> ``"Vendor site"``); any other key reads as itself."""
        return next((d.label for d in self.dimensions if d.key == key), default_label(key))

    @property
    def case_columns(self) -> dict[str, tuple[str, bool]]:
        """Canonical case column -> (kind, required), the configured dimensions included."""
        base = list(CASE_COLUMNS.items())
        return dict([*base[:3], *((d, ("text", True)) for d in self.dimension_keys), *base[3:]])

    @property
    def volume_columns(self) -> dict[str, bool]:
        """Canonical column of a daily volume source -> required, the configured dimensions included."""
        return {"day": True, **dict.fromkeys(self.dimension_keys, False),
                **{k: v for k, v in VOLUME_COLUMNS.items() if k != "day"}}

    def plural(self, key: str) -> str:
        """``"Vendor sites"``, ``"Priorities"``: a dimension's label for several of its values (headings, "all …")."""
        label = self.label(key)
        if label.endswith("s"):
            return label
        if len(label) > 1 and label[-1] == "y" and label[-2].lower() not in "aeiou":
            return f"{label[:-1]}ies"  # a consonant and y: priority -> priorities, category -> categories
        return f"{label}s"

    @property
    def everything(self) -> str:
        """No dimension filter, in words: ``"all workflows, vendor sites, channels and languages"``."""
        names = [self.plural(d).lower() for d in self.dimension_keys]
        return "all " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])

    def mapping_line(self, canonical: str) -> str:
        """The configuration line that maps ``canonical`` to a column, for messages."""
        if canonical in self.dimension_keys and self.dimensions != SAMPLE_DIMENSIONS:
            return f'[dimensions] {canonical} = "<your column>"'
        if canonical in self.dimension_keys:
            return (f'[columns] {canonical} = "<your column>", or declare the dimensions your table has under '
                    '[dimensions]')
        return f'[columns] {canonical} = "<your column>"'

    @property
    def sla_from_config(self) -> bool:
        """Whether ``[sla]`` gives targets (used where a case has neither a due time nor a target column)."""
        return bool(self.sla_hours_by) or self.sla_default_hours is not None

    @property
    def is_sample(self) -> bool:
        return self.url_source == "sample"

    @property
    def has_cases(self) -> bool:
        """Whether case rows exist (a ``"volume"`` source has only daily totals)."""
        return self.source_kind == "cases"

    @property
    def source_table(self) -> str:
        """The user's table the dashboard reads (cases or daily volume)."""
        return self.cases_table

    def with_url(self, url: str, *, source: str = "override") -> Settings:
        return replace(self, url=url, url_source=source)

    def source_values(self, dimension: str, ours: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The source's values that mean any of ``ours`` (for filtering the source by an index)."""
        mapping = self.value_maps.get(dimension, {})
        out: list[str] = []
        for value in ours:
            out.append(value)
            out.extend(mapping.get(value, ()))
        return tuple(dict.fromkeys(out))


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except UnicodeDecodeError as err:
        raise ConfigError(f"configuration file {path.name} is not UTF-8 text: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"configuration file {path.name} is not valid TOML: {err}",
            hint="Fix the line named above; see docs/configuration.md for the format.",
        ) from err


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _split_key(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"').strip("'") for part in dotted.split("."))


def locate_key(text: str, key: str) -> int | None:
    """The 1-based line of a dotted ``key`` (or of its nearest enclosing section) in TOML ``text``.

    tomllib reports line numbers only for syntax errors; semantic checks find the line here.

    Parameters
    ----------
    text : str
        The configuration file's text.
    key : str
        Dotted path such as ``"columns.created_at"`` or ``"values.route"``.

    Returns
    -------
    int or None
        ``None`` if neither the key nor any enclosing section appears in the text.

    Examples
    --------
    >>> locate_key('[source]\\ntable = "t"\\n', "source.table")
    2
    """
    path = _split_key(key)
    lines = text.splitlines()
    for n in range(len(path), 0, -1):
        want = path[:n]
        section: tuple[str, ...] = ()
        for number, line in enumerate(lines, start=1):
            header = _HEADER.match(line)
            if header:
                section = _split_key(header.group(1))
                if section == want:
                    return number
                continue
            if "=" not in line or line.lstrip().startswith("#"):
                continue
            left = _split_key(line.split("=", 1)[0].strip())
            if section + left == want:
                return number
    return None


def _section(doc: Mapping[str, Any], name: str, *, path: str | None = None) -> Mapping[str, Any]:
    value = doc.get(name, {})
    where = path or name
    if not isinstance(value, Mapping):
        raise ConfigError(f"`[{where}]` must be a table in the configuration file, got {type(value).__name__}",
                          key=where)
    return value


def _only(section: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(
                f"[{name}] has no setting `{key}`",
                hint=f"Settings of [{name}]: {', '.join(allowed)} (see docs/configuration.md).",
                key=f"{name}.{key}",
            )


def _value_list(vals: Any, *, key: str) -> tuple[str, ...]:
    if isinstance(vals, str):
        vals = [vals]
    if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v for v in vals):
        raise ConfigError(f"`{key}` must be a non-empty string or a list of non-empty strings, got {vals!r}",
                          key=key)
    return tuple(vals)


def _value_maps(values: Mapping[str, Any], dims: tuple[str, ...]
                ) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, tuple[str, ...]]]]:
    _only(values, "values", ("route", *dims))
    route_values: dict[str, tuple[str, ...]] = {"manual": ("manual",), "automated": ("automated",)}
    for key, vals in _section(values, "route", path="values.route").items():
        if key not in route_values:
            raise ConfigError(f"[values.route] keys must be 'manual' or 'automated', got {key!r}",
                              key=f"values.route.{key}")
        route_values[key] = _value_list(vals, key=f"values.route.{key}")
    clash = set(route_values["manual"]) & set(route_values["automated"])
    if clash:
        raise ConfigError(f"[values.route] value(s) {', '.join(sorted(clash))} listed as both manual and automated",
                          key="values.route")
    maps: dict[str, dict[str, tuple[str, ...]]] = {}
    for dim in dims:
        section = _section(values, dim, path=f"values.{dim}")
        seen: dict[str, str] = {}
        mapping: dict[str, tuple[str, ...]] = {}
        for ours, vals in section.items():
            theirs = _value_list(vals, key=f"values.{dim}.{ours}")
            for v in theirs:
                if v in seen and seen[v] != ours:
                    raise ConfigError(
                        f"[values.{dim}] maps {v!r} to both {seen[v]!r} and {ours!r}",
                        hint="Each of your values may map to one of ours only.", key=f"values.{dim}.{ours}",
                    )
                seen[v] = ours
            mapping[ours] = theirs
        if mapping:
            maps[dim] = mapping
    return route_values, maps


#: names a dimension key may not take: URL parameters, chart words, and the roll-up aggregate's own labels
_RESERVED_KEYS = frozenset({"day", "kpi", "split", "grain", "page", "start", "end", "all", "other", "route",
                            "sla_target", "sides", "mapped_cases",
                            # columns of the frames the screens build beside the dimensions' own
                            "name", "state", "observed", "expected", "lower", "upper", "score", "is_anomaly",
                            "direction", "event", "series", "slice", "slice_key", "incident", "severity", "impact",
                            "bad", "abnormal", "link"})


def _dimensions(doc: Mapping[str, Any], kind: str) -> tuple[tuple[Dimension, ...], dict[str, str]]:
    """``[dimensions]``: ``key = "source column"`` or ``key = {column = "…", label = "…"}``, in order.

    Without the section the sample's four dimensions apply, their columns mapped under ``[columns]``.
    Returns the dimensions and their source columns (key -> column).
    """
    if "dimensions" not in doc:
        return SAMPLE_DIMENSIONS, {}
    section = _section(doc, "dimensions")
    if not section or len(section) > MAX_DIMENSIONS:
        raise ConfigError(f"[dimensions] must declare 1 to {MAX_DIMENSIONS} dimensions, got {len(section)}",
                          hint="One line per way to split the cases, e.g. request_type = { column = "
                          "\"service_name\", label = \"Request type\" }.", key="dimensions")
    taken = set(CASE_COLUMNS) | set(MEASURES) | set(VOLUME_COLUMNS) | _RESERVED_KEYS
    dims: list[Dimension] = []
    columns: dict[str, str] = {}
    for key, spec in section.items():
        where = f"dimensions.{key}"
        validate_identifier(key, what=where)
        if key.lower() in taken or key.startswith("ops_"):
            raise ConfigError(f"[dimensions] key {key!r} is a name the dashboard uses for something else",
                              hint="Choose another key (the label is what readers see).", key=where)
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"`{where}` must be a column name or {{ column = \"…\", label = \"…\" }}, "
                              f"got {spec!r}", key=where)
        _only(spec, where, ("column", "label"))
        label = spec.get("label", default_label(key))
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"`{where}.label` must be a non-empty string, got {label!r}", key=where)
        dims.append(Dimension(key, label.strip()))
        columns[key] = validate_identifier(spec.get("column", key), what=f"{where}.column")
    keys = [d.key.lower() for d in dims]
    if len(set(keys)) != len(keys):
        raise ConfigError("[dimensions] declares a key twice (keys are compared without case)", key="dimensions")
    labels = [d.label.lower() for d in dims]
    if len(set(labels)) != len(labels):
        raise ConfigError("[dimensions] gives two dimensions the same label", key="dimensions")
    return tuple(dims), columns


def _number(section: Mapping[str, Any], key: str, *, where: str, positive: bool = True) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (positive and value <= 0):
        raise ConfigError(f"`{where}` must be a number{' > 0' if positive else ''}, got {value!r}", key=where)
    return float(value)


def _sla(doc: Mapping[str, Any], dims: tuple[str, ...]) -> tuple[dict[str, float], str | None, float | None]:
    """``[sla]``: targets in hours per value of one dimension (``[sla.hours]``), and ``default_hours``."""
    sla = _section(doc, "sla")
    _only(sla, "sla", ("dimension", "default_hours", "hours"))
    default = _number(sla, "default_hours", where="sla.default_hours")
    hours_cfg = _section(sla, "hours", path="sla.hours")
    dimension = sla.get("dimension", dims[0] if hours_cfg else None)
    if dimension is not None and dimension not in dims:
        raise ConfigError(f"`sla.dimension` must be one of the dimensions ({', '.join(dims)}), got {dimension!r}",
                          key="sla.dimension")
    hours = {str(v): _number(hours_cfg, v, where=f"sla.hours.{v}") for v in hours_cfg}
    return {k: v for k, v in hours.items() if v is not None}, dimension, default


def _detector(doc: Mapping[str, Any]) -> tuple[float, float, float]:
    """``[detector]``: the flag threshold and the minimum practical effect (cases, share of expected)."""
    det = _section(doc, "detector")
    _only(det, "detector", ("threshold", "min_cases", "min_change"))
    threshold = _number(det, "threshold", where="detector.threshold", positive=True)
    min_cases = _number(det, "min_cases", where="detector.min_cases", positive=False)
    min_change = _number(det, "min_change", where="detector.min_change", positive=False)
    for key, value in (("threshold", threshold), ("min_cases", min_cases)):
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"`detector.{key}` must be a finite number, got {value!r}", key=f"detector.{key}")
    if min_cases is not None and min_cases < 0:
        raise ConfigError(f"`detector.min_cases` must be >= 0, got {min_cases:g}", key="detector.min_cases")
    if min_change is not None and not (0 <= min_change < 1):  # NaN fails this too
        raise ConfigError(f"`detector.min_change` must be a share in [0, 1) such as 0.05 for 5 %, got {min_change:g}",
                          key="detector.min_change")
    return (4.0 if threshold is None else threshold, 3.0 if min_cases is None else min_cases,
            0.05 if min_change is None else min_change)


def _time(doc: Mapping[str, Any]) -> tuple[str, str]:
    """``[time]``: the business time zone (an IANA name) and how the source's naive timestamps are meant."""
    time = _section(doc, "time")
    _only(time, "time", ("timezone", "naive_timestamps"))
    zone = time.get("timezone", "UTC")
    try:
        if not isinstance(zone, str):
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(f"`time.timezone` must be an IANA time zone such as \"Europe/Dublin\" or \"UTC\", "
                          f"got {zone!r}", key="time.timezone") from None
    naive = time.get("naive_timestamps", "UTC")
    if naive not in ("UTC", "local"):
        raise ConfigError(f"`time.naive_timestamps` must be \"UTC\" or \"local\" (in time.timezone), got {naive!r}",
                          key="time.naive_timestamps")
    return zone, naive


def _delivery(doc: Mapping[str, Any], smtp_url: str | None) -> Delivery:
    smtp = _section(doc, "smtp")
    _only(smtp, "smtp", ("url", "from", "starttls", "timeout_s"))
    digest = _section(doc, "digest")
    _only(digest, "digest", ("base_url", "webhook_hosts", "daily_at", "weekly_on", "alerts_every_min"))
    url = smtp_url or smtp.get("url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^smtps?://([^/\s@]+@)?[^/\s:@]+(:\d+)?/?$",
                                                                     url)):
        shown = re.sub(r"//[^/@]*@", "//…@", str(url))  # never the password
        raise ConfigError(f"the SMTP URL must look like smtp://host:587 or smtps://host:465, got {shown!r}"
                          + (" (from OPS_SMTP_URL or secrets)" if smtp_url else ""),
                          key=None if smtp_url else "smtp.url")
    if url and "@" in url.split("://", 1)[1] and not smtp_url:
        raise ConfigError("`smtp.url` in the file must not hold a user or password",
                          hint="Put them in .streamlit/secrets.toml, OPS_SMTP_URL, or OPS_SMTP_USER / "
                          "OPS_SMTP_PASSWORD.", key="smtp.url")
    sender = smtp.get("from", "identity-ops@localhost")
    if not isinstance(sender, str) or sender.count("@") != 1 or any(c in sender for c in "\r\n,;<>"):
        raise ConfigError(f"`smtp.from` must be one e-mail address, got {sender!r}", key="smtp.from")
    starttls = smtp.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError("`smtp.starttls` must be true or false", key="smtp.starttls")
    timeout = _number(smtp, "timeout_s", where="smtp.timeout_s") or 20.0
    base = digest.get("base_url", "http://localhost:8501")
    if not isinstance(base, str) or not re.match(r"^https?://[^\s]+$", base):
        raise ConfigError(f"`digest.base_url` must be the dashboard's address (https://…), got {base!r}",
                          key="digest.base_url")
    hosts = digest.get("webhook_hosts", list(Delivery.webhook_hosts))
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise ConfigError("`digest.webhook_hosts` must be a list of host names or patterns like "
                          "\"hooks.slack.com\"", key="digest.webhook_hosts")
    daily_at = digest.get("daily_at", "08:30")
    if not isinstance(daily_at, str) or not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", daily_at):
        raise ConfigError(f"`digest.daily_at` must be a time as HH:MM, got {daily_at!r}", key="digest.daily_at")
    weekly_on = digest.get("weekly_on", "mon")
    if weekly_on not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        raise ConfigError(f"`digest.weekly_on` must be a day like \"mon\", got {weekly_on!r}",
                          key="digest.weekly_on")
    every = digest.get("alerts_every_min", 5)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 1440:
        raise ConfigError(f"`digest.alerts_every_min` must be whole minutes from 1 to 1440, got {every!r}",
                          key="digest.alerts_every_min")
    return Delivery(url.rstrip("/") if url else url, sender, starttls, base.rstrip("/"), float(timeout),
                    tuple(h.strip().lower() for h in hosts), daily_at, weekly_on, every)


def settings_from_mapping(doc: Mapping[str, Any], *, url: str | None, url_source: str,
                          config_path: Path | None = None, app_db_url: str | None = None,
                          smtp_url: str | None = None, cache_dir: str | None = None) -> Settings:
    """Build :class:`Settings` from a parsed configuration document (see module docstring).

    Parameters
    ----------
    doc : mapping
        The parsed TOML document.
    url : str or None
        A URL from secrets or the environment (wins over ``[source] url``).
    url_source : str
        Where ``url`` came from, for the Data page.
    config_path : Path, optional
        The file ``doc`` was read from.
    app_db_url : str, optional
        The app database's URL from the environment (``OPS_APP_DB_URL``; wins over ``[app_db] url``).
    cache_dir : str, optional
        Where page results are kept, from the environment (``OPS_CACHE_DIR``; wins over ``[cache] dir``).

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        Naming the offending key (``err.key``) for every rule broken.

    Examples
    --------
    >>> settings_from_mapping({"columns": {"created_at": "opened_ts"}}, url=None, url_source="test").columns[
    ...     "created_at"]
    'opened_ts'
    """
    known = ("source", "columns", "dimensions", "values", "rollup", "freshness", "sla", "time", "detector",
             "app_db", "cache", "auth", "roles", "smtp", "digest")
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(f'[{u}]' for u in unknown)} in the configuration file",
            hint=f"Known sections: {', '.join(sorted(known))}.", key=unknown[0],
        )
    source = _section(doc, "source")
    _only(source, "source", ("url", "table", "schema", "kind", "statement_timeout_s"))
    kind = source.get("kind", "cases")
    if kind not in ("cases", "volume"):
        raise ConfigError(f"`source.kind` must be 'cases' or 'volume', got {kind!r}", key="source.kind")
    dimensions, dim_columns = _dimensions(doc, kind)
    keys = tuple(d.key for d in dimensions)
    shape = Settings(url="", source_kind=kind, dimensions=dimensions)
    wanted = shape.case_columns if kind == "cases" else shape.volume_columns
    columns_cfg = _section(doc, "columns")
    declared = [c for c in columns_cfg if c in dim_columns]
    if declared:
        raise ConfigError(f"[columns] maps {declared[0]!r}, a dimension declared under [dimensions]",
                          hint="Give its column once, in [dimensions].", key=f"columns.{declared[0]}")
    bad = [c for c in columns_cfg if c not in wanted]
    if bad:
        raise ConfigError(
            f"[columns] names unknown canonical column(s) for a {kind!r} source: {', '.join(bad)}",
            hint=f"Canonical columns are: {', '.join(c for c in wanted if c not in dim_columns)}"
            + ("; dimensions are declared under [dimensions]." if dim_columns else "."), key=f"columns.{bad[0]}",
        )
    columns = {c: validate_identifier(dim_columns.get(c) or columns_cfg.get(c, c), what=f"columns.{c}")
               for c in wanted}
    route_values, value_maps = _value_maps(_section(doc, "values"), keys)
    sla_hours, sla_dimension, sla_default = _sla(doc, keys)
    zone, naive = _time(doc)
    threshold, min_cases, min_change = _detector(doc)

    rollup = _section(doc, "rollup")
    _only(rollup, "rollup", ("mode", "table", "lookback_days", "local_path", "statement_timeout_s"))
    mode = rollup.get("mode", "source")
    if mode not in ("source", "local"):
        raise ConfigError(f"`rollup.mode` must be 'source' or 'local', got {mode!r}", key="rollup.mode")
    lookback = rollup.get("lookback_days", 2)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
        raise ConfigError(f"`rollup.lookback_days` must be an integer >= 0, got {lookback!r}",
                          key="rollup.lookback_days")
    freshness = _section(doc, "freshness")
    _only(freshness, "freshness", ("stale_after_hours",))
    stale = freshness.get("stale_after_hours", 36.0)
    if isinstance(stale, bool) or not isinstance(stale, int | float) or stale <= 0:
        raise ConfigError(f"`freshness.stale_after_hours` must be a number > 0, got {stale!r}",
                          key="freshness.stale_after_hours")
    timeout = source.get("statement_timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0):
        raise ConfigError(f"`source.statement_timeout_s` must be a number of seconds >= 0 (0: no limit), "
                          f"got {timeout!r}", key="source.statement_timeout_s")
    refresh_timeout = rollup.get("statement_timeout_s", 1800)
    if isinstance(refresh_timeout, bool) or not isinstance(refresh_timeout, int | float) or refresh_timeout <= 0:
        raise ConfigError(f"`rollup.statement_timeout_s` must be a number of seconds > 0, got {refresh_timeout!r}",
                          key="rollup.statement_timeout_s")
    schema = source.get("schema")
    cache = rollup.get("local_path")
    table = validate_identifier(source.get("table", "cases"), what="source.table")
    rollup_name = validate_identifier(rollup.get("table", "ops_daily_volume"), what="rollup.table")
    if rollup_name.lower() in RESERVED_TABLES:
        raise ConfigError(f"`rollup.table` {rollup_name!r} is the name of a table the dashboard keeps beside "
                          "the roll-up", hint="Choose another name.", key="rollup.table")
    if kind == "cases" and mode == "source" and rollup_name.lower() == table.lower():
        raise ConfigError(
            f"`rollup.table` {rollup_name!r} is your cases table: the roll-up needs a table of its own",
            hint="Set [rollup] table to a new name (the default is \"ops_daily_volume\"); the dashboard never "
            "writes to a table it did not create.", key="rollup.table")
    resolved_url = url or source.get("url")
    if resolved_url is not None and not isinstance(resolved_url, str):
        raise ConfigError(f"`source.url` must be a string, got {resolved_url!r}", key="source.url")
    source_url = resolved_url or f"sqlite:///{SAMPLE_DB_PATH}"
    page_cache = _page_cache(_section(doc, "cache"), cache_dir, default=(Path(cache) if cache else LOCAL_CACHE_PATH)
                             .parent / "pages")
    app_db = _section(doc, "app_db")
    _only(app_db, "app_db", ("url",))
    beside_cache = (Path(cache) if cache else LOCAL_CACHE_PATH).parent / "app.sqlite"
    app_url = app_db_url or app_db.get("url") or f"sqlite:///{beside_cache}"
    if not isinstance(app_url, str):
        raise ConfigError(f"`app_db.url` must be a string, got {app_url!r}", key="app_db.url")
    if _same_database(app_url, source_url):
        raise ConfigError("`app_db.url` is the source database: what users create (decks, views) is kept in a "
                          "database of its own", hint="Point [app_db] url (or OPS_APP_DB_URL) at another database, "
                          "or leave it unset for a SQLite file beside the local cache.", key="app_db.url")
    return Settings(
        url=source_url,
        url_source=url_source if url else ("config" if resolved_url else "sample"),
        cases_table=table,
        schema=validate_identifier(schema, what="source.schema") if schema is not None else None,
        columns=columns,
        route_values=route_values,
        rollup_table=rollup_name,
        rollup_mode=mode,
        local_cache_path=Path(cache) if cache else LOCAL_CACHE_PATH,
        page_cache=page_cache,
        lookback_days=lookback,
        stale_after_hours=float(stale),
        config_path=config_path,
        source_kind=kind,
        value_maps=value_maps,
        statement_timeout_s=float(timeout) if timeout is not None else None,
        refresh_timeout_s=float(refresh_timeout),
        dimensions=dimensions,
        sla_hours_by=sla_hours,
        sla_dimension=sla_dimension,
        sla_default_hours=sla_default,
        business_timezone=zone,
        naive_timestamps=naive,
        threshold=threshold,
        min_cases=min_cases,
        min_change=min_change,
        app_db_url=app_url,
        access=access_from_mapping(_section(doc, "auth"), _section(doc, "roles"), keys),
        delivery=_delivery(doc, smtp_url),
    )


def _page_cache(section: Mapping[str, Any], override: str | None, *, default: Path) -> Path | None:
    """Where page results are kept: ``OPS_CACHE_DIR``, else ``[cache] dir``, else beside the local cache;
    ``"off"`` (or an empty ``dir``) keeps none."""
    _only(section, "cache", ("dir",))
    chosen = override if override is not None else section.get("dir", str(default))
    if not isinstance(chosen, str):
        raise ConfigError(f"`cache.dir` must be a string (a directory, or \"off\"), got {chosen!r}", key="cache.dir")
    return None if chosen.strip().lower() in ("", "off") else Path(chosen)


def _same_database(a: str, b: str) -> bool:
    """Whether two URLs name one database (same backend, host, port and database; files compared resolved)."""
    import sqlalchemy as sa

    try:
        ua, ub = sa.make_url(a), sa.make_url(b)
    except (sa.exc.ArgumentError, ValueError):  # a malformed URL is reported where it is used
        return False
    family = {"mariadb": "mysql"}  # one server speaks both names
    backend_a, backend_b = (family.get(u.get_backend_name(), u.get_backend_name()) for u in (ua, ub))
    if backend_a != backend_b:
        return False
    if backend_a == "sqlite":
        return bool(ua.database and ub.database) and Path(ua.database).resolve() == Path(ub.database).resolve()
    default_port = {"postgresql": 5432, "mysql": 3306}.get(backend_a)
    local = {"localhost", "127.0.0.1", "::1", ""}

    def where(u: sa.URL) -> tuple[str, int | None, str]:
        host = (u.host or "").lower()
        return ("localhost" if host in local else host, u.port or default_port, (u.database or "").lower())

    return where(ua) == where(ub)


def config_file(environ: Mapping[str, str] | None = None, config_path: Path | str | None = None) -> Path:
    """The configuration file in use: ``config_path``, else ``OPS_CONFIG``, else ``ops.toml`` beside the app."""
    environ = os.environ if environ is None else environ
    named = config_path or environ.get("OPS_CONFIG")
    return Path(named) if named else PROJECT_ROOT / "ops.toml"


def load_settings(secrets: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
                  config_path: Path | str | None = None) -> Settings:
    """Resolve settings from secrets, environment and the configuration file.

    Parameters
    ----------
    secrets : mapping, optional
        Streamlit secrets as a plain mapping; ``secrets["connections"]["ops"]["url"]`` wins if present.
    environ : mapping, optional
        Defaults to ``os.environ``; reads ``OPS_DB_URL``, ``OPS_CONFIG``, ``OPS_APP_DB_URL``, ``OPS_CACHE_DIR``
        and ``OPS_SMTP_URL``.
    config_path : path, optional
        Configuration file; defaults to ``OPS_CONFIG`` or ``ops.toml`` in the project root if it exists.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        If the configuration file is missing (when named explicitly), not TOML, or breaks a rule; the
        message starts with ``<file> line <n>:`` when the offending line can be found.

    Examples
    --------
    >>> load_settings(environ={"OPS_DB_URL": "sqlite:///ops.sqlite"}).url_source  # doctest: +SKIP
    'environment'
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
    path = config_file(environ, config_path)
    if named and not path.exists():
        raise ConfigError(
            f"configuration file {path} does not exist",
            hint="Set OPS_CONFIG to an existing TOML file, or unset it to use the defaults.",
        )
    doc, text = _read_toml(path) if path.exists() else ({}, "")
    try:
        smtp_secret = None
        try:
            smtp_secret = secrets["smtp"]["url"] if secrets else None  # type: ignore[index]
        except (KeyError, TypeError):
            smtp_secret = None
        return settings_from_mapping(doc, url=url, url_source=source, config_path=path if path.exists() else None,
                                     app_db_url=environ.get("OPS_APP_DB_URL") or None,
                                     cache_dir=environ.get("OPS_CACHE_DIR"),
                                     smtp_url=environ.get("OPS_SMTP_URL") or smtp_secret or None)
    except ConfigError as err:
        line = locate_key(text, err.key) if err.key and text else None
        where = f"{path.name} line {line}: " if line else (f"{path.name}: " if text else "")
        raise ConfigError(f"{where}{err}", hint=err.hint or "See docs/configuration.md for every setting.",
                          key=err.key, line=line) from err


def fallback_access(environ: Mapping[str, str] | None = None) -> Access | None:
    """Sign-in read on its own, for when the rest of the configuration is broken: the ``[auth]`` and ``[roles]``
    sections alone. ``None`` when even they cannot be read and the file mentions them (nothing may be shown:
    the pages cannot tell who is an admin); a file that does not mention them means sign-in is off."""
    path = config_file(environ)
    if not path.exists():
        return Access()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None if re.search(r"^\s*\[\s*(auth|roles)\b", text, re.MULTILINE) else Access()
    try:
        dims = tuple(_dimensions(doc, _section(doc, "source").get("kind", "cases"))[0])
        keys = tuple(d.key for d in dims)
    except (ConfigError, AttributeError):
        keys = tuple(d.key for d in SAMPLE_DIMENSIONS)
    try:
        return access_from_mapping(_section(doc, "auth"), _section(doc, "roles"), keys)
    except (ConfigError, AttributeError):
        return None


def secrets_file(path: Path | None = None) -> dict[str, Any]:
    """``.streamlit/secrets.toml`` as the app reads it, for a command run without the app (the weekly deck, the
    digest): the source URL and the SMTP account may be kept there. ``{}`` when there is none."""
    for candidate in ([path] if path else [Path.cwd() / ".streamlit" / "secrets.toml",
                                           PROJECT_ROOT / ".streamlit" / "secrets.toml"]):
        if candidate.is_file():
            try:
                return tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
                raise ConfigError(f"{candidate.name} cannot be read: {type(err).__name__}",
                                  hint="Fix the secrets file (TOML).") from None
    return {}

