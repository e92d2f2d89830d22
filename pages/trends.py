"""Trends: any KPI over the chosen range, split by a dimension, at a daily, weekly or monthly grain."""

import streamlit as st

from charts.figures import trend_figure
from metrics.kpis import KPIS, get_kpi
from ui.data import kpi_frame
from ui.errors import guarded
from ui.shell import page
from ui.sidebar import LABELS

ctx, filters = page("Trends")
st.title("Trends")
with guarded():
    left, mid, right = st.columns([2, 2, 3])
    name = left.selectbox("KPI", [k.name for k in KPIS], format_func=lambda n: get_kpi(n).label, key="trends_kpi")
    split = mid.selectbox("Split by", ["none", *LABELS], format_func=lambda d: LABELS.get(d, "No split"),
                          key="trends_split")
    grain = right.segmented_control("Grain", ["day", "week", "month"], default="day", key="trends_grain") or "day"
    by = () if split == "none" else (split,)
    frame = kpi_frame(ctx, filters, grain=grain, by=by)

kpi = get_kpi(name)
if frame.empty or frame[kpi.name].isna().all():
    st.warning(f"No {kpi.label.lower()} values for {filters.describe()}. Widen the date range or clear a filter.")
    st.stop()

st.plotly_chart(trend_figure(frame, kpi, by=split if by else None,
                             title=f"{kpi.label} by {grain}" + (f", split by {LABELS[split].lower()}" if by else "")),
                key="trends_chart")
st.caption(f"{kpi.description} Filters: {filters.describe()}.")
table = frame.reset_index().pivot_table(index="day", columns=split, values=kpi.name) if by else frame[[kpi.name]]
st.dataframe(table.round(kpi.decimals + 1), key="trends_table")
