"""The standard weekly deck, without the UI (for a scheduled job).

Run::

    python -m reports.weekly --from 2026-06-01 --to 2026-06-30 --out deck.pptx [--url URL] [--template t.pptx]

It reads the database the app reads (settings from ``OPS_DB_URL`` / ``OPS_CONFIG`` / ``ops.toml``, or
``--url``), refreshes the daily roll-up (``--no-refresh`` for read-only users), computes the KPIs
with :mod:`metrics.kpis` and writes a deck: a title slide, nine chart slides (incoming, solved,
backlog, AHT, AAS, SLA attainment per day; incoming by workflow; solved and SLA by vendor site),
each titled by a takeaway computed from the numbers ("Incoming +6.2 % week over week; copyright
drives most of it"), and an appendix of KPI definitions.

"Week over week" compares the last seven days of the range with the seven days before them
(read from before ``--from`` when the range is shorter than two weeks).

``--as USER`` writes the deck that user would see: a vendor partner's deck holds only its own values
(``[roles]`` in ``ops.toml``), its totals and flags computed from them alone.

Exit status: 0 on success, 2 for bad arguments, 1 when the data or the renderer fails (the
message says what and how to fix it).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import loaders
from charts import theme
from charts.deck import build_deck, slide_count
from charts.deck_items import DeckItem, kpi_definitions
from charts.export import ChartMeta, ExportUnavailable
from charts.theme import NEUTRAL, PALETTE, TEMPLATE_NAME, plot_text
from metrics.errors import InsufficientHistoryError
from metrics.kpis import KPI, OTHER, compute_kpis, get_kpi, top_values
from metrics.slices import Slice, value_words
from reports import command_context

__all__ = ["WeeklyData", "build_weekly_deck", "load_weekly_data", "main", "week_over_week", "weekly_items"]

TREND_KPIS = ("incoming", "solved", "backlog", "aht", "aas", "sla_attainment")
#: below this relative change (or this many points for % KPIs) a KPI is called flat
FLAT = 0.01
FLAT_POINTS = 0.2


@dataclass(frozen=True)
class WeeklyData:
    """Daily KPI parts for the deck: total and split by workflow and by vendor site.

    ``start``/``end`` are the range to chart; the frames may start earlier (two full weeks are
    always loaded for week-over-week comparisons).
    """

    start: date
    end: date
    total: pd.DataFrame
    by_workflow: pd.DataFrame
    by_site: pd.DataFrame
    source: str
    as_of: date | None
    #: the dimensions ``by_workflow`` and ``by_site`` are split by (the configured first and second), and
    #: their labels
    main_dim: str = "workflow"
    site_dim: str = "vendor_site"
    main_label: str = "Workflow"
    site_label: str = "Vendor site"
    everything: str = "all workflows, vendor sites, channels and languages"
    #: the one judgment's flags of the last 7 days (the Anomalies page's list), most severe first; ``None`` when the
    #: history is too short to judge them
    flags: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- numbers


def _windows(end: date) -> tuple[tuple[date, date], tuple[date, date]]:
    return (end - timedelta(days=6), end), (end - timedelta(days=13), end - timedelta(days=7))


def _window_value(parts: pd.DataFrame, kpi: KPI, window: tuple[date, date], by: str | None = None) -> float | pd.Series:
    """A KPI over an arbitrary window: ratio of summed parts, sum of a flow, last value of a stock."""
    lo, hi = (pd.Timestamp(d) for d in window)
    rows = parts.loc[(parts.index >= lo) & (parts.index <= hi)]
    if kpi.kind == "stock":
        last = rows.loc[rows.index == rows.index.max()] if len(rows) else rows
        return last.groupby(by)[kpi.numerator].sum() if by else float(last[kpi.numerator].sum())
    sums = rows.groupby(by)[[c for c in rows.columns if c != by]].sum() if by else rows.sum(numeric_only=True)
    return kpi.value(sums)


def _change_text(kpi: KPI, current: float, previous: float) -> tuple[str, bool]:
    """("+6.2 %" / "-1.3 pts", is_flat): ``KPI.format_change``, and whether the change is too small to name."""
    delta = kpi.change(current, previous)
    if delta is None:
        return "n/a", False
    return kpi.format_change(current, previous), abs(delta) < (FLAT_POINTS if kpi.unit == "%" else FLAT * 100)


def week_over_week(parts: pd.DataFrame, kpi: KPI, end: date, *, split: pd.DataFrame | None = None,
                   by: str | None = None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Takeaway and key numbers comparing the last 7 days to end with the 7 days before.

    Parameters
    ----------
    parts : pandas.DataFrame
        Daily KPI parts (``metrics.kpis.kpi_parts``) covering both weeks.
    kpi : KPI
        The KPI to describe.
    end : datetime.date
        Last day of the current week.
    split, by : optional, keyword-only
        The same parts split by the dimension ``by``: names the value driving a flow or stock
        change ("copyright drives most of it"), or the worst value of a ratio ("highest at Lisbon").

    Returns
    -------
    tuple of (str, tuple of (str, str))
        The takeaway line and (label, value) key numbers.

    Examples
    --------
    >>> week_over_week(parts, get_kpi("incoming"), date(2026, 6, 30))  # doctest: +SKIP
    ('Incoming +6.2 % week over week (3,410 vs 3,211)', ...)
    """
    cur_w, prev_w = _windows(end)
    current, previous = _window_value(parts, kpi, cur_w), _window_value(parts, kpi, prev_w)
    change, flat = _change_text(kpi, current, previous)
    what = "at the end of the week" if kpi.kind == "stock" else "last 7 days"
    if flat:
        takeaway = f"{kpi.label} flat week over week ({kpi.format(current)} {what})"
    else:
        takeaway = f"{kpi.label} {change} week over week ({kpi.format(current)} vs {kpi.format(previous)})"
    numbers = [(f"{kpi.label}, {cur_w[0]:%d %b} – {cur_w[1]:%d %b %Y}", kpi.format(current)),
               ("Previous 7 days", kpi.format(previous)), ("Change", change)]
    if split is not None and by is not None and len(split):
        now = _window_value(split, kpi, cur_w, by=by)
        if kpi.kind == "ratio":
            now = now.dropna()
            if len(now):
                worst = now.idxmax() if kpi.bad_direction == "up" else now.idxmin()
                word = "highest" if kpi.bad_direction == "up" else "lowest"
                takeaway += f"; {word} at {value_words(worst)} ({kpi.format(float(now[worst]))})"
                numbers.append((f"{word.capitalize()}: {value_words(worst)}", kpi.format(float(now[worst]))))
        elif not flat:
            delta = (now - _window_value(split, kpi, prev_w, by=by).reindex(now.index).fillna(0.0))
            total = current - previous
            driver = (delta * np.sign(total)).idxmax()
            share = float(delta[driver] / total) if total else 0.0
            if share >= 0.5:
                takeaway += f"; {value_words(driver)} drives most of it"
            elif share >= 0.25:
                takeaway += f"; {value_words(driver)} contributes most"
            else:
                takeaway += f"; spread across {by.replace('_', ' ')}s"
            numbers.append((f"Change, {value_words(driver)}", f"{delta[driver]:+,.0f}"))
    return takeaway, tuple(numbers)


# ----------------------------------------------------------------------------- figures


def _rolling(parts: pd.DataFrame, kpi: KPI) -> pd.Series:
    """7-day value of a KPI ending each day (exact for ratios: rolling sums, then the ratio)."""
    if kpi.kind == "stock":
        return parts[kpi.numerator].astype("float64")
    rolled = parts[[p for p in (kpi.numerator, kpi.denominator) if p]].rolling(7, min_periods=7).sum()
    return kpi.value(rolled) / (7 if kpi.kind == "flow" else 1)


def _trend(data: WeeklyData, kpi: KPI) -> tuple[go.Figure, pd.DataFrame]:
    daily = compute_kpis(data.total, grain="day", kpis=[kpi.name])[kpi.name]
    frame = pd.DataFrame({kpi.label: daily, "7-day average" if kpi.kind != "stock" else "": _rolling(data.total, kpi)})
    frame = frame.loc[pd.Timestamp(data.start):pd.Timestamp(data.end)].rename_axis("Day")
    fig = go.Figure()
    if kpi.kind == "stock":
        fig.add_trace(go.Scatter(x=frame.index, y=frame[kpi.label], name=kpi.label, line={"color": PALETTE[0]}))
        frame = frame[[kpi.label]]
    else:
        fig.add_trace(go.Scatter(x=frame.index, y=frame[kpi.label], name=f"{kpi.label}, daily",
                                 line={"color": NEUTRAL, "width": 1.5}, mode="lines+markers", marker={"size": 4}))
        fig.add_trace(go.Scatter(x=frame.index, y=frame["7-day average"], name="7-day average",
                                 line={"color": PALETTE[0], "width": 3.5}))
    cur_lo, cur_hi = _windows(data.end)[0]
    if pd.Timestamp(cur_lo) > frame.index.min():
        # The week the takeaway talks about, shaded so the eye finds it.
        half_day = pd.Timedelta(hours=12)
        fig.add_vrect(x0=pd.Timestamp(cur_lo) - half_day, x1=pd.Timestamp(cur_hi) + half_day,
                      fillcolor="rgba(0, 114, 178, 0.08)", line_width=0, layer="below")
    fig.update_layout(template=TEMPLATE_NAME, xaxis_title="", yaxis_title=kpi.label)
    fig.update_yaxes(rangemode="tozero" if kpi.unit == "cases" else "normal",
                     ticksuffix={"%": " %"}.get(kpi.unit, ""))
    return fig, frame


def _bars(current: pd.Series, previous: pd.Series, kpi: KPI, dim_label: str) -> tuple[go.Figure, pd.DataFrame]:
    order = current.sort_values(ascending=True).index  # largest at the top of a horizontal bar chart
    frame = pd.DataFrame({"Previous 7 days": previous.reindex(order), "Last 7 days": current.reindex(order)})
    frame.index = pd.Index([plot_text(value_words(v)) for v in order], name=dim_label)
    fig = go.Figure([
        go.Bar(y=[plot_text(v) for v in frame.index], x=frame["Previous 7 days"], name="Previous 7 days",
               orientation="h", marker_color="#B8B8B8"),
        go.Bar(y=[plot_text(v) for v in frame.index], x=frame["Last 7 days"], name="Last 7 days", orientation="h",
               marker_color=PALETTE[0]),
    ])
    fig.update_layout(template=TEMPLATE_NAME, barmode="group", yaxis_title=dim_label, xaxis_title=kpi.label,
                      legend={"traceorder": "reversed"})
    return fig, frame


# ----------------------------------------------------------------------------- deck


def weekly_items(data: WeeklyData) -> list[DeckItem]:
    """The standard weekly charts, each with its takeaway, key numbers and notes.

    Parameters
    ----------
    data : WeeklyData
        See :func:`load_weekly_data`.

    Returns
    -------
    list of DeckItem
        Six KPI trends, incoming by workflow, solved and SLA attainment by vendor site.
    """
    cur_w, prev_w = _windows(data.end)
    subtitle = f"{data.start:%d %b %Y} – {data.end:%d %b %Y} · {data.everything}"
    compare = (f"Week over week compares {cur_w[0]:%d %b} – {cur_w[1]:%d %b %Y} with "
               f"{prev_w[0]:%d %b} – {prev_w[1]:%d %b %Y}.")
    main, site = (data.main_dim, data.by_workflow), (data.site_dim, data.by_site)
    drivers = {"incoming": main, "solved": site, "backlog": main, "aht": site, "aas": site, "sla_attainment": main}
    main_word, site_word = data.main_label.lower(), data.site_label.lower()

    def meta(title: str, unit: str, note: str = "") -> ChartMeta:
        return ChartMeta(title, subtitle=subtitle + note, unit=unit, source=data.source, as_of=data.as_of)

    items: list[DeckItem] = []
    for name in TREND_KPIS:
        kpi = get_kpi(name)
        by, split = drivers[name]
        takeaway, numbers = week_over_week(data.total, kpi, data.end, split=split, by=by)
        fig, _ = _trend(data, kpi)
        per = "at the end of each day" if kpi.kind == "stock" else "per day"
        items.append(DeckItem(fig.to_json(), meta(f"{kpi.label} {per}", kpi.unit), (name,), takeaway, numbers,
                              f"{compare} The shaded band is the last 7 days.", origin=f"weekly_{name}"))

    incoming = get_kpi("incoming")
    now = _window_value(data.by_workflow, incoming, cur_w, by=data.main_dim)
    before = _window_value(data.by_workflow, incoming, prev_w, by=data.main_dim).reindex(now.index).fillna(0.0)
    fig, _ = _bars(now, before, incoming, data.main_label)
    named = now.drop(OTHER, errors="ignore")  # the folded rest is a bar, never "the largest"
    top = named.idxmax()
    share = now[top] / now.sum() * 100 if now.sum() else 0.0
    takeaway = (f"{value_words(top).capitalize()} is the largest {main_word}: {share:.0f} % of incoming in the last "
                "7 days")
    numbers = tuple((value_words(k), f"{v:,.0f}") for k, v in named.sort_values(ascending=False).head(3).items())
    items.append(DeckItem(fig.to_json(), meta(f"Incoming cases by {main_word}, last 7 days vs the 7 before", "cases"),
                          ("incoming",), takeaway, numbers, compare, origin="weekly_incoming_by_workflow"))

    for name, unit_title in (("solved", "Solved cases"), ("sla_attainment", "SLA attainment")):
        kpi = get_kpi(name)
        now = _window_value(data.by_site, kpi, cur_w, by=data.site_dim).dropna()
        before = _window_value(data.by_site, kpi, prev_w, by=data.site_dim).reindex(now.index)
        fig, _ = _bars(now, before, kpi, data.site_label)
        if kpi.unit == "%":
            fig.update_xaxes(ticksuffix=" %", range=[max(0.0, float(np.nanmin([now.min(), before.min()])) - 5), 100])
        named = now.drop(OTHER, errors="ignore")
        best, worst = named.idxmax(), named.idxmin()
        if name == "solved":
            takeaway = (f"{value_words(best)} solved the most cases in the last 7 days ({now[best]:,.0f}); "
                        f"{value_words(worst)} the fewest ({now[worst]:,.0f})")
        else:
            takeaway = (f"SLA attainment by {site_word}: lowest at {value_words(worst)} ({kpi.format(now[worst])}), "
                        f"highest at {value_words(best)} ({kpi.format(now[best])})")
        ranked = named.sort_values(ascending=name != "solved").head(3)
        title = f"{unit_title} by {site_word}, last 7 days vs the 7 before"
        numbers = tuple((value_words(k), kpi.format(float(v))) for k, v in ranked.items())
        items.append(DeckItem(fig.to_json(), meta(title, kpi.unit), (name,), takeaway, numbers,
                              compare, origin=f"weekly_{name}_by_site"))
    items.append(_abnormal_item(data, meta))
    return items


def _message_item(meta: ChartMeta, message: str, takeaway: str, notes: str) -> DeckItem:
    """A slide that says one thing in words instead of a chart."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 28})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return DeckItem(fig.to_json(), meta, (), takeaway, (), notes, origin="weekly_abnormal")


def _abnormal_item(data: WeeklyData, meta) -> DeckItem:
    """What the detector flagged in the last 7 days: one bar per incident (its lead flag), the change against the
    expected value the app states for it."""
    first_day = data.end - timedelta(days=6)
    span = f"{first_day:%d %b} – {data.end:%d %b %Y}"
    title = f"Abnormal days, {span}"
    if data.flags is None:
        return _message_item(meta(title, ""), "Too little history before the week to judge it",
                             f"Not judged: too little history before {span}",
                             "The detector needs about five weeks of data before the first day it judges.")
    flags = data.flags
    if flags.empty:
        return _message_item(meta(title, ""), "Every judged series stayed inside its expected range",
                             f"Nothing abnormal between {span}",
                             "Judged by the same detector, events and settings as the dashboard.")
    leads = flags.drop_duplicates("incident").head(8)
    labels, changes = [], []
    for row in leads.itertuples(index=False):
        kpi = get_kpi(row.kpi)
        where = Slice.of(row.slice).words() if row.slice else "total"
        labels.append(plot_text(f"{kpi.label} · {where} · {row.day:%a %d %b}"))
        changes.append(kpi.change(row.observed, row.expected))
    fig = go.Figure(go.Bar(x=changes[::-1], y=labels[::-1], orientation="h", marker_color=theme.BAD,
                           name="change vs expected"))
    fig.update_layout(template=TEMPLATE_NAME, showlegend=False)
    fig.update_xaxes(title_text="change vs expected (% or pts)", zeroline=True)
    top = leads.iloc[0]
    kpi = get_kpi(top["kpi"])
    at = f" at {Slice.of(top['slice']).words()}" if top["slice"] else ""
    change = kpi.format_change(top["observed"], top["expected"])
    incidents = flags["incident"].nunique()
    takeaway = (f"{incidents} incident{'s' if incidents != 1 else ''} in {span}; the most severe: {kpi.label}"
                + (f" {change}" if change else "") + at)
    numbers = [("Incidents", f"{incidents:,}"), ("Abnormal points", f"{len(flags):,}")]
    numbers.append(("Most severe, change", kpi.format_change(top["observed"], top["expected"]) or "–"))
    return DeckItem(fig.to_json(), meta(title, ""), tuple(dict.fromkeys(leads["kpi"])), takeaway, tuple(numbers),
                    "Each bar is one incident, named after the slice and KPI that explain it, judged by the same "
                    "detector, known events and [detector] settings as the dashboard's Anomalies page.",
                    origin="weekly_abnormal")


def _check_sqlite_file(url: str) -> None:
    # Parsed by hand: only loaders/ imports SQLAlchemy.
    match = re.match(r"^sqlite(\+\w+)?:///([^?]+)", url)
    if match and match.group(2) != ":memory:" and not Path(match.group(2)).is_file():
        # Connecting would silently create an empty database file.
        raise loaders.ConfigError(
            f"database file {match.group(2)} does not exist",
            hint="Pass --url (or set OPS_DB_URL) to an existing database; build the sample with "
                 "`python -m sample_data.build --out <file>`.")


def load_weekly_data(settings: loaders.Settings, start: date, end: date, *, refresh: bool = True,
                     user: loaders.User = loaders.LOCAL_USER) -> WeeklyData:
    """Read the roll-up for the deck (two full weeks at least), refreshing it first if asked, through the app's own
    data context (``reports.command_context``): with ``user`` (``--as``), only what that user may see — its
    totals, its values, and the flags its Anomalies page lists for those seven days.

    Raises
    ------
    loaders.OpsDataError
        Unreachable database, schema mismatch, failed query, or no data in the range (``ConfigError``).
    ValueError
        If ``start`` is after ``end``.
    """
    from ui import anomaly_data
    from ui.data import bounds, volume

    if start > end:
        raise ValueError(f"the date range is empty: --from {start} is after --to {end}")
    _check_sqlite_file(settings.url)
    if refresh:
        source = loaders.engine_for(settings)
        target = loaders.rollup_engine(source, settings)
        try:
            loaders.refresh_rollup(source, settings, target=target)
        finally:
            target.dispose()
            source.dispose()
    ctx = command_context(settings, user)
    try:
        found = bounds(ctx)
        if start > found[1] or end < found[0]:
            raise loaders.ConfigError(f"no data between {start} and {end}: the data covers {found[0]} to {found[1]}",
                                      hint="Pick --from/--to inside the data's range.")
        # Six days before --from give the first charted day a full 7-day average (the data's first day cuts it:
        # days before it are outside the data, not zeros)
        filters = loaders.Filters(min(start - timedelta(days=6), end - timedelta(days=13)), end)
        main, site = ctx.main_dim, ctx.site_dim
        # a slide has room for a dozen bars: the largest values, the rest as "other"
        total = volume(ctx, filters)
        by_workflow, by_site = (top_values(volume(ctx, filters, (main,)), main),
                                top_values(volume(ctx, filters, (site,)), site))
        try:  # the Anomalies page's own list for the seven days ending ``end``
            flags = anomaly_data.anomalies(ctx, filters, day=end, days=7)
        except InsufficientHistoryError:  # too little history to judge: the deck says so (a broken events file
            flags = None                  # is an error, never "nothing abnormal")
    finally:
        ctx.source.dispose()
        ctx.rollup.dispose()
    return WeeklyData(start, end, total, by_workflow, by_site, f"{settings.rollup_table} (daily roll-up)", found[1],
                      main, site, ctx.label(main), ctx.label(site),
                      settings.everything if user.scope.everything else user.scope.describe(settings.label), flags)


def build_weekly_deck(data: WeeklyData, *, title: str = "Identity Ops weekly review",
                      team: str = "Identity Operations", appendix: bool = True,
                      template: bytes | str | Path | None = None) -> tuple[bytes, int]:
    """Build the weekly .pptx; returns ``(bytes, number of slides)``.

    Raises
    ------
    charts.export.ExportUnavailable
        If no browser can render the charts.
    ValueError
        If the template is not a readable .pptx.
    """
    items = weekly_items(data)
    definitions = kpi_definitions(items)
    subtitle = f"{team} · {data.start:%d %b %Y} – {data.end:%d %b %Y} · data as of {data.as_of:%d %b %Y}"
    pptx = build_deck([it.to_slide() for it in items], title=title, subtitle=subtitle, definitions=definitions,
                      appendix=appendix, template=template)
    return pptx, slide_count(pptx)


def _iso_date(flag: str):
    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a date as YYYY-MM-DD, got {text!r}") from None

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports.weekly", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", required=True, type=_iso_date("--from"), help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, type=_iso_date("--to"), help="last day, YYYY-MM-DD")
    parser.add_argument("--out", required=True, type=Path, help="the .pptx file to write")
    parser.add_argument("--url", help="SQLAlchemy database URL (default: OPS_DB_URL / ops.toml, like the app)")
    parser.add_argument("--template", type=Path, help="a .pptx whose masters, theme and layouts are used")
    parser.add_argument("--title", default="Identity Ops weekly review")
    parser.add_argument("--team", default="Identity Operations", help="shown on the title slide")
    parser.add_argument("--no-appendix", action="store_true", help="leave out the KPI definitions appendix")
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="the deck a signed-in user would see: only the values [roles] gives that e-mail address")
    parser.add_argument("--no-refresh", action="store_true",
                        help="read the roll-up as it is (for a read-only database user)")
    return parser


def _user_of(settings: loaders.Settings, email: str | None) -> loaders.User:
    """``--as``: the user [roles] names, with its scope (without ``--as``: a local user who sees everything)."""
    if email is None:
        return loaders.LOCAL_USER
    if settings.access.mode == "none":
        raise loaders.ConfigError("--as needs sign-in: with [auth] mode = \"none\" there are no roles",
                                  hint="Set [auth] mode and [roles] in ops.toml, as the app uses them.")
    user = settings.access.user(email)
    if user is None:
        raise loaders.ConfigError(f"{email} has no role in [roles], so would see nothing",
                                  hint="Add the address to [roles] admins, analysts or partners.")
    return user


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.start > args.end:
        parser.error(f"the date range is empty: --from {args.start} is after --to {args.end}")
    if args.out.suffix.lower() != ".pptx":
        parser.error(f"--out must end in .pptx, got {str(args.out)!r}")
    if not args.out.parent.is_dir():
        parser.error(f"--out must be in an existing folder, got {str(args.out.parent)!r}")
    if args.template is not None and not args.template.is_file():
        parser.error(f"--template must be an existing .pptx file, got {str(args.template)!r}")
    started = time.perf_counter()
    try:
        settings = loaders.load_settings()
        if args.url:
            settings = settings.with_url(args.url, source="command line")
        data = load_weekly_data(settings, args.start, args.end, refresh=not args.no_refresh,
                                user=_user_of(settings, args.as_user))
        pptx, slides = build_weekly_deck(data, title=args.title, team=args.team, appendix=not args.no_appendix,
                                         template=args.template)
    except loaders.OpsDataError as err:
        print(f"error: {err}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 1
    except (ExportUnavailable, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.out.write_bytes(pptx)
    print(f"wrote {args.out}: {slides} slides, {len(pptx) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
