"""Configuration: the example schema round-trips on every database, value mapping, volume-only sources, and
validation errors that name the offending line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from examples.support_tickets import CONFIG_PATH, example_settings, write_support_tickets
from loaders import (
    MEASURES,
    CasesUnavailable,
    ConfigError,
    Filters,
    Settings,
    count_cases,
    create_cases_table,
    load_cases,
    load_daily_volume,
    load_dimension_values,
    load_opening_balance,
    load_settings,
    make_engine,
    newest_case,
    refresh_rollup,
    rollup_state,
    write_cases,
)
from loaders.settings import DIMENSIONS, locate_key
from tests.conftest import SAMPLE_END

WINDOW = Filters(SAMPLE_END - timedelta(days=30), SAMPLE_END)


@pytest.fixture(scope="module")
def recent_cases(sample_cases) -> pd.DataFrame:
    """The sample's last 45 days: enough for a 30-day window, quick to write into every database."""
    return sample_cases[sample_cases["created_at"] >= pd.Timestamp(SAMPLE_END - timedelta(days=45))]


@pytest.fixture(scope="module")
def canonical(db_url, recent_cases):
    """The same cases in our own shape, with its roll-up: the reference for the mapped source."""
    settings = Settings(url=db_url, cases_table="cfg_cases", rollup_table="cfg_daily")
    engine = make_engine(db_url)
    create_cases_table(engine, settings, drop=True)
    write_cases(engine, recent_cases, settings=settings)
    refresh_rollup(engine, settings, full=True)
    yield engine, settings
    engine.dispose()


@pytest.fixture(scope="module")
def tickets(db_url, canonical, recent_cases):
    engine, reference = canonical
    settings = example_settings(db_url)
    write_support_tickets(engine, recent_cases, settings=settings)
    refresh_rollup(engine, settings, full=True)
    return engine, settings, reference


def test_example_schema_has_their_names_and_values(tickets):
    engine, _, _ = tickets
    columns = {c["name"] for c in sa.inspect(engine).get_columns("support_tickets")}
    assert {"ticket_id", "opened_ts", "queue_name", "site_code", "solved_by"} <= columns
    with engine.connect() as conn:
        queues = set(conn.execute(sa.text("SELECT DISTINCT queue_name FROM support_tickets")).scalars())
        routes = set(conn.execute(sa.text("SELECT DISTINCT solved_by FROM support_tickets")).scalars())
    assert {"COPYRIGHT", "DMCA", "IMP-USER"} <= queues and "copyright" not in queues
    assert routes == {"agent", "bot"}


def test_example_rollup_equals_the_canonical_one_on_every_database(tickets):
    engine, settings, canonical = tickets
    for by in (["workflow"], ["vendor_site", "channel"]):
        mapped = load_daily_volume(engine, settings=settings, filters=WINDOW, by=by).reset_index()
        plain = load_daily_volume(engine, settings=canonical, filters=WINDOW, by=by).reset_index()
        key = ["day", *by]
        pd.testing.assert_frame_equal(mapped.sort_values(key).reset_index(drop=True),
                                      plain.sort_values(key).reset_index(drop=True), rtol=1e-9)
    assert load_dimension_values(engine, settings=settings)["workflow"] == \
        load_dimension_values(engine, settings=canonical)["workflow"]


def test_example_filters_and_case_lists_speak_our_values(tickets, recent_cases):
    engine, settings, _ = tickets
    day = SAMPLE_END - timedelta(days=1)
    filters = Filters(day, day, workflow=("copyright",), vendor_site=("Dublin",))
    cases = recent_cases
    want = cases[(cases["created_at"].dt.date == day) & (cases["workflow"] == "copyright")
                 & (cases["vendor_site"] == "Dublin")]
    assert count_cases(engine, settings=settings, filters=filters, day=day) == len(want) > 0
    page = load_cases(engine, settings=settings, filters=filters, day=day, limit=1000)
    assert set(page["workflow"]) == {"copyright"} and set(page["vendor_site"]) == {"Dublin"}
    assert set(page["route"]) <= {"manual", "automated"}
    assert (page["route"] == "automated").sum() == (want["route"] == "automated").sum()
    assert sorted(page["case_id"].astype("int64")) == sorted(want["case_id"])


# --- volume-only sources ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vendor_report(db_url, canonical):
    """A vendor's daily report: their column names, no language split, no CSAT/QA measures."""
    engine, canonical = canonical
    frame = load_daily_volume(engine, settings=canonical, filters=Filters(SAMPLE_END - timedelta(days=60),
                                                                          SAMPLE_END),
                              by=["workflow", "vendor_site", "channel"]).reset_index()
    frame = frame[frame["incoming"] + frame["solved"] > 0]
    report = frame.rename(columns={"day": "report_date", "vendor_site": "site", "incoming": "received",
                                   "solved": "closed"}).drop(columns=["csat_sum", "csat_n", "qa_sum", "qa_n"])
    report["report_date"] = report["report_date"].dt.date
    report.to_sql("vendor_daily", engine, if_exists="replace", index=False)
    settings = Settings(url=db_url, source_kind="volume", cases_table="vendor_daily",
                        columns={"day": "report_date", "vendor_site": "site", "incoming": "received",
                                 "solved": "closed"})
    return engine, settings, canonical


def test_volume_source_reads_like_the_rollup(vendor_report):
    engine, settings, canonical = vendor_report
    got = load_daily_volume(engine, settings=settings, filters=WINDOW, by=["workflow"])
    want = load_daily_volume(engine, settings=canonical, filters=WINDOW, by=["workflow"])
    cols = ["workflow", "incoming", "solved", "handle_time_s", "solved_in_sla"]
    pd.testing.assert_frame_equal(got.reset_index()[["day", *cols]].sort_values(["day", "workflow"])
                                  .reset_index(drop=True),
                                  want.reset_index()[["day", *cols]].sort_values(["day", "workflow"])
                                  .reset_index(drop=True))
    assert (got["csat_n"] == 0).all()  # measures the report lacks read as zero
    assert load_dimension_values(engine, settings=settings)["language"] == ["all"]
    narrowed = load_daily_volume(engine, settings=settings, filters=WINDOW.narrowed(vendor_site="Manila"))
    assert 0 < narrowed["incoming"].sum() < got["incoming"].sum()
    opening = load_opening_balance(engine, settings=settings, filters=WINDOW)
    assert float(opening.iloc[0]) != 0.0


def test_volume_source_has_no_case_rows_and_builds_nothing(vendor_report):
    engine, settings, _ = vendor_report
    before = sorted(sa.inspect(engine).get_table_names())
    assert refresh_rollup(engine, settings).kind == "none"
    assert sorted(sa.inspect(sa.create_engine(str(engine.url.render_as_string(hide_password=False))))
                  .get_table_names()) == before
    state = rollup_state(engine, settings)
    assert state.kind == "volume" and state.max_day == SAMPLE_END and state.rows > 0
    assert not settings.has_cases
    with pytest.raises(CasesUnavailable, match="case rows are not available"):
        load_cases(engine, settings=settings, filters=WINDOW)
    with pytest.raises(CasesUnavailable):
        newest_case(engine, settings=settings)


def test_volume_values_are_mapped_too(vendor_report):
    engine, settings, _ = vendor_report
    from dataclasses import replace

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vendor_daily SET site = 'MNL' WHERE site = 'Manila'"))
    try:
        mapped = replace(settings, value_maps={"vendor_site": {"Manila": ("MNL",)}})
        values = load_dimension_values(engine, settings=mapped)["vendor_site"]
        assert "Manila" in values and "MNL" not in values
        manila = load_daily_volume(engine, settings=mapped, filters=WINDOW.narrowed(vendor_site="Manila"))
        assert manila["incoming"].sum() > 0
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE vendor_daily SET site = 'Manila' WHERE site = 'MNL'"))


# --- validation with line numbers -----------------------------------------------------------------------------

GOOD = CONFIG_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "match"), [
    ('table = "support_tickets"', 'tabel = "support_tickets"', r"\[source\] has no setting `tabel`"),
    ('created_at = "opened_ts"', 'created_at = "opened ts"', r"`columns.created_at` must be a plain SQL"),
    ('created_at = "opened_ts"', 'created_on = "opened_ts"', r"\[columns\] names unknown canonical"),
    ('automated = ["bot"]', 'robots = ["bot"]', r"\[values.route\] keys must be 'manual' or 'automated'"),
    ('trademark = "TM"', 'trademark = "DMCA"', r"\[values.workflow\] maps 'DMCA' to both"),
    ("lookback_days = 2", "lookback_days = -1", r"`rollup.lookback_days` must be an integer >= 0"),
    ('kind = "cases"', 'kind = "tickets"', r"`source.kind` must be 'cases' or 'volume'"),
    ("statement_timeout_s = 30", "statement_timeout_s = -1", r"`source.statement_timeout_s` must be"),
    ("[freshness]", "[freshnes]", r"unknown section\(s\) \[freshnes\]"),
    ('Dublin = "DUB"', "Dublin = []", r"`values.vendor_site.Dublin` must be a non-empty string"),
])
def test_config_errors_point_at_the_offending_line(tmp_path: Path, old: str, new: str, match: str):
    line = next(i for i, text in enumerate(GOOD.splitlines(), start=1) if old in text)
    path = tmp_path / "ops.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^ops\.toml line {line}: {match}") as info:
        load_settings(environ={}, config_path=path)
    assert info.value.line == line


def test_toml_syntax_errors_name_the_line(tmp_path: Path):
    path = tmp_path / "ops.toml"
    path.write_text('[source]\ntable = "x"\nkind = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3"):
        load_settings(environ={}, config_path=path)


def test_example_config_resolves_every_mapping():
    settings = load_settings(environ={"OPS_DB_URL": "sqlite://"}, config_path=CONFIG_PATH)
    assert settings.columns["created_at"] == "opened_ts" and settings.route_values["automated"] == ("bot",)
    assert settings.value_maps["workflow"]["copyright"] == ("COPYRIGHT", "DMCA")
    assert settings.source_values("workflow", ("copyright",)) == ("copyright", "COPYRIGHT", "DMCA")
    assert settings.statement_timeout_s == 30.0 and settings.url_source == "environment"


def test_locate_key_finds_dotted_and_section_keys():
    text = "# c\n[source]\ntable = 'x'\n\n[values.route]\nautomated = ['bot']\n[values]\nworkflow.copyright = 'C'\n"
    assert locate_key(text, "source.table") == 3
    assert locate_key(text, "values.route.automated") == 6
    assert locate_key(text, "values.route.manual") == 5  # falls back to the section
    assert locate_key(text, "values.workflow.copyright") == 8
    assert locate_key(text, "rollup.mode") is None


def test_settings_fill_unmapped_columns_with_our_names():
    cases = Settings(url="sqlite://", columns={"created_at": "opened"})
    assert cases.columns["created_at"] == "opened" and cases.columns["workflow"] == "workflow"
    volume = Settings(url="sqlite://", source_kind="volume")
    assert set(volume.columns) == {"day", *DIMENSIONS, *MEASURES}


def test_make_engine_applies_the_statement_timeout_per_dialect(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}", statement_timeout_s=0.5)
    with engine.connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert busy == 500
    engine.dispose()
