"""Plotly figures built from KPI frames; every figure uses the app's one template."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from charts.theme import BAD, BAND, GOOD, MUTED, PALETTE, TEMPLATE_NAME
from metrics.kpis import KPI

__all__ = ["anomaly_figure", "axis_format", "trend_figure"]

# known events are context behind the data: paler than the expected band
NEUTRAL_FILL = "rgba(140, 140, 140, 0.12)"


def axis_format(kpi: KPI) -> dict:
    """Tick/hover format and suffix for a KPI's unit (percent KPIs are already 0–100)."""
    suffix = {"%": " %", "minutes": " min", "hours": " h"}.get(kpi.unit, "")
    return {"tickformat": f",.{kpi.decimals}f", "hoverformat": f",.{max(kpi.decimals, 1)}f", "ticksuffix": suffix}


def _add_band(fig: go.Figure, band: pd.DataFrame, kpi: KPI) -> None:
    # a count cannot go below zero, so neither may the range it is expected in
    lower = band["lower"].clip(lower=0) if kpi.unit == "cases" else band["lower"]
    fig.add_trace(go.Scatter(x=band.index, y=band["upper"], mode="lines", line={"width": 0},
                             hoverinfo="skip", showlegend=False, name="expected (upper)"))
    fig.add_trace(go.Scatter(x=band.index, y=lower, mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=BAND, hoverinfo="skip", name="expected range"))


def _add_flags(fig: go.Figure, flags: pd.DataFrame, kpi: KPI, *, size: int = 10) -> None:
    """Flagged points as markers: vermillion when the move is bad for this KPI, green when good."""
    direction = flags["direction"] if "direction" in flags.columns else pd.Series("", index=flags.index)
    bad_up = kpi.bad_direction == "up"
    is_bad = (direction == "spike") == bad_up
    for mask, colour, name in ((is_bad, BAD, "abnormal (bad)"), (~is_bad, GOOD, "abnormal (good)")):
        part = flags[mask.to_numpy()]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(x=part.index, y=part["observed"], mode="markers", name=name,
                                 marker={"color": colour, "size": size, "line": {"color": "white", "width": 1.5}},
                                 hovertemplate="%{x|%a %d %b %Y}: %{y}<extra>" + name + "</extra>"))


def trend_figure(frame: pd.DataFrame, kpi: KPI, *, by: str | None = None, title: str | None = None,
                 band: pd.DataFrame | None = None, flags: pd.DataFrame | None = None,
                 max_series: int = 8) -> go.Figure:
    """A KPI over time, one line per ``by`` value (the largest ``max_series`` by volume).

    Parameters
    ----------
    frame : DataFrame
        Output of ``metrics.kpis.compute_kpis`` (index: period start; columns ``by`` and KPI names).
    kpi : KPI
    by : str, optional
        Dimension column to split lines by.
    band : DataFrame, optional
        ``lower``/``upper`` columns on the same index: the expected range, drawn as a pale band.
    flags : DataFrame, optional
        Flagged points (index: day; ``observed`` and ``direction`` columns, as in the output of
        ``metrics.anomalies.detect`` restricted to ``is_anomaly``), drawn as markers on the line.
    """
    fig = go.Figure()
    if band is not None and {"lower", "upper"} <= set(band.columns):
        _add_band(fig, band, kpi)
    if by:
        totals = frame.groupby(by)[kpi.name].apply(lambda s: s.abs().sum()).sort_values(ascending=False)
        for i, group in enumerate(totals.index[:max_series]):
            part = frame[frame[by] == group]
            fig.add_trace(go.Scatter(x=part.index, y=part[kpi.name], mode="lines", name=str(group),
                                     line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    else:
        fig.add_trace(go.Scatter(x=frame.index, y=frame[kpi.name], mode="lines", name=kpi.label,
                                 line={"color": PALETTE[0], "width": 2.5}))
    if flags is not None and len(flags):
        _add_flags(fig, flags, kpi)
    fig.update_layout(template=TEMPLATE_NAME, title=title or kpi.label, hovermode="x unified",
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, height=460,
                      legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(title_text=kpi.unit, rangemode="tozero" if kpi.unit == "cases" else "normal",
                     **axis_format(kpi))
    return fig


def anomaly_figure(detected: pd.DataFrame, kpi: KPI, *, title: str | None = None,
                   events: pd.DataFrame | None = None, highlight: pd.Timestamp | None = None) -> go.Figure:
    """One series as the detector saw it: observed, expected with its band, flags and known events.

    Parameters
    ----------
    detected : DataFrame
        Output of ``metrics.anomalies.detect`` (``observed, expected, lower, upper, is_anomaly,
        direction`` on a DatetimeIndex).
    kpi : KPI
    title : str, optional
    events : DataFrame, optional
        Known events (``start``, ``end``, ``name``) drawn as shaded spans with their name.
    highlight : Timestamp, optional
        The point being discussed: drawn larger, with a dotted vertical line.

    Returns
    -------
    go.Figure
    """
    fig = go.Figure()
    _add_band(fig, detected[["lower", "upper"]], kpi)
    fig.add_trace(go.Scatter(x=detected.index, y=detected["expected"], mode="lines", name="expected",
                             line={"color": MUTED, "width": 1.5, "dash": "dot"}))
    fig.add_trace(go.Scatter(x=detected.index, y=detected["observed"], mode="lines", name=kpi.label,
                             line={"color": PALETTE[0], "width": 2.5}))
    _add_flags(fig, detected[detected["is_anomaly"]], kpi)
    lo, hi = detected.index.min(), detected.index.max()
    if events is not None and len(events):
        for ev in events.itertuples(index=False):
            start, end = pd.Timestamp(ev.start), pd.Timestamp(ev.end) + pd.Timedelta(days=1)
            if end < lo or start > hi:
                continue
            fig.add_vrect(x0=start, x1=end, fillcolor=NEUTRAL_FILL, line_width=0, layer="below",
                          annotation_text=str(ev.name), annotation_position="top left",
                          annotation={"font": {"size": 11, "color": MUTED}, "textangle": -90})
    if highlight is not None:
        fig.add_vline(x=pd.Timestamp(highlight), line={"color": BAD, "width": 1, "dash": "dot"})
    fig.update_layout(template=TEMPLATE_NAME, title=title or kpi.label, hovermode="x unified",
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, height=460,
                      legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(title_text=kpi.unit, rangemode="tozero" if kpi.unit == "cases" else "normal",
                     **axis_format(kpi))
    return fig

