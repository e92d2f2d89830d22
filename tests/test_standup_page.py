"""AppTest: the stand-up page on a desk and on a TV, on fresh, quiet and late data."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import loaders
from loaders import Filters
from metrics.kpis import KPIS, kpi_parts
from metrics.panel import kpi_panel, scan_panel
from metrics.standup import HISTORY_DAYS
from sample_data import SampleConfig, holidays
from sample_data.build import build_sample
from tests.conftest import visible

APP = Path(__file__).resolve().parent.parent / "app.py"
#: the morning every test here replays (the app's clock is pinned to it through OPS_NOW)
TODAY = date(2026, 12, 2)


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, end: date) -> Path:
    path = tmp_path_factory.mktemp(name) / f"{name}.sqlite"
    build_sample(path, config=SampleConfig.small(seed=11, end=end))
    return path


@pytest.fixture(scope="module")
def fresh_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample whose last day is yesterday (the planted spike included): the usual 9:00 situation."""
    return _build(tmp_path_factory, "fresh", TODAY - timedelta(days=1))


@pytest.fixture(scope="module")
def late_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample whose feed stopped three weeks ago."""
    return _build(tmp_path_factory, "late", TODAY - timedelta(days=21))


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("OPS_NOW", f"{TODAY}T09:00:00")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def _quiet_day(db: Path) -> date:
    """A day after the detector's warm-up on which the anomaly scan flags nothing (found the page's way)."""
    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{db}"})
    engine = loaders.make_engine(settings.url)
    first, last = loaders.load_rollup_bounds(engine, settings=settings)
    assert (last - first).days < HISTORY_DAYS  # so the page's panel starts on the same first day as this one
    by = ("workflow", "vendor_site")
    filters = Filters(first, last)
    parts = kpi_parts(loaders.load_daily_volume(engine, settings=settings, filters=filters, by=by), by=by,
                      opening=loaders.load_opening_balance(engine, settings=settings, filters=filters, by=by))
    known = holidays(SampleConfig(end=last, days=(last - first).days + 1))
    events = pd.DataFrame({"start": pd.to_datetime(known["day"]), "end": pd.to_datetime(known["day"]),
                           "name": known["name"], "workflow": None, "vendor_site": known["vendor_site"]})
    flagged = set(scan_panel(kpi_panel(parts), events=events)["day"].dt.date)
    engine.dispose()
    candidates = [first + timedelta(days=d) for d in range(60, (last - first).days)]
    return next(d for d in candidates if d not in flagged)


def test_normal_day_shows_tiles_the_spike_with_its_why_and_a_drilldown_link(fresh_db, monkeypatch):
    at = _app(fresh_db, monkeypatch).run()
    assert not at.exception
    yesterday = TODAY - timedelta(days=1)
    assert at.title[0].value == f"Stand-up · yesterday, {yesterday:%A %d %B %Y}"
    assert not at.error  # fresh data: no late warning
    tiles = {m.label: m for m in at.metric}
    assert len(tiles) == 9 and all(m.help and "vs last week" in m.delta for m in tiles.values())
    lines = [visible(m.value) for m in at.markdown if "severity" in m.value]
    # the root-cause sentence under the line (a cause that outgrew the whole change "accounts for more" than it)
    whys = [visible(c.value) for c in at.caption if "explains" in c.value or "accounts for more than the whole"
            in c.value]
    # the planted spike leads the list: named by its line, or (grouped under its site) by the line's why
    assert lines and whys and ("brand impersonation" in lines[0] or "brand impersonation" in whys[0])
    links = at.get("page_link")
    if (APP.parent / "pages" / "drilldown.py").exists():
        # the leading item's own drill-down: its KPI on that day
        lead = next(k.name for k in KPIS if f"**{k.label}**" in lines[0])
        assert links and any("drilldown" in str(link.proto) and f"kpi={lead}&" in str(link.proto)
                             and yesterday.isoformat() in str(link.proto) for link in links)
    summary = at.code[0].value
    assert summary.startswith(f"On {yesterday:%A %d %B %Y}") and "the most severe" in summary
    table = at.dataframe[0].value
    assert {"vendor_site", "incoming", "sla_attainment", "incoming_trend", "abnormal"} <= set(table.columns)
    assert table["vendor_site"].is_unique and len(table) >= 5


def test_quiet_day_says_nothing_is_abnormal(fresh_db, monkeypatch):
    quiet = _quiet_day(fresh_db)
    at = _app(fresh_db, monkeypatch).run()
    at.date_input(key="standup_day").set_value(quiet).run()
    assert not at.exception
    assert f"{quiet:%d %B %Y}" in at.title[0].value and "yesterday" not in at.title[0].value
    assert any(f"Nothing is abnormal on {quiet:%A %d %B}" in s.value for s in at.success)
    assert not [m for m in at.markdown if "severity" in m.value]
    assert "Nothing was abnormal" in at.code[0].value


def test_late_data_is_never_called_yesterday(late_db, monkeypatch):
    at = _app(late_db, monkeypatch).run()
    assert not at.exception
    last = TODAY - timedelta(days=21)
    assert "yesterday" not in at.title[0].value and f"{last:%d %B %Y}" in at.title[0].value
    assert at.error and at.error[0].value.startswith("Data is late: the newest case is from")
    assert "not of yesterday" in at.error[0].value
    assert at.code[0].value.startswith("Caution: the data is late")


def test_tv_mode_has_no_sidebar_no_summary_block_and_keeps_the_numbers(fresh_db, monkeypatch):
    desk = _app(fresh_db, monkeypatch).run()
    at = _app(fresh_db, monkeypatch, tv="1", refresh="60").run()
    assert not at.exception
    assert not at.sidebar.children or not list(at.sidebar)  # no filters, no navigation
    assert not at.get("date_input") and not at.code
    assert {m.label: m.value for m in at.metric} == {m.label: m.value for m in desk.metric}
    assert at.dataframe and "vendor_site" in at.dataframe[0].value.columns
    assert any("font-size: 22px" in h.proto.body for h in at.get("html"))


def test_tv_mode_says_when_an_option_is_wrong(fresh_db, monkeypatch):
    at = _app(fresh_db, monkeypatch, tv="1", refresh="2").run()
    assert not at.exception
    assert any("`?refresh=` must be >= 10 seconds" in visible(w.value) for w in at.warning)
    assert at.metric  # and still shows the stand-up with the defaults


def test_tv_rotation_starts_on_the_stand_up_without_leaving_it_at_once(fresh_db, monkeypatch):
    at = _app(fresh_db, monkeypatch, tv="1", rotate="standup,trends", dwell="30").run()
    assert not at.exception
    assert at.title[0].value.startswith("Stand-up")  # the next page comes only after a full dwell
    assert at.session_state["tv_rotation"]["page"] == "app.py"
