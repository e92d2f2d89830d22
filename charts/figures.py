"""Plotly figures built from KPI frames; every figure uses the app's one template."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from charts.theme import BAND, PALETTE, TEMPLATE_NAME
from metrics.kpis import KPI

__all__ = ["axis_format", "trend_figure"]


def axis_format(kpi: KPI) -> dict:
    """Tick/hover format and suffix for a KPI's unit (percent KPIs are already 0–100)."""
    suffix = {"%": " %", "minutes": " min", "hours": " h"}.get(kpi.unit, "")
    return {"tickformat": f",.{kpi.decimals}f", "hoverformat": f",.{max(kpi.decimals, 1)}f", "ticksuffix": suffix}


def trend_figure(frame: pd.DataFrame, kpi: KPI, *, by: str | None = None, title: str | None = None,
                 band: pd.DataFrame | None = None, max_series: int = 8) -> go.Figure:
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
    """
    fig = go.Figure()
    if band is not None and {"lower", "upper"} <= set(band.columns):
        fig.add_trace(go.Scatter(x=band.index, y=band["upper"], mode="lines", line={"width": 0},
                                 hoverinfo="skip", showlegend=False, name="expected (upper)"))
        fig.add_trace(go.Scatter(x=band.index, y=band["lower"], mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=BAND, hoverinfo="skip", name="expected range"))
    if by:
        totals = frame.groupby(by)[kpi.name].apply(lambda s: s.abs().sum()).sort_values(ascending=False)
        for i, group in enumerate(totals.index[:max_series]):
            part = frame[frame[by] == group]
            fig.add_trace(go.Scatter(x=part.index, y=part[kpi.name], mode="lines", name=str(group),
                                     line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    else:
        fig.add_trace(go.Scatter(x=frame.index, y=frame[kpi.name], mode="lines", name=kpi.label,
                                 line={"color": PALETTE[0], "width": 2.5}))
    fig.update_layout(template=TEMPLATE_NAME, title=title or kpi.label, hovermode="x unified",
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, height=460,
                      legend={"orientation": "h", "y": -0.12})
    fig.update_yaxes(title_text=kpi.unit, rangemode="tozero" if kpi.unit == "cases" else "normal",
                     **axis_format(kpi))
    return fig
