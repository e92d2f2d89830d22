"""Identity Ops Dashboard — entry point and home page: the stand-up.

Streamlit runs ``pages/`` in its pages-directory mode, so this file is the home page; the shared frame
(page config, navigation, sidebar) lives in ``ui/shell.py``.
"""

from datetime import timedelta

import streamlit as st

from metrics.kpis import KPIS
from ui.data import kpi_frame, newest_complete_day
from ui.errors import guarded
from ui.shell import page

TILE_KPIS = ("incoming", "manual_incoming", "solved", "manual_solved", "automation_rate", "aht", "aas", "backlog",
             "sla_attainment")

ctx, filters = page("Stand-up")
with guarded():
    newest = newest_complete_day(ctx)
    day = st.sidebar.date_input("Stand-up day", value=newest, max_value=newest, min_value=filters.start
                                if filters.start < newest else newest - timedelta(days=365), key="standup_day",
                                format="YYYY-MM-DD")
    window = filters.with_range(day - timedelta(days=27), day)
    values = kpi_frame(ctx, window)

st.title(f"Stand-up · {day:%A %d %B %Y}")
st.caption(f"Compared with the same weekday last week ({day - timedelta(days=7):%a %d %b}). "
           f"Filters: {filters.describe().split(' · ', 1)[1] if filters.dimension_filters else 'none'}.")

specs = [k for k in KPIS if k.name in TILE_KPIS]
columns = st.columns(3)
for i, kpi in enumerate(specs):
    series = values[kpi.name]
    today, week_ago = series.iloc[-1], series.iloc[-8]
    delta = None
    if week_ago and week_ago == week_ago and today == today:
        change = (today - week_ago) / abs(week_ago) * 100
        delta = f"{change:+.1f} % vs last week"
    with columns[i % 3]:
        st.metric(kpi.label, kpi.format(today), delta, help=kpi.description, border=True,
                  delta_color="inverse" if kpi.bad_direction == "up" else "normal",
                  chart_data=series.fillna(0).round(2).tolist(), chart_type="line" if kpi.kind != "flow" else "bar")
