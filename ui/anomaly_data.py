"""Cached anomaly data for the pages: the ranked scan, one series' detector frame, known events.

Known events (masked from the fit, never flagged, drawn on charts) come from two places:

* **events CSVs**, optional (``metrics.events.events_paths``, all read and combined): the team's own — the file
  named by the environment variable ``OPS_EVENTS``, else ``events.csv`` beside the configuration file
  (``ops.toml``) — and ``<stem>.events.csv`` beside a SQLite source, where ``python -m sample_data.build`` writes
  the sample's holidays, each with the working day after it (the catch-up day). Columns: ``start`` (or ``day``),
  optional ``end`` (inclusive; default = start), ``name``, and optional scope columns
  ``workflow`` / ``vendor_site`` (empty = everywhere). A scoped event excuses only the series
  of that value and the series containing it (a Manila holiday excuses Manila and the total,
  not Dublin).
* **notes marked as known events** (``ui.notes``), from the app database.

An events *table* in the database is not read: events are few, edited by hand, and a CSV keeps
the data layer read-only.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loaders import Filters
from metrics.anomalies import detect
from metrics.events import EVENT_COLUMNS, events_for, events_paths, known_events, read_events_csv, relative_to
from metrics.kpis import compute_kpis, get_kpi
from metrics.panel import (
    HISTORY_DAYS,
    JUDGED_WINDOW,
    MIN_DAILY_CASES,
    Panel,
    Scored,
    history_for,
    holiday_events,
    judging_start,
    kpi_panel,
    score_panel,
)
from metrics.slices import Slice
from ui.data import DataContext, bounds, cached, newest_complete_day, volume
from ui.links import drilldown_link
from ui.notes import event_frame

__all__ = [
    "EVENT_COLUMNS",
    "anomalies",
    "chosen_row",
    "events",
    "expected_band",
    "holiday_events",
    "list_table",
    "narrow",
    "panel",
    "read_events_csv",
    "series_frame",
]



@cached(entries=8)
def _events(ctx: DataContext, files: tuple[tuple[str, float], ...]) -> pd.DataFrame:
    return known_events(ctx.scan_dims, paths=[Path(p) for p, _mtime in files])


def events(ctx: DataContext, filters: Filters | None = None) -> pd.DataFrame:
    """Known events: the events CSVs (``metrics.events.events_paths``) and the notes marked as known events.

    Notes marked as known events (``ui.notes``) are added, and events of values outside the user's scope are
    left out. With ``filters``, the events are made relative to what the data read under them holds: a
    dimension fixed to one value (by the filters or the user's scope) is no longer a scope, so an event pinned
    to that value applies to every series read (they all are within it) and one pinned to another value to
    none. That way a partner's panel and an admin's panel filtered to the same sites are judged alike.

    Returns
    -------
    pd.DataFrame
        Columns ``start, end, name`` and one per scanned dimension (``workflow, vendor_site`` in the
        sample; null = everywhere).

    Raises
    ------
    ValueError
        If the events CSV is malformed (see :func:`read_events_csv`) or missing when named by
        ``OPS_EVENTS``.
    """
    paths = events_paths(ctx.settings.config_path, source_url=ctx.settings.url)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"the events file named by OPS_EVENTS does not exist: {missing[0].name}")
    # keyed by each file's modification time: an edited events file is read again at once
    found = _events(ctx, tuple((str(p), p.stat().st_mtime) for p in paths))
    noted = event_frame(ctx.scan_dims, ctx.scope)
    if not noted.empty:
        found = pd.concat([found, noted], ignore_index=True).sort_values("start", kind="stable")
    # a partner sees no event of another partner's values (an event for every value is for it too)
    for d, allowed in ctx.scope.limits:
        if d in found.columns:
            found = found[found[d].isna() | found[d].isin(allowed)]
    if filters is not None:
        found = relative_to(found, {d: v[0] for d, v in ctx.scope.restrict(filters).dimension_filters.items()
                                    if len(v) == 1})
    return found.reset_index(drop=True)


@cached(entries=8, shared=True)
def _panel(ctx: DataContext, dims: Filters, end: date, history_days: int) -> Panel:
    start = judging_start(*bounds(ctx), end, history_days=history_days)  # one start for every screen
    parts = volume(ctx, dims.with_range(start, end), by=ctx.scan_dims)
    return kpi_panel(parts, by=ctx.scan_dims)


def panel(ctx: DataContext, filters: Filters, *, end: date, history_days: int = 730) -> Panel:
    """Every KPI × slice series over ``history_days`` ending at ``end`` (dimension filters apply)."""
    if history_days < 1:
        raise ValueError(f"`history_days` must be >= 1, got {history_days}")
    return _panel(ctx, filters.with_range(end, end), end, int(history_days))




@cached(entries=8, shared=True)
def _scored(ctx: DataContext, dims: Filters, end: date, history_days: int) -> Scored:
    judgment = ctx.settings
    found = score_panel(panel(ctx, dims, end=end, history_days=history_days), events=events(ctx, dims),
                        threshold=judgment.threshold, min_cases=judgment.min_cases, min_change=judgment.min_change)
    if found.scores is not None:  # one object for every caller: nobody may change it
        for value in vars(found.scores).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
    return found


def scored(ctx: DataContext, filters: Filters, *, end: date, history_days: int = HISTORY_DAYS) -> Scored:
    """The one judgment: every KPI × slice series under the filters, judged on every day up to ``end``.

    Every screen that states an expected value, a band or a flag reads it from here (see
    ``metrics.panel.score_panel``). Cached across sessions per data version, filters and end day.
    """
    return _scored(ctx, filters.with_range(end, end), end, int(history_days))


@cached(entries=16, stored=True)
def _anomalies(ctx: DataContext, dims: Filters, day: date, days: int, history_days: int) -> pd.DataFrame:
    found = scored(ctx, dims, end=day, history_days=history_days).flags(days=days)
    found["link"] = pd.Series([drilldown_link(k, d.date(), s) for k, d, s in
                               zip(found["kpi"], found["day"], found["slice"], strict=True)],
                              index=found.index, dtype=str)
    return found


def anomalies(ctx: DataContext, filters: Filters, *, day: date, days: int = 1,
              history_days: int | None = None) -> pd.DataFrame:
    """The ranked flags on ``[day - days + 1, day]``, every KPI × slice scored causally.

    Parameters
    ----------
    ctx : DataContext
    filters : Filters
        Its dimension filters apply (they narrow every series); its date range does not.
    day : date, keyword-only
        Newest day to report.
    days : int, keyword-only
        How many days up to ``day`` to report (>= 1).
    history_days : int, keyword-only
        History the series are built from, ending at ``day`` (default: :func:`history_for` ``days``).

    Returns
    -------
    pd.DataFrame
        ``metrics.panel.scan_panel`` output (``series, kpi, day, observed, expected, lower, upper,
        score, direction, impact, severity, bad, event, incident, slice, slice_key, kpi_label, unit,
        decimals``) plus ``link`` (the drill-down URL), ranked by severity.

    Raises
    ------
    ValueError
        If ``days`` < 1; ``metrics.anomalies.InsufficientHistoryError`` (a ``ValueError``) when
        the data holds less than ~5 weeks before ``day``.
    """
    if days < 1:
        raise ValueError(f"`days` must be >= 1, got {days}")
    history = history_for(days) if history_days is None else int(history_days)
    return _anomalies(ctx, filters.with_range(day, day), day, int(days), history)


def series_frame(ctx: DataContext, filters: Filters, *, kpi: str, slice: dict[str, str],
                 end: date, history_days: int = HISTORY_DAYS) -> pd.DataFrame:
    """The judged series of one KPI × slice (the scan's own numbers, for charts).

    A slice of the scanned dimensions is read from :func:`scored`; any other slice (the drill-down can narrow
    by a third dimension) is judged alone by the same detector, with the KPI's series kind, its volume and
    the known events that apply to it.

    Returns
    -------
    pd.DataFrame
        ``observed, expected, trend, seasonal, resid, lower, upper, score, is_anomaly, direction,
        event`` on the daily index.

    Raises
    ------
    ValueError
        If the series does not exist under the filters, is too short to be scored, or too small to judge.
    """
    if set(slice) <= set(ctx.scan_dims):
        return _judged_series(ctx, filters.with_range(end, end), kpi, Slice.of(slice).key, end, int(history_days))
    return _alone(ctx, filters.with_range(end, end).narrowed(**slice), kpi, end, int(history_days), dict(slice))


@cached(entries=64, stored=True)
def _judged_series(ctx: DataContext, dims: Filters, kpi: str, slice_key: str, end: date,
                   history_days: int) -> pd.DataFrame:
    # one series of the scored panel, kept on its own: a cold page reads it without judging the panel again
    sid = (kpi, slice_key)
    data = scored(ctx, dims, end=end, history_days=history_days)
    if data.has(sid):
        return data.series(sid)
    where = Slice.parse(slice_key).words(ctx.dimensions)
    if sid in data.panel.kinds:
        raise ValueError(f"{where} is too small to judge: fewer than "
                         f"{data.min_daily_cases:g} case a day over the last {JUDGED_WINDOW // 7} weeks")
    raise ValueError(f"no {kpi} series for {where} in the data (a filter may exclude it)")


@cached(entries=32)
def _alone(ctx: DataContext, narrowed: Filters, kpi: str, end: date, history_days: int,
           _slice: dict[str, str]) -> pd.DataFrame:  # the slice is in ``narrowed``: not hashed twice
    start = judging_start(*bounds(ctx), end, history_days=history_days)
    parts = volume(ctx, narrowed.with_range(start, end))
    spec = get_kpi(kpi)
    size = parts[spec.volume].iloc[-JUDGED_WINDOW:].mean() if len(parts) else 0.0
    if not size >= MIN_DAILY_CASES:
        raise ValueError(f"{Slice.of(_slice).words(ctx.dimensions)} is too small to judge: fewer than "
                         f"{MIN_DAILY_CASES:g} case a day over the last {JUDGED_WINDOW // 7} weeks")
    values = compute_kpis(parts, kpis=[kpi])[kpi]
    judgment = ctx.settings
    return detect(values, 7, kind=spec.series_kind, volume=parts[spec.volume],
                  events=events_for(events(ctx, narrowed), _slice, kpi), threshold=judgment.threshold,
                  min_cases=judgment.min_cases, min_change=judgment.min_change)


def warm(ctx: DataContext) -> None:
    """Compute what the Anomalies page opens on — the newest day's flags and the chart of the first — before
    anyone asks (``ui.data.WARMERS``)."""
    day = newest_complete_day(ctx)
    unfiltered = Filters(day, day)
    found = anomalies(ctx, unfiltered, day=day, days=1)
    if len(found):
        top = found.iloc[0]
        flag_series(ctx, unfiltered, kpi=str(top["kpi"]), slice=dict(top["slice"]), day=top["day"].date())


#: a flagged day's chart: the days after it shown (as far as the data goes), and the history it is judged on
FLAG_AFTER_DAYS = 28
FLAG_HISTORY_DAYS = 180


def flag_series(ctx: DataContext, filters: Filters, *, kpi: str, slice: dict[str, str], day: date) -> pd.DataFrame:
    """The judged series a flagged day is shown in (the Anomalies page): :func:`series_frame` up to
    :data:`FLAG_AFTER_DAYS` after the day."""
    end = min(day + timedelta(days=FLAG_AFTER_DAYS), newest_complete_day(ctx))
    return series_frame(ctx, filters, kpi=kpi, slice=slice, end=end, history_days=FLAG_HISTORY_DAYS)


def not_judged_text(found: pd.DataFrame) -> str:
    """What the scan left out, in words ("" when it judged every series)."""
    n = int(found.attrs.get("not_judged", 0))
    if not n:
        return ""
    floor = float(found.attrs.get("min_daily_cases", MIN_DAILY_CASES))
    return (f"{n:,} of {n + int(found.attrs.get('judged', 0)):,} series were not judged: their slice had fewer than "
            f"{floor:g} case{'s' if floor != 1 else ''} a day over the last {JUDGED_WINDOW // 7} weeks, too few to "
            "tell a spike from chance; their parent slices were judged.")


def list_table(found: pd.DataFrame) -> pd.DataFrame:
    """The list as shown: one row per flag given, values formatted in each KPI's unit."""
    from metrics.kpis import get_kpi

    def fmt(k: str, v: float) -> str:
        return get_kpi(k).format(v)

    change = [get_kpi(k).format_change(o, e) or "–" for k, o, e in
              zip(found["kpi"], found["observed"], found["expected"], strict=True)]
    return pd.DataFrame({
        "Severity": found["incident_severity"].round(1),
        "KPI": found["kpi_label"],
        "Slice": [Slice.of(s).words() for s in found["slice"]],
        "Date": found["day"].dt.date,
        "Observed": [fmt(k, v) for k, v in zip(found["kpi"], found["observed"], strict=True)],
        "Expected": [fmt(k, v) for k, v in zip(found["kpi"], found["expected"], strict=True)],
        "Change": change,
        "Direction": found["direction"].where(found["bad"], found["direction"] + " (good)"),
        "Score": found["score"].round(1),
        "Days": found["run"],
        "Cases off": found["impact"].round(0),
        "Incident": found["incident"],
        "Related": found["related"],
    }).reset_index(drop=True)


def narrow(found: pd.DataFrame, *, kpis: tuple[str, ...] = (),
           chosen: dict[str, tuple[str, ...]] | None = None, bad_only: bool = False) -> pd.DataFrame:
    """Keep the flags of the chosen KPIs and slices (empty choice = all).

    ``chosen`` maps a dimension to the values kept: a workflow (site) choice keeps the series of that
    workflow (site), split or not by the other dimension; the totals and the other dimension's slices are
    dropped.
    """
    keep = pd.Series(True, index=found.index)
    if kpis:
        keep &= found["kpi"].isin(kpis)
    for dim, chosen_values in (chosen or {}).items():
        if chosen_values:
            keep &= pd.Series([s.get(dim) in chosen_values for s in found["slice"]], index=found.index)
    if bad_only:
        keep &= found["bad"]
    return found[keep]


def chosen_row(selection: Any, n_rows: int) -> int | None:
    """The row the user picked in the list (``st.dataframe`` selection state); None when nothing (still) is."""
    rows = []
    if selection is not None:
        sel = selection.get("selection", {}) if isinstance(selection, dict) else getattr(selection, "selection", {})
        rows = sel.get("rows", []) if isinstance(sel, dict) else getattr(sel, "rows", [])
    row = int(rows[0]) if rows else None
    return row if row is not None and 0 <= row < n_rows else None


def expected_band(ctx: DataContext, filters: Filters, *, kpi: str,
                  slice: dict[str, str] | None = None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The expected value and range (``expected``, ``lower``, ``upper``) and the flagged points of a series over
    the filters' range.

    For the Trends chart: ``(band, flags)`` on the days of ``filters``, or ``(None, None)`` when the
    series cannot be scored (too little history before the range end).
    """
    try:
        detected = series_frame(ctx, filters, kpi=kpi, slice=slice or {}, end=filters.end,
                                history_days=history_for(filters.days))
    except ValueError:
        return None, None
    shown = detected.loc[pd.Timestamp(filters.start):]
    return shown[["expected", "lower", "upper"]], shown[shown["is_anomaly"]]
