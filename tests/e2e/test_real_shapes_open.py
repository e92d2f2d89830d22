"""Every page opens in real Chromium on each real-world shape (Zendesk, Salesforce, ServiceNow, Open311).

One app server per shape, on a SQLite file holding that shape's table, started with its configuration
(``examples/<shape>.toml``) and its clock pinned to the morning after the data's last day (``OPS_NOW``). The
crawl fails on a Streamlit exception box, an error alert or a console error on any page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, running_app, wait_until_idle
from tests.test_real_shapes import SHAPES, load
from ui.shell import NAVIGATION

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PAGES = [(script, label) for script, label, _icon in NAVIGATION if (ROOT / script).exists()]


@pytest.fixture(scope="module", params=list(SHAPES))
def shape_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``streamlit run app.py`` on one shape's table; yields (shape, base URL)."""
    name = request.param
    folder = tmp_path_factory.mktemp(f"shape_{name}")
    url = f"sqlite:///{folder / f'{name}.sqlite'}"
    engine, _ = load(url, name)
    engine.dispose()
    env = dict(os.environ, OPS_DB_URL=url, OPS_CONFIG=str(SHAPES[name].config_path), OPS_NOW=SHAPES[name].now)
    with running_app(env, folder / "streamlit.log") as base:
        yield name, base


def test_every_page_opens_on_the_shape(shape_app: tuple[str, str], page) -> None:
    name, base = shape_app
    for script, label in PAGES:
        page.goto(base + "/" if script == "app.py" else f"{base}/{Path(script).stem}")
        wait_until_idle(page, timeout=120_000)
        where = f"{name}: {label}"
        boxes = page.locator('[data-testid="stException"]')
        assert boxes.count() == 0, f"{where}: {boxes.first.inner_text()}"
        alerts = page.locator('[data-testid="stAlertContentError"]')
        assert alerts.count() == 0, f"{where}: {alerts.first.inner_text()}"
        assert page.locator('[data-testid="stMain"] h1').first.inner_text().strip(), where
        assert page.console.errors == [], f"{where}: {page.console.errors}"
