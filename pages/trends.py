"""Trends: any KPI over the chosen range, split by a dimension, at a daily, weekly or monthly grain."""

import streamlit as st

from metrics.kpis import OTHER, TOP_VALUES, get_kpi
from metrics.slices import value_words
from ui import state
from ui.chart_panel import chart_panel
from ui.errors import guarded
from ui.links import LinkError, point_params
from ui.redraw import COMPARE, PERIOD_LABEL, NothingToDraw, trends_chart
from ui.shell import page
from ui.text import md

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
    try:
        drawn, frame = trends_chart(ctx, filters, kpi=name, split=split, grain=grain, compare=compare)
    except NothingToDraw:
        drawn = None

kpi = get_kpi(name)
if drawn is None:
    st.warning(f"No {kpi.label.lower()} values for {md(ctx.describe(filters))}. Widen the date range or clear "
               "a filter.")
    st.stop()
if compare != "none" and (grain != "day" or by):
    st.caption("The comparison line is drawn on the daily, unsplit chart.")
fig, table = drawn.fig, drawn.data
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
chart_panel(fig, key="trends_chart", meta=drawn.meta, data=table, kpi_names=drawn.kpi_names, takeaway=drawn.takeaway,
            key_numbers=drawn.key_numbers, notes=drawn.notes, spec=drawn.spec, **drill)
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
