"""Sign-in end to end, in Chromium: behind a proxy's header (Playwright's extra HTTP headers stand for the
proxy) and against a real OpenID Connect provider running locally (``oidc-provider-mock``).

Scoping is checked on what reaches the browser: every WebSocket frame the server sends a vendor partner is
searched for the other sites' names, and the CSV it downloads holds only its own site.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sample_data.generate import VENDOR_SITES
from store import AppStore
from tests.conftest import ADMIN, PARTNER, ROLES_CONFIG
from tests.e2e.conftest import free_port, running_app, screenshot, wait_until_idle

OTHER_SITES = [s for s in VENDOR_SITES if s != "Manila"]


@pytest.fixture(scope="module")
def header_app(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app in header mode (roles of ``tests.conftest.ROLES_CONFIG``); yields its URL and app database."""
    server = tmp_path_factory.mktemp("header")
    (server / "ops.toml").write_text(ROLES_CONFIG)
    app_db = f"sqlite:///{server / 'app.sqlite'}"
    env = dict(os.environ, OPS_DB_URL=f"sqlite:///{sample_db}", OPS_APP_DB_URL=app_db,
               OPS_CONFIG=str(server / "ops.toml"))
    with running_app(env, server / "streamlit.log") as url:
        yield url, app_db


def _as(browser, email: str | None):
    headers = {"X-Forwarded-Email": email} if email else {}
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True,
                                  extra_http_headers=headers)
    return context, context.new_page()


def test_behind_the_proxy_a_partner_gets_only_its_own_sites(browser, header_app):
    url, app_db = header_app
    context, tab = _as(browser, PARTNER)
    frames: list[str] = []
    tab.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
    try:
        for path in ("/", "/trends", "/anomalies"):
            tab.goto(f"{url}{path}")
            wait_until_idle(tab, timeout=120_000)
            text = tab.inner_text('[data-testid="stApp"]').replace("\u200b", "")
            assert "Signed in as lead@vendor-manila.example (partner)" in text
            assert "You see Vendor site: Manila only." in text
        screenshot(tab, "signed-in-partner-anomalies")
        tab.goto(f"{url}/trends")
        wait_until_idle(tab, timeout=120_000)
        with tab.expect_download() as download:
            tab.locator('[data-testid="stDownloadButton"] button', has_text="CSV").first.click()
        csv = Path(download.value.path()).read_text()
        assert csv.count("\n") > 20
        # a link to another site: refused, and no number of it is sent
        tab.goto(f"{url}/?f.vendor_site=Krakow")
        tab.wait_for_selector("text=Not allowed", timeout=60_000)
        assert not tab.locator('[data-testid="stMetric"]').count()
    finally:
        context.close()
    sent = "\n".join(frames)
    assert len(sent) > 10_000  # the pages' data did come through the socket
    assert not [s for s in OTHER_SITES if s in sent], "another site's name reached the partner's browser"
    assert not [s for s in OTHER_SITES if s in csv]
    store = AppStore(app_db)
    try:
        assert any(e.user == PARTNER and e.action == "export_csv" for e in store.audit_log())
    finally:
        store.dispose()


def test_behind_the_proxy_no_header_or_an_unknown_user_sees_nothing(browser, header_app):
    url, _ = header_app
    for who, says in ((None, "Nobody is signed in"), ("stranger@elsewhere.example", "has no access")):
        context, tab = _as(browser, who)
        try:
            tab.goto(url)
            tab.wait_for_selector(f"text={says}", timeout=60_000)
            assert not tab.locator('[data-testid="stMetric"]').count()
            assert not tab.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').count()
        finally:
            context.close()


@pytest.fixture(scope="module")
def oidc_app(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local OpenID Connect provider and the app in oidc mode pointing at it; yields the app's URL."""
    server = tmp_path_factory.mktemp("oidc")
    provider_port, app_port = free_port(), free_port()
    log = (server / "provider.log").open("w")
    provider = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(provider_port)],
                                stdout=log, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{provider_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2).read()
                break
            except OSError:
                if provider.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the OpenID Connect provider did not start: {(server / 'provider.log').read_text()}")
                time.sleep(0.2)  # polling a server that is starting, not synchronising the UI
        (server / "ops.toml").write_text(ROLES_CONFIG.replace('mode = "header"', 'mode = "oidc"'))
        (server / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(16)}"\n'
            'client_id = "identity-ops"\nclient_secret = "not-a-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n')
        env = dict(os.environ, OPS_DB_URL=f"sqlite:///{sample_db}", OPS_APP_DB_URL=f"sqlite:///{server / 'app.sqlite'}",
                   OPS_CONFIG=str(server / "ops.toml"), STREAMLIT_SECRETS_FILES=str(server / "secrets.toml"))
        with running_app(env, server / "streamlit.log", port=app_port) as url:
            yield url
    finally:
        provider.terminate()
        provider.wait(timeout=10)
        log.close()


def _sign_in(tab, url: str, email: str) -> None:
    tab.goto(url)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_selector('input[name="sub"]', timeout=30_000)  # the provider's own page
    tab.fill('input[name="sub"]', email)
    tab.get_by_role("button", name="Authorize").click()


def test_sign_in_with_openid_connect_gives_each_role_its_view(browser, oidc_app):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = context.new_page()
    frames: list[str] = []
    tab.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
    try:
        tab.goto(oidc_app)
        tab.wait_for_selector("text=Sign in to see the dashboard", timeout=60_000)
        assert not tab.locator('[data-testid="stMetric"]').count()
        _sign_in(tab, oidc_app, PARTNER)
        wait_until_idle(tab, timeout=120_000)
        text = tab.inner_text('[data-testid="stApp"]').replace("\u200b", "")
        assert f"Signed in as {PARTNER} (partner)" in text and "Incoming" in text
        assert "You see Vendor site: Manila only." in text
        screenshot(tab, "signed-in-oidc-partner")
        assert not [s for s in OTHER_SITES if s in "\n".join(frames)]
        tab.get_by_role("button", name="Sign out").click()
        tab.get_by_role("button", name="End session").click()  # the provider's end-session page, then back
        tab.wait_for_selector("text=Sign in to see the dashboard", timeout=60_000)
        _sign_in(tab, oidc_app, ADMIN)
        wait_until_idle(tab, timeout=120_000)
        text = tab.inner_text('[data-testid="stApp"]').replace("\u200b", "")
        assert f"Signed in as {ADMIN} (admin)" in text and "You see" not in text
        assert all(s in "\n".join(frames) for s in OTHER_SITES)  # an admin gets every site (the check above bites)
    finally:
        context.close()


def test_an_address_without_a_role_is_refused_after_sign_in(browser, oidc_app):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = context.new_page()
    try:
        _sign_in(tab, oidc_app, "stranger@elsewhere.example")
        tab.wait_for_selector("text=has no access to this dashboard", timeout=60_000)
        assert not tab.locator('[data-testid="stMetric"]').count()
    finally:
        context.close()
