"""Charts a deck can draw again on newer data.

A page draws these charts with the functions below, from the data context and the page's choices only (no
widget), and "Add to deck" stores the choices with the item as its *spec* (``DeckItem.spec``): the chart's kind,
its KPI, split, grain or day, its date range and dimension filters, and the takeaway it was collected with.
:func:`redraw` draws the item again by the same function, with the range moved to end on a newer day — the
numbers, the expected band, the flags, the takeaway and the key numbers are then those of the newer data. An
analyst's own takeaway (one that differs from the computed one) is kept.

An incident's chart (an Anomalies series, the drill-down's charts) stays on its day: redrawn, it shows the revised
data (and, for an Anomalies series, the weeks after the day). Charts collected without a spec (a weekly slide, a
chart collected before specs were kept) stay as they were collected; the Deck page says which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.deck_items import DeckItem, summarize
from charts.drilldown import (
    contribution_figure,
    decomposition_figure,
    decomposition_numbers,
    decomposition_takeaway,
    weekday_figure,
    weekday_summary,
)
from charts.export import ChartMeta
from charts.figures import add_note_marks, anomaly_figure, largest_workflows, multiples_columns, trend_figure
from loaders import Filters
from metrics.drilldown import DrilldownState
from metrics.events import events_for
from metrics.kpis import TOP_VALUES, get_kpi
from metrics.slices import Slice
from ui.anomaly_data import events, expected_band, flag_series
from ui.chart_panel import chart_meta
from ui.data import DataContext, bounds, kpi_frame
from ui.drilldown_data import analysis, decomposition, slice_filters
from ui.notes import chart_marks, deck_notes, notes_on, view_slice, visible_notes

__all__ = [
    "COMPARE",
    "PERIOD_LABEL",
    "Drawn",
    "DrilldownView",
    "NothingToDraw",
    "anomaly_chart",
    "drilldown_view",
    "filters_spec",
    "multiples_chart",
    "redraw",
    "trends_chart",
]

PERIOD_LABEL = {"day": "Day", "week": "Week starting", "month": "Month"}
COMPARE = {"none": "Nothing", "week": "Last week", "median4": "4-week median"}


class NothingToDraw(ValueError):
    """The filters select no value of the chart's KPI (the message says which filters)."""


@dataclass(frozen=True)
class Drawn:
    """A chart as a page draws it and a deck collects it."""

    fig: go.Figure
    meta: ChartMeta
    data: pd.DataFrame
    kpi_names: tuple[str, ...]
    takeaway: str
    key_numbers: tuple[tuple[str, str], ...]
    notes: str
    #: how to draw it again (``DeckItem.spec``)
    spec: dict


def filters_spec(filters: Filters) -> dict:
    """A filter set as JSON-able data (the spec's ``start``, ``end`` and ``dims``)."""
    return {"start": filters.start.isoformat(), "end": filters.end.isoformat(),
            "dims": {d: list(v) for d, v in filters.dimension_filters.items()}}


def _filters_of(spec: Mapping) -> Filters:
    return Filters(date.fromisoformat(spec["start"]), date.fromisoformat(spec["end"]),
                   {d: tuple(v) for d, v in dict(spec.get("dims") or {}).items()})


# --------------------------------------------------------------------------------------- Trends
def trends_chart(ctx: DataContext, filters: Filters, *, kpi: str, split: str = "none", grain: str = "day",
                 compare: str = "none") -> tuple[Drawn, pd.DataFrame]:
    """The Trends page's chart: ``kpi`` at ``grain``, one line per value of ``split`` (the largest
    :data:`TOP_VALUES`, the rest "other") or one line with its expected band, flags and comparison line.

    Returns the chart and the KPI frame it was drawn from (the page wires its clicks to it).

    Raises
    ------
    NothingToDraw
        When the filters select no value of the KPI (the page says so).
    """
    spec = get_kpi(kpi)
    by = () if split == "none" else (split,)
    frame = kpi_frame(ctx, filters, grain=grain, by=by, top=TOP_VALUES)
    if frame.empty or frame[spec.name].isna().all():
        raise NothingToDraw(f"no {spec.label.lower()} values for {ctx.describe(filters)}")
    total = kpi_frame(ctx, filters, grain=grain) if by else frame
    title = f"{spec.label} by {grain}" + (f", split by {ctx.label(split).lower()}" if by else "")
    table = frame.reset_index().pivot_table(index="day", columns=split, values=spec.name) if by \
        else frame[[spec.name]]
    table = table.round(spec.decimals + 1).rename_axis(PERIOD_LABEL[grain])
    # The slide's takeaway speaks for the whole selection; a split chart also names its largest line.
    takeaway, key_numbers = summarize(total[[spec.name]], kpi=spec)
    if by and takeaway and len(table):
        last = table.iloc[-1].dropna()
        if len(last) and spec.kind != "ratio":
            takeaway += (f"; by {ctx.label(split).lower()}, {last.idxmax()} is the largest "
                         f"({spec.format(float(last.max()))})")
        elif len(last):
            takeaway += (f"; by {ctx.label(split).lower()}, from {spec.format(float(last.min()))} ({last.idxmin()}) "
                         f"to {spec.format(float(last.max()))} ({last.idxmax()})")
    # the expected range and the flags of the one judgment, for the one-line daily view
    band, flags = expected_band(ctx, filters, kpi=spec.name) if grain == "day" and not by else (None, None)
    reference, reference_name = None, ""
    if compare != "none" and grain == "day" and not by:
        series = frame[spec.name]
        if compare == "week":
            reference, reference_name = series.shift(7, freq="D"), "same day last week"
        else:  # the same weekday over the 4 weeks before: the stand-up's context, not the judgment
            lagged = pd.concat([series.shift(7 * k, freq="D") for k in range(1, 5)], axis=1)
            reference, reference_name = lagged.median(axis=1, skipna=False), "4-week same-weekday median"
    fig = trend_figure(frame, spec, by=split if by else None, title=title, band=band, flags=flags,
                       compare=reference, compare_name=reference_name)
    noted = []
    if grain == "day":  # the notes on this slice, Grafana-style (hover the mark on the top edge)
        noted = notes_on(visible_notes(ctx, filters.start, filters.end)[0], slice_=view_slice(ctx, filters),
                         kpi=spec.name)
        add_note_marks(fig, chart_marks(noted))
    state = {"chart": "trends", "kpi": spec.name, "split": split, "grain": grain, "compare": compare,
             **filters_spec(filters)}
    drawn = Drawn(fig, chart_meta(ctx, filters, title=title, unit=spec.unit), table, (spec.name,), takeaway,
                  tuple(key_numbers), deck_notes(noted), state)
    return drawn, frame


# ------------------------------------------------------------------------- stand-up small multiples
def multiples_chart(ctx: DataContext, filters: Filters, *, day: date, kpi: str) -> Drawn:
    """The stand-up's small multiples of ``kpi`` (one panel per value of the main dimension, 8 weeks to ``day``)
    with their takeaway (which values the one judgment flags that day) and the notes on each panel."""
    from ui import standup as su

    spec = get_kpi(kpi)
    main = ctx.main_dim
    frame = su.workflow_frame(ctx, filters, day, kpi)
    fig = su.workflow_chart(ctx, filters, day, kpi)  # the cache hands out a copy: marking it changes no one else's
    span = filters.with_range(day - timedelta(days=55), day)
    meta = chart_meta(ctx, span, title=f"{spec.label} per {ctx.label(main).lower()}, last 8 weeks", unit=spec.unit,
                      note="grey band: expected range")
    takeaway, numbers = su.multiples_summary(frame, spec, day, by=main, label=ctx.label(main).lower())
    # each panel's notes (its value of the main dimension within the filters), marked on that panel
    noted, _unavailable = visible_notes(ctx, span.start, span.end)
    names = largest_workflows(frame, by=main)
    cols, shown_notes = multiples_columns(names), []
    for i, name in enumerate(names):
        here = notes_on(noted, slice_=view_slice(ctx, filters, {main: str(name)}), kpi=kpi)
        add_note_marks(fig, chart_marks(here), panel=(i // cols + 1, i % cols + 1))
        shown_notes += here
    state = {"chart": "multiples", "kpi": spec.name, "day": day.isoformat(), **filters_spec(filters)}
    return Drawn(fig, meta, frame, (kpi,), takeaway, tuple(numbers), deck_notes(shown_notes), state)


# ------------------------------------------------------------------------------- an Anomalies series
def anomaly_chart(ctx: DataContext, filters: Filters, *, kpi: str, slice: Mapping[str, str], day: date
                  ) -> tuple[Drawn, pd.DataFrame, pd.DataFrame]:
    """The Anomalies page's chart of one flagged day: the series as the one judgment scored it, up to 28 days
    after the day (as far as the data goes), the day highlighted, its known events and notes marked.

    Returns the chart, the judged series (``ui.anomaly_data.series_frame``) and the known events drawn.
    """
    spec = get_kpi(kpi)
    where = Slice.of(slice).words(ctx.dimensions)
    detected = flag_series(ctx, filters, kpi=spec.name, slice=dict(slice), day=day)
    known = events_for(events(ctx, filters), dict(slice), spec.name)  # a Dublin holiday is no context for Hyderabad
    shown = detected.dropna(subset=["expected"]).iloc[-150:]
    title = f"{spec.label}, {where}: observed vs expected"  # plain text: the figure and the export escape it
    span = filters.with_range(shown.index[0].date(), shown.index[-1].date()).narrowed(**slice)
    # the notes on this series' slice (as the data layer reads it), marked on its chart and in a deck's notes
    noted = notes_on(visible_notes(ctx, span.start, span.end)[0], slice_=view_slice(ctx, span), kpi=spec.name)
    fig = add_note_marks(anomaly_figure(shown, spec, events=known, highlight=pd.Timestamp(day), title=title),
                         chart_marks(noted))
    point = detected.loc[pd.Timestamp(day)]
    # the slide says what the list says: the flagged day against the one judgment's expected value
    takeaway = spec.judged_line(point["observed"], point["expected"], day, where)
    numbers = ((f"{spec.label}, {day:%a %d %b %Y}", spec.format(point["observed"])),
               ("Expected", spec.format(point["expected"])), ("Surprise", f"{point['score']:.1f} robust sd"))
    state = {"chart": "anomaly", "kpi": spec.name, "slice": dict(slice), "day": day.isoformat(),
             **filters_spec(filters)}
    drawn = Drawn(fig, chart_meta(ctx, span, title=title, unit=spec.unit, note=f"flagged {day:%a %d %b %Y}"),
                  shown[["observed", "expected", "lower", "upper", "score", "is_anomaly"]], (spec.name,), takeaway,
                  numbers, deck_notes(noted), state)
    return drawn, detected, known


# ------------------------------------------------------------------------------------- the drill-down
@dataclass(frozen=True)
class DrilldownView:
    """What the drill-down draws for one state: the judged series (``None`` when too short to decompose, with
    ``problem`` saying why), the analysis (leaves, causes, sentence) and its three charts."""

    history: pd.DataFrame | None
    problem: str | None
    analysis: Any
    notes: list
    charts: dict[str, Drawn]
    #: why the notes could not be read (the app database is unreachable), else ``None``
    notes_problem: str | None = None


def drilldown_view(ctx: DataContext, state: DrilldownState) -> DrilldownView:
    """The drill-down of ``state``: its decomposition (the one judgment's series), its root causes (allocating
    that same expected value) and its charts — decomposition, contributions, same weekdays.

    Raises
    ------
    ValueError
        When there is nothing to explain (no leaves for the slice around the day).
    """
    spec = get_kpi(state.kpi)
    where = Slice.of(state.filters).words() if state.filters else ""
    first = bounds(ctx)[0]
    history, problem = None, None
    try:
        history = decomposition(ctx, state, first)
    except ValueError as err:  # too little history for the detector: the rest of the page still works
        problem = str(err)
    # the "why" allocates the same expected value the flag and the stand-up state (one judgment)
    stamp = pd.Timestamp(state.day)
    judged = float(history.loc[stamp, "expected"]) if history is not None and stamp in history.index else None
    result = analysis(ctx, state, judged if judged is not None and np.isfinite(judged) else None)
    window = slice_filters(state, state.day, state.day)
    noted, notes_problem = visible_notes(ctx, history.index[0].date() if history is not None else state.day,
                                         state.day)
    here = notes_on(noted, slice_=view_slice(ctx, window), kpi=spec.name)
    base = {"kpi": spec.name, "day": state.day.isoformat(), "slice": [list(p) for p in state.slice]}
    charts = {"contrib": Drawn(contribution_figure(result), chart_meta(ctx, window, title=result.sentence,
                                                                       unit=spec.unit),
                               pd.DataFrame(), (spec.name,), result.sentence, (), "",
                               {"chart": "drilldown", "part": "contrib", **base})}
    if history is not None:
        span = slice_filters(state, history.index[0].date(), state.day)
        charts["decomp"] = Drawn(
            add_note_marks(decomposition_figure(history, spec, state.day), chart_marks(here)),
            chart_meta(ctx, span, title=f"{spec.label}: decomposition", unit=spec.unit), pd.DataFrame(),
            (spec.name,), decomposition_takeaway(history, spec, state.day, where),
            tuple(decomposition_numbers(history, spec, state.day)), deck_notes(here),
            {"chart": "drilldown", "part": "decomp", **base})
        takeaway, numbers = weekday_summary(history["observed"], spec, state.day, where)
        charts["weekdays"] = Drawn(
            weekday_figure(history["observed"], spec, state.day),
            chart_meta(ctx, window, title=f"{spec.label}, same weekday", unit=spec.unit), pd.DataFrame(),
            (spec.name,), takeaway, tuple(numbers), "", {"chart": "drilldown", "part": "weekdays", **base})
    return DrilldownView(history, problem, result, here, charts, notes_problem)


# ----------------------------------------------------------------------------------------- redraw
def _moved(spec: Mapping, end: date) -> Filters:
    old = _filters_of(spec)
    return old.with_range(end - (old.end - old.start), end)


def _trends(ctx: DataContext, spec: Mapping, end: date) -> Drawn:
    return trends_chart(ctx, _moved(spec, end), kpi=spec["kpi"], split=spec.get("split", "none"),
                        grain=spec.get("grain", "day"), compare=spec.get("compare", "none"))[0]


def _multiples(ctx: DataContext, spec: Mapping, end: date) -> Drawn:
    return multiples_chart(ctx, _moved(spec, end), day=end, kpi=spec["kpi"])


def _drilldown(ctx: DataContext, spec: Mapping, _end: date) -> Drawn:
    # a drill-down is about its day: redrawn, it states the revised data of that day
    state = DrilldownState(spec["kpi"], date.fromisoformat(spec["day"]),
                           tuple((str(d), str(v)) for d, v in spec.get("slice") or ()))
    charts = drilldown_view(ctx, state).charts
    if spec.get("part") not in charts:
        raise ValueError(f"the {spec.get('part')} chart cannot be drawn for this slice any more")
    return charts[spec["part"]]


def _anomaly(ctx: DataContext, spec: Mapping, _end: date) -> Drawn:
    # an incident's chart stays on its day: redrawn, it shows the revised data and the weeks after it
    return anomaly_chart(ctx, _filters_of(spec), kpi=spec["kpi"], slice=spec.get("slice") or {},
                         day=date.fromisoformat(spec["day"]))[0]


#: chart kind -> how it is drawn again from (context, spec, the newest day)
CHARTS: dict[str, Callable[[DataContext, Mapping, date], Drawn]] = {
    "trends": _trends, "multiples": _multiples, "anomaly": _anomaly, "drilldown": _drilldown}


def redraw(ctx: DataContext, item: DeckItem, *, end: date) -> DeckItem | None:
    """``item`` drawn again on the data up to ``end``: a monitoring chart (Trends, the stand-up's small multiples)
    with its date range moved to end there (same length), an incident's chart (Anomalies) on its own day with the
    weeks after it; ``None`` when it has no spec (kept as collected). Raises ``ValueError`` when the newer data
    cannot draw it (say why, keep the item)."""
    spec: dict[str, Any] = item.spec
    draw = CHARTS.get(str(spec.get("chart")))
    if draw is None:
        return None
    drawn = draw(ctx, spec, end)
    # the analyst's own words stay; a takeaway the data wrote is written again by the newer data
    takeaway = drawn.takeaway if item.takeaway == spec.get("takeaway", item.takeaway) else item.takeaway
    fresh = DeckItem.from_figure(drawn.fig, drawn.meta, kpi_names=drawn.kpi_names,
                                 data=drawn.data if len(drawn.data.columns) else None, takeaway=drawn.takeaway,
                                 key_numbers=drawn.key_numbers or None, notes=drawn.notes, origin=item.origin,
                                 spec=drawn.spec)
    return replace(fresh, item_id=item.item_id, takeaway=takeaway)
