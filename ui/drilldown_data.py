"""Cached data for the Drill-down page (keyed by the data context and the view's state); figures are in
``charts/drilldown.py``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

import loaders
from charts.export import csv_bytes
from loaders import Filters
from metrics.drilldown import Analysis, DrilldownState, analyse, case_side
from metrics.kpis import get_kpi
from metrics.slices import Slice
from ui.anomaly_data import series_frame
from ui.data import DataContext, cached, volume

__all__ = [
    "WEEKS",
    "analysis",
    "case_count",
    "case_page",
    "case_table",
    "cases_csv",
    "decomposition",
    "slice_filters",
]

WEEKS = 8  # same weekdays in the baseline and the overlay


def slice_filters(state: DrilldownState, start: date, end: date) -> Filters:
    """The state's slice as loader filters over ``[start, end]``."""
    return Filters(start, end).narrowed(**state.filters) if state.slice else Filters(start, end)


def decomposition(ctx: DataContext, state: DrilldownState, first: date) -> pd.DataFrame:
    """The slice's judged series up to the day (observed, trend, seasonal, resid, expected, band, flags): the
    one judgment the stand-up and the Anomalies page state (``ui.anomaly_data.series_frame``), not a second
    model. The sidebar's filters do not apply: the slice is the whole selection."""
    return series_frame(ctx, Filters(first, state.day), kpi=state.kpi, slice=state.filters, end=state.day)


@cached(entries=64)
def analysis(ctx: DataContext, state: DrilldownState, expected_total: float | None) -> Analysis:
    """Leaves, baseline and root causes for the state (see :func:`metrics.drilldown.analyse`)."""
    parts = volume(ctx, slice_filters(state, state.day - timedelta(days=7 * WEEKS), state.day), by=ctx.dimensions,
                   backlog=get_kpi(state.kpi).kind == "stock")
    if parts.empty:
        raise ValueError(f"no data for {Slice.of(state.filters).words()} around {state.day}")
    return analyse(parts, state.kpi, state.day, dimensions=ctx.dimensions, slice=state.filters, weeks=WEEKS,
                   expected_total=expected_total)


@cached(entries=64)
def case_page(ctx: DataContext, state: DrilldownState, *, order_by: str, descending: bool, limit: int,
              offset: int) -> pd.DataFrame:
    """One page of the cases behind the view (bound filters, sorted in the database)."""
    cases = loaders.load_cases(ctx.source, settings=ctx.settings, filters=slice_filters(state, state.day, state.day),
                               day=state.day, side=case_side(get_kpi(state.kpi)), order_by=order_by,
                               descending=descending, limit=limit, offset=offset, scope=ctx.scope)
    # times on the team's clock, the one that put each case on this day (the list and its CSV alike)
    for col in ("created_at", "solved_at", "sla_due_at"):
        if col in cases.columns:
            cases[col] = loaders.clock.local_column(ctx.settings, cases[col])
    return cases


def sortable_columns(ctx: DataContext) -> tuple[str, ...]:
    """The case columns the source has, to sort the case list by."""
    return loaders.case_columns(ctx.source, settings=ctx.settings)


@cached(entries=64)
def case_count(ctx: DataContext, state: DrilldownState) -> int:
    """How many cases stand behind the view."""
    return loaders.count_cases(ctx.source, settings=ctx.settings, filters=slice_filters(state, state.day, state.day),
                               day=state.day, side=case_side(get_kpi(state.kpi)), scope=ctx.scope)


def cases_csv(ctx: DataContext, state: DrilldownState, *, order_by: str, descending: bool) -> bytes:
    """Up to 10,000 cases behind the view as CSV (called only when the download is clicked; formulas defused)."""
    frame = case_page(ctx, state, order_by=order_by, descending=descending, limit=10_000, offset=0)
    return csv_bytes(frame)


def case_table(cases: pd.DataFrame, *, zone: str = "UTC") -> tuple[pd.DataFrame, dict[str, Any]]:
    """One page of cases as shown: column config with units, an age column, flags as ticks.

    Raw floats (``494.6231`` seconds) and "None" read as noise in a stakeholder review: times are
    shown to the minute, handle time in whole seconds, the age at solve in hours (computed here, blank
    while open), 0/1 flags as check marks; the page passes ``placeholder=""`` so missing cells are blank.
    The column names stay the canonical ones (as in "Sort by" and the CSV).

    Returns
    -------
    (pandas.DataFrame, dict)
        The frame to show and its ``st.dataframe`` ``column_config``.
    """
    shown = cases.copy()
    for col in ("created_at", "solved_at"):
        if col in shown.columns:
            shown[col] = pd.to_datetime(shown[col], errors="coerce")
    if {"created_at", "solved_at"} <= set(shown.columns):
        age = (shown["solved_at"] - shown["created_at"]).dt.total_seconds() / 3600
        shown.insert(list(shown.columns).index("solved_at") + 1, "age_h", age)
    for col in ("escalated", "reopened"):
        if col in shown.columns:
            flags = pd.to_numeric(shown[col], errors="coerce")
            shown[col] = flags.gt(0).where(flags.notna())
    when = "YYYY-MM-DD HH:mm"
    config: dict[str, Any] = {
        # imported ids are text ("07" stays "07"); a number format would show them as 7
        "case_id": st.column_config.NumberColumn("case_id", format="%d")
        if pd.api.types.is_numeric_dtype(shown.get("case_id", pd.Series(dtype="int64")))
        else st.column_config.TextColumn("case_id"),
        "created_at": st.column_config.DatetimeColumn("created_at", format=when, help=f"On the team's clock ({zone})"),
        "solved_at": st.column_config.DatetimeColumn("solved_at", format=when,
                                                     help=f"On the team's clock ({zone}); blank while open"),
        "age_h": st.column_config.NumberColumn("age (h)", format="%.1f h",
                                               help="Hours from created to solved; blank while open"),
        "handle_time_s": st.column_config.NumberColumn("handle_time_s", format="%.0f s",
                                                       help="Agent handle time in seconds; blank unless worked"),
        "sla_hours": st.column_config.NumberColumn("sla_hours", format="%.0f h"),
        "escalated": st.column_config.CheckboxColumn("escalated"),
        "reopened": st.column_config.CheckboxColumn("reopened"),
        "csat": st.column_config.NumberColumn("csat", format="%.0f", help="1–5; blank unless surveyed"),
        "qa_score": st.column_config.NumberColumn("qa_score", format="%.0f", help="0–100; blank unless sampled"),
    }
    return shown, {k: v for k, v in config.items() if k in shown.columns}
