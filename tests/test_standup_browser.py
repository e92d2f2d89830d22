"""The stand-up in real Chromium at 1920×1080, on a desk and on a TV; screenshots land in artifacts/screenshots/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sample_data import SampleConfig
from sample_data.build import build_sample
from tests.conftest import unavailable
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, _free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def standup_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a small sample ending yesterday (the planted spike is yesterday's news)."""
    db = tmp_path_factory.mktemp("standup_browser") / "ops.sqlite"
    build_sample(db, config=SampleConfig.small(seed=11, end=datetime.now(UTC).date() - timedelta(days=1)))
    port = _free_port()
    env = dict(os.environ, OPS_DB_URL=f"sqlite:///{db}")
    env.pop("OPS_CONFIG", None)
    log = db.with_suffix(".log")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)  # polling a health endpoint, not synchronising the UI
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        unavailable("Chromium (/usr/bin/chromium, Debian package `chromium`)", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(chromium, url: str, ready: str):
    tab = chromium.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(url)
    tab.wait_for_selector('[data-testid="stMain"] h1', timeout=90_000)
    tab.wait_for_selector(ready, timeout=90_000)
    tab.wait_for_function("() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                          timeout=90_000)
    return tab, errors


def test_desk_view_draws_tiles_list_scorecard_and_charts(standup_url, chromium):
    tab, errors = _open(chromium, standup_url + "/", ".js-plotly-plot .main-svg")
    assert tab.locator('[data-testid="stException"]').count() == 0 and errors == []
    assert tab.locator('[data-testid="stMetric"]').count() == 9
    assert tab.locator('[data-testid="stSidebar"]').is_visible()
    assert tab.get_by_text("What is abnormal today").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "standup-desk.png"))
    tab.set_viewport_size({"width": 1920, "height": 2300})  # the whole page, for review
    tab.wait_for_timeout(800)  # let the charts re-layout at the new width before the picture
    tab.screenshot(path=str(SCREENSHOTS / "standup-desk-full.png"))
    assert (SCREENSHOTS / "standup-desk.png").stat().st_size > 50_000
    tab.close()


def test_tv_view_fits_the_screen_without_sidebar_in_large_type(standup_url, chromium):
    tab, errors = _open(chromium, standup_url + "/?tv=1", '[data-testid="stDataFrame"]')
    assert tab.locator('[data-testid="stException"]').count() == 0 and errors == []
    assert not tab.locator('[data-testid="stSidebar"]').is_visible()
    size = tab.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 22
    value = tab.locator('[data-testid="stMetricValue"]').first
    assert float(value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 44  # readable across a room
    # the key facts sit inside the first screen: tiles, the abnormal list and the scorecard
    assert tab.locator('[data-testid="stDataFrame"]').bounding_box()["y"] < 1080 - 200
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "standup-tv.png"))
    tab.close()
