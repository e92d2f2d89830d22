"""The shared sidebar: date range and dimension filters → one :class:`loaders.Filters` for every page.

The filters live in the URL (``range=`` and ``f.<dimension>=``, see ``ui.state``), so they follow the user from
page to page, survive a reload and travel in a pasted link.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from loaders import Filters
from ui import state
from ui.data import DataContext, bounds, dimension_values, newest_complete_day

__all__ = ["render_sidebar"]

_STATE = "ops_filters"


def _stored(*_args: object, key: str, **_kwargs: object) -> object:
    """A widget that is not drawn (TV mode): the value the URL or the session holds."""
    return st.session_state[key]


def _check_scope(ctx: DataContext) -> None:
    """A link asking for a value outside the user's scope is refused outright (``NotAllowed``), before any
    number is read: the filter is not silently dropped to show the user's own totals instead."""
    for d, allowed in ctx.scope.limits:
        asked = st.query_params.get_all(f"{state.FILTER_PREFIX}{d}")
        if any(v not in allowed for v in asked):
            ctx.scope.restrict(Filters(date.min, date.min, {d: asked}))  # raises NotAllowed


def render_sidebar(ctx: DataContext, *, show: bool = True) -> Filters | None:
    """Draw the shared filters; returns the chosen :class:`Filters` (``None`` while a range is half-picked).

    With ``show=False`` (TV mode) nothing is drawn: the URL's filters (or the defaults) are used.
    """
    _check_scope(ctx)
    first, last = bounds(ctx)
    newest = newest_complete_day(ctx)
    default = (max(first, newest - timedelta(days=55)), newest)
    values = dimension_values(ctx)
    parse_range, render_range = state.date_range(name="range", first=first, last=last)
    with st.sidebar if show else st.empty():
        if show:
            st.caption("Filters apply to every page")
        picked = state.widget(st.date_input if show else _stored, "Date range", key="sidebar_range", param="range",
                              default=default, parse=parse_range, render=render_range, shared=True,
                              value=default, min_value=first, max_value=last, format="YYYY-MM-DD")
        chosen = {}
        for d in ctx.dimensions:
            param = f"{state.FILTER_PREFIX}{d}"
            chosen[d] = tuple(state.widget(
                st.multiselect if show else _stored, ctx.label(d), values[d], key=f"sidebar_{d}", param=param,
                default=[], parse=state.some_of(values[d], name=param, what=ctx.label(d).lower()),
                shared=True, placeholder="All"))
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        return st.session_state.get(_STATE)
    start, end = picked
    filters = Filters(start, end, chosen)
    st.session_state[_STATE] = filters
    return filters
