"""The three journeys of the product, end to end in real Chromium on the small seeded sample.

1. Stand-up: every tile shows a number, the abnormal list names the incident planted on the day, TV mode
   has no sidebar.
2. Drill-down: a real mouse click on the spike of the Trends chart opens the drill-down for that KPI, slice and
   day; the root-cause sentence names the planted slice, the case table has the day's cases, a reload restores it.
3. Deck: two charts collected, a PNG and the .pptx downloaded and reopened.

Ground truth comes from the generator (``sample_data.incidents``) and from the sample's ``cases`` table read
with plain ``sqlite3``, never from the app's own code. Every step fails on a Streamlit exception box or a
console error; the screenshots land in ``artifacts/screenshots/journey-*.png``.
"""

from __future__ import annotations

import math
import re
import sqlite3
import struct
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from charts.deck import DEFINITIONS_PER_SLIDE
from metrics.standup import TILE_KPIS
from sample_data import SampleConfig, incidents
from tests.e2e.conftest import screenshot, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

DIMENSIONS = ("workflow", "vendor_site", "channel", "language")
SLOW = 120_000  # ms: a deck build or a first chart on a busy 2-core runner
# The pixel position of one plotted point: plotly's own axis transforms plus the plot's offsets.
POINT_JS = """([chart, name, day]) => {
  const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
  const trace = gd._fullData.findIndex(t => t.name === name);
  if (trace < 0) return null;
  const xs = Array.from(gd._fullData[trace].x, String);
  const i = xs.findIndex(x => x.slice(0, 10) === day);
  if (i < 0) return null;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const y = gd._fullData[trace].y[i];
  return {x: box.left + xa._offset + xa.l2p(xa.d2l(xs[i])), y: box.top + ya._offset + ya.l2p(ya.d2l(y)), value: y};
}"""


def words(value: str) -> str:
    """How the app prints a dimension value (``brand_impersonation`` -> ``brand impersonation``)."""
    return value.replace("_", " ").lower()


def planted(config: SampleConfig) -> tuple[date, dict[str, str], str]:
    """The incident that starts on the sample's last day, at its most specific slice: (day, slice, KPI)."""
    truth = incidents(config)
    day = config.end
    starts = truth[pd.to_datetime(truth["start"]).dt.date == day]
    assert len(starts), f"the sample plants no incident on its last day {day}"
    specific = starts.assign(n=starts[list(DIMENSIONS)].notna().sum(axis=1)).sort_values("n").iloc[-1]
    return day, {d: str(specific[d]) for d in DIMENSIONS if pd.notna(specific[d])}, str(specific["kpi"])


def created_on(db: Path, day: date, **slice_: str) -> int:
    """Cases created on ``day`` in a slice, counted straight from the sample's ``cases`` table."""
    where = "".join(f" AND {d} = ?" for d in slice_)
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(f"SELECT COUNT(*) FROM cases WHERE created_at >= ? AND created_at < ?{where}",
                            (day.isoformat(), (day + timedelta(days=1)).isoformat(), *slice_.values())).fetchone()
    return int(n)


def assert_clean(tab) -> None:
    """No Streamlit exception box, no console error so far."""
    boxes = tab.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()
    assert tab.console.errors == []


def open_page(tab, url: str) -> None:
    tab.goto(url)
    wait_until_idle(tab)
    assert_clean(tab)


def nav(tab, path: str, label: str) -> None:
    """Client-side navigation through the sidebar (keeps the session, and so the deck)."""
    link = tab.locator('[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]').filter(
        has=tab.get_by_text(label, exact=True))
    assert urlsplit(link.get_attribute("href")).path.endswith(path)
    link.click()
    tab.locator('[data-testid="stMain"] h1').filter(has_text=label).wait_for(timeout=SLOW)
    wait_until_idle(tab)


def click_point(tab, chart: str, trace: str, day: date) -> None:
    """A real mouse click on a plotted point (plotly's drag layer swallows locator clicks)."""
    # a chart being redrawn briefly holds two plots: wait for one
    tab.locator(f".st-key-{chart} .js-plotly-plot .scatterlayer").first.wait_for(timeout=SLOW)
    # during a rerun Streamlit keeps the stale element beside the new one: scroll to the current one
    tab.locator(f'.st-key-{chart}:not([data-stale="true"])').first.scroll_into_view_if_needed()
    tab.wait_for_function(f"args => ({POINT_JS})(args) !== null", arg=[chart, trace, day.isoformat()],
                          timeout=SLOW)
    point = tab.evaluate(POINT_JS, [chart, trace, day.isoformat()])
    tab.mouse.move(point["x"], point["y"])
    # plotly clicks what it hovers: wait for the hover label before pressing
    tab.locator(f".st-key-{chart} .hoverlayer .hovertext").first.wait_for(timeout=SLOW)
    tab.mouse.click(point["x"], point["y"])


def choose(tab, key: str, option: str) -> None:
    tab.locator(f".st-key-{key} [role='combobox']").click()
    tab.locator("[role='option']").filter(has_text=re.compile(rf"^{re.escape(option)}$")).click()


def button(tab, key: str):
    # Streamlit keeps a hidden 0x0 copy of a button with a tooltip: only the visible one is the button
    return tab.locator(f".st-key-{key} button:visible")


def grid(tab, column: str) -> tuple[int, list[dict[str, str]]]:
    """The data rows of the ``st.dataframe`` with ``column``, and the rows the grid has rendered (as dicts)."""
    tab.locator('[data-testid="stDataFrame"] [role="columnheader"]').filter(
        has_text=re.compile(rf"^{re.escape(column)}$")).wait_for(state="attached", timeout=SLOW)
    return tuple(tab.evaluate("""column => {
      const frame = Array.from(document.querySelectorAll('[data-testid="stDataFrame"]')).find(f =>
        Array.from(f.querySelectorAll('[role="columnheader"]')).some(h => h.textContent === column));
      if (!frame) return [0, []];
      const heads = Array.from(frame.querySelectorAll('[role="columnheader"]'), h => h.textContent);
      const rows = Array.from(frame.querySelectorAll('[role="row"]')).map(r =>
        Array.from(r.querySelectorAll('[role="gridcell"]'), c => c.textContent)).filter(c => c.length);
      const count = Number(frame.querySelector('[aria-rowcount]').getAttribute('aria-rowcount')) - 1;
      return [count, rows.map(r => Object.fromEntries(heads.map((h, i) => [h, r[i]])))];
    }""", column))


def wait_toast(tab, text: str) -> None:
    tab.locator('[data-testid="stToast"]').filter(has_text=text).wait_for(timeout=SLOW)


# -------------------------------------------------------------------------------------------- 1
def test_standup_shows_every_tile_and_the_planted_incident(app_url: str, page, small_config: SampleConfig,
                                                           sample_db: Path):
    day, slice_, kpi = planted(small_config)
    open_page(page, app_url + "/")
    page.locator(".st-key-standup_anomaly_0").wait_for(timeout=SLOW)

    assert page.locator(".st-key-standup_day input").input_value() == day.isoformat()
    values = page.locator('[class*="st-key-standup_tile_"] [data-testid="stMetricValue"]').all_inner_texts()
    assert len(values) == len(TILE_KPIS)
    assert all(re.search(r"\d", v) for v in values), values
    # the incoming tile is the day's created cases, counted independently of the app
    incoming = page.locator('[class*="st-key-standup_tile_"][class*="_incoming"]:not([class*="manual"]) '
                            '[data-testid="stMetricValue"]').inner_text()
    assert int(re.sub(r"\D", "", incoming)) == created_on(sample_db, day)

    listed = [words(t) for t in page.locator('[class*="st-key-standup_anomaly_"]').all_inner_texts()]
    naming = [t for t in listed if all(words(v) in t for v in slice_.values())]
    assert naming, f"no abnormal line names {slice_}: {listed}"
    links = page.locator('[class*="st-key-standup_anomaly_"] a[href*="drilldown"]')
    hrefs = [parse_qs(urlsplit(links.nth(i).get_attribute("href")).query) for i in range(links.count())]
    # a drill-down link opens that day inside the planted slice (the KPI may be a part of it, e.g. manual incoming)
    assert any(h.get("day") == [day.isoformat()] and h.get("kpi", [""])[0].endswith(kpi) and any(
        d in h for d in slice_) and all(h[d] == [v] for d, v in slice_.items() if d in h) for h in hrefs), hrefs
    assert_clean(page)
    screenshot(page, "journey-standup")

    open_page(page, app_url + "/?tv=1")
    page.locator(".st-key-standup_anomaly_0").wait_for(timeout=SLOW)
    assert page.locator('[data-testid="stSidebar"]').count() == 0 or not page.locator(
        '[data-testid="stSidebar"]').is_visible()
    assert page.locator('[class*="st-key-standup_tile_"] [data-testid="stMetricValue"]').count() == len(TILE_KPIS)
    assert_clean(page)
    screenshot(page, "journey-standup-tv")


# -------------------------------------------------------------------------------------------- 2
def test_a_click_on_the_spike_opens_its_drilldown(app_url: str, page, small_config: SampleConfig, sample_db: Path):
    day, slice_, kpi = planted(small_config)
    assert kpi == "incoming" and "workflow" in slice_, "the journey splits incoming by workflow"
    workflow = slice_["workflow"]
    open_page(page, app_url + "/trends")
    choose(page, "trends_split", "Workflow")
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="split by workflow").wait_for(timeout=SLOW)
    click_point(page, "trends_chart", words(workflow), day)  # the line as its legend names it

    page.wait_for_url(re.compile(r"/drilldown\?"), timeout=SLOW)
    sentence = page.locator('[data-testid="stMain"] h3').filter(has_text="vs expected")
    sentence.wait_for(timeout=SLOW)
    wait_until_idle(page)
    assert {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()} == {
        "kpi": kpi, "day": day.isoformat(), "workflow": workflow}

    def view() -> dict[str, str]:
        return {"kpi": page.locator(".st-key-drilldown_kpi input").input_value(),
                "day": page.locator(".st-key-drilldown_day input").input_value(),
                "slice": page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Slice:").inner_text(),
                "sentence": sentence.inner_text(),
                "cases": page.locator('[data-testid="stCaptionContainer"]').filter(
                    has_text=re.compile(r"cases · page 1 of")).inner_text()}

    shown = view()
    assert shown["kpi"] == "Incoming"
    assert shown["day"] == day.isoformat()
    assert words(workflow) in shown["slice"].lower()
    # the rest of the planted slice is what the root cause names
    for d, v in slice_.items():
        if d != "workflow":
            assert words(v) in shown["sentence"].lower(), (d, v, shown["sentence"])
    cases = int(re.match(r"([\d,]+) cases", shown["cases"]).group(1).replace(",", ""))
    assert cases == created_on(sample_db, day, workflow=workflow) > 0
    rows, rendered = grid(page, "case_id")
    assert rows == min(cases, 50)  # one page of the table
    assert rendered and all(r["workflow"] == workflow and r["created_at"].startswith(day.isoformat())
                            for r in rendered), rendered[:3]
    assert_clean(page)
    screenshot(page, "journey-drilldown")

    url = page.url
    page.reload()
    sentence.wait_for(timeout=SLOW)
    wait_until_idle(page)
    assert page.url == url
    assert view() == shown
    assert_clean(page)


# -------------------------------------------------------------------------------------------- 3
def test_two_charts_make_a_deck_and_the_files_open(app_url: str, page, tmp_path: Path):
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    open_page(page, app_url + "/trends")
    button(page, "trends_chart_deck").click()
    # a PNG clicked right after "Add to deck" still downloads (the button reruns only its own fragment)
    with page.expect_download(timeout=SLOW) as quick:
        button(page, "trends_chart_png").click()
    assert quick.value.suggested_filename.endswith(".png") and quick.value.failure() is None
    # (the "1 chart" toast may be gone by now on a busy machine: the Deck page counts the charts below)
    page.wait_for_url(re.compile(r"[?&]deck="), timeout=SLOW)  # the new deck is in the link at once

    nav(page, "drilldown", "Drill-down")
    page.locator(".st-key-drilldown_decomp .js-plotly-plot").wait_for(timeout=SLOW)
    with page.expect_download(timeout=SLOW) as png_download:
        button(page, "drilldown_decomp_png").click()
    png = tmp_path / png_download.value.suggested_filename
    png_download.value.save_as(png)
    head = png.read_bytes()[:24]
    assert png.suffix == ".png" and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    assert struct.unpack(">II", head[16:24]) == (3200, 1800)
    button(page, "drilldown_decomp_deck").click()
    wait_toast(page, "(2 charts)")

    nav(page, "deck", "Deck")
    page.locator('[data-testid="stMain"] h3').filter(has_text="2 chart slides").wait_for(timeout=SLOW)
    appendix = page.locator(".st-key-deck_appendix input").is_checked()
    button(page, "deck_build").click()
    with page.expect_download(timeout=SLOW) as deck_download:
        button(page, "deck_download").click(timeout=SLOW)
    pptx = tmp_path / deck_download.value.suggested_filename
    deck_download.value.save_as(pptx)
    assert pptx.suffix == ".pptx"

    slides = list(Presentation(str(pptx)).slides)
    # title, the stand-up summary, two charts; both show incoming: one KPI definition, one appendix slide
    summary = page.locator(".st-key-deck_summary input").is_checked()
    assert len(slides) == 1 + summary + 2 + (math.ceil(1 / DEFINITIONS_PER_SLIDE) if appendix else 0)
    for slide in slides[1 + summary:3 + summary]:
        assert any(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide.shapes)
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="slides ·").inner_text()
    assert caption.startswith(f"{len(slides)} slides")
    assert_clean(page)
    screenshot(page, "journey-deck")

    # the deck is saved: a reload finds it, and its link opens it in another browser (a fresh context)
    deck_id = parse_qs(urlsplit(page.url).query)["deck"][0]
    page.reload()
    page.locator('[data-testid="stMain"] h3').filter(has_text="2 chart slides").wait_for(timeout=SLOW)
    elsewhere = page.context.browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        other = elsewhere.new_page()
        other.goto(f"{app_url}/deck?deck={deck_id}")
        other.locator('[data-testid="stMain"] h3').filter(has_text="2 chart slides").wait_for(timeout=SLOW)
        wait_until_idle(other)
        takeaways = other.locator('[class*="st-key-deck_takeaway_"] input')
        assert takeaways.count() == 2
        other.goto(f"{app_url}/deck?deck=no-such-deck")
        other.locator('[data-testid="stAlert"]').filter(has_text="does not exist any more").wait_for(timeout=SLOW)
    finally:
        elsewhere.close()


def test_a_saved_view_reopens_the_page_with_its_state(app_url: str, page, small_config: SampleConfig):
    open_page(page, f"{app_url}/trends?split=channel&grain=week")
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="split by channel").wait_for(timeout=SLOW)
    page.locator('[data-testid="stSidebar"] summary').filter(has_text="Saved views").click()
    page.locator(".st-key-view_name input").fill("Weekly by channel")
    page.keyboard.press("Enter")
    wait_until_idle(page)
    button(page, "view_save").click()
    wait_toast(page, "Saved the view")
    open_page(page, app_url + "/")  # elsewhere, with nothing of that state in the URL
    page.locator(".st-key-standup_anomaly_0").wait_for(timeout=SLOW)
    page.locator('[data-testid="stSidebar"] summary').filter(has_text="Saved views").click()
    # a link with a tooltip has a hidden 0x0 copy: the visible one is the link
    page.locator('[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]:visible').filter(
        has=page.get_by_text("Weekly by channel", exact=True)).click()
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="Incoming by week, split by channel").wait_for(
        timeout=SLOW)
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("split") == ["channel"] and query.get("grain") == ["week"]
    assert_clean(page)


# -------------------------------------------------------------------------------------------- 4
def sidebar_pick(tab, label: str, option: str) -> None:
    """Pick one value of a sidebar filter (a multiselect labelled ``label``)."""
    box = tab.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text=label)
    box.locator("input").click()
    tab.locator("[role='option']").filter(has_text=re.compile(rf"^{re.escape(option)}$")).click()
    tab.keyboard.press("Escape")
    wait_until_idle(tab)


def sidebar_chips(tab, label: str) -> list[str]:
    box = tab.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text=label)
    return box.locator('[aria-label="Selected values"] [data-tag]').all_inner_texts()


def incoming_tile(tab) -> int:
    text = tab.locator('[class*="st-key-standup_tile_"][class*="_incoming"]:not([class*="manual"]) '
                       '[data-testid="stMetricValue"]').inner_text()
    return int(re.sub(r"\D", "", text))


def test_filters_and_page_state_follow_the_user_and_the_link(app_url: str, page, small_config: SampleConfig,
                                                             sample_db: Path):
    """A filter set on the stand-up holds on every page, the numbers follow it, Trends keeps its split when
    the user comes back, a reload keeps it all, and ``?day=`` opens that day's stand-up."""
    day = small_config.end
    with sqlite3.connect(sample_db) as conn:
        site = conn.execute("SELECT vendor_site FROM cases GROUP BY vendor_site ORDER BY COUNT(*) DESC").fetchone()[0]
    open_page(page, app_url + "/")
    page.locator(".st-key-standup_anomaly_0").wait_for(timeout=SLOW)
    sidebar_pick(page, "Vendor site", site)
    page.wait_for_url(re.compile(r"f\.vendor_site="), timeout=SLOW)
    page.locator('[class*="st-key-standup_tile_"] [data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
    wait_until_idle(page)
    assert incoming_tile(page) == created_on(sample_db, day, vendor_site=site)  # the number follows the filter

    for path, label in (("trends", "Trends"), ("anomalies", "Anomalies"), ("deck", "Deck"), ("data", "Data")):
        nav(page, path, label)
        assert sidebar_chips(page, "Vendor site") == [site], label
        assert parse_qs(urlsplit(page.url).query).get("f.vendor_site") == [site], page.url
        assert_clean(page)
    nav(page, "trends", "Trends")
    choose(page, "trends_split", "Workflow")
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="split by workflow").wait_for(timeout=SLOW)
    wait_until_idle(page)
    nav(page, "", "Stand-up")
    assert sidebar_chips(page, "Vendor site") == [site]
    nav(page, "trends", "Trends")
    assert parse_qs(urlsplit(page.url).query).get("split") == ["workflow"]  # kept on return …
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="split by workflow").wait_for(timeout=SLOW)
    page.reload()
    wait_until_idle(page)
    page.locator('[data-testid="stMain"] .gtitle').filter(has_text="split by workflow").wait_for(timeout=SLOW)
    assert sidebar_chips(page, "Vendor site") == [site]
    assert_clean(page)
    screenshot(page, "journey-state-trends")

    friday = day - timedelta(days=3)  # a link sent to someone: that day's stand-up, with the filter
    open_page(page, f"{app_url}/?day={friday.isoformat()}&f.vendor_site={site}")
    page.locator('[class*="st-key-standup_tile_"] [data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
    wait_until_idle(page)
    assert page.locator(".st-key-standup_day input").input_value() == friday.isoformat()
    assert incoming_tile(page) == created_on(sample_db, friday, vendor_site=site)
    open_page(page, f"{app_url}/?day=not-a-day")
    page.locator('[data-testid="stAlert"]').filter(has_text="must be a date like").wait_for(timeout=SLOW)
    assert page.locator(".st-key-standup_day input").input_value() == day.isoformat()
    assert_clean(page)
