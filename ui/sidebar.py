"""The shared sidebar: date range and dimension filters → one :class:`loaders.Filters` for every page."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from loaders import DIMENSIONS, Filters
from ui.data import DataContext, bounds, dimension_values, newest_complete_day

__all__ = ["LABELS", "current_filters", "render_sidebar"]

LABELS = {"workflow": "Workflow", "vendor_site": "Vendor site", "channel": "Channel", "language": "Language"}
_STATE = "ops_filters"


def render_sidebar(ctx: DataContext) -> Filters | None:
    """Draw the shared filters; returns the chosen :class:`Filters` (``None`` while a range is half-picked)."""
    first, last = bounds(ctx)
    newest = newest_complete_day(ctx)
    default = (max(first, newest - timedelta(days=55)), newest)
    with st.sidebar:
        st.caption("Filters apply to every page")
        picked = st.date_input("Date range", value=default, min_value=first, max_value=last,
                               key="sidebar_range", format="YYYY-MM-DD")
        values = dimension_values(ctx)
        chosen = {d: tuple(st.multiselect(LABELS[d], values[d], key=f"sidebar_{d}", placeholder="All"))
                  for d in DIMENSIONS}
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.sidebar.info("Pick the end of the range.")
        return st.session_state.get(_STATE)
    start, end = picked
    filters = Filters(start, end, **chosen)
    st.session_state[_STATE] = filters
    return filters


def current_filters() -> Filters:
    """The filters the sidebar set on this run (pages call this)."""
    filters = st.session_state.get(_STATE)
    if filters is None:
        st.info("Choose a date range in the sidebar.")
        st.stop()
    return filters


def clamp(day: date, lo: date, hi: date) -> date:
    return min(max(day, lo), hi)
