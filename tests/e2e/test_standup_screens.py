"""The stand-up at 1920×1080 in real Chromium: on a desk, and on a TV that nobody scrolls.

Uses the suite's server and browser (``tests/e2e/conftest.py``); screenshots land in
``artifacts/screenshots/standup-*.png``.
"""

from __future__ import annotations

import pytest

from metrics.standup import TILE_KPIS
from tests.e2e.conftest import SCREENSHOTS, screenshot, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("e2e")]

# top and height of every tile, grouped by row (tiles of a row share their top edge)
TILE_ROWS = """() => {
  const rows = {};
  for (const t of document.querySelectorAll('[class*="st-key-standup_tile_"]')) {
    const b = t.getBoundingClientRect();
    (rows[Math.round(b.top)] ||= []).push(Math.round(b.height));
  }
  return Object.values(rows);
}"""
# how far each tile's content reaches below its own border (0 when everything is inside the card)
TILE_OVERFLOW = """() => Array.from(document.querySelectorAll('[class*="st-key-standup_tile_"]'), t => {
  const box = t.getBoundingClientRect();
  const bottom = Math.max(...Array.from(t.querySelectorAll('p, [data-testid="stMetricDelta"]'),
                                        e => e.getBoundingClientRect().bottom));
  return Math.max(0, Math.round(bottom - box.bottom));
})"""
MAIN_SCROLL = """() => { const m = document.querySelector('[data-testid="stMain"]');
  return {scroll: m.scrollHeight, client: m.clientHeight}; }"""


def _open(tab, url: str) -> None:
    tab.goto(url)
    wait_until_idle(tab)  # charts drawn, the scorecard's grid painted
    assert tab.locator('[data-testid="stException"]').count() == 0


def _assert_even_tiles(tab) -> None:
    rows = tab.evaluate(TILE_ROWS)
    assert sum(len(r) for r in rows) == len(TILE_KPIS)
    for heights in rows:
        assert max(heights) - min(heights) <= 1, f"tiles of one row differ in height: {heights}"
    assert tab.evaluate(TILE_OVERFLOW) == [0] * len(TILE_KPIS), "a tile's text runs over its border"


def test_desk_view_draws_tiles_list_scorecard_and_charts(app_url: str, page):
    _open(page, app_url + "/")
    assert page.locator('[data-testid="stPlotlyChart"] .main-svg').count() >= 1
    assert page.locator('[data-testid="stMetric"]').count() == len(TILE_KPIS)
    assert page.locator('[data-testid="stSidebar"]').is_visible()
    assert page.get_by_text("What is abnormal today").is_visible()
    _assert_even_tiles(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "standup-desk.png"))  # the first screen, as a user sees it
    assert (SCREENSHOTS / "standup-desk.png").stat().st_size > 50_000
    screenshot(page, "standup-desk-full")
    assert page.console.errors == []


def test_tv_view_fits_one_screen_without_sidebar_in_large_type(app_url: str, page):
    _open(page, app_url + "/?tv=1")
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    size = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 22
    value = page.locator('[data-testid="stMetricValue"]').first
    assert float(value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 44  # readable across a room
    _assert_even_tiles(page)
    # a wall screen is never scrolled: tiles, the abnormal list and the scorecard all inside 1920 x 1080
    fit = page.evaluate(MAIN_SCROLL)
    assert fit["scroll"] <= fit["client"] + 1, f"the TV view is {fit['scroll']} px tall on a {fit['client']} px screen"
    table = page.locator('[data-testid="stDataFrame"]').bounding_box()
    assert table["y"] + table["height"] <= 1080
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "standup-tv.png"))
    assert page.console.errors == []
