"""Per-column checks of the source for the Data page: present, type, null share, ranges, unknown values.

The checks read a recent window of the source (``days`` of ``created_at``, an indexed range) so they stay
fast on tables of tens of millions of rows; a volume source is small and read whole. Each problem found
comes with the exact change that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from loaders.cases import newest_case
from loaders.clock import utcnow
from loaders.engine import translate_error
from loaders.errors import SchemaMismatch
from loaders.rollup import NONE_VALUE, BadRows, find_bad_rows
from loaders.schema import reflect_columns, type_kind
from loaders.settings import Settings

__all__ = ["SourceReport", "check_source"]

_RANGES = {"handle_time_s": (0, None), "sla_hours": (0, None), "csat": (1, 5), "qa_score": (0, 100),
           "escalated": (0, 1), "reopened": (0, 1)}


@dataclass(frozen=True)
class SourceReport:
    """What :func:`check_source` found.

    ``columns`` has one row per canonical column: ``column`` (ours), ``source`` (theirs), ``required``,
    ``present``, ``type``, ``expected``, ``null_share``, ``min``, ``max``, ``ok`` and ``note``.
    ``unknown`` maps a dimension (or ``route``) to source values no mapping covers.
    """

    table: str
    window: str
    rows: int
    rows_in_window: int
    newest: datetime | None
    columns: pd.DataFrame
    unknown: dict[str, list[str]] = field(default_factory=dict)
    fixes: list[str] = field(default_factory=list)
    #: rows of the window the roll-up leaves out (or rolls up as "(none)"), with example case ids
    bad_rows: BadRows | None = None


def share_text(count: int, total: int) -> str:
    """``count`` of ``total`` in words that never round a real count away (``1 of 61,170 rows (<0.1 %)``)."""
    share = count / total if total else 0.0
    pct = "<0.1 %" if 0 < share < 0.001 else f"{share:.1%}".replace("%", " %")
    return f"{count:,} of {total:,} rows ({pct})"


def _expected(settings: Settings, name: str) -> str:
    if settings.source_kind == "cases":
        kind = settings.case_columns[name][0]
        return {"id": "any", "timestamp": "timestamp", "number": "number", "text": "text"}[kind]
    return "date" if name == "day" else "text" if name in settings.dimension_keys else "number"


def _without(name: str, present: set[str], settings: Settings) -> str:
    """What an absent optional column means: its measures read as empty, unless the SLA is judged another way."""
    other = {"sla_hours": "sla_due_at", "sla_due_at": "sla_hours"}.get(name)
    if other in present:
        return f"the SLA is judged by {other}"
    if other and settings.sla_from_config:
        return "the SLA is judged by the [sla] targets"
    return "its measures read as empty"


def check_source(engine: Engine, settings: Settings, *, days: int = 35, now: datetime | None = None,
                 max_values: int = 50) -> SourceReport:
    """Check every mapped column of the source and list what to change.

    Parameters
    ----------
    engine : Engine
        The source database.
    settings : Settings
    days : int
        Window of recent ``created_at`` (cases) checked for nulls, ranges and values (>= 1).
    now : datetime, optional
        End of the window and the limit for "in the future" (naive UTC; default now).
    max_values : int
        Most distinct unknown values reported per dimension.

    Returns
    -------
    SourceReport

    Raises
    ------
    SchemaMismatch
        If the table does not exist.
    SourceUnavailable, QueryFailed
        If the database does not answer.
    """
    if days < 1:
        raise ValueError(f"`days` must be >= 1, got {days}")
    now = now or utcnow()
    reflected = reflect_columns(engine, settings)
    cases = settings.source_kind == "cases"
    wanted = {c: req for c, (_, req) in settings.case_columns.items()} if cases else settings.volume_columns
    dims = settings.dimension_keys
    present = {c for c in wanted if settings.columns[c].lower() in reflected}
    # one Column per source column (a column may serve two roles), each role reading it under its own key
    source_cols: dict[str, sa.Column] = {}
    for c in sorted(present):
        source_cols.setdefault(settings.columns[c].lower(), sa.Column(settings.columns[c], key=c))
    base = sa.Table(settings.cases_table, sa.MetaData(), *source_cols.values(), schema=settings.schema)
    table = sa.select(*(base.c[source_cols[settings.columns[c].lower()].key].label(c) for c in sorted(present))) \
        .subquery("checked") if len(source_cols) < len(present) else base
    where: list[sa.ColumnElement] = []
    window = "all rows"
    top = None
    if cases and "created_at" in present:
        # the window ends at the newest case (an indexed MAX), so an old extract is still checked
        top = newest_case(engine, settings=settings)
        end = min(top, now) if top is not None else now
        where = [table.c.created_at >= end - timedelta(days=days)]
        window = f"cases created in the {days} days up to {end:%Y-%m-%d}"
    stats: list[sa.ColumnElement] = [sa.func.count().label("n")]
    for c in sorted(present):
        stats.append(sa.func.count(table.c[c]).label(f"nn_{c}"))
        if c not in dims and c not in ("route", "case_id"):
            # PostgreSQL has no min()/max() of a boolean (a 0/1 flag such as IsEscalated): read it as 0/1
            boolean = isinstance(reflected[settings.columns[c].lower()]["type"], sa.Boolean)
            value = sa.cast(table.c[c], sa.Integer) if boolean else table.c[c]
            stats += [sa.func.min(value).label(f"lo_{c}"), sa.func.max(value).label(f"hi_{c}")]
    newest_col = "created_at" if cases else "day"
    try:
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0
            row = conn.execute(sa.select(*stats).where(*where)).mappings().one()
            newest = (conn.execute(sa.select(sa.func.max(table.c[newest_col]))).scalar()
                      if newest_col in present else None)
            unknown: dict[str, list[str]] = {}
            for d in (*dims, "route"):
                mapping = (settings.route_values if d == "route" else settings.value_maps.get(d))
                if d not in present or not mapping:
                    continue
                covered = {v for theirs in mapping.values() for v in theirs} | set(mapping)
                found = conn.execute(sa.select(table.c[d]).where(*where).distinct().limit(10_000)).scalars().all()
                extra = sorted(str(v) for v in found if v is not None and str(v) not in covered)
                if extra:
                    unknown[d] = extra[:max_values]
    except DBAPIError as err:
        raise translate_error(err, doing="checking the source's columns") from err
    n = int(row["n"])
    records, fixes = [], []
    for c, required in wanted.items():
        source = settings.columns[c]
        col = reflected.get(source.lower())
        rec = {"column": c, "source": source, "required": required, "present": col is not None,
               "type": str(col["type"]) if col is not None else "", "expected": _expected(settings, c),
               "null_share": None, "min": None, "max": None, "ok": True, "note": ""}
        if col is None:
            rec["ok"] = not required
            rec["note"] = "missing" + ("" if required else f" (optional: {_without(c, present, settings)})")
            if required:
                fixes.append(f"Map `{c}`: add {settings.mapping_line(c)} in the configuration file.")
            records.append(rec)
            continue
        kind = type_kind(col["type"])
        expected = rec["expected"]
        sqlite_text_time = engine.dialect.name == "sqlite" and kind == "text" and expected in ("timestamp", "date")
        if expected != "any" and kind != expected and not sqlite_text_time and expected != "text" \
                and not (expected == "date" and kind == "timestamp"):
            rec["ok"] = False
            rec["note"] = f"type {col['type']} is not a {expected}"
            fixes.append(f"`{source}` (for `{c}`) is {col['type']}: map a {expected} column with "
                         f"[columns] {c} = \"…\", or cast it in a view.")
        if n:
            empty = n - int(row[f"nn_{c}"])
            rec["null_share"] = empty / n
            if empty and c in dims:
                rec["note"] = f"{share_text(empty, n)} empty: rolled up as {NONE_VALUE}"
                fixes.append(f"`{source}` (for `{c}`) is empty in {share_text(empty, n)}: they count under "
                             f"{NONE_VALUE}; fill it at the source to place them.")
            elif empty and required:
                rec["ok"] = False
                rec["note"] = f"{share_text(empty, n)} empty"
                left_out = " and are left out of every KPI" if c == "created_at" else ""
                fixes.append(f"`{source}` (for `{c}`) is empty in {share_text(empty, n)}: those rows cannot be "
                             f"counted correctly{left_out}; fill it at the source.")
        if f"lo_{c}" in row:
            rec["min"], rec["max"] = row[f"lo_{c}"], row[f"hi_{c}"]
            bounds = _RANGES.get(c)
            try:
                if bounds and rec["min"] is not None and bounds[0] is not None and float(rec["min"]) < bounds[0]:
                    rec["ok"] = False
                    rec["note"] = f"values below {bounds[0]}"
                    fixes.append(f"`{source}` (for `{c}`) has values below {bounds[0]} (min {rec['min']}).")
                if bounds and rec["max"] is not None and bounds[1] is not None and float(rec["max"]) > bounds[1]:
                    rec["ok"] = False
                    rec["note"] = f"values above {bounds[1]}"
                    fixes.append(f"`{source}` (for `{c}`) has values above {bounds[1]} (max {rec['max']}).")
            except (TypeError, ValueError):
                pass
            if c in ("created_at", "solved_at", "day") and rec["max"] is not None:
                latest = pd.to_datetime(rec["max"], errors="coerce")
                if latest is not pd.NaT and latest.tzinfo is not None:  # a zoned column (timestamptz): as UTC
                    latest = latest.tz_convert("UTC").tz_localize(None)
                if latest is not pd.NaT and latest > pd.Timestamp(now) + pd.Timedelta(days=1):
                    rec["ok"] = False
                    rec["note"] = f"values in the future (max {rec['max']})"
                    fixes.append(f"`{source}` (for `{c}`) has values in the future: are they UTC?")
        records.append(rec)
    for d, values in unknown.items():
        if d == "route":
            fixes.append(f"{len(values)} route value(s) are neither manual nor automated ({', '.join(values[:5])}"
                         f"…): they count as automated. List them under [values.route].")
        else:
            fixes.append(f"{len(values)} {d.replace('_', ' ')} value(s) are not mapped ({', '.join(values[:5])}): "
                         f"they show under their own names. Add them under [values.{d}].")
    bad = None
    if cases and "created_at" in present:
        # the whole table, not the window: a bad row from last year is missing from last year's numbers
        try:
            bad = find_bad_rows(engine, settings)
        except SchemaMismatch:  # a column of the wrong type: already listed above
            bad = BadRows(int(total))
        by_column = {reason.split(" ", 1)[0]: (reason, k) for reason, k in bad.counts.items()}
        for rec in records:
            if rec["column"] in by_column:
                reason, k = by_column[rec["column"]]
                rec["ok"] = False
                rec["note"] = f"{reason} in {share_text(k, bad.rows)}: left out of every KPI"
        for reason, k in bad.counts.items():
            ids = ", ".join(bad.examples.get(reason, ()))
            fixes.append(f"{share_text(k, bad.rows)} of the whole table: {reason} (e.g. case {ids}); those rows "
                         "are left out of every KPI and case list until fixed at the source.")
    if total == 0:
        fixes.append("The table is empty: load data, or import a file below.")
    frame = pd.DataFrame.from_records(records)
    if not any(r["present"] for r in records):
        raise SchemaMismatch(f"table `{settings.cases_table}` has none of the mapped columns",
                             hint="Check [source] table and the [columns] section.")
    if cases:
        newest = top
    elif isinstance(newest, str):
        newest = pd.Timestamp(newest).to_pydatetime()
    elif newest is not None and not isinstance(newest, datetime):
        newest = datetime.combine(newest, datetime.min.time())
    return SourceReport(settings.cases_table, window, int(total), n, newest, frame, unknown, fixes, bad)
