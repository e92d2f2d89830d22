"""Four real-world case tables — a Zendesk ticket export, Salesforce cases, ServiceNow incidents and a city's
Open311 service requests — each in its documented shape (its own table and column names, types and value
conventions), mapped by ``examples/<shape>.toml``, work on every database and every page.

The reference numbers are computed here with pandas from the generated rows, by the same day rule (the
team's time zone), never by the product's own code. The app's clock is pinned to the morning after the
data's last day (``OPS_NOW``), so nothing depends on the day the tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from examples import open311, salesforce, servicenow, zendesk
from examples.shapes import DATA_END, DATA_START, Shape
from loaders import (
    Filters,
    Settings,
    available_measures,
    count_cases,
    load_cases,
    load_daily_volume,
    make_engine,
    refresh_rollup,
)
from loaders.checks import check_source
from loaders.clock import local_column
from loaders.rollup import NONE_VALUE, find_bad_rows
from metrics.kpis import KPIS, available_kpis
from metrics.standup import TILE_KPIS
from tests.conftest import stored_deck, visible

APP = Path(__file__).resolve().parent.parent / "app.py"
SHAPES: dict[str, Shape] = {s.name: s for s in (zendesk.SHAPE, salesforce.SHAPE, servicenow.SHAPE, open311.SHAPE)}
#: the KPIs each shape can state; every other KPI must be hidden (the columns it needs are not there)
SHOWN: dict[str, set[str]] = {
    "zendesk": {"Incoming", "Solved", "AAS", "Backlog", "SLA attainment"},
    "salesforce": {"Incoming", "Solved", "AAS", "Backlog", "Escalation rate"},
    "servicenow": {"Incoming", "Solved", "AAS", "Backlog", "SLA attainment"},
    "open311": {"Incoming", "Solved", "AAS", "Backlog", "SLA attainment"},
}
#: shapes stored with zoned timestamps (timestamptz) on a database that has the type
ZONED = {"zendesk"}
PAGES = ["app.py", "pages/trends.py", "pages/anomalies.py", "pages/drilldown.py", "pages/data.py", "pages/deck.py"]
#: days whose boundaries are easy to get wrong: the spring changes of the US and EU clocks, and the last day
TRICKY_DAYS = (date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 29), date(2026, 3, 30), DATA_END)

_GENERATED: dict[str, pd.DataFrame] = {}
_LOADED: dict[tuple[str, str], tuple[sa.Engine, Settings]] = {}


def rows(name: str) -> pd.DataFrame:
    """The generated table of a shape (generated once per session)."""
    if name not in _GENERATED:
        _GENERATED[name] = SHAPES[name].generate()
    return _GENERATED[name]


def load(url: str, name: str) -> tuple[sa.Engine, Settings]:
    """The shape's table written into the database at ``url`` and its roll-up built (once per session)."""
    if (url, name) not in _LOADED:
        shape = SHAPES[name]
        engine = make_engine(url)
        shape.write(engine, rows(name), zoned=name in ZONED)
        settings = shape.settings(url)
        with pytest.MonkeyPatch.context() as clock:  # built the morning after, as the pages will refresh it
            clock.setenv("OPS_NOW", shape.now)
            refresh_rollup(engine, settings, full=True)
        _LOADED[url, name] = engine, settings
    return _LOADED[url, name]


@pytest.fixture(scope="session", params=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session", params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty PostgreSQL or MariaDB database (skipped locally without the server, failed with CI=true)."""
    return request.getfixturevalue({"postgresql": "postgres_url", "mariadb": "mariadb_url"}[request.param])


# --- the pandas reference ---------------------------------------------------------------------------


def team_day(stamps: pd.Series, settings: Settings) -> pd.Series:
    """The team's calendar day of each timestamp as the table stores it (naive UTC, or naive local time)."""
    stamps = pd.to_datetime(stamps)
    if settings.naive_timestamps == "UTC" and settings.business_timezone != "UTC":
        stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(settings.business_timezone).dt.tz_localize(None)
    return stamps.dt.normalize()


def our_values(values: pd.Series, settings: Settings, dimension: str) -> pd.Series:
    """A dimension's values renamed by ``[values.<dimension>]``, an empty one as ``(none)``."""
    mapping = settings.value_maps.get(dimension, {})
    back = {theirs: ours for ours, all_theirs in mapping.items() for theirs in all_theirs}
    return values.astype(object).map(lambda v: NONE_VALUE if v is None or pd.isna(v) or v == "" else back.get(v, v))


def source(frame: pd.DataFrame, settings: Settings, canonical: str) -> pd.Series:
    return frame[settings.columns[canonical]]


def within_sla(frame: pd.DataFrame, settings: Settings) -> pd.Series:
    """Solved within the SLA: on or before the due time where the shape has one, else within the ``[sla]`` target
    of the case's value of the SLA dimension (``default_hours`` for any other)."""
    solved = pd.to_datetime(source(frame, settings, "solved_at"))
    if settings.columns["sla_due_at"] in frame.columns:
        due = pd.to_datetime(source(frame, settings, "sla_due_at"))
        return solved.notna() & due.notna() & (solved <= due)
    values = our_values(source(frame, settings, settings.sla_dimension), settings, settings.sla_dimension)
    target = values.map(lambda v: settings.sla_hours_by.get(v, settings.sla_default_hours)).astype(float)
    age = (solved - pd.to_datetime(source(frame, settings, "created_at"))).dt.total_seconds() / 3600
    return solved.notna() & (age <= target)


def counted(series: pd.Series) -> pd.Series:
    """Non-zero counts only, as integers (the roll-up's grid fills absent days and groups with zeros)."""
    return series[series != 0].astype("int64")


def same(got: pd.Series, want: pd.Series) -> None:
    """Equal values on equal keys (whatever the index's resolution or frequency)."""
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False, check_freq=False)


# --- the data layer, on every database ----------------------------------------------------------------


def test_the_rollup_adds_up_to_the_rows_on_every_database(db_url: str, shape: str):
    engine, settings = load(db_url, shape)
    frame = rows(shape)
    main = settings.dimension_keys[0]
    filters = Filters(DATA_START, DATA_END)
    split = load_daily_volume(engine, settings=settings, filters=filters, by=[main])
    total = load_daily_volume(engine, settings=settings, filters=filters)

    created = team_day(source(frame, settings, "created_at"), settings)
    assert created.min() >= pd.Timestamp(DATA_START) and created.max() == pd.Timestamp(DATA_END)
    want = frame.assign(day=created, key=our_values(source(frame, settings, main), settings, main)) \
        .groupby(["day", "key"]).size().rename("incoming")
    got = counted(split.reset_index().set_index(["day", main])["incoming"]).rename_axis(["day", "key"])
    same(got.sort_index(), want.sort_index())
    assert int(total["incoming"].sum()) == len(frame)  # no row is left out

    solved = source(frame, settings, "solved_at").notna()
    solved_day = team_day(source(frame, settings, "solved_at")[solved], settings)
    same(counted(total["solved"]), solved_day.value_counts().sort_index())
    age = (pd.to_datetime(source(frame, settings, "solved_at")) - pd.to_datetime(
        source(frame, settings, "created_at"))).dt.total_seconds() / 3600
    # MariaDB divides seconds by 3600.0 in decimals, to 4 places of an hour: sums agree to ~1e-8
    assert total["age_at_solve_h"].sum() == pytest.approx(age[solved].sum(), rel=1e-7)

    if "SLA attainment" in SHOWN[shape]:
        in_sla = within_sla(frame, settings)[solved]
        want_sla = in_sla.groupby(solved_day).sum()
        same(total["solved_in_sla"].reindex(want_sla.index).astype("int64"), want_sla.astype("int64"))
    if "Escalation rate" in SHOWN[shape]:
        flagged = source(frame, settings, "escalated")[solved].astype(bool)
        assert int(total["escalated"].sum()) == int(flagged.sum()) > 0


def test_servicenow_sla_attainment_is_servicenow_s_own_made_sla(db_url: str):
    """The targets of ``[sla]`` judge a resolved incident as ServiceNow's SLA engine did (``made_sla``)."""
    engine, settings = load(db_url, "servicenow")
    frame = rows("servicenow")
    resolved = frame["resolved_at"].notna()
    total = load_daily_volume(engine, settings=settings, filters=Filters(DATA_START, DATA_END))
    assert int(total["solved_in_sla"].sum()) == int(frame.loc[resolved, "made_sla"].sum())


def test_only_the_kpis_a_shape_has_columns_for_are_available(db_url: str, shape: str):
    engine, settings = load(db_url, shape)
    shown = {k.label for k in available_kpis(available_measures(engine, settings))}
    assert shown == SHOWN[shape]
    assert {k.label for k in KPIS} - shown  # every shape lacks something: those KPIs are hidden


def test_the_column_checks_find_nothing_wrong_with_a_real_shape(db_url: str, shape: str):
    """Every mapped column passes its checks; the only notes are the dimensions a shape leaves empty."""
    engine, settings = load(db_url, shape)
    report = check_source(engine, settings, now=datetime.fromisoformat(SHAPES[shape].now))
    assert report.columns.loc[report.columns["present"], "ok"].all(), report.columns.to_dict("records")
    assert all("they count under (none)" in fix for fix in report.fixes), report.fixes
    assert find_bad_rows(engine, settings).left_out == 0
    notes = report.columns.set_index("column")["note"]
    if "SLA attainment" in SHOWN[shape]:  # an SLA column the shape lacks is not "read as empty": SLA is judged
        assert all("the SLA is judged by" in notes[c] for c in ("sla_hours", "sla_due_at") if notes[c]), notes
    else:
        assert "its measures read as empty" in notes["sla_hours"]


def test_case_lists_hold_the_cases_the_rollup_counts_on_tricky_days(db_url: str, shape: str):
    """A day's case list is the day's incoming, across the clock changes and on the last day."""
    engine, settings = load(db_url, shape)
    frame = rows(shape)
    created = team_day(source(frame, settings, "created_at"), settings)
    main = settings.dimension_keys[0]
    top = our_values(source(frame, settings, main), settings, main).value_counts().index[0]
    everything = Filters(DATA_START, DATA_END)
    for day in TRICKY_DAYS:
        assert count_cases(engine, settings=settings, filters=everything, day=day) == int(
            (created == pd.Timestamp(day)).sum()), day
    one = Filters(DATA_START, DATA_END, {main: (top,)})
    want = int(((created == pd.Timestamp(DATA_END)) & (our_values(source(frame, settings, main), settings, main)
                                                          == top)).sum())
    assert count_cases(engine, settings=settings, filters=one, day=DATA_END) == want


@pytest.fixture(scope="module")
def api_text_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, Settings]]:
    """The Zendesk rows in SQLite with the API's text timestamps (``2026-03-29T00:30:00Z``), as a JSON export loaded
    as is keeps them; the roll-up built."""
    from examples.shapes import write_table

    url = f"sqlite:///{tmp_path_factory.mktemp('api_text') / 'zendesk.sqlite'}"
    engine = make_engine(url)
    write_table(engine, zendesk.table(text=True), zendesk.api_text(rows("zendesk")))
    yield engine, SHAPES["zendesk"].settings(url)
    engine.dispose()


@pytest.mark.parametrize("zone", ["Europe/Dublin", "America/New_York"])
def test_iso_text_timestamps_in_sqlite_fall_on_their_days(api_text_db, zone: str, monkeypatch: pytest.MonkeyPatch):
    """SQLite compares text: ``…T05:30:00Z`` sorts after ``… 08:00:00``. The roll-up, its incremental refresh and
    the case lists must read the instants, around the clock changes too (New York: 8 March, 07:00 UTC)."""
    from dataclasses import replace

    monkeypatch.setenv("OPS_NOW", SHAPES["zendesk"].now)
    engine, settings = api_text_db
    settings = replace(settings, business_timezone=zone, rollup_table=f"tickets_daily_{zone.split('/')[1].lower()}")
    frame = rows("zendesk")
    created = team_day(frame["created_at"], settings)
    refresh_rollup(engine, settings, full=True)
    filters = Filters(DATA_START - timedelta(days=1), DATA_END)
    full = load_daily_volume(engine, settings=settings, filters=filters)
    same(counted(full["incoming"]), created.value_counts().sort_index())
    assert refresh_rollup(engine, settings).kind == "incremental"  # re-reads the last days, by text bounds
    again = load_daily_volume(engine, settings=settings, filters=filters)
    pd.testing.assert_frame_equal(again, full)
    for day in TRICKY_DAYS:
        assert count_cases(engine, settings=settings, filters=Filters(day, day), day=day) == int(
            (created == pd.Timestamp(day)).sum()), day
    listed = load_cases(engine, settings=settings, filters=Filters(DATA_END, DATA_END), day=DATA_END, limit=10_000)
    assert len(listed) == int((created == pd.Timestamp(DATA_END)).sum())
    assert (local_column(settings, listed["created_at"]).dt.date == DATA_END).all()  # the text read as UTC


def test_the_311_shape_is_as_documented():
    """High cardinality and an incomplete dimension, as city exports are."""
    frame = rows("open311")
    assert frame["service_name"].nunique() == 150 and frame["agency_responsible"].nunique() == 17
    assert 0.08 < frame["agency_responsible"].isna().mean() < 0.10
    assert set(frame["status"]) == {"open", "closed"}


def test_ids_keep_their_documented_form():
    assert rows("salesforce")["Id"].str.fullmatch(r"500[0-9A-Za-z]{15}").all()
    assert salesforce.record_id("500", 0)[-3:].isupper()
    assert rows("servicenow")["sys_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert rows("servicenow")["number"].str.fullmatch(r"INC\d{7}").all()
    assert rows("zendesk")["id"].is_unique and rows("open311")["service_request_id"].is_unique


# --- every page ------------------------------------------------------------------------------------


def open_page(monkeypatch: pytest.MonkeyPatch, name: str, url: str, script: str, **params: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("OPS_CONFIG", str(SHAPES[name].config_path))
    monkeypatch.setenv("OPS_DB_URL", url)
    monkeypatch.setenv("OPS_NOW", SHAPES[name].now)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(params)
    at.run()
    if script != "app.py":
        at.switch_page(script).run()
    return at


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [visible(e.value) for e in at.error]


def check_page(at, name: str, settings: Settings, script: str) -> None:
    """What each page must say about a shape: its dimensions and labels, only the KPIs it has."""
    assert_clean(at)
    shown = SHOWN[name]
    hidden = {k.label for k in KPIS} - shown
    if script != "pages/deck.py":
        for dim in settings.dimensions:  # the sidebar filters are the shape's dimensions, by their labels
            assert at.multiselect(key=f"sidebar_{dim.key}").label == dim.label
    if script == "app.py":
        main = settings.dimension_keys[0]
        assert f"{settings.plural(main)}, last 8 weeks" in [h.value for h in at.subheader]
        tiles = [m.label for m in at.metric]
        assert tiles == [k.label for k in KPIS if k.name in TILE_KPIS and k.label in shown]
        assert all(m.value not in ("", "–") for m in at.metric), {m.label: m.value for m in at.metric}
        assert "yesterday" in at.title[0].value  # fresh data, the morning after the last day
        note = next(visible(c.value) for c in at.caption if c.value.startswith("Not shown"))
        assert all(label in note for label in hidden), note
    if script == "pages/trends.py":
        assert set(at.selectbox(key="trends_kpi").options) == shown  # the options as shown: the KPIs' labels
    if script == "pages/data.py":
        kpis = next(d.value for d in at.dataframe if "KPI" in d.value.columns).set_index("KPI")["shown"]
        assert set(kpis[kpis].index) == shown


@pytest.mark.parametrize("script", PAGES)
def test_every_page_works_on_each_shape(sqlite_url: str, shape: str, script: str, monkeypatch: pytest.MonkeyPatch):
    _, settings = load(sqlite_url, shape)
    at = open_page(monkeypatch, shape, sqlite_url, script)
    if script == "pages/deck.py":  # a chart collected on Trends, then the deck that holds it
        at.switch_page("pages/trends.py").run()
        at.selectbox(key="trends_split").select(settings.dimension_keys[0]).run()
        at.button(key="trends_chart_deck").click().run()
        assert_clean(at)
        at.switch_page("pages/deck.py").run()
        assert len(stored_deck(at)) == 1
    check_page(at, shape, settings, script)


@pytest.mark.parametrize(("name", "kpi"), [(n, k.name) for n in SHAPES for k in KPIS
                                           if k.label in SHOWN[n] and k.name != "incoming"])
def test_the_drilldown_explains_each_kpi_a_shape_has(sqlite_url: str, name: str, kpi: str,
                                                      monkeypatch: pytest.MonkeyPatch):
    load(sqlite_url, name)
    at = open_page(monkeypatch, name, sqlite_url, "pages/drilldown.py", kpi=kpi,
                   day=(DATA_END - timedelta(days=1)).isoformat())
    assert_clean(at)
    assert at.selectbox(key="drilldown_kpi").value == kpi


@pytest.mark.parametrize("script", ["app.py", "pages/data.py"])
def test_the_standup_and_the_data_page_work_on_each_shape_on_a_server(server_url: str, shape: str, script: str,
                                                                       monkeypatch: pytest.MonkeyPatch):
    _, settings = load(server_url, shape)
    check_page(open_page(monkeypatch, shape, server_url, script), shape, settings, script)


def test_case_lists_of_zoned_timestamps_open_in_the_drilldown(postgres_url: str, monkeypatch: pytest.MonkeyPatch):
    """Zendesk's times stored as PostgreSQL timestamptz: the drill-down's case list reads and shows them."""
    engine, _ = load(postgres_url, "zendesk")
    with engine.connect() as conn:
        kind = conn.execute(sa.text("SELECT data_type FROM information_schema.columns WHERE table_name = 'tickets' "
                                    "AND column_name = 'created_at'")).scalar()
    assert kind == "timestamp with time zone"
    at = open_page(monkeypatch, "zendesk", postgres_url, "pages/drilldown.py")
    assert_clean(at)
    cases = next(d.value for d in at.dataframe if "case_id" in d.value.columns)
    assert len(cases) > 0


def test_dimension_labels_read_as_english_plurals():
    """Headings name several values of a dimension: "Priorities, last 8 weeks", "all categories"."""
    settings = SHAPES["servicenow"].settings("sqlite://")
    assert [settings.plural(d) for d in settings.dimension_keys] == [
        "Priorities", "Assignment groups", "Categories", "Channels", "Subcategories"]
    assert SHAPES["open311"].settings("sqlite://").everything == "all request types, departments and channels"


# --- case lists on the team's clock -----------------------------------------------------------------


def case_list(monkeypatch: pytest.MonkeyPatch, url: str, name: str, day: date) -> tuple[pd.DataFrame, dict]:
    """The drill-down's case list of ``day`` (incoming) as shown, and its columns' configuration."""
    import json

    load(url, name)
    at = open_page(monkeypatch, name, url, "pages/drilldown.py", kpi="incoming", day=day.isoformat())
    assert_clean(at)
    table = next(d for d in at.dataframe if "case_id" in d.value.columns)
    return table.value, json.loads(table.proto.columns)


def test_the_case_list_does_not_call_local_times_utc(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    """The 311 shape's times are Chicago wall-clock times: the list says so, not "UTC"."""
    _, config = case_list(monkeypatch, sqlite_url, "open311", DATA_END)
    assert "UTC" not in config["created_at"].get("help", ""), config["created_at"]


def test_the_case_list_of_a_day_shows_its_times_on_the_team_s_clock(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    """ServiceNow stores UTC; the service desk's 25 April (Asia/Kolkata) lists its incidents at their IST times."""
    day = DATA_END - timedelta(days=1)
    cases, _ = case_list(monkeypatch, sqlite_url, "servicenow", day)
    frame = rows("servicenow")
    settings = SHAPES["servicenow"].settings(sqlite_url)
    opened = pd.to_datetime(frame["opened_at"])
    on_the_clock = opened.dt.tz_localize("UTC").dt.tz_convert(settings.business_timezone).dt.tz_localize(None)
    that_day = set(on_the_clock[on_the_clock.dt.normalize() == pd.Timestamp(day)].dt.floor("min"))
    shown = set(pd.to_datetime(cases["created_at"]).dt.floor("min"))
    assert shown and shown <= that_day, sorted(shown - that_day)[:3]
