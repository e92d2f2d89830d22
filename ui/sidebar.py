"""The shared sidebar: date range and dimension filters → one :class:`loaders.Filters` for every page."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from loaders import Filters
from ui.data import DataContext, bounds, dimension_values, newest_complete_day

__all__ = ["render_sidebar"]

_STATE = "ops_filters"


def render_sidebar(ctx: DataContext, *, show: bool = True) -> Filters | None:
    """Draw the shared filters; returns the chosen :class:`Filters` (``None`` while a range is half-picked).

    With ``show=False`` (TV mode) nothing is drawn and the last filters (or the defaults) are used.
    """
    first, last = bounds(ctx)
    newest = newest_complete_day(ctx)
    default = (max(first, newest - timedelta(days=55)), newest)
    if not show:
        return st.session_state.get(_STATE) or Filters(*default)
    with st.sidebar:
        st.caption("Filters apply to every page")
        picked = st.date_input("Date range", value=default, min_value=first, max_value=last,
                               key="sidebar_range", format="YYYY-MM-DD")
        values = dimension_values(ctx)
        chosen = {d: tuple(st.multiselect(ctx.label(d), values[d], key=f"sidebar_{d}", placeholder="All"))
                  for d in ctx.dimensions}
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        return st.session_state.get(_STATE)
    start, end = picked
    filters = Filters(start, end, chosen)
    st.session_state[_STATE] = filters
    return filters

