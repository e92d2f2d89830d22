"""End-to-end harness: the real app on a free port over the small seeded sample, driven in Debian's Chromium.

The server is started by the suite, polled on ``/_stcore/health`` and stopped by PID. Browser tests skip
locally when Chromium is missing and fail with ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(env: dict[str, str], log: Path, *, port: int | None = None) -> Iterator[str]:
    """``streamlit run app.py`` with ``env`` on ``port`` (default: a free one) until the block ends; yields its
    base URL."""
    port = port or free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
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


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared server's own files: its app database, its page cache (``pages/``) and its log."""
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="session")
def app_url(sample_db: Path, server_dir: Path) -> Iterator[str]:
    """Start ``streamlit run app.py`` on the small sample; yield its base URL."""
    server = server_dir
    env = dict(os.environ, OPS_DB_URL=f"sqlite:///{sample_db}", OPS_APP_DB_URL=f"sqlite:///{server / 'app.sqlite'}",
               OPS_CACHE_DIR=str(server / "pages"))
    env.pop("OPS_CONFIG", None)
    with running_app(env, server / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        unavailable("Chromium (/usr/bin/chromium, Debian package `chromium`)", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)


def _probe(message) -> bool:
    """Streamlit's client probes ``<page path>/_stcore/health`` before the site root: a 404 there is expected."""
    return "/_stcore/" in (message.location or {}).get("url", "") and "404" in message.text


@pytest.fixture()
def page(browser, tmp_path: Path):
    """A fresh 1920×1080 page that records console errors and uncaught page errors."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda m: console.errors.append(m.text) if m.type == "error" and not _probe(m) else None)
    tab.on("pageerror", lambda e: console.errors.append(str(e)))
    tab.console = console  # type: ignore[attr-defined]
    yield tab
    context.close()


# Idle: the script run finished (Streamlit's own `data-test-script-state`), nothing stale or loading is left,
# every plotly chart has drawn and every dataframe has its canvas. The status widget alone is not enough: it
# shows only after a short delay, so a page caught early looked idle (a blank Anomalies screenshot).
_IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidget"] button, [data-testid="stSkeleton"], [data-stale="true"]'))
    return false;
  // a chart or table in a collapsed expander is never drawn: only the visible ones count
  const shown = id => Array.from(document.querySelectorAll(`[data-testid="${id}"]`)).filter(e => e.checkVisibility());
  const charts = shown('stPlotlyChart'), frames = shown('stDataFrame');
  return charts.every(c => c.querySelector('.main-svg')) && frames.every(f => f.querySelector('canvas'));
}"""


def wait_until_idle(tab, *, timeout: float = 60_000) -> None:
    """Wait until the page has rendered: a title, the script run finished, charts and tables drawn."""
    tab.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout)
    tab.wait_for_function(_IDLE, timeout=timeout)


_SCROLL_HEIGHT = """() => Math.max(window.innerHeight, ...['stMain', 'stSidebarContent'].map(id =>
  (document.querySelector(`[data-testid="${id}"]`) || {scrollHeight: 0}).scrollHeight))"""
_NO_SCROLL = """() => ['stMain', 'stSidebarContent'].every(id => {
  const e = document.querySelector(`[data-testid="${id}"]`);
  return !e || e.scrollHeight <= e.clientHeight + 1;
})"""


def screenshot(tab, name: str, *, max_height: int = 10_000) -> Path:
    """The whole page as ``artifacts/screenshots/<name>.png``, 1920 px wide, as tall as its content.

    Streamlit scrolls inside ``stMain``, not the document, so Playwright's ``full_page`` alone stops at the
    viewport: the viewport is stretched to the content's height for the picture (the width, and so the
    layout of the charts, stays), then restored.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.mouse.move(0, 0)  # no hover label or tooltip left over from the last click in the picture
    size = tab.viewport_size
    height = min(int(tab.evaluate(_SCROLL_HEIGHT)), max_height)
    if height > size["height"]:
        tab.set_viewport_size({"width": size["width"], "height": height})
        tab.wait_for_function(_NO_SCROLL, timeout=30_000)
        tab.wait_for_function("() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                              timeout=30_000)
    try:
        tab.screenshot(path=str(path), full_page=True)
    finally:
        if height > size["height"]:
            tab.set_viewport_size(size)
    return path
