"""The frame every page shares: page config, navigation and the shared sidebar.

Page model, chosen deliberately: the product's layout has a ``pages/`` folder, and whenever that folder
exists Streamlit runs the app in its "pages directory" mode — every rerun executes the page's own script,
so a router in ``app.py`` built with ``st.navigation`` would be skipped on reruns (measured: filters set
in it were lost after the first interaction). So ``app.py`` is the home page (the stand-up), every page
starts by calling :func:`page`, the built-in page list is hidden (``client.showSidebarNavigation = false``)
and :data:`NAVIGATION` below is the one place that names, orders and labels the pages.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from loaders import Filters
from ui.data import DataContext, context
from ui.errors import guarded
from ui.sidebar import render_sidebar

__all__ = ["NAVIGATION", "page"]

_ROOT = Path(__file__).resolve().parent.parent

#: (script, label, icon) in menu order; a script that does not exist yet is left out
NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("app.py", "Stand-up", ":material/today:"),
    ("pages/trends.py", "Trends", ":material/show_chart:"),
    ("pages/anomalies.py", "Anomalies", ":material/crisis_alert:"),
    ("pages/drilldown.py", "Drill-down", ":material/troubleshoot:"),
    ("pages/deck.py", "Deck", ":material/slideshow:"),
    ("pages/data.py", "Data", ":material/database:"),
)


def page(title: str, *, sidebar: bool = True) -> tuple[DataContext, Filters]:
    """Set up a page: config, navigation, data context and the shared filters.

    A configuration or connection problem ends the page here with a message and a hint.
    """
    st.set_page_config(page_title=f"{title} · Identity Ops", page_icon=str(_ROOT / "ui" / "assets" / "icon.png"),
                       layout="wide", initial_sidebar_state="expanded" if sidebar else "collapsed")
    if sidebar:
        with st.sidebar:
            st.markdown("### Identity Ops")
            for script, label, icon in NAVIGATION:
                if (_ROOT / script).exists():
                    st.page_link(script, label=label, icon=icon)
            st.divider()
    with guarded():
        ctx = context()
        filters = render_sidebar(ctx, show=sidebar)
    if filters is None:
        st.info("Pick the end of the date range in the sidebar.")
        st.stop()
    return ctx, filters
