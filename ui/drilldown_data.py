"""Cached data and figures for the Drill-down page (keyed by ``ctx.key`` plus the view's state).

Figures are built here rather than in the page so the page stays a thin script; they use the "ops"
template like every chart of the app.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import loaders
from charts.figures import axis_format
from charts.theme import BAD, BAND, GOOD, INK, MUTED, NEUTRAL, PALETTE, TEMPLATE_NAME
from loaders import DIMENSIONS, Filters
from metrics.anomalies import detect
from metrics.drilldown import Analysis, DrilldownState, analyse, case_side, describe_slice, to_params
from metrics.kpis import KPI, get_kpi, kpi_parts
from ui.data import DataContext, kpi_frame

__all__ = [
    "HISTORY_DAYS",
    "WEEKS",
    "analysis",
    "case_count",
    "case_page",
    "cases_csv",
    "contribution_figure",
    "decomposition",
    "decomposition_figure",
    "slice_filters",
    "weekday_figure",
]

HISTORY_DAYS = 364  # ~1 year of the slice's daily KPI for the decomposition
WEEKS = 8  # same weekdays in the baseline and the overlay
_KIND = {"flow": "count", "ratio": "ratio", "stock": "level"}


def slice_filters(state: DrilldownState, start: date, end: date) -> Filters:
    """The state's slice as loader filters over ``[start, end]``."""
    return Filters(start, end).narrowed(**state.filters) if state.slice else Filters(start, end)


def _key(state: DrilldownState) -> tuple[tuple[str, str], ...]:
    return tuple(to_params(state).items())


def decomposition(ctx: DataContext, state: DrilldownState, first: date) -> pd.DataFrame:
    """``detect`` on the slice's daily KPI up to the day (observed, trend, seasonal, resid, expected…)."""
    return _decomposition(ctx.key, _key(state), first, ctx)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _decomposition(key: str, params: tuple, first: date, _ctx: DataContext) -> pd.DataFrame:
    state = DrilldownState(params[0][1], date.fromisoformat(params[1][1]), params[2:])
    kpi = get_kpi(state.kpi)
    frame = kpi_frame(_ctx, slice_filters(state, max(first, state.day - timedelta(days=HISTORY_DAYS)), state.day))
    # engine="fast": the robust median decomposition, ~5 ms for a year; STL refits cost ~0.3 s here.
    return detect(frame[kpi.name], period=7, kind=_KIND[kpi.kind], engine="fast")


def analysis(ctx: DataContext, state: DrilldownState, expected_total: float | None) -> Analysis:
    """Leaves, baseline and root causes for the state (see :func:`metrics.drilldown.analyse`)."""
    return _analysis(ctx.key, _key(state), expected_total, ctx)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _analysis(key: str, params: tuple, expected_total: float | None, _ctx: DataContext) -> Analysis:
    state = DrilldownState(params[0][1], date.fromisoformat(params[1][1]), params[2:])
    filters = slice_filters(state, state.day - timedelta(days=7 * WEEKS), state.day)
    volume = loaders.load_daily_volume(_ctx.rollup, settings=_ctx.settings, filters=filters, by=DIMENSIONS)
    opening = loaders.load_opening_balance(_ctx.rollup, settings=_ctx.settings, filters=filters, by=DIMENSIONS)
    if volume.empty or not len(volume.index):
        raise ValueError(f"no data for {describe_slice(state.filters)} around {state.day}")
    parts = kpi_parts(volume, by=DIMENSIONS, opening=opening)
    return analyse(parts, state.kpi, state.day, slice=state.filters, weeks=WEEKS, expected_total=expected_total)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _cases(key: str, params: tuple, order_by: str, descending: bool, limit: int, offset: int,
           _ctx: DataContext) -> pd.DataFrame:
    state = DrilldownState(params[0][1], date.fromisoformat(params[1][1]), params[2:])
    return loaders.load_cases(_ctx.source, settings=_ctx.settings, filters=slice_filters(state, state.day, state.day),
                              day=state.day, side=case_side(get_kpi(state.kpi)), order_by=order_by,
                              descending=descending, limit=limit, offset=offset)


def case_page(ctx: DataContext, state: DrilldownState, *, order_by: str, descending: bool, limit: int,
              offset: int) -> pd.DataFrame:
    """One page of the cases behind the view (bound filters, sorted in the database)."""
    return _cases(ctx.key, _key(state), order_by, descending, limit, offset, ctx)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _count(key: str, params: tuple, _ctx: DataContext) -> int:
    state = DrilldownState(params[0][1], date.fromisoformat(params[1][1]), params[2:])
    return loaders.count_cases(_ctx.source, settings=_ctx.settings, filters=slice_filters(state, state.day, state.day),
                               day=state.day, side=case_side(get_kpi(state.kpi)))


def case_count(ctx: DataContext, state: DrilldownState) -> int:
    """How many cases stand behind the view."""
    return _count(ctx.key, _key(state), ctx)


def cases_csv(ctx: DataContext, state: DrilldownState, *, order_by: str, descending: bool) -> bytes:
    """Up to 10,000 cases behind the view as CSV (called only when the download is clicked)."""
    frame = case_page(ctx, state, order_by=order_by, descending=descending, limit=10_000, offset=0)
    return frame.to_csv(index=False).encode()


# ------------------------------------------------------------------------------------------ figures
def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      showlegend=False)
    return fig


def decomposition_figure(frame: pd.DataFrame, kpi: KPI, day: date) -> go.Figure:
    """Observed (with expected band), trend, weekly pattern and residual; the day marked on each."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.4, 0.2, 0.2, 0.2],
                        subplot_titles=("Observed and expected range", "Trend", "Weekly pattern", "Residual"))
    x = frame.index
    fig.add_trace(go.Scatter(x=x, y=frame["upper"], mode="lines", line={"width": 0}, hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["lower"], mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=BAND, name="expected range", hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["observed"], mode="lines+markers", marker={"size": 3},
                             line={"color": PALETTE[0], "width": 1.6}, name=kpi.label), 1, 1)
    for row, col, colour in ((2, "trend", PALETTE[2]), (3, "seasonal", PALETTE[1]), (4, "resid", NEUTRAL)):
        trace = go.Bar if col == "resid" else go.Scatter
        kw = {"marker_color": colour} if col == "resid" else {"mode": "lines", "line": {"color": colour, "width": 1.6}}
        fig.add_trace(trace(x=x, y=frame[col], name=col, **kw), row, 1)
    point = pd.Timestamp(day)
    if point in frame.index:
        flagged = bool(frame.loc[point, "is_anomaly"])
        for row, col in ((1, "observed"), (2, "trend"), (3, "seasonal"), (4, "resid")):
            fig.add_trace(go.Scatter(x=[point], y=[frame.loc[point, col]], mode="markers", name=f"{day}",
                                     marker={"size": 12 if row == 1 else 9, "color": BAD if flagged else INK,
                                             "line": {"width": 2, "color": "white"}}), row, 1)
    fig.update_yaxes(**axis_format(kpi), row=1, col=1)
    fig.update_layout(hovermode="x unified")
    return _layout(fig, f"{kpi.label}: decomposition (click a point to move the day)", 640)



def contribution_figure(result: Analysis) -> go.Figure:
    """Waterfall from expected to actual through the root causes and the rest (flows, stock), or
    through mix and rate (ratios). A bar's ``customdata`` is the cause's slice as a query string."""
    kpi = result.kpi
    if kpi.kind == "ratio" and result.mix is not None:
        overall = result.mix.attrs["overall"]
        labels = ["expected", "mix", "rate", "actual"]
        values = [result.expected, overall["mix_effect"] * kpi.scale, overall["rate_effect"] * kpi.scale, result.actual]
        custom = ["", "", "", ""]
    else:
        causes = result.causes
        labels, values, custom = ["expected"], [result.expected], [""]
        for row in causes.head(6).itertuples(index=False):
            labels.append(describe_slice(row.filters))
            values.append(row.delta)
            custom.append("&".join(f"{d}={v}" for d, v in row.filters.items()))
        rest = result.actual - result.expected - float(causes.head(6)["delta"].sum()) if len(causes) else (
            result.actual - result.expected)
        labels += ["everything else", "actual"]
        values += [rest, result.actual]
        custom += ["", ""]
    measure = ["absolute", *["relative"] * (len(values) - 2), "total"]
    text = [kpi.format(v) if m != "relative" else f"{v:+,.{kpi.decimals + (1 if kpi.kind == 'ratio' else 0)}f}"
            for v, m in zip(values, measure, strict=True)]
    up, down = (BAD, GOOD) if kpi.bad_direction == "up" else (GOOD, BAD)
    fig = go.Figure(go.Waterfall(x=labels, y=values, measure=measure, customdata=custom,
                                 increasing={"marker": {"color": up}}, decreasing={"marker": {"color": down}},
                                 totals={"marker": {"color": PALETTE[0]}}, connector={"line": {"color": MUTED}},
                                 text=text, textposition="outside"))
    fig.update_yaxes(**axis_format(kpi))
    return _layout(fig, "From expected to actual (click a cause to narrow to it)", 440)


def weekday_figure(series: pd.Series, kpi: KPI, day: date, weeks: int = WEEKS) -> go.Figure:
    """The day and the same weekday of the previous ``weeks`` weeks, with their median as a line."""
    days = [pd.Timestamp(day - timedelta(days=7 * k)) for k in range(weeks, -1, -1)]
    values = series.reindex(days)
    colours = [NEUTRAL] * weeks + [PALETTE[0]]
    fig = go.Figure(go.Bar(x=[d.strftime("%d %b") for d in days], y=values.to_numpy(), marker_color=colours,
                           customdata=[f"day={d.date().isoformat()}" for d in days]))
    median = float(np.nanmedian(values.iloc[:-1])) if values.iloc[:-1].notna().any() else np.nan
    if np.isfinite(median):
        fig.add_hline(y=median, line={"color": INK, "dash": "dash"},
                      annotation_text=f"median {kpi.format(median)}", annotation_position="top left",
                      annotation_bgcolor="white")
    fig.update_yaxes(**axis_format(kpi))
    return _layout(fig, f"{day:%A}s: this one and the previous {weeks}", 440)
