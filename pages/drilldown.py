"""Drill-down: why a KPI moved on a day — decomposition, root causes, same weekdays, the cases behind it.

The view (KPI, day, slice) lives in the URL's query parameters, so links are shareable and a reload
restores it; every control and chart click writes the URL, and the page reads only the URL.
"""

from dataclasses import replace

import pandas as pd
import streamlit as st

from metrics.drilldown import DrilldownState, case_side, coarser, finer
from metrics.kpis import get_kpi
from metrics.slices import Slice, value_words
from ui.app_store import audited
from ui.chart_panel import chart_panel
from ui.data import bounds, dimension_values, newest_complete_day
from ui.drilldown_data import (
    case_count,
    case_page,
    case_table,
    cases_csv,
    slice_filters,
    sortable_columns,
)
from ui.errors import guarded, show_problem
from ui.links import LinkError, check_state, parse_params, selection_to_state, to_params
from ui.notes import note_form, render_notes, view_slice
from ui.redraw import drilldown_view
from ui.shell import page
from ui.state import replace_page_params
from ui.text import md

ctx, _ = page("Drill-down", uses_filters=False)
with guarded():
    first, last = bounds(ctx)
    newest = newest_complete_day(ctx)
    known_values = dimension_values(ctx)


def current() -> DrilldownState:
    return parse_params(st.query_params.to_dict(), default_day=newest, dimensions=ctx.dimensions)


def go(state: DrilldownState) -> None:
    replace_page_params(to_params(state))  # the sidebar's filters stay in the link


def on_controls() -> None:
    go(replace(current(), kpi=st.session_state["drilldown_kpi"], day=st.session_state["drilldown_day"]))


def on_chart(key: str) -> None:
    try:
        moved = selection_to_state(st.session_state.get(key), current())
    except LinkError:
        return
    if moved is not None:
        go(moved)


st.title("Drill-down")
# every call below reads the database: a failure anywhere is a message, never a traceback
with guarded():
    try:
        state = current()
        ctx.scope.restrict(slice_filters(state, state.day, state.day))  # another partner's slice: not allowed
        check_state(state, first=first, last=last, values=known_values)
        if state.kpi not in ctx.kpis:
            need = dict(ctx.missing_kpis()).get(get_kpi(state.kpi).label, ())
            raise LinkError(f"{get_kpi(state.kpi).label} cannot be stated from this data: it needs "
                            f"{', '.join(need) or 'columns'} the source does not have")
    except LinkError as err:
        show_problem(err, what="This drill-down link cannot be shown:")
        st.button("Open the newest day instead", key="drilldown_reset", on_click=replace_page_params, args=({},),
                  icon=":material/restart_alt:")
        st.stop()

    kpi = get_kpi(state.kpi)
    where = Slice.of(state.filters).words() if state.filters else ""
    st.session_state["drilldown_kpi"] = state.kpi
    st.session_state["drilldown_day"] = state.day
    c_kpi, c_day, c_up, c_down = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    c_kpi.selectbox("KPI", ctx.kpis, format_func=lambda n: get_kpi(n).label, key="drilldown_kpi",
                    on_change=on_controls)
    c_day.date_input("Day", min_value=first, max_value=last, key="drilldown_day", format="YYYY-MM-DD",
                     on_change=on_controls)
    up = coarser(state)
    c_up.button("Coarser slice", key="drilldown_coarser", icon=":material/zoom_out:", disabled=up is None,
                on_click=go, args=(up,), help="Drop the last dimension of the slice", width="stretch")
    st.caption(f"Slice: **{md(Slice.of(state.filters).words())}** · the sidebar filters do not apply here; "
               "the link holds the view.")

    try:
        view = drilldown_view(ctx, state)
    except ValueError as err:
        st.warning(f"Nothing to explain for {md(Slice.of(state.filters).words())} on {state.day}: {md(err)}. "
                   "Step to a coarser slice or pick another day.")
        st.stop()
    history, result, here, charts = view.history, view.analysis, view.notes, view.charts
    if view.problem:  # too little history for the detector: the rest of the page still works
        st.warning(f"No decomposition for this slice: {md(view.problem)}")
    if kpi.kind != "ratio" and result.actual == 0 and result.expected == 0:
        st.warning(f"The slice {md(Slice.of(state.filters).words())} has no {kpi.label.lower()} on {state.day} "
                   "nor on the same weekdays before it. Step to a coarser slice or pick another day.")
        st.stop()

    down = finer(state, list(result.causes["filters"]))
    c_down.button("Finer slice", key="drilldown_finer", icon=":material/zoom_in:", disabled=down is None,
                  on_click=go, args=(down,), width="stretch",
                  help="Add the top root cause's next dimension" if down else "No root cause to narrow to")
    st.subheader(md(result.sentence))
    window = slice_filters(state, state.day, state.day)
    # notes on this slice (as the data layer reads it): today's listed here, the chart's days marked on it
    noted_slice = view_slice(ctx, window)
    render_notes([n for n in here if n.day == state.day], key="drilldown_note", user_email=ctx.user.email,
                 admin=ctx.user.is_admin)
    note_form(ctx, day=state.day, slice_=noted_slice, kpi=kpi.name, key="drilldown_note",
              label="Note or acknowledge")
    if view.notes_problem:
        st.caption(f"Notes are unavailable: {md(view.notes_problem)}")

    def panel(part: str) -> None:
        drawn = charts[part]
        chart_panel(drawn.fig, key=f"drilldown_{part}", meta=drawn.meta, kpi_names=drawn.kpi_names,
                    takeaway=drawn.takeaway, key_numbers=drawn.key_numbers or None, notes=drawn.notes,
                    spec=drawn.spec, on_select=lambda: on_chart(f"drilldown_{part}"), selection_mode="points")

    if "decomp" in charts:
        panel("decomp")
        st.caption("**Observed and expected range**: the day's value on the detector's band. **Trend**: the "
                   "series' level with the weekly pattern taken out. **Weekly pattern**: how much each weekday "
                   f"usually adds or takes ({kpi.unit}). **Residual**: observed minus expected, what the judgment "
                   "scores. " + md(history.attrs["config"].describe()))
    left, right = st.columns(2)
    with left:
        panel("contrib")
    with right:
        if "weekdays" in charts:
            panel("weekdays")

    causes = result.causes
    if len(causes):
        what = "the rate change" if kpi.kind == "ratio" else "the change"
        st.markdown(f"**Root causes** — share of {what}, baseline: median of the same weekday over "
                    f"{len(result.weeks)} weeks, allocated down from the expected total")
        measured = kpi.label if kpi.kind != "ratio" else (
            f"{value_words(kpi.numerator).capitalize()} (the numerator of {kpi.label}, at the slice's usual rate "
            "for the expected)")
        st.dataframe(pd.DataFrame({"slice": [Slice.of(f).words() for f in causes["filters"]],
                                   "actual": causes["actual"], "expected": causes["expected"], "delta": causes["delta"],
                                   "share of change": causes["share_of_delta"] * 100}),
                     key="drilldown_causes", hide_index=True,
                     column_config={
                         "slice": st.column_config.TextColumn("Slice", help="The combination of values that moved"),
                         "actual": st.column_config.NumberColumn(
                             "Actual", format="%.1f", help=f"{measured} in the slice on the day"),
                         "expected": st.column_config.NumberColumn(
                             "Expected", format="%.1f", help=f"{measured} the baseline expected in the slice"),
                         "delta": st.column_config.NumberColumn(
                             "Difference", format="%+.1f", help="Actual minus expected"),
                         "share of change": st.column_config.NumberColumn(
                             "Share of the change", format="%.0f %%",
                             help=f"How much of {what} this slice accounts for (above 100 %: more than all of it, "
                                  "others moved the other way)")})
    if result.mix is not None:
        dims = [c for c in result.mix.columns if c in known_values]
        st.markdown(f"**Mix and rate by {', '.join(ctx.label(d).lower() for d in dims)}** ({kpi.unit}) — mix: more "
                    "cases from a slice with a different rate; rate: the slice's own rate moved")
        mix = result.mix[[*dims, "share_expected", "share_actual", "rate_expected", "rate_actual", "mix_effect",
                          "rate_effect", "total_effect"]].copy()
        for c in ("rate_expected", "rate_actual", "mix_effect", "rate_effect", "total_effect"):
            mix[c] = mix[c] * kpi.scale
        for c in ("share_expected", "share_actual"):
            mix[c] = mix[c] * 100
        unit = kpi.difference_unit  # a change of a percentage: points
        in_unit = f"%.{kpi.decimals + 1}f" + {"%": " %%", "minutes": " min", "hours": " h"}.get(kpi.unit, "")
        effect = "Its part of the KPI's change, in the KPI's unit"
        st.dataframe(mix, key="drilldown_mix", hide_index=True, column_config={
            **{d: st.column_config.TextColumn(ctx.label(d)) for d in dims},
            "share_expected": st.column_config.NumberColumn("Share, expected", format="%.1f %%",
                                                            help="The slice's share of the cases, expected"),
            "share_actual": st.column_config.NumberColumn("Share, actual", format="%.1f %%",
                                                          help="The slice's share of the cases on the day"),
            "rate_expected": st.column_config.NumberColumn(f"{kpi.label}, expected", format=in_unit),
            "rate_actual": st.column_config.NumberColumn(f"{kpi.label}, actual", format=in_unit),
            "mix_effect": st.column_config.NumberColumn("Mix", format=f"%+.{kpi.decimals + 1}f{unit}",
                                                        help=f"{effect}: from the slice's share moving"),
            "rate_effect": st.column_config.NumberColumn("Rate", format=f"%+.{kpi.decimals + 1}f{unit}",
                                                         help=f"{effect}: from the slice's own value moving"),
            "total_effect": st.column_config.NumberColumn("Total", format=f"%+.{kpi.decimals + 1}f{unit}",
                                                          help=f"{effect}: mix plus rate"),
        })

    st.markdown(f"**The cases behind it** — {case_side(kpi)} on {state.day:%a %d %b %Y}, "
                f"{md(Slice.of(state.filters).words())}")
    total = case_count(ctx, state)
    s_col, d_col, p_col, n_col = st.columns([3, 2, 2, 3], vertical_alignment="bottom")
    sortable = list(sortable_columns(ctx))
    order_by = s_col.selectbox("Sort by", sortable, index=sortable.index("created_at"),
                               key="drilldown_sort")
    descending = d_col.toggle("Descending", key="drilldown_desc")
    size = 50
    pages = max(1, -(-total // size))
    number = p_col.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="drilldown_page")
    n_col.download_button("Download CSV", data=audited(
                              lambda: cases_csv(ctx, state, order_by=order_by, descending=descending),
                              "export_cases_csv", {"kpi": state.kpi, "day": str(state.day),
                                                   "slice": ctx.describe(window, dates=False)}),
                          file_name=f"cases_{state.kpi}_{state.day}.csv", mime="text/csv", key="drilldown_csv",
                          icon=":material/download:", on_click="ignore",
                          help="Every case behind this view (up to 10,000), in this order")
    if total:
        cases = case_page(ctx, state, order_by=order_by, descending=descending, limit=size, offset=(number - 1) * size)
        shown, config = case_table(cases, zone=ctx.zone)
        st.dataframe(shown, key="drilldown_cases", hide_index=True, column_config=config, placeholder="")
        st.caption(f"{total:,} cases · page {number} of {pages}" + (" · the CSV holds the first 10,000"
                                                                      if total > 10_000 else ""))
    else:
        st.info(f"No cases behind this view on {state.day}.")
    if kpi.kind == "stock":
        st.caption("Backlog counts open cases, which a day cannot list: these are the cases created that day.")
