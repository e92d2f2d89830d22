"""Trends: any KPI over the chosen range, split by a dimension, at a daily, weekly or monthly grain."""

import pandas as pd
import streamlit as st

from charts.deck_items import summarize
from charts.figures import add_note_marks, trend_figure
from metrics.kpis import OTHER, TOP_VALUES, get_kpi
from metrics.slices import value_words
from ui import state
from ui.anomaly_data import expected_band
from ui.chart_panel import chart_meta, chart_panel
from ui.data import kpi_frame
from ui.errors import guarded
from ui.links import LinkError, point_params
from ui.notes import chart_marks, deck_notes, notes_on, view_slice, visible_notes
from ui.shell import page
from ui.text import md

PERIOD_LABEL = {"day": "Day", "week": "Week starting", "month": "Month"}
COMPARE = {"none": "Nothing", "week": "Last week", "median4": "4-week median"}
DRILL = "trends_drill"  # session key: drill-down query parameters of the point just clicked


def on_point(kpi: str, split: str | None, traces: list[str | None], fixed: dict[str, str]) -> None:
    try:
        st.session_state[DRILL] = point_params(st.session_state.get("trends_chart"), kpi=kpi, split=split,
                                               traces=traces, slice=fixed,
                                               dimensions=ctx.dimensions)
    except LinkError:  # a trace name that is no dimension value: nothing to open
        st.session_state.pop(DRILL, None)


ctx, filters = page("Trends")
if params := st.session_state.pop(DRILL, None):
    st.switch_page("pages/drilldown.py", query_params=state.link_params("pages/drilldown.py", params, remembered=False))
st.title("Trends")
with guarded():
    left, mid, right = st.columns([2, 2, 3])
    splits = ["none", *ctx.dimensions]
    name = state.widget(left.selectbox, "KPI", ctx.kpis, key="trends_kpi", param="kpi", default=ctx.kpis[0],
                        parse=state.one_of(ctx.kpis, name="kpi", what="KPI"),
                        format_func=lambda n: get_kpi(n).label)
    split = state.widget(mid.selectbox, "Split by", splits, key="trends_split", param="split", default="none",
                         parse=state.one_of(splits, name="split", what="dimension"),
                         format_func=lambda d: "No split" if d == "none" else ctx.label(d))
    grain = state.widget(right.segmented_control, "Grain", list(PERIOD_LABEL), key="trends_grain", param="grain",
                         default="day", parse=state.one_of(PERIOD_LABEL, name="grain", what="grain")) or "day"
    compare = state.widget(right.segmented_control, "Compare with", list(COMPARE), key="trends_compare",
                           param="compare", default="none", parse=state.one_of(COMPARE, name="compare",
                                                                               what="comparison"),
                           format_func=COMPARE.get,
                           help="A dashed line for the same day a week earlier, or the median of the same weekday "
                                "over the previous 4 weeks (daily, unsplit chart); the tooltip states the change "
                                "against it and against the expected value") or "none"
    state.report()
    by = () if split == "none" else (split,)
    frame = kpi_frame(ctx, filters, grain=grain, by=by, top=TOP_VALUES)
    total = kpi_frame(ctx, filters, grain=grain) if by else frame

kpi = get_kpi(name)
if frame.empty or frame[kpi.name].isna().all():
    st.warning(f"No {kpi.label.lower()} values for {md(ctx.describe(filters))}. Widen the date range or clear "
               "a filter.")
    st.stop()

title = f"{kpi.label} by {grain}" + (f", split by {ctx.label(split).lower()}" if by else "")
table = frame.reset_index().pivot_table(index="day", columns=split, values=kpi.name) if by else frame[[kpi.name]]
table = table.round(kpi.decimals + 1).rename_axis(PERIOD_LABEL[grain])
# The slide's default takeaway speaks for the whole selection; a split chart also names its largest line.
takeaway, key_numbers = summarize(total[[kpi.name]], kpi=kpi)
if by and takeaway and len(table):
    last = table.iloc[-1].dropna()
    if len(last) and kpi.kind != "ratio":
        takeaway += f"; by {ctx.label(split).lower()}, {last.idxmax()} is the largest ({kpi.format(float(last.max()))})"
    elif len(last):
        takeaway += (f"; by {ctx.label(split).lower()}, from {kpi.format(float(last.min()))} ({last.idxmin()}) to "
                     f"{kpi.format(float(last.max()))} ({last.idxmax()})")
# the expected range and the flags of the anomaly scan, for the one-line daily view
band, flags = expected_band(ctx, filters, kpi=kpi.name) if grain == "day" and not by else (None, None)
reference, reference_name = None, ""
if compare != "none" and grain == "day" and not by:
    series = frame[kpi.name]
    if compare == "week":
        reference, reference_name = series.shift(7, freq="D"), "same day last week"
    else:  # the same weekday over the 4 weeks before: the stand-up's context, not the judgment
        lagged = pd.concat([series.shift(7 * k, freq="D") for k in range(1, 5)], axis=1)
        reference, reference_name = lagged.median(axis=1, skipna=False), "4-week same-weekday median"
elif compare != "none":
    st.caption("The comparison line is drawn on the daily, unsplit chart.")
fig = trend_figure(frame, kpi, by=split if by else None, title=title, band=band, flags=flags, compare=reference,
                   compare_name=reference_name)
noted = []
if grain == "day":  # the notes on this slice, Grafana-style (hover the mark on the top edge)
    noted = notes_on(visible_notes(ctx, filters.start, filters.end)[0], slice_=view_slice(ctx, filters),
                     kpi=kpi.name)
    add_note_marks(fig, chart_marks(noted))
drill = {}
if grain == "day":
    # A click on a day opens its drill-down. Lines alone cannot be clicked: invisible markers make every day a
    # target, and "closest" hover on a split chart makes the click land on the line under the mouse.
    lines = {str(v) for v in frame[split].unique()} if by else {kpi.label}
    fig.update_traces(mode="lines+markers", marker={"size": 8, "opacity": 0},
                      selector=lambda t: (t.meta if by else t.name) in lines)
    if by:
        fig.update_layout(hovermode="closest")
    fixed = {d: v[0] for d, v in filters.dimension_filters.items() if len(v) == 1}
    traces = [t.meta if by and t.meta != OTHER else None for t in fig.data]  # "other" opens the whole slice
    drill = {"on_select": lambda: on_point(kpi.name, split if by else None, traces, fixed),
             "selection_mode": "points"}
chart_panel(fig, key="trends_chart", meta=chart_meta(ctx, filters, title=title, unit=kpi.unit), data=table,
            kpi_names=(kpi.name,), takeaway=takeaway, key_numbers=key_numbers, notes=deck_notes(noted), **drill)
folded = " ".join([f"The {TOP_VALUES} largest {ctx.plural(split).lower()} by incoming have a line each, the "
                   f"rest one line \"{OTHER}\"."] if by and OTHER in set(frame[split]) else [])
st.caption(f"{kpi.description} Filters: {md(ctx.describe(filters))}. {folded}"
           + (" Click a day to open its drill-down." if drill else ""))
# Periods are days: show dates, not midnight timestamps; counts as whole numbers with thousands separators,
# every column under its display name (the CSV export keeps the registry names as its keys)
shown = table.set_axis(table.index.strftime("%Y-%m" if grain == "month" else "%Y-%m-%d"), axis=0)
shown = shown.rename(columns={kpi.name: kpi.label} if not by else {c: value_words(c) for c in shown.columns})
unit = {"%": " %", "minutes": " min", "hours": " h"}.get(kpi.unit, "")
number = "localized" if kpi.unit == "cases" else f"%.{kpi.decimals}f{unit.replace('%', '%%')}"
st.dataframe(shown, key="trends_table", column_config={
    str(c): st.column_config.NumberColumn(str(c), format=number) for c in shown.columns})
