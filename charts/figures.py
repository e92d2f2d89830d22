"""Plotly figures built from KPI frames; every figure uses the app's one template."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charts.theme import BAD, BAND, GOOD, MUTED, NOTE, PALETTE, TEMPLATE_NAME, plot_text
from metrics.kpis import KPI, get_kpi
from metrics.slices import value_words

__all__ = ["MULTIPLES_MAX", "add_band", "anomaly_figure", "axis_format", "clip_band", "largest_workflows",
           "multiples_columns", "trend_figure", "workflow_figure"]

# known events are context behind the data: paler than the expected band
NEUTRAL_FILL = "rgba(140, 140, 140, 0.12)"
# The legend sits above the plot (the template's place), under the title pinned to the top: below the
# plot it covered the year line of the first date label.
_MARGIN = {"l": 10, "r": 10, "t": 88, "b": 10}
_TITLE_Y = 0.985


def add_note_marks(fig: go.Figure, marks: Sequence[tuple[date, str]], *,
                   panel: tuple[int, int] | None = None) -> go.Figure:
    """Notes drawn on a time chart, Grafana-style: a dotted line on each noted day and a mark on the top edge
    whose hover text is the notes of that day. Returns ``fig``.

    ``marks`` are ``(day, text)`` pairs; the text is escaped (it is a user's). On a chart of subplots the line
    crosses every panel, or only ``panel`` (``(row, col)``: small multiples, one slice per panel).
    """
    by_day: dict[date, list[str]] = {}
    for day, text in marks:
        by_day.setdefault(day, []).append(html.escape(text))
    grid = fig._grid_ref is not None
    where = {"row": panel[0], "col": panel[1]} if panel and grid else ({"row": "all", "col": "all"} if grid else {})
    for day, texts in sorted(by_day.items()):
        x = pd.Timestamp(day)
        fig.add_vline(x=x, line={"color": NOTE, "width": 1.2, "dash": "dot"}, **where)
        hover = "<br>".join(texts[:6]) + (f"<br>… {len(texts) - 6} more" if len(texts) > 6 else "")
        if panel and grid:
            fig.add_annotation(x=x, y=1, yref="y domain", yanchor="bottom", showarrow=False, text="✎",
                               font={"color": NOTE, "size": 12}, hovertext=hover, row=panel[0], col=panel[1])
        else:
            fig.add_annotation(x=x, y=1, yref="paper", yanchor="bottom", showarrow=False, text="✎",
                               font={"color": NOTE, "size": 14}, hovertext=hover)
    return fig


def axis_format(kpi: KPI) -> dict:
    """Tick/hover format and suffix for a KPI's unit (percent KPIs are already 0–100)."""
    suffix = {"%": " %", "minutes": " min", "hours": " h"}.get(kpi.unit, "")
    return {"tickformat": f",.{kpi.decimals}f", "hoverformat": f",.{max(kpi.decimals, 1)}f", "ticksuffix": suffix}


def clip_band(frame: pd.DataFrame, kpi: KPI, *, columns: tuple[str, ...] = ("lower", "upper")) -> pd.DataFrame:
    """The expected band as it can happen: ``columns`` clipped to the KPI's possible values.

    The detector's band is expected ± k·scale and knows nothing of units, so a small count's band
    dips below 0 and a high share's pokes above 100 %; every chart that draws a band clips it here.

    Parameters
    ----------
    frame : DataFrame
        Holds the band ``columns`` (others are returned unchanged; missing ones are skipped).
    kpi : KPI
        Its ``bounds``: ``(0, None)`` for counts and durations, ``(0, 100)`` for percentages.
    columns : tuple of str, keyword-only
        The columns to clip.

    Returns
    -------
    DataFrame
        A copy with the band clipped (NaN stays NaN).

    Examples
    --------
    >>> from metrics.kpis import get_kpi
    >>> band = pd.DataFrame({"lower": [-5.0, 2.0], "upper": [8.0, 104.0]})
    >>> clip_band(band, get_kpi("incoming"))["lower"].tolist()
    [0.0, 2.0]
    >>> clip_band(band, get_kpi("sla_attainment"))["upper"].tolist()
    [8.0, 100.0]
    """
    low, high = kpi.bounds
    out = frame.copy()
    for col in (c for c in columns if c in out.columns):
        out[col] = out[col].clip(lower=low, upper=high)
    return out


def add_band(fig: go.Figure, band: pd.DataFrame, kpi: KPI, *, panel: tuple[int, int] | None = None,
             legend: bool = True) -> None:
    """The expected range (``lower``/``upper`` on the index, clipped to what the KPI can take) as a pale fill:
    the one way every chart draws it. ``panel`` is a subplot's ``(row, col)``."""
    band = clip_band(band, kpi)
    at = {"row": panel[0], "col": panel[1]} if panel else {}
    fig.add_trace(go.Scatter(x=band.index, y=band["upper"], mode="lines", line={"width": 0},
                             hoverinfo="skip", showlegend=False, name="expected (upper)"), **at)
    fig.add_trace(go.Scatter(x=band.index, y=band["lower"], mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=BAND, hoverinfo="skip", name="expected range", showlegend=legend), **at)


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
                 max_series: int = 8, compare: pd.Series | None = None, compare_name: str = "") -> go.Figure:
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
    compare : Series, optional
        A reference on the same index (e.g. the same day a week earlier), drawn as a dashed grey line named
        ``compare_name``; the line's tooltip then also states the change against it.

    With ``band`` holding ``expected`` too (the one judgment's expected value), the unsplit line's tooltip states
    the value, the expected value and the deviation from it.
    """
    fig = go.Figure()
    if band is not None and {"lower", "upper"} <= set(band.columns):
        add_band(fig, band, kpi)
    if by:
        totals = frame.groupby(by)[kpi.name].apply(lambda s: s.abs().sum()).sort_values(ascending=False)
        for i, group in enumerate(totals.index[:max_series]):
            part = frame[frame[by] == group]
            # the trace's meta keeps the value itself (a click maps back to it), its name the text shown
            fig.add_trace(go.Scatter(x=part.index, y=part[kpi.name], mode="lines",
                                     name=plot_text(value_words(group)), meta=str(group),
                                     line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    else:
        values = frame[kpi.name]
        fmt = f",.{kpi.decimals}f"
        parts, extra = [], []
        if band is not None and "expected" in band.columns:
            expected = band["expected"].reindex(values.index)
            parts += [expected, _deviation(values, expected, kpi)]
            extra.append(f"expected %{{customdata[{len(parts) - 2}]:{fmt}}} (%{{customdata[{len(parts) - 1}]:+.1f}}"
                         f"{' pts' if kpi.unit == '%' else ' %'})")
        if compare is not None:
            reference = compare.reindex(values.index)
            parts += [reference, _deviation(values, reference, kpi)]
            extra.append(f"{plot_text(compare_name)} %{{customdata[{len(parts) - 2}]:{fmt}}} "
                         f"(%{{customdata[{len(parts) - 1}]:+.1f}}{' pts' if kpi.unit == '%' else ' %'})")
            fig.add_trace(go.Scatter(x=values.index, y=reference, mode="lines", name=plot_text(compare_name),
                                     line={"color": MUTED, "width": 1.5, "dash": "dash"}, hoverinfo="skip"))
        custom = np.column_stack([p.to_numpy(dtype=float) for p in parts]) if parts else None
        hover = f"%{{y:{fmt}}}" + "".join(f"<br>{e}" for e in extra) + f"<extra>{plot_text(kpi.label)}</extra>"
        fig.add_trace(go.Scatter(x=values.index, y=values, mode="lines", name=kpi.label, customdata=custom,
                                 hovertemplate=hover if parts else None,
                                 line={"color": PALETTE[0], "width": 2.5}))
    if flags is not None and len(flags):
        _add_flags(fig, flags, kpi)
    fig.update_layout(template=TEMPLATE_NAME, title=plot_text(title or kpi.label), hovermode="x unified",
                      margin=_MARGIN, height=460, title_y=_TITLE_Y, title_yanchor="top", title_yref="container")
    fig.update_yaxes(title_text=kpi.unit, rangemode="tozero" if kpi.unit == "cases" else "normal",
                     **axis_format(kpi))
    return fig


def _deviation(values: pd.Series, reference: pd.Series, kpi: KPI) -> pd.Series:
    """The change of ``values`` against ``reference`` as :meth:`KPI.change` states it (points or %)."""
    return pd.Series([kpi.change(v, r) for v, r in zip(values, reference, strict=True)], index=values.index,
                     dtype=float)


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
    add_band(fig, detected[["lower", "upper"]], kpi)
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
                          annotation_text=plot_text(ev.name), annotation_position="top left",
                          annotation={"font": {"size": 11, "color": MUTED}, "textangle": -90})
    if highlight is not None:
        fig.add_vline(x=pd.Timestamp(highlight), line={"color": BAD, "width": 1, "dash": "dot"})
    fig.update_layout(template=TEMPLATE_NAME, title=plot_text(title or kpi.label), hovermode="x unified",
                      margin=_MARGIN, height=460, title_y=_TITLE_Y, title_yanchor="top", title_yref="container")
    fig.update_yaxes(title_text=kpi.unit, rangemode="tozero" if kpi.unit == "cases" else "normal",
                     **axis_format(kpi))
    return fig


#: small multiples beyond this many panels are unreadable (and plotly cannot space 40 rows): the largest win
MULTIPLES_MAX = 12


def largest_workflows(frame: pd.DataFrame, most: int = MULTIPLES_MAX, *, by: str = "workflow") -> list[str]:
    """The workflows the small multiples show: all of them, or the ``most`` largest by volume, in data order."""
    names = list(dict.fromkeys(frame[by]))
    if len(names) <= most:
        return names
    size = frame.groupby(by)["observed"].apply(lambda s: s.abs().sum())
    keep = set(size.sort_values(ascending=False).index[:most])
    return [n for n in names if n in keep]


def multiples_columns(names: Sequence[str]) -> int:
    """How many panels the small multiples put in a row."""
    return 4 if len(names) > 6 else 3


def workflow_figure(frame: pd.DataFrame, kpi: str, *, tv: bool = False, by: str = "workflow") -> go.Figure:
    """Small multiples: one panel per workflow (value of ``by``), observed line on the expected band, flags marked."""
    spec = get_kpi(kpi)
    names = largest_workflows(frame, by=by)
    cols = multiples_columns(names)
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[plot_text(value_words(n)) for n in names],
                        horizontal_spacing=0.05, vertical_spacing=0.16 if rows > 1 else 0.1)
    for i, name in enumerate(names):
        part = frame[frame[by] == name]
        r, c = i // cols + 1, i % cols + 1
        add_band(fig, part.set_index("day"), spec, panel=(r, c), legend=i == 0)
        fig.add_trace(go.Scatter(x=part["day"], y=part["observed"], mode="lines", name=spec.label,
                                 line={"color": PALETTE[0], "width": 2}, showlegend=i == 0,
                                 hovertemplate="%{x|%a %d %b}: %{y:,.1f}<extra>" + plot_text(name) + "</extra>"),
                      row=r, col=c)
        for state, colour in (("bad", BAD), ("good", GOOD)):
            flagged = part[part["state"] == state]
            if len(flagged):
                fig.add_trace(go.Scatter(x=flagged["day"], y=flagged["observed"], mode="markers",
                                         marker={"color": colour, "size": 10, "line": {"color": "white", "width": 1}},
                                         name=f"abnormal ({state})", showlegend=False,
                                         hovertemplate="%{x|%a %d %b}: %{y:,.1f} (abnormal)<extra></extra>"),
                              row=r, col=c)
    # no legend: it collides with the panel titles; the caption under the chart names band and dots
    fig.update_layout(template=TEMPLATE_NAME, height=(250 if tv else 230) * rows + 40, showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest", font={"size": 18 if tv else 14})
    fig.update_annotations(font={"size": 20 if tv else 15, "color": MUTED})
    # level tick labels, three per panel: rotated ones ran into the panel titles below them in exports
    fig.update_xaxes(tickformat="%d %b", nticks=3, tickangle=0, showgrid=False)
    fig.update_yaxes(rangemode="tozero" if spec.unit == "cases" else "normal", tickformat=f",.{spec.decimals}f",
                     nticks=4)
    return fig
