"""AppTest: every page renders on the sample, and changing a filter changes the numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture()
def app(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    return AppTest.from_file(str(APP), default_timeout=90)


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_standup_shows_every_tile_with_a_definition(app: AppTest):
    at = app.run()
    assert not at.exception
    tiles = _tiles(at)
    for label in ("Incoming", "Manual incoming", "Solved", "Manual solved", "Automation rate", "AHT", "AAS",
                  "Backlog", "SLA attainment"):
        assert label in tiles and tiles[label] not in ("", "–"), label
    assert all(m.help for m in at.metric)
    assert all("vs last week" in (m.delta or "") for m in at.metric)


def test_standup_numbers_follow_the_workflow_filter(app: AppTest):
    at = app.run()
    everything = int(_tiles(at)["Incoming"].replace(",", ""))
    at.multiselect(key="sidebar_workflow").select("copyright").run()
    assert not at.exception
    copyright_only = int(_tiles(at)["Incoming"].replace(",", ""))
    assert 0 < copyright_only < everything


def test_standup_day_can_be_replayed(app: AppTest):
    at = app.run()
    newest = at.date_input(key="standup_day").value
    from datetime import timedelta

    at.date_input(key="standup_day").set_value(newest - timedelta(days=3)).run()
    assert not at.exception
    assert f"{newest - timedelta(days=3):%d %B %Y}" in at.title[0].value


def test_trends_page_renders_and_follows_the_kpi_choice(app: AppTest):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    first = at.dataframe[0].value.copy()
    at.selectbox(key="trends_kpi").select("aht").run()
    assert not at.exception
    assert list(at.dataframe[0].value.columns) == ["aht"]
    assert not first.equals(at.dataframe[0].value)


def test_trends_split_by_site_has_a_column_per_site(app: AppTest):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    at.selectbox(key="trends_split").select("vendor_site").run()
    assert not at.exception
    assert {"Manila", "Dublin", "Hyderabad"} <= set(at.dataframe[0].value.columns)


def test_a_filter_that_matches_nothing_says_so(app: AppTest):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    at.multiselect(key="sidebar_workflow").select("copyright")
    at.multiselect(key="sidebar_vendor_site").select("Austin").run()  # Austin serves no copyright cases
    assert not at.exception
    if at.warning:
        assert "Widen the date range or clear a filter" in at.warning[0].value


def test_a_wrong_database_url_gives_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPS_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "cannot connect" in at.error[0].value
    assert any("host, port" in i.value for i in at.info)


def test_first_start_builds_the_sample_with_a_progress_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import loaders.settings

    target = tmp_path / "first_start.sqlite"
    monkeypatch.setattr(loaders.settings, "SAMPLE_DB_PATH", target)
    monkeypatch.delenv("OPS_DB_URL", raising=False)
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    monkeypatch.setenv("OPS_SAMPLE_SIZE", "small")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert target.exists() and target.with_name("first_start.ground_truth.csv").exists()
    assert any("building its sample data" in i.value for i in at.info)
    assert int(at.metric[0].value.replace(",", "")) > 0
