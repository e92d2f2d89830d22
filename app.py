"""Identity Ops Dashboard — home page: the 9:00 stand-up.

Yesterday at a glance, on a desk or on a TV (``?tv=1``): headline tiles against what the detector
expected, what is abnormal and why, the vendor sites, the workflows' last 8 weeks, whether the data is
fresh, and a summary to paste into chat. The rules are in ``metrics/standup.py``, the drawing in
``ui/standup.py``; the shared frame (page config, navigation, filters, TV mode) in ``ui/shell.py``.
"""

from datetime import date, timedelta

import streamlit as st

from loaders import clock
from metrics.kpis import get_kpi
from metrics.standup import TILE_KPIS, day_phrase
from ui import standup as su
from ui import state
from ui.data import bounds, context, newest_complete_day
from ui.errors import guarded
from ui.notes import visible_notes
from ui.shell import page, tv_mode
from ui.text import md

tv = tv_mode()
ctx, filters = page("Stand-up")
su.inject_css(tv=tv is not None)

picked: date | None = None
if tv is None:
    with guarded():
        newest = newest_complete_day(ctx)
        first = bounds(ctx)[0]
    low = min(first, newest)
    picked = state.widget(st.sidebar.date_input, "Stand-up day", key="standup_day", param="day", default=newest,
                          parse=state.a_date(name="day", first=low, last=newest),
                          min_value=low, max_value=newest, format="YYYY-MM-DD",
                          help="Defaults to the newest complete day; pick an earlier one to replay it. The day is "
                               "in the page's link (?day=), so a link opens this day's stand-up.")
    state.report()


@st.fragment(run_every=tv.refresh_s if tv else None)
def standup(picked: date | None) -> None:
    """The whole screen; on a TV it re-runs on its own every ``refresh`` seconds (state kept)."""
    with guarded():
        live = context()  # a refresh of the roll-up gives a new version, hence fresh numbers
        day = picked or newest_complete_day(live)
        fresh = su.freshness(live)
    on_tv = tv is not None
    st.title(f"Stand-up · {day_phrase(day, today=clock.today(live.settings), fresh=not fresh.is_late)}")
    if not on_tv:
        st.caption(f"Each tile compares the day with the same weekday last week ({day - timedelta(days=7):%a %d %b}), "
                   f"the median of the last four, and the detector's expected range. "
                   f"Filters: {md(live.describe(filters, dates=False))}.")
    su.render_freshness(fresh, day)

    tiles = su.safe(su.standup_tiles, live, filters, day)
    if tiles is None:
        st.stop()
    su.render_tiles(tiles, per_row=5, tv=on_tv)
    if missing := live.missing_kpis():
        st.caption("Not shown, the data has no column for them: " + "; ".join(
            f"{label} ({', '.join(need)})" for label, need in missing) + ". Map them on the Data page.")

    items, total = su.safe(su.day_anomalies, live, filters, day,
                           top=su.TV_ANOMALIES if on_tv else su.TOP_ANOMALIES) or ([], 0)
    sites, flags = su.safe(su.site_scorecard, live, filters, day) or (None, None)
    # a TV cannot scroll: the abnormal list beside the scorecard; summary and small multiples stay on the desk
    left, right = st.columns([2, 3] if on_tv else [3, 2], gap="large")
    with left:
        st.subheader("What is abnormal today", anchor=False,
                     help="The day's flags, one line per incident (the flags of one cause at several levels: total, "
                          "workflow, workflow × site), most severe first. **bad** / **good**: the move is in the "
                          "KPI's bad or good direction. **Severity**: the surprise (robust standard deviations "
                          "from the expected value) weighed by the cases behind it, so a large slice's spike ranks "
                          "above a tiny one's.")
        notes, unavailable = visible_notes(live, day, day)
        su.render_anomalies(items, total, day, tv=on_tv, scope=su.scanned_words(live), ctx=live, filters=filters,
                            notes=notes)
        if unavailable and not on_tv:
            st.caption(f"Notes are unavailable: {md(unavailable)}")
    if on_tv:
        if sites is not None:
            with right:
                st.subheader(live.plural(live.site_dim), anchor=False)
                su.render_scorecard(sites, flags, tv=True, label=live.label(live.site_dim))
        return
    with right:
        st.subheader("Summary", anchor=False)
        if sites is not None:
            su.render_narrative(su.standup_narrative(day, tiles, items, total, sites, flags, fresh, ctx=live))
    if sites is not None:
        st.subheader(live.plural(live.site_dim), anchor=False)
        su.render_scorecard(sites, flags, label=live.label(live.site_dim))

    st.subheader(f"{live.plural(live.main_dim)}, last 8 weeks", anchor=False)
    multiples_kpi = st.segmented_control(
        "KPI", [k for k in TILE_KPIS if k in live.kpis], default=su.MULTIPLES_KPI,
        format_func=lambda n: get_kpi(n).label, key="standup_multiples_kpi",
        label_visibility="collapsed") or su.MULTIPLES_KPI
    frame = su.safe(su.workflow_frame, live, filters, day, multiples_kpi)
    if frame is not None and not frame.empty:
        su.render_multiples(frame, ctx=live, filters=filters, day=day, kpi=multiples_kpi)


standup(picked)
