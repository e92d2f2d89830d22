"""One way to draw a chart on any page: the plotly chart plus PNG / SVG / CSV downloads and "Add to deck".

Every page draws its charts with :func:`chart_panel`, so every chart of the app exports the same way:

- **PNG** (1600 x 900 layout at 2x, i.e. 3200 x 1800 pixels) and **SVG**, deck-ready through
  :func:`charts.export.decorate` (title, filters as subtitle, unit, "Source … · Data as of …").
  They are rendered *only when the button is clicked* (Streamlit's deferred download: the callable
  runs off the page script, so a rerun never pays for an image) by the one shared headless browser
  of :mod:`charts.export`, serialized by its lock.
- **CSV** of the chart's data (the frame passed as ``data``, else what the figure draws).
- **Add to deck** stores a :class:`charts.deck_items.DeckItem` in the current deck, kept in the app database
  (``ui.app_store``); the Deck page orders it and builds the .pptx.

When no browser is available the image buttons are disabled and the panel says why and how to fix
it; CSV and "Add to deck" keep working (the deck itself needs the browser when it is built).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from charts.deck_items import DeckItem
from charts.export import ChartMeta, browser_status, to_csv, to_png, to_svg
from loaders import Filters
from ui.app_store import StoreError, add_to_deck, audited, sync_deck_param
from ui.data import DataContext, bounds
from ui.text import md

__all__ = [
    "ExportFile",
    "chart_meta",
    "chart_panel",
    "export_files",
    "file_stem",
]


#: presentation size of exported images: a 16:9 slide at twice the pixel density
PNG_SIZE = {"width": 1600, "height": 900, "scale": 2}


@dataclass(frozen=True)
class ExportFile:
    """One download offered beside a chart; ``make`` renders its bytes when called."""

    label: str
    file_name: str
    mime: str
    make: Callable[[], bytes]
    needs_browser: bool


MAX_STEM = 32  # characters of the title in a file name (plus "_YYYY-MM-DD")


def file_stem(meta: ChartMeta) -> str:
    """A file name stem from the chart title and its freshness.

    Examples
    --------
    >>> file_stem(ChartMeta("AHT by vendor site, week", as_of=dt.date(2026, 6, 30)))
    'aht-by-vendor-site-week_2026-06-30'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", meta.title.lower()).strip("-") or "chart"
    if len(slug) > MAX_STEM:  # a sentence for a title made 80-character file names: its first words, whole
        cut = slug[:MAX_STEM + 1]
        slug = cut[:cut.rfind("-")] if "-" in cut else slug[:MAX_STEM]
    return f"{slug}_{meta.as_of:%Y-%m-%d}" if meta.as_of else slug


def export_files(fig: go.Figure, meta: ChartMeta, *, data: pd.DataFrame | None = None) -> dict[str, ExportFile]:
    """The PNG, SVG and CSV downloads of a chart, each rendered only when ``make()`` is called.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The chart as drawn on the page (not modified).
    meta : ChartMeta
        Printed around the exported images.
    data : pandas.DataFrame, optional, keyword-only
        The chart's data for the CSV; defaults to what the figure draws.

    Returns
    -------
    dict of str to ExportFile
        Keys ``"png"``, ``"svg"``, ``"csv"``.

    Examples
    --------
    >>> files = export_files(go.Figure(go.Bar(x=["a"], y=[1], name="n")), ChartMeta("Solved"))
    >>> files["csv"].make().decode().splitlines()
    ['x,n', 'a,1']
    """
    stem = file_stem(meta)
    return {
        "png": ExportFile("PNG", f"{stem}.png", "image/png", lambda: to_png(fig, meta, **PNG_SIZE), True),
        "svg": ExportFile("SVG", f"{stem}.svg", "image/svg+xml",
                          lambda: to_svg(fig, meta, width=PNG_SIZE["width"], height=PNG_SIZE["height"]), True),
        "csv": ExportFile("CSV", f"{stem}.csv", "text/csv",
                          lambda: to_csv(data if data is not None else fig), False),
    }


def chart_meta(ctx: DataContext, filters: Filters, *, title: str, unit: str = "", note: str = "") -> ChartMeta:
    """Export metadata for a chart of this page: filters as subtitle, the roll-up as source.

    Parameters
    ----------
    ctx : DataContext
        The page's data context (``ui.shell.page``).
    filters : Filters
        The filters the chart shows.
    title : str, keyword-only
        Chart title.
    unit : str, keyword-only
        Unit of the values axis (a KPI's ``unit``).
    note : str, keyword-only
        Appended to the subtitle, e.g. "split by vendor site".

    Returns
    -------
    ChartMeta
    """
    subtitle = ctx.describe(filters) + (f" · {note}" if note else "")
    try:
        as_of: dt.date | None = bounds(ctx)[1]
    except ValueError:
        as_of = None
    return ChartMeta(title, subtitle=subtitle, unit=unit, source=f"{ctx.settings.rollup_table} (daily roll-up)",
                     as_of=as_of)


def _on_add(fig: go.Figure, meta: ChartMeta, data: pd.DataFrame | None, kpi_names: tuple[str, ...],
            takeaway: str | None, key_numbers: Sequence[tuple[str, str]] | None, origin: str, notes: str = "",
            spec: Mapping | None = None) -> None:
    # Runs only on click: the figure JSON and the default takeaway are not worth computing every rerun.
    item = DeckItem.from_figure(fig, meta, kpi_names=kpi_names, data=data, takeaway=takeaway,
                                key_numbers=key_numbers, origin=origin, notes=notes, spec=spec)
    try:
        count = add_to_deck(item)
    except StoreError as err:
        st.session_state[f"{origin}_added"] = (f"Not added to the deck: {md(err)}", ":material/error:")
        return
    # shown by the button's fragment as it redraws (a callback of a fragment must not draw)
    st.session_state[f"{origin}_added"] = (
        f"Added “{md(meta.title)}” to the deck ({count} chart{'s' if count != 1 else ''}). "
        "Order and build it on the Deck page; the deck is saved.", ":material/slideshow:")


@st.fragment
def _add_button(fig: go.Figure, meta: ChartMeta, data: pd.DataFrame | None, kpi_names: tuple[str, ...],
                takeaway: str | None, key_numbers: Sequence[tuple[str, str]] | None, key: str,
                notes: str = "", spec: Mapping | None = None) -> None:
    """"Add to deck" in a fragment of its own: a click reruns only this button, so the PNG / SVG downloads beside
    it keep their files (a PNG clicked within a second of "Add to deck" used to find its file gone)."""
    st.button("Add to deck", key=f"{key}_deck", icon=":material/add_to_queue:", type="tertiary",
              help="Collect this chart, with its current filters, for a PowerPoint deck (Deck page)",
              on_click=_on_add, args=(fig, meta, data, kpi_names, takeaway, key_numbers, key, notes, spec))
    if done := st.session_state.pop(f"{key}_added", None):
        sync_deck_param()  # a deck started here is in the URL at once: a reload or a copied link keeps it
        st.toast(done[0], icon=done[1])


def chart_panel(
    fig: go.Figure,
    *,
    key: str,
    meta: ChartMeta,
    data: pd.DataFrame | None = None,
    kpi_names: Sequence[str] = (),
    takeaway: str | None = None,
    key_numbers: Sequence[tuple[str, str]] | None = None,
    notes: str = "",
    spec: Mapping | None = None,
    on_select: Any = "ignore",
    selection_mode: Any = ("points", "box", "lasso"),
    **plotly_kwargs: Any,
) -> Any:
    """Draw ``fig`` with its export buttons (PNG, SVG, CSV, Add to deck) underneath.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The chart.
    key : str, keyword-only
        Widget key of the chart (page-prefixed, e.g. ``"trends_chart"``); the buttons derive theirs
        from it (``f"{key}_png"``, ``_svg``, ``_csv``, ``_deck``).
    meta : ChartMeta, keyword-only
        Title, filters, unit, source and freshness printed on exports (see :func:`chart_meta`).
    data : pandas.DataFrame, optional, keyword-only
        The chart's data for the CSV and the default takeaway; defaults to what the figure draws.
    kpi_names : sequence of str, keyword-only
        Registry names of the KPIs shown (definitions in the deck's notes; the first is summarised).
    takeaway, key_numbers : optional, keyword-only
        Defaults for the deck slide; computed from the data when the item is added if omitted.
    notes : str, keyword-only
        The analysts' notes on the chart's days (``ui.notes.deck_notes``): the slide's speaker notes.
    spec : mapping, optional, keyword-only
        How to draw the chart again on newer data (``ui.redraw``); stored with the deck item.
    on_select, selection_mode : keyword-only
        Passed to ``st.plotly_chart`` (e.g. ``on_select="rerun"`` to react to clicks).
    **plotly_kwargs
        Further ``st.plotly_chart`` arguments (``config``, ``height``…).

    Returns
    -------
    Any
        What ``st.plotly_chart`` returns: the selection event when ``on_select`` is set.
    """
    # theme=None: draw the figure's own "ops" template, so the screen matches the exported image
    plotly_kwargs.setdefault("theme", None)
    # the chart's own "download as png" would bypass the audit log: the PNG button below is the one way out
    config = dict(plotly_kwargs.pop("config", None) or {})
    config["modeBarButtonsToRemove"] = [*config.get("modeBarButtonsToRemove", []), "toImage"]
    config.setdefault("displaylogo", False)
    plotly_kwargs["config"] = config
    event = st.plotly_chart(fig, key=key, on_select=on_select, selection_mode=selection_mode, **plotly_kwargs)
    ok, status = browser_status()
    files = export_files(fig, meta, data=data)
    with st.container(horizontal=True, horizontal_alignment="right", gap="small", key=f"{key}_exports"):
        for name, file in files.items():
            unavailable = file.needs_browser and not ok
            help_text = status if unavailable else (
                f"Download {file.label}" + (" (3200 x 1800 px, titled and sourced)" if name == "png" else
                                             " (vector, titled and sourced)" if name == "svg" else
                                             " of the chart's data"))
            st.download_button(file.label, data=audited(file.make, f"export_{name}", {
                                   "file": file.file_name, "chart": meta.title, "filters": meta.subtitle}),
                               file_name=file.file_name, mime=file.mime,
                               key=f"{key}_{name}", on_click="ignore", icon=":material/download:",
                               type="tertiary", help=help_text, disabled=unavailable)
        _add_button(fig, meta, data, tuple(kpi_names), takeaway, key_numbers, key, notes, spec)
    if not ok:
        st.caption(f":material/warning: {md(status)}")
    return event
