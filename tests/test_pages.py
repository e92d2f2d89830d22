"""AppTest: every page renders on the sample, and changing a filter changes the numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import visible

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
    assert list(at.dataframe[0].value.columns) == ["AHT"]  # the display name; the CSV keeps "aht"
    assert not first.equals(at.dataframe[0].value)


def test_trends_split_by_site_has_a_column_per_site(app: AppTest):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    at.selectbox(key="trends_split").select("vendor_site").run()
    assert not at.exception
    assert {"Manila", "Dublin", "Hyderabad"} <= set(at.dataframe[0].value.columns)


def test_trends_split_by_workflow_writes_values_as_words_and_links_by_the_value(app: AppTest):
    import json

    at = app.run()
    at.switch_page("pages/trends.py").run()
    at.selectbox(key="trends_split").select("workflow").run()
    assert not at.exception
    assert "brand impersonation" in at.dataframe[0].value.columns  # the table and the legend read as words …
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    named = {t.get("name"): t.get("meta") for t in traces if t.get("meta")}
    assert named["brand impersonation"] == "brand_impersonation"  # … a click still maps to the value itself


def test_a_filter_that_matches_nothing_says_so(app: AppTest):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    at.multiselect(key="sidebar_workflow").select("copyright")
    at.multiselect(key="sidebar_vendor_site").select("Manila").run()  # Manila serves no copyright cases
    assert not at.exception
    said = [visible(i.value) for i in at.info]
    assert any("No cases match these filters" in m and "(Workflow: copyright × Vendor site: Manila)" in m
               and "Clear a filter in the sidebar" in m for m in said), said
    assert not at.get("plotly_chart")  # no empty chart drawn under the message


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
    # the notice and its progress bar show while the sample builds, and are gone once the page has data
    assert not any("building its sample data" in i.value for i in at.info)
    assert int(at.metric[0].value.replace(",", "")) > 0


def test_the_url_holds_the_state_and_a_link_reopens_it(app: AppTest):
    """Choices are written to the URL (only where they differ from the default) and a URL seeds a new session."""
    from datetime import timedelta

    at = app.run()
    newest = at.date_input(key="standup_day").value
    assert "day" not in at.query_params  # the default day is not written: a bare link means "newest"
    at.date_input(key="standup_day").set_value(newest - timedelta(days=3)).run()
    at.multiselect(key="sidebar_workflow").select("copyright").run()
    assert at.query_params["day"] == f"{newest - timedelta(days=3):%Y-%m-%d}"
    assert at.query_params["f.workflow"] == "copyright"
    tiles = _tiles(at)
    fresh = AppTest.from_file(str(APP), default_timeout=90)
    fresh.query_params.update({k: at.query_params[k] for k in at.query_params})
    fresh.run()
    assert not fresh.exception
    assert fresh.date_input(key="standup_day").value == newest - timedelta(days=3)
    assert fresh.multiselect(key="sidebar_workflow").value == ["copyright"]
    assert _tiles(fresh) == tiles  # the same numbers for whoever opens the link


def test_a_link_with_values_the_data_lacks_says_so_and_opens_the_default(app: AppTest):
    app.query_params.update({"kpi": "no_such_kpi", "split": "planet", "f.vendor_site": ["Manila", "Atlantis"]})
    at = app.switch_page("pages/trends.py").run()
    assert not at.exception
    warning = visible(" ".join(w.value for w in at.warning))
    assert "?kpi=no_such_kpi is not a KPI here" in warning and "planet" in warning and "Atlantis" in warning
    assert at.selectbox(key="trends_kpi").value == "incoming" and at.selectbox(key="trends_split").value == "none"
    assert at.multiselect(key="sidebar_vendor_site").value == ["Manila"]  # the known value is kept
    assert at.query_params["f.vendor_site"] == "Manila" and "kpi" not in at.query_params  # and the URL mended


def test_a_hostile_value_in_a_link_is_shown_as_text(app: AppTest):
    app.query_params.update({"kpi": "[Session expired, sign in](https://evil.example/login)``"})
    at = app.switch_page("pages/trends.py").run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "evil" in warning and "](" not in warning and "\\[Session expired" in warning  # escaped, no link
