"""The frame every page shares: page config, navigation and the shared sidebar.

Page model, chosen deliberately: the product's layout has a ``pages/`` folder, and whenever that folder
exists Streamlit runs the app in its "pages directory" mode — every rerun executes the page's own script,
so a router in ``app.py`` built with ``st.navigation`` would be skipped on reruns (measured: filters set
in it were lost after the first interaction). So ``app.py`` is the home page (the stand-up), every page
starts by calling :func:`page`, the built-in page list is hidden (``client.showSidebarNavigation = false``)
and :data:`NAVIGATION` below is the one place that names, orders and labels the pages.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from loaders import Access, Filters, OpsDataError, User
from loaders.settings import fallback_access
from ui import state
from ui.app_store import StoreError, bind_deck, delete_view, save_view, saved_views
from ui.auth import render_account, require_user
from ui.data import DataContext, context, current_settings, matches_any_case
from ui.errors import guarded
from ui.sidebar import render_sidebar
from ui.text import md, style_sheets

__all__ = ["NAVIGATION", "TVMode", "page", "parse_tv", "tv_mode"]

_ROOT = Path(__file__).resolve().parent.parent
TV_PARAMS = ("tv", "refresh", "rotate", "dwell")

#: (script, label, icon) in menu order; a script that does not exist yet is left out
NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("app.py", "Stand-up", ":material/today:"),
    ("pages/trends.py", "Trends", ":material/show_chart:"),
    ("pages/anomalies.py", "Anomalies", ":material/crisis_alert:"),
    ("pages/drilldown.py", "Drill-down", ":material/troubleshoot:"),
    ("pages/deck.py", "Deck", ":material/slideshow:"),
    ("pages/digests.py", "Digests", ":material/forward_to_inbox:"),
    ("pages/data.py", "Data", ":material/database:"),
)
#: pages only an admin opens (they change the connection, the mapping or the data)
ADMIN_PAGES = frozenset({"pages/data.py"})



@dataclass(frozen=True)
class TVMode:
    """Unattended wall-screen mode (``?tv=1``): no sidebar, large type, auto-refresh, optional rotation.

    Attributes
    ----------
    refresh_s : int
        Seconds between data refreshes of the page body (``?refresh=``, default 300, at least 10).
    rotate : tuple of str
        Scripts to cycle through (``?rotate=standup,trends,anomalies``: page names as in the URL,
        ``standup`` for the home page); empty means no rotation.
    dwell_s : int
        Seconds each page of the rotation stays on screen (``?dwell=``, default 60, at least 10).
    """

    refresh_s: int = 300
    rotate: tuple[str, ...] = ()
    dwell_s: int = 60


def _seconds(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"`?{name}=` must be a number of seconds, got {raw!r}") from None
    if value < 10:
        raise ValueError(f"`?{name}=` must be >= 10 seconds, got {value}")
    return value


def parse_tv(params: Mapping[str, str]) -> TVMode | None:
    """The TV mode asked for by the URL's query parameters (``None`` when ``tv`` is absent or 0).

    Parameters
    ----------
    params : mapping
        Query parameters (``st.query_params``).

    Returns
    -------
    TVMode or None

    Raises
    ------
    ValueError
        For a ``refresh``/``dwell`` that is not a number >= 10, or a ``rotate`` entry that names no page.

    Examples
    --------
    >>> parse_tv({"tv": "1", "rotate": "standup,trends", "dwell": "30"})
    TVMode(refresh_s=300, rotate=('app.py', 'pages/trends.py'), dwell_s=30)
    >>> parse_tv({}) is None
    True
    """
    if str(params.get("tv", "")).lower() not in ("1", "true", "yes", "on"):
        return None
    names = {("standup" if script == "app.py" else Path(script).stem): script for script, _l, _i in NAVIGATION}
    rotate = []
    for name in filter(None, (n.strip().lower() for n in str(params.get("rotate", "")).split(","))):
        if name not in names:
            raise ValueError(f"`?rotate=` names unknown page {name!r}; pages: {', '.join(names)}")
        rotate.append(names[name])
    return TVMode(_seconds(params, "refresh", 300), tuple(rotate), _seconds(params, "dwell", 60))


def tv_mode() -> TVMode | None:
    """The current page's TV mode, from ``st.query_params`` (defaults where a parameter is bad)."""
    try:
        return parse_tv(st.query_params.to_dict())
    except ValueError:
        return TVMode()


def _rotation(tv: TVMode, title: str) -> None:
    admin = st.session_state.get("ops_user_role", "admin") == "admin"  # a wall screen not signed in as an admin
    scripts = [s for s in tv.rotate if (_ROOT / s).exists() and (admin or s not in ADMIN_PAGES)]  # skips Data
    current = next((s for s, label, _i in NAVIGATION if label == title), None)
    if len(scripts) < 2 and not (scripts and scripts[0] != current):
        return
    following = scripts[(scripts.index(current) + 1) % len(scripts)] if current in scripts else scripts[0]
    shown = {"page": current, "since": time.monotonic()}
    if st.session_state.get("tv_rotation", {}).get("page") != current:
        st.session_state["tv_rotation"] = shown

    @st.fragment(run_every=tv.dwell_s)
    def advance() -> None:
        # the timer also fires at the first draw: only switch once the page has been up a full dwell
        if time.monotonic() - st.session_state["tv_rotation"]["since"] >= tv.dwell_s - 1:
            st.session_state.pop("tv_rotation", None)
            # the next page gets the filters (every value of each) and the TV options, and its own last state
            st.switch_page(following, query_params=state.link_params(following))

    advance()


def page(title: str, *, sidebar: bool = True, tv: bool | None = None, require_data: bool = True,
         uses_filters: bool = True) -> tuple[DataContext | None, Filters | None]:
    """Set up a page: config, navigation, data context and the shared filters.

    A configuration or connection problem ends the page here with a message and a hint — unless
    ``require_data=False`` (the Data page, where a user goes to fix exactly that): then the page gets
    ``(None, None)``, or ``(ctx, None)`` when the roll-up is empty, and diagnoses the problem itself.

    Parameters
    ----------
    title : str
        The page's label in :data:`NAVIGATION` (also the browser tab's title).
    sidebar : bool, keyword-only
        Draw the navigation and the shared filters.
    tv : bool, optional, keyword-only
        Force TV mode on or off; by default it follows the URL (``?tv=1``, see :func:`parse_tv`):
        no sidebar, no header, large type, and rotation through ``?rotate=`` pages.
    require_data : bool, keyword-only
        Stop the page on a data error (default); ``False`` hands the problem to the page.
    uses_filters : bool, keyword-only
        The page shows data for the sidebar's filters: when they match no case at all, the page says so and
        stops (the drill-down, which reads its slice from the URL, passes ``False``).
    """
    mode = tv_mode() if tv is None else (TVMode() if tv else None)
    if mode is not None:
        sidebar = False
    st.set_page_config(page_title=f"{title} · Identity Ops", page_icon=str(_ROOT / "ui" / "assets" / "icon.png"),
                       layout="wide", initial_sidebar_state="expanded" if sidebar else "collapsed")
    script = next((s for s, label, _i in NAVIGATION if label == title), title)
    user = _gate(title, script)
    state.begin(script)
    for option in TV_PARAMS:  # TV mode and its options travel with every link, like the filters
        state.mark_shared(option)
    bind_deck()  # the current deck is in the URL like the filters
    menu = None
    if sidebar:
        with st.sidebar:
            st.markdown("### Identity Ops")
            if user is not None:
                render_account(user, _access())
                if user.role == "partner":
                    st.caption(f"You see {md(user.scope.describe(_label))} only.")
            menu = st.container()  # filled once the filters are read: the links carry them
            st.divider()
    if mode is not None:
        style_sheets("tv.css")
        if tv is None:
            try:
                parse_tv(st.query_params.to_dict())
            except ValueError as err:
                st.warning(f"TV mode: {md(err)}; using the defaults.", icon=":material/tv:")
        _rotation(mode, title)
    if not require_data:
        try:
            ctx = context()
        except OpsDataError:
            _menu(menu)
            return None, None
        try:
            filters = render_sidebar(ctx, show=sidebar)
        except (OpsDataError, ValueError):
            filters = None
        _menu(menu)
        return ctx, filters
    try:
        with guarded():
            ctx = context()
            filters = render_sidebar(ctx, show=sidebar)
    finally:
        _menu(menu)
    stale_banner(ctx)
    state.report()
    if filters is None:
        st.info("Pick the end of the date range in the sidebar.")
        st.stop()
    if uses_filters:
        with guarded():
            matched = matches_any_case(ctx, filters)
        if not matched:
            st.title(title)
            st.info(f"**No cases match these filters** ({md(ctx.describe(filters, dates=False))}): no day in the data "
                    "has a case with all of them. Clear a filter in the sidebar.", icon=":material/filter_alt_off:")
            st.stop()
    return ctx, filters


def _access() -> Access:
    try:
        return current_settings().access
    except OpsDataError:
        return fallback_access() or Access()


def _label(dimension: str) -> str:
    try:
        return current_settings().label(dimension)
    except OpsDataError:
        return dimension


def _gate(title: str, script: str) -> User:
    """Sign-in before anything is read: the user, or the page stops saying why it shows nothing."""
    try:
        access: Access | None = current_settings().access
    except OpsDataError:
        # the rest of the file is broken: sign-in is still enforced from [auth] and [roles] alone, and when even
        # they cannot be read nothing is shown (only an admin may see the configuration's problem)
        access = fallback_access()
        if access is None:
            st.title(title)
            st.error("**The configuration cannot be read, and it sets who may sign in**, so nothing is shown. An "
                     "admin can fix ops.toml on the server; the app picks it up without a restart.",
                     icon=":material/lock:")
            st.stop()
    user = require_user(access, title=title)
    st.session_state["ops_user_role"] = user.role
    if script in ADMIN_PAGES and not user.is_admin:
        st.title(title)
        st.info("Only an admin can open this page: it changes the connection, the mapping and the data.",
                icon=":material/admin_panel_settings:")
        st.stop()
    return user


def _menu(menu: DeltaGenerator | None) -> None:
    """The page links, each carrying the shared filters and the target page's own state (``ui.state``),
    and the saved views."""
    if menu is None:
        return
    admin = st.session_state.get("ops_user_role", "admin") == "admin"
    with menu:
        for script, label, icon in NAVIGATION:
            if script in ADMIN_PAGES and not admin:
                continue
            if (_ROOT / script).exists():
                st.page_link(script, label=label, icon=icon, query_params=state.link_params(script))
        _saved_views()


_LABELS = {script: label for script, label, _i in NAVIGATION}


def _save_view(script: str) -> None:
    name = st.session_state.get("view_name", "")
    try:
        save_view(name, script, replace=bool(st.session_state.get("view_replace")))
    except StoreError as err:
        st.session_state["view_problem"] = str(err)
        return
    st.session_state.pop("view_problem", None)
    st.session_state["view_name"] = ""
    st.toast(f"Saved the view “{md(name.strip())}”.", icon=":material/bookmark_added:")


def _delete_view(view_id: int) -> None:
    try:
        delete_view(view_id)
    except StoreError as err:
        st.session_state["view_problem"] = str(err)


def _saved_views() -> None:
    """Named pages with their state: one click reopens the page, its filters and choices."""
    script = state.current_page()
    with st.expander("Saved views", icon=":material/bookmarks:"):
        try:
            views = saved_views()
        except StoreError as err:
            st.caption(f"Saved views are unavailable: {md(err)}")
            return
        for view in views:
            link, drop = st.columns([6, 1], vertical_alignment="center")
            if (_ROOT / view.page).exists():
                link.page_link(view.page, label=md(view.name), query_params=view.params or None,
                               help=f"Opens {_LABELS.get(view.page, view.page)} with the filters and choices saved")
            else:
                link.caption(f"{md(view.name)}: its page no longer exists")
            drop.button("", key=f"view_delete_{view.id}", icon=":material/close:", type="tertiary",
                        help=f"Delete the view “{md(view.name)}”", on_click=_delete_view, args=(view.id,))
        if not views:
            st.caption("Name this page with its filters and choices to reopen it later, or to share it.")
        st.text_input("Name", key="view_name", max_chars=120, placeholder="e.g. Manila stand-up",
                      label_visibility="collapsed")
        st.checkbox("Replace a view of that name", key="view_replace")
        st.button("Save this view", key="view_save", icon=":material/bookmark_add:", on_click=_save_view,
                  args=(script,), width="stretch")
        if problem := st.session_state.get("view_problem"):
            st.caption(f":material/error: {md(problem)}")


def stale_banner(ctx: DataContext) -> None:
    """When the latest refresh failed, say so on every page that still shows the previous roll-up."""
    if ctx.refresh_problem is None:
        return
    state = ctx.state
    as_of = f"up to {state.max_day:%a %d %b %Y}" if state and state.max_day else "as last built"
    when = f", refreshed {state.refreshed_at:%Y-%m-%d %H:%M} UTC" if state and state.refreshed_at else ""
    problem = ctx.refresh_problem
    why = "; ".join(getattr(problem, "problems", ()) or [str(problem)])
    st.warning(f"**Showing the data {as_of}{when}: the latest refresh failed** ({md(why, code=True)}). "
               "The Data page says how to fix it; the refresh is retried every minute.",
               icon=":material/sync_problem:")
