"""Every page opens in real Chromium without a Streamlit exception box or a console error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, screenshot, wait_until_idle
from ui.shell import NAVIGATION

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PAGES = [(script, label) for script, label, _icon in NAVIGATION if (ROOT / script).exists()]


def _url(app_url: str, script: str) -> str:
    return app_url + "/" if script == "app.py" else f"{app_url}/{Path(script).stem}"


@pytest.mark.parametrize(("script", "label"), PAGES, ids=[label for _s, label in PAGES])
def test_page_opens_without_errors(app_url: str, page, script: str, label: str):
    page.goto(_url(app_url, script))
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stMain"] h1').first.inner_text().strip()
    shot = screenshot(page, f"page-{label.lower().replace(' ', '-')}")
    assert shot.stat().st_size > 10_000
    assert page.console.errors == []


def test_the_readiness_probe_runs_the_home_page_in_the_servers_own_session(app_url: str, server_dir):
    """``/_stcore/script-health-check`` (enabled in .streamlit/config.toml) runs the stand-up once with no browser:
    a deployment's readiness probe warms the imports and the scored panel before the first visitor, and stores
    what the stand-up draws in the page cache, where a restarted or a second server finds it."""
    import urllib.request

    with urllib.request.urlopen(f"{app_url}/_stcore/script-health-check", timeout=180) as answer:
        assert answer.status == 200 and answer.read() == b"ok"
    assert len(list((server_dir / "pages").glob("*.pickle"))) >= 5  # tiles, flags, scorecard, multiples, values
