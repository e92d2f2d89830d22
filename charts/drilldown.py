"""Figures of the Drill-down page: decomposition, contribution waterfall, same-weekday overlay.

All use the app's one template; clickable bars carry their slice or day in ``customdata``.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charts.figures import add_band, axis_format
from charts.theme import BAD, GOOD, INK, MUTED, NEUTRAL, PALETTE, TEMPLATE_NAME, plot_text
from metrics.drilldown import Analysis
from metrics.kpis import KPI
from metrics.slices import Slice

__all__ = ["contribution_figure", "decomposition_figure", "weekday_figure"]

WEEKS = 8

def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      showlegend=False)
    return fig


def decomposition_figure(frame: pd.DataFrame, kpi: KPI, day: date) -> go.Figure:
    """Observed (with expected band), trend, weekly pattern and residual; the day marked on each."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.4, 0.2, 0.2, 0.2],
                        subplot_titles=("Observed and expected range", "Trend", "Weekly pattern", "Residual"))
    x = frame.index
    add_band(fig, frame, kpi, panel=(1, 1))
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
            labels.append(Slice.of(row.filters).words())
            values.append(row.delta)
            custom.append("&".join(f"{d}={v}" for d, v in row.filters.items()))
        rest = result.actual - result.expected - float(causes.head(6)["delta"].sum()) if len(causes) else (
            result.actual - result.expected)
        labels += ["everything else", "actual"]
        values += [rest, result.actual]
        custom += ["", ""]
    # long slice names wrap onto lines instead of turning the axis labels sideways
    labels = ["<br>".join(plot_text(line) for line in textwrap.wrap(label, 22)) or plot_text(label)
              for label in labels]
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


def _at(frame: pd.DataFrame, column: str, day: date) -> float:
    stamp = pd.Timestamp(day)
    return float(frame.loc[stamp, column]) if stamp in frame.index and column in frame.columns else float("nan")


def decomposition_takeaway(history: pd.DataFrame, kpi: KPI, day: date, where: str = "") -> str:
    """The decomposition slide's line: the day against the one judgment, and where the trend went in 4 weeks."""
    line = kpi.judged_line(_at(history, "observed", day), _at(history, "expected", day), day, where)
    now, then = _at(history, "trend", day), _at(history, "trend", day - timedelta(days=28))
    if np.isfinite(now) and np.isfinite(then):
        line += f"; trend {kpi.format(now)} from {kpi.format(then)} four weeks earlier"
    return line


def decomposition_numbers(history: pd.DataFrame, kpi: KPI, day: date) -> tuple[tuple[str, str], ...]:
    """Observed, expected and trend on the day (the decomposition's key numbers)."""
    out = [(f"{kpi.label}, {day:%a %d %b %Y}", kpi.format(_at(history, "observed", day))),
           ("Expected", kpi.format(_at(history, "expected", day)))]
    trend = _at(history, "trend", day)
    if np.isfinite(trend):
        out.append(("Trend", kpi.format(trend)))
    return tuple(out)


def weekday_summary(series: pd.Series, kpi: KPI, day: date, where: str = "", weeks: int = WEEKS
                    ) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The same-weekday slide's line and numbers: the day against the median of its previous ``weeks``."""
    days = [pd.Timestamp(day - timedelta(days=7 * k)) for k in range(weeks, -1, -1)]
    values = series.reindex(days)
    now = float(values.iloc[-1])
    before = values.iloc[:-1]
    median = float(np.nanmedian(before)) if before.notna().any() else float("nan")
    at = f" at {where}" if where else ""
    change = kpi.format_change(now, median)
    line = f"{kpi.label}{at} on {day:%a %d %b %Y}: {kpi.format(now)}"
    if np.isfinite(median):
        by = f"{change} " if change else ""
        line += f", {by}vs a median of {kpi.format(median)} on the previous {weeks} {day:%A}s"
    numbers = [(f"{day:%a %d %b %Y}", kpi.format(now))]
    if np.isfinite(median):
        numbers.append((f"Median, previous {weeks} {day:%A}s", kpi.format(median)))
    if before.notna().any():
        numbers.append((f"Highest, previous {weeks}", kpi.format(float(before.max()))))
    return line, tuple(numbers)
