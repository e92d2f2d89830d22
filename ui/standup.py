"""The stand-up page's Streamlit side: cached data for one day, and the components that draw it.

The rules live in :mod:`metrics.standup` (pure); this module only fetches (cached, keyed by the data
context's key plus the widget values) and draws. Everything reads one KPI panel (``ui.anomaly_data``):
the tiles use its total series, the scorecard and the small multiples its one-dimension slices, and
the anomaly list is that panel's scan — so a tile and the list never disagree. Each listed anomaly
carries the drill-down's one-line root-cause sentence and a link that opens the drill-down there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import loaders
from charts.figures import MULTIPLES_MAX, workflow_figure
from charts.theme import BAD_INK, BAD_TINT, GOOD_INK, GOOD_TINT
from loaders import Filters, OpsDataError, clock
from metrics import drilldown as dd
from metrics.kpis import KPI, get_kpi
from metrics.panel import Scored
from metrics.slices import Slice
from metrics.standup import (
    SCORECARD_KPIS,
    TILE_KPIS,
    Freshness,
    Tile,
    assess_freshness,
    narrative,
    panel_frame,
    scorecard,
    tiles,
    workflow_bands,
)
from store import Note
from ui import anomaly_data
from ui.chart_panel import chart_panel
from ui.data import DataContext, cached, dimension_values, newest_complete_day, volume
from ui.errors import show_problem
from ui.links import drilldown_link, drilldown_params
from ui.notes import note_form, notes_on, render_notes, view_slice
from ui.redraw import multiples_chart
from ui.state import link_params
from ui.text import md, style_sheets

__all__ = [
    "DRILLDOWN_PAGE",
    "TOP_ANOMALIES",
    "TV_ANOMALIES",
    "TV_SITES",
    "AnomalyItem",
    "day_anomalies",
    "day_summary",
    "freshness",
    "inject_css",
    "render_anomalies",
    "render_freshness",
    "render_multiples",
    "render_narrative",
    "render_scorecard",
    "render_tiles",
    "safe",
    "scanned_words",
    "site_scorecard",
    "standup_narrative",
    "standup_tiles",
    "utcnow",
    "workflow_chart",
    "workflow_frame",
]

_ROOT = Path(__file__).resolve().parent.parent
DRILLDOWN_PAGE = "pages/drilldown.py"
#: anomalies listed on the stand-up (one per incident, most severe first); the rest are on the Anomalies page
TOP_ANOMALIES = 5
#: a TV has room for fewer: the list and the scorecard must fit one 1920 x 1080 screen beside the tiles
TV_ANOMALIES = 3
TV_SITES = 7
_STATE_COLOURS = {"bad": "red", "good": "green"}



def utcnow() -> datetime:
    """The current UTC time, naive (the data's timestamps are naive UTC); see :func:`loaders.clock.utcnow`."""
    return clock.utcnow()


# ----------------------------------------------------------------------------------------- data
@cached(entries=8, ttl="live")
def _freshness_inputs(ctx: DataContext) -> tuple[datetime | None, datetime | None, date | None]:
    state = loaders.rollup_state(ctx.rollup, ctx.settings)
    if ctx.has_cases:
        newest = loaders.newest_case(ctx.source, settings=ctx.settings)
    else:  # a daily-volume source has no timestamps finer than the day: its end is the newest "case"
        newest = datetime.combine(state.max_day, datetime.max.time()) if state.max_day else None
    return newest, state.refreshed_at, state.max_day


def freshness(ctx: DataContext, *, now: datetime | None = None) -> Freshness:
    """Newest case, the roll-up's last refresh and whether that is late (cached for a minute)."""
    newest, refreshed, max_day = _freshness_inputs(ctx)
    s = ctx.settings  # every time on the team's clock: the roll-up's days are the team's days
    return assess_freshness(newest_case=clock.local(s, newest, stored=True), refreshed_at=clock.local(s, refreshed),
                            rollup_day=max_day, now=clock.local(s, now or utcnow()),
                            stale_after_hours=s.stale_after_hours, zone=clock.zone_label(s))


def _scored(ctx: DataContext, filters: Filters, day: date) -> Scored:
    # one roll-up read and one judgment feed the tiles, the scorecard, the multiples and the anomaly list
    return anomaly_data.scored(ctx, filters, end=day)


def _judged(scored: Scored, kpi: str, slice_: dict[str, str]) -> pd.DataFrame | None:
    """One series as the panel judged it; ``None`` when it was too small to judge."""
    sid = (kpi, Slice.of(slice_).key)
    return scored.series(sid) if scored.has(sid) else None


@cached(entries=32, stored=True)
def _tiles(ctx: DataContext, filters: Filters, day: date) -> list[Tile]:
    shown = [k for k in TILE_KPIS if k in ctx.kpis]  # a KPI the source cannot state is no tile at all
    data = _scored(ctx, filters, day)
    judged = {k: frame for k in shown if (frame := _judged(data, k, {})) is not None}
    return tiles(panel_frame(data.panel.values), day, kpis=shown, judged=judged)


def standup_tiles(ctx: DataContext, filters: Filters, day: date) -> list[Tile]:
    """The headline tiles of ``day`` under the dimension filters (the date range is the stand-up's own)."""
    return _tiles(ctx, filters.with_range(day, day), day)


@cached(entries=32, stored=True)
def _scorecard(ctx: DataContext, filters: Filters, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    site = ctx.site_dim
    data = _scored(ctx, filters, day)
    by_site = panel_frame(data.panel.values, by=site)
    stamp = pd.Timestamp(day)
    states: dict[str, dict[str, str]] = {}
    for value in by_site[site].unique():
        for column in SCORECARD_KPIS:
            frame = _judged(data, column, {site: str(value)}) if column in ctx.kpis else None
            if frame is not None and stamp in frame.index and bool(frame.loc[stamp, "is_anomaly"]):
                up = frame.loc[stamp, "direction"] == "spike"
                bad = (get_kpi(column).bad_direction == "up") == up
                states.setdefault(str(value), {})[column] = "bad" if bad else "good"
    table, flags = scorecard(by_site, day, by=site, states=states)
    # a column the source cannot state is left out, not shown as 0
    gone = [c for c in SCORECARD_KPIS if not set(get_kpi(c).parts) <= ctx.measures]
    trends = {"backlog": "backlog_trend", "sla_attainment": "sla_trend", "incoming": "incoming_trend"}
    drop = [*gone, *(trends[c] for c in gone if c in trends)]
    return table.drop(columns=[c for c in drop if c in table.columns]), flags.drop(
        columns=[c for c in gone if c in flags.columns])


def site_scorecard(ctx: DataContext, filters: Filters, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The vendor-site scorecard and its flags (see :func:`metrics.standup.scorecard`)."""
    return _scorecard(ctx, filters.with_range(day, day), day)


@cached(entries=32, stored=True)
def _workflows(ctx: DataContext, filters: Filters, day: date, kpi: str) -> pd.DataFrame:
    main = ctx.main_dim
    data = _scored(ctx, filters, day)
    by_workflow = panel_frame(data.panel.values, by=main)
    judged = {str(w): _judged(data, kpi, {main: str(w)}) for w in by_workflow[main].unique()}
    return workflow_bands(by_workflow, kpi, day, by=main, judged=judged)


def workflow_frame(ctx: DataContext, filters: Filters, day: date, kpi: str) -> pd.DataFrame:
    """Last 8 weeks of ``kpi`` per workflow with the expected band."""
    return _workflows(ctx, filters.with_range(day, day), day, kpi)


@cached(entries=32, stored=True)
def _workflow_chart(ctx: DataContext, filters: Filters, day: date, kpi: str) -> go.Figure:
    # building ~30 validated plotly traces costs more than every cached frame of the page together
    return workflow_figure(_workflows(ctx, filters, day, kpi), kpi, by=ctx.main_dim)


def workflow_chart(ctx: DataContext, filters: Filters, day: date, kpi: str) -> go.Figure:
    """The small multiples figure of :func:`workflow_frame` (cached)."""
    return _workflow_chart(ctx, filters.with_range(day, day), day, kpi)


#: the small multiples' KPI until the user picks another
MULTIPLES_KPI = "incoming"


def warm(ctx: DataContext) -> None:
    """Compute what the stand-up opens on — the newest day with no dimension filter: its tiles, abnormal list,
    scorecard and small multiples of :data:`MULTIPLES_KPI` — before anyone asks (``ui.data.WARMERS``)."""
    day = newest_complete_day(ctx)
    unfiltered = Filters(day, day)
    dimension_values(ctx)
    standup_tiles(ctx, unfiltered, day)
    day_anomalies(ctx, unfiltered, day)
    site_scorecard(ctx, unfiltered, day)
    if MULTIPLES_KPI in ctx.kpis:
        workflow_chart(ctx, unfiltered, day, MULTIPLES_KPI)


@dataclass(frozen=True)
class AnomalyItem:
    """One line of "What is abnormal today"."""

    kpi: str
    slice: dict[str, str]
    observed: float
    expected: float
    lower: float
    upper: float
    severity: float
    bad: bool
    direction: str
    explanation: str | None
    params: dict[str, str] | None  # drill-down query parameters
    link: str | None  # drill-down relative URL


def day_anomalies(ctx: DataContext, filters: Filters, day: date, *, top: int = TOP_ANOMALIES
                  ) -> tuple[list[AnomalyItem], int]:
    """The top flags of ``day`` (one per incident) with explanation and link, and the total number of flags
    (the filters' dimensions apply, not their date range)."""
    return _day_anomalies(ctx, filters.with_range(day, day), day, top)


@cached(entries=16, stored=True)
def _day_anomalies(ctx: DataContext, filters: Filters, day: date, top: int) -> tuple[list[AnomalyItem], int]:
    flags = anomaly_data.anomalies(ctx, filters, day=day, days=1)
    if flags.empty:
        return [], 0
    head = flags.drop_duplicates("incident").head(top)
    items = []
    for row in head.to_dict("records"):
        slice_ = {str(k): str(v) for k, v in dict(row.get("slice") or {}).items()}
        explanation = _explain(ctx, filters, row, slice_, day)
        try:
            params = drilldown_params(str(row["kpi"]), day, slice_)
            link = drilldown_link(str(row["kpi"]), day, slice_)
        except ValueError:
            params = link = None
        items.append(AnomalyItem(str(row["kpi"]), slice_, float(row["observed"]), float(row["expected"]),
                                 float(row["lower"]), float(row["upper"]), float(row["incident_severity"]),
                                 bool(row["bad"]), str(row["direction"]), explanation, params, link))
    return items, len(flags)


def _explain(ctx: DataContext, filters: Filters, row: dict, slice_: dict[str, str], day: date) -> str | None:
    """The drill-down's one-line root cause for a flagged point (its leaves: the slice, 8 weeks of same weekdays)."""
    window = filters.with_range(day - timedelta(days=56), day).narrowed(**slice_)
    try:
        leaves = volume(ctx, window, ctx.dimensions, backlog=get_kpi(str(row["kpi"])).kind == "stock")
        return str(dd.analyse(leaves, str(row["kpi"]), day, dimensions=ctx.dimensions, slice=slice_,
                              expected_total=float(row["expected"])).sentence)
    except ValueError:  # too few weeks of history, or a slice with no leaves left
        return None


# --------------------------------------------------------------------------------------- drawing
def inject_css(*, tv: bool) -> None:
    """The tile styles (and the larger TV sizes): ``ui/assets/standup*.css``."""
    style_sheets("standup.css", *(["standup_tv.css"] if tv else []))


def render_freshness(fresh: Freshness, day: date) -> None:
    """A red warning when late (never "yesterday's" numbers then), else one muted line."""
    message = fresh.message(day)
    if message:
        st.error(message, icon=":material/schedule:")
    elif not fresh.day_complete(day):
        st.warning(f"{day:%A %d %B} is not complete yet: cases up to {fresh.newest_case:%H:%M} {fresh.zone} only.",
                   icon=":material/hourglass_top:")
    newest = f"{fresh.newest_case:%a %d %b %H:%M} {fresh.zone}" if fresh.newest_case else "none"
    age = f" ({fresh.age_hours:,.0f} h ago)" if fresh.age_hours is not None and fresh.age_hours < 72 else ""
    refreshed = f"{fresh.refreshed_at:%a %d %b %H:%M} {fresh.zone}" if fresh.refreshed_at else "never"
    st.caption(f":material/database: Newest case {newest}{age} · roll-up refreshed {refreshed} · "
               f"late after {fresh.stale_after_hours:g} h")


def _tile_help(t: Tile) -> str:
    return (f"{t.kpi.description}\n\nExpected value and band: the anomaly detector's forecast for this weekday "
            f"from the days before. The tile is coloured only when the detector flags the day "
            f"({'a rise' if t.kpi.bad_direction == 'up' else 'a fall'} is bad for {t.kpi.label}).")


def render_tiles(items: list[Tile], *, per_row: int = 5, tv: bool = False) -> None:
    """One card per KPI: value, change vs last week, expected band, 4-week median, sparkline."""
    for start in range(0, len(items), per_row):
        columns = st.columns(per_row, gap="small")
        for col, t in zip(columns, items[start:start + per_row], strict=False):
            with col, st.container(border=True, key=f"standup_tile_{t.state}_{t.kpi.name}"):
                st.metric(t.kpi.label, t.kpi.format(t.value),
                          t.kpi.format_change(t.value, t.week_ago, against="last week"),
                          delta_color=_STATE_COLOURS.get(t.state, "gray"), help=_tile_help(t),
                          chart_data=None if tv else [round(v, 2) for v in t.trend],
                          chart_type="bar" if t.kpi.kind == "flow" else "line")
                median = t.kpi.format_change(t.value, t.median_4w, against="4-wk median")
                median = f"{median} ({t.kpi.format(t.median_4w)})"
                # a TV has no room for the second line: vs last week and vs expected carry the tile there
                expected = md(t.expected_text())  # an event's name comes from the data: escaped
                st.caption(expected if tv else f"{expected}  \n{median}")
                if t.state in _STATE_COLOURS:
                    st.markdown(f":{_STATE_COLOURS[t.state]}-badge[:material/warning: {md(t.verdict())}]")


def _anomaly_title(item: AnomalyItem) -> str:
    kpi = get_kpi(item.kpi)
    where = Slice.of(item.slice).words()
    arrow = "▲" if item.direction == "spike" else "▼"
    return (f"**{kpi.label}** · {md(where)} — {arrow} {kpi.format(item.observed)} vs "
            f"{kpi.format(item.expected)} expected")


def render_anomalies(items: list[AnomalyItem], total: int, day: date, *, tv: bool = False,
                     scope: str = "workflow and vendor site", ctx: DataContext | None = None,
                     filters: Filters | None = None, notes: Sequence[Note] = ()) -> None:
    """The ranked list, each line with its explanation, its notes and a drill-down link; the quiet state said
    plainly.

    ``scope`` names what was scanned besides the total (the scanned dimensions' labels). With ``ctx`` and
    ``filters``, each item shows the notes on its day and slice, and (off the TV) a button to write one or to
    acknowledge the flag.
    """
    if not items:
        st.success(f"Nothing is abnormal on {day:%A %d %B}: every KPI, {md(scope)} stayed within "
                   "its expected range.", icon=":material/check_circle:")
        return
    has_page = (_ROOT / DRILLDOWN_PAGE).exists()
    for i, item in enumerate(items):
        with st.container(key=f"standup_anomaly_{i}"):
            colour = "red" if item.bad else "green"
            badge = f":{colour}-badge[{'bad' if item.bad else 'good'} · severity {item.severity:.1f}]"
            st.markdown(f"{badge} {_anomaly_title(item)}")
            if item.explanation:
                st.caption(md(item.explanation))
            where = view_slice(ctx, filters, item.slice) if ctx is not None and filters is not None else None
            if where is not None:
                render_notes(notes_on(notes, slice_=where, day=day, kpi=item.kpi), key=f"standup_note_{i}",
                             user_email=ctx.user.email, admin=ctx.user.is_admin)
            if tv:  # a wall screen has no actions: the line gets the whole width
                continue
            # the actions under the line, side by side: in a narrow column beside it the link's label was cut
            with st.container(horizontal=True, vertical_alignment="center", key=f"standup_actions_{i}"):
                if item.params is not None and has_page:
                    st.page_link(DRILLDOWN_PAGE, label="Drill down", icon=":material/troubleshoot:",
                                 query_params=link_params(DRILLDOWN_PAGE, item.params, remembered=False))
                elif item.link:
                    st.markdown(f"[Drill down]({item.link})")
                if where is not None:
                    note_form(ctx, day=day, slice_=where, kpi=item.kpi, key=f"standup_note_{i}",
                              label="Note or acknowledge")
    if total > len(items):
        st.caption(f"{total} flagged series in all, grouped into incidents; the most severe of each is listed.")


def render_scorecard(table: pd.DataFrame, flags: pd.DataFrame, *, tv: bool = False, label: str = "Vendor site"
                     ) -> None:
    """The site table: sortable numbers, trend sparklines, abnormal cells tinted and listed in words.

    A TV cannot scroll the table: it shows at most :data:`TV_SITES` sites, those with a flagged cell first
    (then the table's own order), and says how many more the desk view lists.
    """
    hidden = 0
    if tv and len(table) > TV_SITES:
        flagged = (flags.to_numpy() != "").any(axis=1) if flags.size else np.zeros(len(table), dtype=bool)
        keep = np.sort(np.argsort(~flagged, kind="stable")[:TV_SITES])
        hidden = len(table) - TV_SITES
        table, flags = table.iloc[keep], flags.iloc[keep]
    shown = table.reset_index()
    tint = {"bad": f"background-color: {BAD_TINT}; color: {BAD_INK}; font-weight: 600",
            "good": f"background-color: {GOOD_TINT}; color: {GOOD_INK}; font-weight: 600"}
    styles = flags.reset_index(drop=True).map(lambda s: tint.get(s, ""))

    def style(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for col in styles.columns:
            out[col] = styles[col].to_numpy()
        return out

    styler = shown.style.apply(style, axis=None)
    site = str(table.index.name)
    config: dict[str, Any] = {site: st.column_config.TextColumn(label)}
    for col in SCORECARD_KPIS:
        spec = get_kpi(col)
        fmt = {"cases": "localized", "%": "%.1f %%", "minutes": "%.1f min", "hours": "%.1f h"}[spec.unit]
        config[col] = st.column_config.NumberColumn(spec.label, format=fmt, help=_column_help(spec))
    config["incoming_trend"] = st.column_config.LineChartColumn("Incoming, 4 wk", help="Incoming, the last 28 days")
    config["backlog_trend"] = st.column_config.LineChartColumn("Backlog, 4 wk", help="Backlog, the last 28 days")
    config["sla_trend"] = st.column_config.LineChartColumn("SLA, 4 wk", help="SLA attainment, the last 28 days")
    config[site] = st.column_config.TextColumn(label, help=f"The {label.lower()}: one row each, the most bad flags "
                                                           "first, then the lowest SLA")
    config["abnormal"] = st.column_config.TextColumn("Abnormal today", width="medium",
                                                     help="Cells the detector flags (▲ above, ▼ below expected); "
                                                          "tinted red when bad, green when good.")
    # what is abnormal comes right after the site: at the end it was cut off on a desk and on a TV
    order = [c for c in [site, "abnormal", *SCORECARD_KPIS,
                         *([] if tv else ["incoming_trend", "backlog_trend", "sla_trend"])]
             if c in shown.columns]
    row = 44 if tv else 35  # the TV's larger type needs taller rows
    st.dataframe(styler, column_config=config, column_order=order, hide_index=True, key="standup_scorecard",
                 height=min(row * (len(shown) + 1) + 3, 520), row_height=row)
    if hidden:
        st.caption(f"{hidden} more site{'s' if hidden != 1 else ''} on the desk view.")


def _column_help(spec: KPI) -> str:
    return f"{spec.description} {'Up' if spec.bad_direction == 'up' else 'Down'} is bad."


def render_multiples(frame: pd.DataFrame, *, ctx: DataContext, filters: Filters, day: date, kpi: str) -> None:
    """The small multiples (``frame``: :func:`workflow_frame`) with the shared export buttons (a TV has none)."""
    main = ctx.main_dim
    total = frame[main].nunique()
    shown = f"The {MULTIPLES_MAX} largest of {total} {ctx.label(main).lower()} values by volume (Trends shows " \
        "any of them). " if total > MULTIPLES_MAX else ""
    st.caption(f"{shown}Line: the day's value; grey band: the detector's expected range for that day; dots: days "
               "it flagged (vermillion = bad direction, green = good).")
    drawn = multiples_chart(ctx, filters, day=day, kpi=kpi)
    chart_panel(drawn.fig, key="standup_multiples", meta=drawn.meta, data=drawn.data, kpi_names=drawn.kpi_names,
                config={"displaylogo": False}, takeaway=drawn.takeaway, key_numbers=drawn.key_numbers,
                notes=drawn.notes, spec=drawn.spec)


def multiples_summary(frame: pd.DataFrame, spec: KPI, day: date, *, by: str, label: str
                      ) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The small multiples' slide line and numbers: which values the one judgment flags on ``day``."""
    today = frame[frame["day"] == pd.Timestamp(day)]
    flagged = today[today["state"].isin(("bad", "good"))]
    if len(flagged):
        names = ", ".join(f"{v} ({spec.format(o)}, expected {spec.format(e)})" for v, o, e in
                          zip(flagged[by], flagged["observed"], flagged["expected"], strict=True))
        line = f"{spec.label} on {day:%a %d %b %Y}: abnormal at {names}"
    else:
        line = f"{spec.label} on {day:%a %d %b %Y}: every {label} inside its expected range"
    top = today.sort_values("observed", ascending=False).head(3)
    return line, tuple((f"{v}, {day:%d %b %Y}", spec.format(o)) for v, o in zip(top[by], top["observed"], strict=True))


def standup_narrative(day: date, tiles_: list[Tile], items: list[AnomalyItem], flagged: int, sites: pd.DataFrame,
                      flags: pd.DataFrame, fresh: Freshness | None, *, ctx: DataContext) -> str:
    """The day's summary (see :func:`metrics.standup.narrative`) from what the page already drew."""
    flat = pd.DataFrame([{"kpi": i.kpi, "slice": i.slice, "observed": i.observed, "expected": i.expected,
                          "bad": i.bad} for i in items])
    lead = {0: items[0].explanation} if items and items[0].explanation else None
    return narrative(day, tiles_, flat, sites, flags, fresh, explanations=lead, flagged=flagged,
                     scope=scanned_words(ctx), site=ctx.label(ctx.site_dim).lower())


def day_summary(ctx: DataContext, filters: Filters, day: date) -> str:
    """The stand-up's summary of ``day`` under ``filters`` (what the home page shows; for a deck's summary slide)."""
    tiles_ = standup_tiles(ctx, filters, day)
    items, total = day_anomalies(ctx, filters, day, top=TOP_ANOMALIES)
    sites, flags = site_scorecard(ctx, filters, day)
    return standup_narrative(day, tiles_, items, total, sites, flags, freshness(ctx), ctx=ctx)


def scanned_words(ctx: DataContext) -> str:
    """The scanned dimensions in words: ``"workflow and vendor site"``."""
    return " and ".join(ctx.label(d).lower() for d in ctx.scan_dims)


def render_narrative(text: str, *, tv: bool = False) -> None:
    """The summary: large text on a TV, a copyable block on a desk."""
    if tv:
        st.markdown(md(text))
    else:
        st.code(text, language=None, wrap_lines=True)
        st.caption("Copy with the button at the block's top right; paste into chat or e-mail.")


def safe(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a section's data call; a data-layer error is shown in place so the other sections still draw."""
    try:
        return call(*args, **kwargs)
    except (OpsDataError, ValueError) as err:
        show_problem(err)
        return None
