"""Bad rows and bad settings get a clear message and lose nothing: a NULL dimension, text where a number or a
timestamp belongs, an implausible date, a malformed URL, a mistyped SQLite path, a type error on the server,
and the default statement timeout. On SQLite, PostgreSQL and MariaDB where a database is involved."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import (
    ConfigError,
    Filters,
    SchemaMismatch,
    Settings,
    create_cases_table,
    load_daily_volume,
    make_engine,
    refresh_rollup,
    translate_error,
    write_cases,
)
from loaders.cases import count_cases, load_cases, newest_case
from loaders.checks import check_source, share_text
from loaders.rollup import NONE_VALUE, find_bad_rows
from metrics.kpis import compute_kpis, kpi_parts

DAY = datetime(2026, 6, 10, 12, 0)


def _case(case_id: int, **changes) -> dict:
    row = {"case_id": case_id, "created_at": DAY, "solved_at": DAY.replace(hour=14), "workflow": "copyright",
           "vendor_site": "Manila", "channel": "web form", "language": "en", "route": "manual",
           "handle_time_s": 600.0, "sla_hours": 24.0, "escalated": 0, "reopened": 0, "csat": None, "qa_score": None}
    return {**row, **changes}


def _own_table(url: str, rows: list[dict]):
    """A cases table of its own (and its roll-up's name) holding ``rows``."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(url=url, cases_table=f"bad_cases_{tag}", rollup_table=f"bad_daily_{tag}")
    engine = make_engine(url)
    create_cases_table(engine, settings)
    write_cases(engine, pd.DataFrame(rows), settings=settings)
    yield engine, settings
    engine.dispose()


@pytest.fixture()
def table(db_url: str) -> tuple[sa.Engine, Settings]:
    """Twenty good cases of one day (AHT 10 min), on each database."""
    yield from _own_table(db_url, [_case(i) for i in range(1, 21)])


def _insert(engine: sa.Engine, settings: Settings, **values) -> None:
    """One raw row, written past any pandas typing (as another program would)."""
    columns = ", ".join(settings.columns[c] for c in values)
    marks = ", ".join(f":{c}" for c in values)
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {settings.cases_table} ({columns}) VALUES ({marks})"), values)


def _day(engine: sa.Engine, settings: Settings) -> pd.Series:
    filters = Filters(DAY.date(), DAY.date())
    parts = kpi_parts(load_daily_volume(engine, settings=settings, filters=filters), opening=0.0)
    return compute_kpis(parts, grain="day").iloc[0]


def test_a_null_dimension_is_rolled_up_as_none_and_never_fails_the_refresh(table):
    engine, settings = table
    _insert(engine, settings, **{**_case(99, vendor_site=None), "created_at": DAY, "solved_at": DAY})
    refresh_rollup(engine, settings, full=True)
    by_site = load_daily_volume(engine, settings=settings, filters=Filters(DAY.date(), DAY.date()),
                                by=["vendor_site"]).set_index("vendor_site")["incoming"]
    assert by_site.to_dict() == {"Manila": 20.0, NONE_VALUE: 1.0}
    report = check_source(engine, settings, now=datetime(2026, 6, 11))
    note = report.columns.set_index("column").loc["vendor_site", "note"]
    assert note == f"1 of 21 rows (4.8 %) empty: rolled up as {NONE_VALUE}"
    # the drill-down into that slice lists that case, under the same name
    none = Filters(DAY.date(), DAY.date(), vendor_site=(NONE_VALUE,))
    assert count_cases(engine, settings=settings, filters=none) == 1
    assert load_cases(engine, settings=settings, filters=none)["vendor_site"].tolist() == [NONE_VALUE]


def test_a_share_of_one_row_in_sixty_thousand_is_never_rounded_to_zero():
    assert share_text(1, 61_170) == "1 of 61,170 rows (<0.1 %)"
    assert share_text(0, 10) == "0 of 10 rows (0.0 %)"


def test_rows_before_the_earliest_day_are_left_out_and_reported(table):
    engine, settings = table
    _insert(engine, settings, **{**_case(77), "created_at": datetime(1, 1, 1), "solved_at": None})
    refresh_rollup(engine, settings, full=True)
    with engine.connect() as conn:
        first = conn.execute(sa.text(f"SELECT MIN(day) FROM {settings.rollup_table}")).scalar()
    assert str(first)[:10] == DAY.date().isoformat()
    bad = find_bad_rows(engine, settings)
    assert bad.counts == {"created_at is before 1990-01-01": 1} and bad.examples[
        "created_at is before 1990-01-01"] == ("77",)


@pytest.fixture()
def sqlite_table(sqlite_url: str) -> tuple[sa.Engine, Settings]:
    """Twenty good cases of one day on SQLite, handle times 10 and 12 min (AHT 11 min)."""
    yield from _own_table(sqlite_url, [_case(i, handle_time_s=600.0 + 120 * (i % 2)) for i in range(1, 21)])


def test_text_in_a_sqlite_number_column_is_left_out_never_counted_as_zero(sqlite_table):
    """SQLite keeps '14,5' as text in a REAL column; SUM would read it as 0 and pull AHT down."""
    engine, settings = sqlite_table
    refresh_rollup(engine, settings, full=True)
    before = _day(engine, settings)
    for i in range(101, 106):
        _insert(engine, settings, **_case(i, handle_time_s="14,5 min"))
    refresh_rollup(engine, settings, full=True)
    after = _day(engine, settings)
    assert after["aht"] == pytest.approx(before["aht"]) == pytest.approx(11.0)
    assert after["incoming"] == before["incoming"] == 20
    # the cases behind the number are the cases counted in it
    assert count_cases(engine, settings=settings, filters=Filters(DAY.date(), DAY.date())) == 20
    report = check_source(engine, settings, now=datetime(2026, 6, 11))
    row = report.columns.set_index("column").loc["handle_time_s"]
    assert not row["ok"] and "holds text, not a number" in row["note"]
    assert any("handle_time_s holds text" in f and "case 101" in f for f in report.fixes)


def test_text_in_a_sqlite_timestamp_column_is_left_out_and_named(sqlite_table):
    engine, settings = sqlite_table
    _insert(engine, settings, **{**_case(201), "created_at": "next tuesday", "solved_at": "soon"})
    result = refresh_rollup(engine, settings, full=True)
    assert result.rows_written > 0
    assert _day(engine, settings)["incoming"] == 20
    # the newest case is a real timestamp, not the text that sorts above every date
    assert newest_case(engine, settings=settings) == DAY
    bad = find_bad_rows(engine, settings)
    assert bad.counts == {"created_at is empty or not a timestamp": 1, "solved_at is not a timestamp": 1}
    assert bad.examples["created_at is empty or not a timestamp"] == ("201",)


def test_a_url_with_a_port_that_is_not_a_number_is_a_config_error_that_hides_the_password():
    with pytest.raises(ConfigError, match=r"the port '54x2' is not a number") as info:
        make_engine("postgresql+psycopg://ops:s3cret@db.internal:54x2/ops")
    assert "s3cret" not in str(info.value) and "s3cret" not in info.value.hint


def test_a_mistyped_sqlite_path_is_refused_and_no_empty_file_is_created(tmp_path: Path):
    missing = tmp_path / "opps.sqlite"
    with pytest.raises(ConfigError, match=r"the SQLite file 'opps.sqlite' does not exist"):
        make_engine(f"sqlite:///{missing}", must_exist=True)
    assert not missing.exists()
    settings = Settings(url=f"sqlite:///{missing}", url_source="environment")
    from loaders import engine_for

    with pytest.raises(ConfigError):
        engine_for(settings)
    assert not missing.exists()


@pytest.fixture(params=["postgres_url", "mariadb_url"], ids=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


def test_servers_cancel_slow_statements_by_default(server_url: str):
    engine = make_engine(server_url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"
        else:
            assert float(conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar()) == 30.0
    engine.dispose()
    none = make_engine(server_url, statement_timeout_s=0)
    with none.connect() as conn:
        value = conn.exec_driver_sql("SHOW statement_timeout" if none.dialect.name == "postgresql"
                                     else "SELECT @@SESSION.max_statement_time").scalar()
    assert str(value) in ("0", "0.000000", "0.0")
    none.dispose()


@pytest.mark.parametrize(("statements", "kind"), [
    ({"postgresql": "SELECT 'x'::text >= CURRENT_TIMESTAMP",  # the "a table is missing" before
      "mysql": "INSERT INTO typed_probe (d) VALUES ('next tuesday')"}, "a column holds values of a type"),
    ({"postgresql": "SELECT no_such_column FROM typed_probe", "mysql": "SELECT no_such_column FROM typed_probe"},
     "a mapped column is missing"),
    ({"postgresql": "SELECT 1 FROM no_such_table_here", "mysql": "SELECT 1 FROM no_such_table_here"},
     "a table is missing"),
], ids=["type", "column", "table"])
def test_server_errors_are_named_for_what_they_are_without_the_sql(server_url: str, statements: dict, kind: str):
    engine = make_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS typed_probe (d TIMESTAMP NULL)")
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
            conn.exec_driver_sql(statements[engine.dialect.name])
        found = translate_error(info.value, doing="testing")
    finally:
        engine.dispose()
    assert isinstance(found, SchemaMismatch) and kind in str(found)
    statement = statements[engine.dialect.name]
    assert statement not in str(found) and "FROM " not in str(found) and "VALUES" not in str(found)
    assert "SELECT" not in found.hint


def test_a_sqlite_lock_names_the_file(tmp_path: Path):
    path = tmp_path / "locked.sqlite"
    engine = make_engine(f"sqlite:///{path}", statement_timeout_s=0.2)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    import sqlite3

    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sa.exc.OperationalError) as info, engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM t").all()
        found = translate_error(info.value, doing="reading", engine=engine)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert "the SQLite file locked.sqlite is locked by another writer" in str(found)
