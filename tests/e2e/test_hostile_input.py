"""Hostile or unlucky input in a real browser: what a URL carries is shown as text, never as a link, an
image or markup; a filter combination with no cases says so instead of raising."""

from __future__ import annotations

from urllib.parse import quote, urlparse

import pytest

from tests.conftest import SAMPLE_END
from tests.e2e.conftest import screenshot, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

LINK = "[Session expired - sign in again](https://evil.example/login)"
IMAGE = "![pixel](https://evil.example/pixel.png)"


@pytest.mark.parametrize("payload", [LINK, IMAGE, ":red[**restyled**] www.evil.example"], ids=["link", "image",
                                                                                               "directive"])
def test_a_url_value_is_shown_as_text_never_as_a_link_or_an_image(app_url: str, page, payload: str):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if (urlparse(r.url).hostname or "").endswith(
        "evil.example") else None)
    page.goto(f"{app_url}/drilldown?kpi=incoming&day={SAMPLE_END}&workflow={quote(payload)}")
    wait_until_idle(page)
    alert = page.locator('[data-testid="stAlert"]').first
    assert "This drill-down link cannot be shown" in alert.inner_text()
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('a[href*="evil"]').count() == 0
    assert main.locator('img[src*="evil"]').count() == 0
    assert requested == []
    # the value reads as the user typed it, brackets and all (colours and bold not applied; a zero-width
    # space keeps an address from becoming a link by itself)
    assert payload in alert.inner_text().replace("\u200b", "")
    assert main.locator('[data-testid="stAlert"] strong', has_text="restyled").count() == 0
    screenshot(page, f"hostile-url-{payload[:4].strip('[!:')}")
    assert page.console.errors == []
