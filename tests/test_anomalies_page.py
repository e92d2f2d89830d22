"""AppTest: the Anomalies page lists what is abnormal, shows the chosen series, narrows, says when all is normal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from metrics.panel import holiday_events
from tests.conftest import SAMPLE_END, visible
from ui.anomaly_data import chosen_row, read_events_csv

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture()
def app(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    monkeypatch.delenv("OPS_EVENTS", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    at.switch_page("pages/anomalies.py").run()
    assert not at.exception
    return at


def _spike_row(at: AppTest) -> int:
    table = at.dataframe[0].value
    hit = table[(table["KPI"] == "Incoming") & (table["Slice"] == "brand impersonation at Manila")
                & (table["Date"] == SAMPLE_END)]
    assert len(hit) == 1, table.head(20)
    return int(hit.index[0])


def test_list_shows_the_planted_brand_impersonation_spike_on_the_last_day(app: AppTest) -> None:
    table = app.dataframe[0].value
    row = table.loc[_spike_row(app)]
    assert row["Direction"] == "spike" and row["Change"].startswith("+") and float(row["Change"].split()[0]) > 50
    assert row["Change"].endswith(" %")  # a count moves in % of its expected value; a percentage KPI in pts
    assert table["Severity"].is_monotonic_decreasing
    assert "abnormal points" in app.caption[0].value


def test_selecting_a_row_shows_its_series_with_band_and_a_drilldown_link(app: AppTest) -> None:
    app.segmented_control(key="anomalies_span").set_value("range").run()
    row = _spike_row(app)
    assert row != 0  # so the selection, not the default, decides what is shown
    app.session_state["anomalies_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert visible(app.subheader[0].value) == f"Incoming · brand impersonation at Manila · {SAMPLE_END:%a %d %b %Y}"
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"]}
    assert {"expected range", "expected", "Incoming", "abnormal (bad)"} <= names
    assert any("How it was judged: Expected = robust Holt-Winters" in visible(c.value) for c in app.caption)
    link = next(e.proto for e in app.get("page_link") if e.proto.label == "Open in drill-down")
    assert link.page == "drilldown"  # the same tab, through Streamlit's own navigation
    assert parse_qs(link.query_string) == {"kpi": ["incoming"], "day": ["2026-06-30"],
                                           "workflow": ["brand_impersonation"], "vendor_site": ["Manila"]}
    assert app.query_params["flag"] == f"incoming|{_key('brand_impersonation', 'Manila')}|2026-06-30"


def _key(workflow: str, site: str) -> str:
    from metrics.slices import Slice

    return Slice.of({"workflow": workflow, "vendor_site": site}).key


def test_a_link_opens_the_flag_it_names_under_the_sidebar_filters(app: AppTest) -> None:
    """The chosen row and the sidebar filters are in the URL: the same URL in a new session shows the same flag."""
    app.multiselect(key="sidebar_channel").select("web_form").run()
    app.segmented_control(key="anomalies_span").set_value("range").run()
    assert len(app.dataframe[0].value) > 1
    app.session_state["anomalies_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    title = app.subheader[0].value
    params = {k: app.query_params[k] for k in app.query_params}
    assert params["f.channel"] == "web_form" and params["span"] == "range" and params["flag"]
    fresh = AppTest.from_file(str(APP), default_timeout=90)
    fresh.query_params.update(params)
    fresh.switch_page("pages/anomalies.py").run()
    assert not fresh.exception
    assert fresh.multiselect(key="sidebar_channel").value == ["web_form"]
    assert fresh.subheader[0].value == title  # no selection in this session: the link decided


def test_page_filters_narrow_the_list(app: AppTest) -> None:
    app.segmented_control(key="anomalies_span").set_value("range").run()
    everything = app.dataframe[0].value
    app.multiselect(key="anomalies_kpi").select("incoming").run()
    only_incoming = app.dataframe[0].value
    assert set(only_incoming["KPI"]) == {"Incoming"} and 0 < len(only_incoming) < len(everything)
    app.multiselect(key="sidebar_vendor_site").select("Manila").run()  # the sidebar's filters narrow it
    manila = app.dataframe[0].value
    assert all(s.endswith("Manila") for s in manila["Slice"]) and len(manila) < len(only_incoming)
    app.multiselect(key="anomalies_kpi").unselect("incoming").run()
    every_kpi_at_manila = app.dataframe[0].value
    assert all(s.endswith("Manila") for s in every_kpi_at_manila["Slice"])
    assert len(every_kpi_at_manila) > len(manila)


def test_the_list_opens_on_the_newest_day_and_the_range_is_an_option(app: AppTest) -> None:
    assert set(app.dataframe[0].value["Date"]) == {SAMPLE_END}  # yesterday's stand-up, not 8 weeks
    app.segmented_control(key="anomalies_span").set_value("week").run()
    week = set(app.dataframe[0].value["Date"])
    assert max(week) == SAMPLE_END and min(week) >= SAMPLE_END - timedelta(days=6) and len(week) > 1


def test_sidebar_date_range_limits_the_days_listed(app: AppTest) -> None:
    start = SAMPLE_END - timedelta(days=6)
    app.segmented_control(key="anomalies_span").set_value("range").run()
    app.date_input(key="sidebar_range").set_value((start, SAMPLE_END)).run()
    assert not app.exception
    days = set(app.dataframe[0].value["Date"])
    assert days and min(days) >= start and max(days) <= SAMPLE_END


def test_a_range_with_nothing_abnormal_says_so(app: AppTest) -> None:
    listed = set(app.dataframe[0].value["Date"])  # days that lead an incident: never quiet
    for k in range(1, 60):
        day = SAMPLE_END - timedelta(days=k)
        if day in listed:
            continue
        app.date_input(key="sidebar_range").set_value((day, day)).run()
        assert not app.exception
        if not app.dataframe:  # a day with no flag at all (not even one inside another day's incident)
            assert f"Nothing is abnormal on {day:%a %d %b %Y}" in app.success[0].value
            return
    raise AssertionError("no quiet day in the last 60")


def test_the_default_choice_is_the_most_severe_row() -> None:
    assert chosen_row(None, 5) is None
    assert chosen_row({"selection": {"rows": [3]}}, 5) == 3
    assert chosen_row({"selection": {"rows": [9]}}, 5) is None  # a stale selection after the list narrowed
    assert chosen_row({"selection": {"rows": []}}, 5) is None


def test_trends_daily_chart_carries_the_expected_band_and_flags(app: AppTest) -> None:
    app.switch_page("pages/trends.py").run()
    assert not app.exception
    names = {t.get("name") for t in json.loads(app.get("plotly_chart")[0].proto.spec)["data"]}
    assert "expected range" in names
    app.selectbox(key="trends_split").select("vendor_site").run()
    names = {t.get("name") for t in json.loads(app.get("plotly_chart")[0].proto.spec)["data"]}
    assert "expected range" not in names  # one band per line would be unreadable



def test_an_events_csv_is_read_with_scope_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "events.csv"
    good.write_text("start,end,name,vendor_site\n2026-06-01,,launch,\n2026-06-12,2026-06-13,PH day,Manila\n")
    frame = read_events_csv(good)
    assert frame["name"].tolist() == ["launch", "PH day"]
    assert frame["end"].dt.strftime("%Y-%m-%d").tolist() == ["2026-06-01", "2026-06-13"]
    assert frame["vendor_site"].isna().tolist() == [True, False]
    bad = tmp_path / "bad.csv"
    bad.write_text("when,name\n2026-06-01,x\n")
    with pytest.raises(ValueError, match=r"must have a `start` \(or `day`\) and a `name` column"):
        read_events_csv(bad)
    backwards = tmp_path / "backwards.csv"
    backwards.write_text("start,end,name\n2026-06-02,2026-06-01,x\n")
    with pytest.raises(ValueError, match=r"`end` must be on or after `start` \(event 'x'\)"):
        read_events_csv(backwards)


def test_holidays_become_events_with_their_catch_up_day() -> None:
    import pandas as pd

    days = pd.DataFrame({"day": [pd.Timestamp("2026-12-25").date()], "name": ["Christmas Day"], "vendor_site": [None]})
    assert (holiday_events(days, catch_up_days=2)["end"] - holiday_events(days)["start"]).dt.days.tolist() == [2]
    with pytest.raises(ValueError, match=r"`catch_up_days` must be >= 0, got -1"):
        holiday_events(days, catch_up_days=-1)


def test_related_counts_the_flags_the_filters_keep(app: AppTest) -> None:
    app.multiselect(key="anomalies_kpi").select("incoming").run()
    table = app.dataframe[0].value
    assert set(table["KPI"]) == {"Incoming"}
    more = [e.label for e in app.expander if "more points in incident" in e.label]
    related = int(table["Related"].iloc[0])  # the row shown by default is the first
    assert (more[0].startswith(f"{related} more points") if related else not more)


def test_an_on_off_choice_in_the_link_is_checked(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    for raw, on, message in (("1", True, False), ("banana", False, True)):
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.query_params["bad"] = raw
        at.switch_page("pages/anomalies.py").run()
        assert not at.exception
        assert at.toggle(key="anomalies_bad_only").value is on
        said = any("?bad=banana must be 1 or 0" in visible(w.value) for w in at.warning)
        assert said is message
