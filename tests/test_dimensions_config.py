"""Dimensions, SLA targets and the team's time zone as configuration: parsing, the roll-up's days, every page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import ConfigError, Filters, count_cases, load_daily_volume, load_settings, make_engine, refresh_rollup
from loaders.clock import day_start, today, utc_offsets
from loaders.settings import MAX_DIMENSIONS, SAMPLE_DIMENSIONS, Settings, settings_from_mapping
from tests.conftest import visible

ROOT = Path(__file__).resolve().parent.parent
ZONE = "America/Chicago"
FIRST, DAYS = date(2026, 9, 1), 63  # spans the US clock change of 1 November 2026
NOW = "2026-11-03T15:00"  # 09:00 in Chicago, the morning after the last day


def parse(doc: dict) -> Settings:
    return settings_from_mapping(doc, url=None, url_source="test")


# --- parsing ---------------------------------------------------------------------------------------------

def test_declared_dimensions_have_their_columns_labels_and_order():
    s = parse({"dimensions": {"request_type": {"column": "service_name", "label": "Request type"},
                              "department": "agency"}})
    assert s.dimension_keys == ("request_type", "department")
    assert [s.label(d) for d in s.dimension_keys] == ["Request type", "Department"]
    assert s.columns["request_type"] == "service_name" and s.columns["department"] == "agency"
    assert "workflow" not in s.columns and list(s.case_columns)[3:5] == ["request_type", "department"]
    assert s.everything == "all request types and departments"
    assert parse({}).dimensions == SAMPLE_DIMENSIONS


@pytest.mark.parametrize(("doc", "message"), [
    ({"dimensions": {}}, "1 to 6 dimensions, got 0"),
    ({"dimensions": {f"d{i}": f"c{i}" for i in range(MAX_DIMENSIONS + 1)}}, "1 to 6 dimensions, got 7"),
    ({"dimensions": {"incoming": "x"}}, "a name the dashboard uses for something else"),
    ({"dimensions": {"a": {"column": "x", "label": "Team"}, "b": {"column": "y", "label": "team"}}},
     "the same label"),
    ({"dimensions": {"a": {"column": "bad name"}}}, "plain SQL identifier"),
    ({"dimensions": {"a": {"colum": "x"}}}, "has no setting `colum`"),
    ({"dimensions": {"a": "x"}, "columns": {"a": "y"}}, "a dimension declared under [dimensions]"),
    ({"dimensions": {"a": "x"}, "columns": {"workflow": "y"}}, "unknown canonical column(s)"),
    ({"dimensions": {"a": "x"}, "values": {"workflow": {"w": "W"}}}, "[values] has no setting `workflow`"),
    ({"dimensions": {"a": "x"}, "sla": {"dimension": "b", "hours": {"v": 4}}}, "must be one of the dimensions"),
    ({"sla": {"hours": {"copyright": -1}}}, "must be a number > 0"),
    ({"time": {"timezone": "Mars/Olympus"}}, "IANA time zone"),
    ({"time": {"naive_timestamps": "server"}}, 'must be "UTC" or "local"'),
])
def test_a_broken_rule_is_named(doc, message):
    with pytest.raises(ConfigError) as err:
        parse(doc)
    assert message in str(err.value)


def test_a_broken_rule_in_the_file_names_its_line(tmp_path):
    path = tmp_path / "ops.toml"
    path.write_text('[source]\ntable = "requests"\n\n[dimensions]\nrequest_type = "service_name"\n'
                    'kpi = "agency"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ops\.toml line 6: \[dimensions\] key 'kpi'"):
        load_settings(environ={}, config_path=path)


# --- the team's clock ------------------------------------------------------------------------------------

def test_a_day_starts_at_local_midnight_as_the_source_writes_it():
    chicago = Settings(url="x", business_timezone=ZONE)
    assert day_start(chicago, date(2026, 7, 1)) == datetime(2026, 7, 1, 5)   # CDT, UTC-5
    assert day_start(chicago, date(2026, 12, 1)) == datetime(2026, 12, 1, 6)  # CST, UTC-6
    local = Settings(url="x", business_timezone=ZONE, naive_timestamps="local")
    assert day_start(local, date(2026, 7, 1)) == datetime(2026, 7, 1)
    kolkata = Settings(url="x", business_timezone="Asia/Kolkata")
    assert day_start(kolkata, date(2026, 7, 1)) == datetime(2026, 6, 30, 18, 30)


def test_today_is_the_teams_today(monkeypatch):
    monkeypatch.setenv("OPS_NOW", "2026-07-01T03:00")  # still 30 June in Chicago, already 1 July in UTC
    assert today(Settings(url="x", business_timezone=ZONE)) == date(2026, 6, 30)
    assert today(Settings(url="x")) == date(2026, 7, 1)


@pytest.mark.parametrize("zone", ["Australia/Lord_Howe", "Pacific/Chatham", "America/Chicago", "Asia/Kolkata"])
def test_the_zones_offsets_match_zoneinfo_at_every_hour(zone):
    start, end = datetime(2025, 1, 1), datetime(2027, 1, 1)
    steps = utc_offsets(zone, start, end)
    at = pd.date_range(start, end, freq="37min").to_pydatetime()
    instants = np.array([s for s, _ in steps], dtype="datetime64[us]")
    found = np.array([o for _, o in steps])[np.searchsorted(instants, np.array(at, dtype="datetime64[us]"),
                                                             side="right") - 1]
    tz = ZoneInfo(zone)
    expected = [int(t.replace(tzinfo=UTC).astimezone(tz).utcoffset().total_seconds()) for t in at]
    assert found.tolist() == expected


# --- a 311-shaped table, end to end ----------------------------------------------------------------------

CONFIG = """
[source]
table = "requests"

[columns]
case_id = "service_request_id"
created_at = "requested_datetime"
solved_at = "closed_date"
sla_due_at = "expected_datetime"

[dimensions]
request_type = { column = "service_name", label = "Request type" }
department = { column = "agency_responsible", label = "Department" }

[sla]
default_hours = 48

[time]
timezone = "America/Chicago"
"""


def _requests(seed: int = 3) -> pd.DataFrame:
    """~45 requests a day, UTC timestamps, many within an hour of local and UTC midnight; a third have a due time."""
    rng = np.random.default_rng(seed)
    types = [f"type {i:02d}" for i in range(30)]
    weights = 1 / np.arange(1, 31) ** 1.2
    rows = []
    start = datetime(FIRST.year, FIRST.month, FIRST.day)
    for d in range(DAYS):
        n = int(rng.poisson(45 * (0.6 if (FIRST + timedelta(days=d)).weekday() >= 5 else 1.0)))
        for _ in range(n):
            minute = int(rng.choice([rng.integers(0, 1440), rng.integers(270, 390), rng.integers(1410, 1440)]))
            created = start + timedelta(days=d, minutes=minute)
            solved = created + timedelta(hours=float(rng.exponential(30))) if rng.random() < 0.85 else None
            due = created + timedelta(hours=24) if rng.random() < 0.35 else None
            rows.append({"service_request_id": f"SR-{len(rows):06d}", "requested_datetime": created,
                         "closed_date": solved, "expected_datetime": due,
                         "service_name": str(rng.choice(types, p=weights / weights.sum())),
                         "agency_responsible": None if rng.random() < 0.09 else str(rng.choice(["Parks", "Streets",
                                                                                                 "Water"]))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def requests_db(tmp_path_factory) -> tuple[str, Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("requests")
    url = f"sqlite:///{folder / 'city.sqlite'}"
    config = folder / "ops.toml"
    config.write_text(CONFIG, encoding="utf-8")
    frame = _requests()
    engine = make_engine(url)
    meta = sa.MetaData()
    table = sa.Table("requests", meta, sa.Column("service_request_id", sa.String(16), primary_key=True),
                     *(sa.Column(c, sa.DateTime) for c in ("requested_datetime", "closed_date", "expected_datetime")),
                     sa.Column("service_name", sa.String(64)), sa.Column("agency_responsible", sa.String(64)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{k: (None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp)
                                           else v) for k, v in r.items()} for r in frame.to_dict("records")])
    engine.dispose()
    return url, config, frame


def _local_day(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_localize("UTC").dt.tz_convert(ZONE).dt.tz_localize(None).dt.normalize()


def test_the_rollup_counts_each_request_on_its_local_day_and_judges_sla_by_due_time_or_target(requests_db,
                                                                                            monkeypatch):
    url, config, frame = requests_db
    monkeypatch.setenv("OPS_NOW", NOW)
    settings = load_settings(environ={"OPS_DB_URL": url}, config_path=config)
    engine = make_engine(url)
    refresh_rollup(engine, settings, full=True)
    got = load_daily_volume(engine, settings=settings, filters=Filters(FIRST - timedelta(days=1),
                                                                       FIRST + timedelta(days=DAYS + 10)),
                            by=["department"])
    created = frame.assign(day=_local_day(frame["requested_datetime"]),
                           department=frame["agency_responsible"].fillna("(none)"))
    want = created.groupby(["day", "department"]).size()
    have = got.reset_index().set_index(["day", "department"])["incoming"]
    assert have[have > 0].astype(int).to_dict() == want.to_dict()
    solved = frame[frame["closed_date"].notna()].copy()
    age_h = (solved["closed_date"] - solved["requested_datetime"]).dt.total_seconds() / 3600
    in_sla = np.where(solved["expected_datetime"].notna(), solved["closed_date"] <= solved["expected_datetime"],
                      age_h <= 48)
    assert got["solved_in_sla"].sum() == int(in_sla.sum())
    assert got["solved"].sum() == len(solved)
    # a day's case list holds exactly the requests its roll-up row counted (the clock change included)
    for day in (date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)):
        listed = count_cases(engine, settings=settings, filters=Filters(day, day), day=day)
        assert listed == int(created["day"].eq(pd.Timestamp(day)).sum())
    engine.dispose()


@pytest.mark.parametrize("script", ["app.py", "pages/trends.py", "pages/anomalies.py", "pages/drilldown.py",
                                    "pages/data.py"])
def test_every_page_speaks_the_configured_dimensions(requests_db, monkeypatch, script):
    from streamlit.testing.v1 import AppTest

    url, config, _ = requests_db
    monkeypatch.setenv("OPS_DB_URL", url)
    monkeypatch.setenv("OPS_CONFIG", str(config))
    monkeypatch.setenv("OPS_NOW", NOW)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    if script != "app.py":
        at.switch_page(script).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [visible(e.value) for e in at.error]
    assert [m.label for m in at.sidebar.multiselect] == ["Request type", "Department"]
    if script == "app.py":
        assert "Stand-up · yesterday, Monday 02 November 2026" in at.title[0].value  # the team's yesterday
        heads = [h.value for h in at.subheader]
        assert "Departments" in heads and "Request types, last 8 weeks" in heads
        labels = {m.label for m in at.metric}
        assert {"Incoming", "Solved", "SLA attainment", "Backlog"} <= labels and "AHT" not in labels
    if script == "pages/trends.py":
        split = at.selectbox(key="trends_split")
        assert split.options == ["No split", "Request type", "Department"]
        split.set_value("request_type").run()
        assert not at.exception
        assert any("The 10 largest request types by incoming have a line each" in c.value for c in at.caption)
    if script == "pages/anomalies.py":
        # the list is narrowed by the sidebar's filters (the configured dimensions), not by copies of them
        assert [m.label for m in at.multiselect if m.key and m.key.startswith("anomalies_")] == ["KPI"]
        assert {"Request type", "Department"} <= {m.label for m in at.sidebar.multiselect}


def test_detector_section_sets_the_one_judgment() -> None:
    settings = settings_from_mapping({"detector": {"threshold": 5, "min_cases": 10, "min_change": 0.1}},
                                     url=None, url_source="test")
    assert (settings.threshold, settings.min_cases, settings.min_change) == (5.0, 10.0, 0.1)
    off = settings_from_mapping({"detector": {"min_cases": 0, "min_change": 0}}, url=None, url_source="test")
    assert (off.min_cases, off.min_change) == (0.0, 0.0)  # no minimum effect: the score alone decides
    default = settings_from_mapping({}, url=None, url_source="test")
    assert (default.threshold, default.min_cases, default.min_change) == (4.0, 3.0, 0.05)


@pytest.mark.parametrize(("section", "key"), [
    ({"threshold": 0}, "detector.threshold"), ({"min_cases": -1}, "detector.min_cases"),
    ({"min_change": 5}, "detector.min_change"), ({"min_change": "5 %"}, "detector.min_change"),
    ({"sigma": 3}, "detector.sigma"), ({"threshold": float("nan")}, "detector.threshold"),
    ({"min_cases": float("inf")}, "detector.min_cases"), ({"min_change": float("nan")}, "detector.min_change"),
])
def test_a_bad_detector_setting_names_its_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_mapping({"detector": section}, url=None, url_source="test")
    assert err.value.key == key or key in str(err.value)
