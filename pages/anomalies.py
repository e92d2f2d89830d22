"""Anomalies: every KPI × slice series scored causally; the ranked list and, for the chosen flag, its series."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from charts.figures import clip_band
from metrics.anomalies import InsufficientHistoryError
from metrics.kpis import get_kpi
from metrics.slices import Slice
from ui import state
from ui.anomaly_data import (
    anomalies,
    chosen_row,
    list_table,
    narrow,
    not_judged_text,
)
from ui.chart_panel import chart_panel
from ui.data import newest_complete_day
from ui.errors import guarded
from ui.links import drilldown_params
from ui.redraw import anomaly_chart
from ui.shell import page
from ui.state import link_params
from ui.text import md

SPANS = {"day": "Newest day", "week": "Last 7 days", "range": "Whole range"}

ctx, filters = page("Anomalies")
st.title("Anomalies")
with guarded():
    cols = st.columns([4, 3, 2], vertical_alignment="bottom")
    pick_kpis = state.widget(cols[0].multiselect, "KPI", ctx.kpis, key="anomalies_kpi", param="kpi", default=[],
                             parse=state.some_of(ctx.kpis, name="kpi", what="KPI"),
                             format_func=lambda n: get_kpi(n).label, placeholder="All KPIs")
    span_name = state.widget(cols[1].segmented_control, "Days", list(SPANS), key="anomalies_span", param="span",
                             default="day", parse=state.one_of(SPANS, name="span", what="choice of days"),
                             format_func=SPANS.get,
                             help="The newest day of the range (yesterday's stand-up), its last 7 days, or every "
                                  "day of the sidebar's date range") or "day"
    bad_only = state.widget(cols[2].toggle, "Bad direction only", key="anomalies_bad_only", param="bad",
                            default=False, parse=state.a_flag(name="bad"))
    state.report()
    day = min(filters.end, newest_complete_day(ctx))
    days = {"day": 1, "week": 7}.get(span_name, max(1, (day - filters.start).days + 1))
    try:
        found = anomalies(ctx, filters, day=day, days=days)
    except InsufficientHistoryError as err:
        st.info(f"Not enough history to judge these days yet: {md(err)}.", icon=":material/hourglass_empty:")
        st.stop()
    shown = narrow(found, kpis=tuple(pick_kpis), chosen={}, bad_only=bad_only).reset_index(drop=True)

first_day = day - timedelta(days=days - 1)
span = f"on {day:%a %d %b %Y}" if days == 1 else f"between {first_day:%d %b %Y} and {day:%d %b %Y}"
if shown.empty:
    narrowed = " for the chosen KPIs" if (pick_kpis or bad_only) else ""
    st.success(f"Nothing is abnormal {span}{narrowed}: every series stayed inside its expected range.",
               icon=":material/check_circle:")
    st.caption(not_judged_text(found))
    st.stop()

# one row per incident: the flag that names its cause (or, when a filter hides it, the first flag kept), with
# the incident's other flags that the filters keep counted under Related
listed = shown.drop_duplicates("incident").copy()
listed["related"] = (shown.groupby("incident")["incident"].transform("size") - 1).loc[listed.index]
st.caption(f"{len(listed)} incident{'s' if len(listed) != 1 else ''} ({len(shown)} abnormal "
           f"point{'s' if len(shown) != 1 else ''}) {span}, the most severe first "
           "(surprise × cases affected); each is named after the slice and KPI that explain it, its other flags "
           "are counted under Related. Each day is judged with only the data up to it; Days > 1 means a run of "
           "days judged together. Select a row to see it. " + not_judged_text(found))
table = list_table(listed)
event = st.dataframe(
    table, key="anomalies_table", on_select="rerun", selection_mode="single-row", hide_index=True,
    height=min(38 + 35 * len(table), 390),
    column_config={
        "Severity": st.column_config.ProgressColumn(
            "Severity", min_value=0.0, format="%.1f", max_value=float(max(table["Severity"].max(), 1.0)),
            help="How much the incident matters: its surprise (score) weighed by the cases behind it; the list is "
                 "sorted by it. A ranking, not a unit"),
        "Score": st.column_config.NumberColumn(
            "Score", format="%.1f sd", help="Surprise: robust standard deviations from the expected value "
                                            "(flagged above the [detector] threshold, 4 by default)"),
        "Observed": st.column_config.TextColumn("Observed", help="The KPI's value on the day, in its unit"),
        "Expected": st.column_config.TextColumn(
            "Expected", help="What the detector expected from the days before (Holt-Winters, causal)"),
        "Slice": st.column_config.TextColumn("Slice", width="large",
                                             help="Where it happened: the total, a value, or a combination"),
        "KPI": st.column_config.TextColumn("KPI", help="The measure that moved (definitions on the Trends page)"),
        "Direction": st.column_config.TextColumn(
            "Direction", help="spike: above expected; drop: below. (good) when that way is good for the KPI"),
        "Incident": st.column_config.NumberColumn(
            "Incident", format="%d", help="Flags of one cause seen at several levels share an incident number"),
        "Date": st.column_config.DateColumn("Date", format="ddd D MMM YYYY"),
        "Change": st.column_config.TextColumn(
            "Change", help="Observed against expected: in % of the expected value, or in points (pts) for a "
                           "percentage KPI"),
        "Cases off": st.column_config.NumberColumn(
            "Cases off", format="localized", help="How many cases the day is away from expected (for a rate: the "
                                                  "cases its change stands for)"),
        "Days": st.column_config.NumberColumn("Days", format="%d",
                                              help="Days judged together: 1 = the day alone, more = a run of days"),
        "Related": st.column_config.NumberColumn("Related", format="%d",
                                                 help="Other flags of the same incident (open the row to list them)"),
    })

# the row picked in the table, else the one the link names (?flag=), else the most severe
keys = [f"{k}|{sk}|{d:%Y-%m-%d}" for k, sk, d in zip(listed["kpi"], listed["slice_key"], listed["day"], strict=True)]
picked_row = chosen_row(event, len(listed))
if picked_row is None and (linked := st.query_params.get("flag")) in keys:
    picked_row = keys.index(linked)
picked_row = picked_row or 0
state.set_param("flag", [keys[picked_row]] if picked_row else [])
row = listed.iloc[picked_row]
kpi = get_kpi(row["kpi"])
flag_day = row["day"].date()
where = Slice.of(row["slice"]).words(ctx.dimensions)
st.subheader(f"{kpi.label} · {md(where)} · {flag_day:%a %d %b %Y}")
with guarded():
    drawn, detected, known = anomaly_chart(ctx, filters, kpi=kpi.name, slice=row["slice"], day=flag_day)
left, right = st.columns([3, 1])
with left:
    chart_panel(drawn.fig, key="anomalies_chart", meta=drawn.meta, data=drawn.data, kpi_names=drawn.kpi_names,
                takeaway=drawn.takeaway, key_numbers=drawn.key_numbers, notes=drawn.notes, spec=drawn.spec)
with right:
    st.metric("Observed", kpi.format(row["observed"]), kpi.format_change(row["observed"], row["expected"],
                                                                     against="expected") or None,
              delta_color="inverse" if kpi.bad_direction == "up" else "normal", border=True)
    low, high = clip_band(pd.DataFrame({"lower": [row["lower"]], "upper": [row["upper"]]}), kpi).iloc[0]
    st.metric("Expected", kpi.format(row["expected"]), border=True,
              help=f"Expected range {kpi.format(low)} – {kpi.format(high)}")
    st.metric("Score", f"{row['score']:.1f}", help="Robust standard deviations from expected", border=True)
    st.page_link("pages/drilldown.py", label="Open in drill-down", icon=":material/troubleshoot:",
                 query_params=link_params("pages/drilldown.py", drilldown_params(kpi.name, flag_day, row["slice"]),
                                          remembered=False))
config = detected.attrs.get("config")
if config is not None:
    masked = (f" {len(known):,} known event{'s' if len(known) != 1 else ''} of this series (holidays, outages, notes "
              "marked as known) are masked from the fit." if len(known) else "")
    st.caption(md(f"How it was judged: {config.describe()}{masked}"))
same = shown[(shown["incident"] == row["incident"]) & (shown.index != row.name)]
if len(same):
    with st.expander(f"{len(same)} more points in incident {row['incident']}"):
        st.dataframe(list_table(same), hide_index=True, key="anomalies_incident")
st.caption(f"{kpi.description} Filters: {md(ctx.describe(filters))}.")
