"""Importing CSV/Parquet files: the bad-row matrix, idempotent upserts, all-or-nothing, chunked large files."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from charts.export import csv_bytes
from loaders import ImportRejected, Settings, make_engine
from loaders.errors import ImportRejected as ImportRejectedDirect
from loaders.importer import EARLIEST_ACCEPTED, RowsRejected, import_file

NOW = datetime(2026, 7, 1)
HEADER = ("case_id,created_at,solved_at,workflow,vendor_site,channel,language,route,handle_time_s,sla_hours,"
          "escalated,reopened,csat,qa_score")
GOOD_ROW = "{id},2026-06-01 10:00:00,2026-06-01 12:30:00,copyright,Dublin,email,en,manual,300,24,0,0,4,"


def _csv(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO(("\n".join([header, *rows]) + "\n").encode())


@pytest.fixture()
def engine(tmp_path: Path) -> sa.Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'embedded.sqlite'}")
    yield eng
    eng.dispose()


def _table(engine: sa.Engine, table: str = "cases") -> pd.DataFrame:
    return pd.read_sql(f"SELECT * FROM {table} ORDER BY 1", engine)


def _count(engine: sa.Engine, table: str = "cases") -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


@pytest.mark.parametrize(("row", "reason"), [
    ("2,not a time,,copyright,Dublin,email,en,manual,,24,0,0,,", "created_at 'not a time' is not a timestamp"),
    ("2,,,copyright,Dublin,email,en,manual,,24,0,0,,", "created_at is empty"),
    ("2,2026-06-01 10:00,2026-13-45 10:00,copyright,Dublin,email,en,manual,,24,0,0,,",
     "solved_at '2026-13-45 10:00' is not a timestamp"),
    ("2,2026-06-02 10:00,2026-06-01 10:00,copyright,Dublin,email,en,manual,,24,0,0,,", "is before created_at"),
    ("2,2027-01-01 10:00,,copyright,Dublin,email,en,manual,,24,0,0,,", "created_at 2027-01-01 10:00 is in the future"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,-30,24,0,0,,", "handle_time_s -30 must be >= 0 (negative)"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,fast,24,0,0,,", "handle_time_s 'fast' is not a number"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,,0,0,0,,", "sla_hours 0 must be > 0"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,robot,,24,0,0,,", "unknown route 'robot'"),
    ("2,2026-06-01 10:00,,,Dublin,email,en,manual,,24,0,0,,", "workflow is empty"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,,24,maybe,0,,", "escalated 'maybe' must be 0/1"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,,24,0,0,7,", "csat 7 must be <= 5"),
    ("2,2026-06-01 10:00,,copyright,Dublin,email,en,manual,,24,0,0,,101", "qa_score 101 must be <= 100"),
    (",2026-06-01 10:00,,copyright,Dublin,email,en,manual,,24,0,0,,", "case_id is empty"),
    (GOOD_ROW.format(id=1), "duplicate case_id (first on line 2)"),
])
def test_each_bad_row_is_reported_with_its_line_and_reason(engine, row, reason):
    report = import_file(_csv(GOOD_ROW.format(id=1), row), engine, now=NOW)
    assert report.rows_read == 2 and report.inserted == 1
    assert report.bad_rows["line"].tolist() == [3]
    assert reason in report.bad_rows["reasons"].iloc[0]
    assert _table(engine)["case_id"].tolist() == ["1"]


def test_unknown_categories_are_bad_rows_only_when_values_are_known(engine):
    rows = [GOOD_ROW.format(id=1), GOOD_ROW.format(id=2).replace("copyright", "piracy")]
    loose = import_file(_csv(*rows), engine, now=NOW)
    assert loose.inserted == 2 and loose.bad_rows.empty
    strict = import_file(_csv(*rows), engine, now=NOW, known_values={"workflow": ["copyright"]})
    assert strict.bad_rows["reasons"].str.contains("unknown workflow 'piracy'").tolist() == [True]


def test_their_route_values_are_accepted_and_stored_as_ours(engine):
    settings = Settings(url="sqlite://", route_values={"manual": ("agent",), "automated": ("bot",)})
    rows = [GOOD_ROW.format(id=1).replace("manual", "agent"), GOOD_ROW.format(id=2).replace("manual", "bot")]
    report = import_file(_csv(*rows), engine, settings=settings, now=NOW)
    assert report.bad_rows.empty
    assert _table(engine)["route"].tolist() == ["manual", "automated"]


def test_reimporting_the_same_file_changes_nothing(engine):
    rows = [GOOD_ROW.format(id=i) for i in range(1, 51)]
    first = import_file(_csv(*rows), engine, now=NOW)
    before = _table(engine)
    again = import_file(_csv(*rows), engine, now=NOW)
    assert (first.inserted, first.updated) == (50, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 50)
    pd.testing.assert_frame_equal(_table(engine), before)


def test_a_changed_row_is_updated_in_place(engine):
    import_file(_csv(GOOD_ROW.format(id=1), GOOD_ROW.format(id=2)), engine, now=NOW)
    report = import_file(_csv(GOOD_ROW.format(id=1).replace(",300,", ",450,")), engine, now=NOW)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 0)
    assert _table(engine).set_index("case_id").loc["1", "handle_time_s"] == 450


def test_abort_on_bad_rows_writes_nothing(engine):
    import_file(_csv(GOOD_ROW.format(id=1)), engine, now=NOW)
    before = _table(engine)
    with pytest.raises(ImportRejected, match="1 bad row"):
        import_file(_csv(GOOD_ROW.format(id=2), GOOD_ROW.format(id=3).replace("manual", "robot")), engine,
                    now=NOW, on_bad="abort")
    pd.testing.assert_frame_equal(_table(engine), before)


def test_a_failure_mid_file_rolls_back_every_chunk(engine):
    rows = [GOOD_ROW.format(id=i) for i in range(1, 1001)]
    calls = []

    def cancel(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 3:
            raise KeyboardInterrupt("user cancelled")

    with pytest.raises(KeyboardInterrupt):
        import_file(_csv(*rows), engine, now=NOW, chunk_rows=100, progress=cancel)
    assert len(_table(engine)) == 0


@pytest.mark.parametrize(("content", "match"), [
    (b"", "cannot be read as CSV"),
    ((HEADER + "\n").encode(), "the file has no data rows"),
    (b"case_id,created_at\n1,2026-01-01\n", "the file has no column\\(s\\) workflow, vendor_site, channel, language"),
    (b"\x00\x01\x02binary", "cannot be read|no column"),
])
def test_unusable_files_are_refused_whole(engine, content, match):
    with pytest.raises(ImportRejectedDirect, match=match):
        import_file(io.BytesIO(content), engine, now=NOW)


def test_a_large_file_is_streamed_in_chunks_with_progress(engine, tmp_path: Path):
    n = 60_000
    frame = pd.DataFrame({
        "case_id": range(n), "created_at": pd.Timestamp("2026-05-01") + pd.to_timedelta(range(n), unit="min"),
        "solved_at": "", "workflow": "copyright", "vendor_site": "Dublin", "channel": "email", "language": "en",
        "route": ["manual", "automated"] * (n // 2), "handle_time_s": 120.0, "sla_hours": 24.0,
    })
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    seen: list[float] = []
    report = import_file(path, engine, now=NOW, chunk_rows=10_000, progress=lambda f, _m: seen.append(f))
    assert report.chunks == 6 and report.inserted == n and report.bad_rows.empty
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 7
    counts = pd.read_sql("SELECT route, COUNT(*) AS n FROM cases GROUP BY route ORDER BY route", engine)
    assert counts["n"].tolist() == [n // 2, n // 2]


def test_parquet_files_import_like_csv(engine, tmp_path: Path):
    frame = pd.read_csv(_csv(GOOD_ROW.format(id=1), GOOD_ROW.format(id=2).replace("300", "-1")))
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    path = tmp_path / "cases.parquet"
    frame.to_parquet(path)
    report = import_file(path, engine, now=NOW)
    assert report.inserted == 1 and "negative" in report.bad_rows["reasons"].iloc[0]


def test_daily_volumes_import_with_missing_dimensions_and_measures(engine):
    csv = io.BytesIO(b"day,workflow,vendor_site,channel,incoming,solved,solved_manual\n"
                     b"2026-06-01,copyright,Dublin,email,10,8,5\n"
                     b"2026-06-01,copyright,Dublin,email,11,8,5\n"
                     b"2026-06-02,copyright,Dublin,email,1.5,1,0\n"
                     b"2026-06-03,copyright,Dublin,email,4,3,9\n")
    report = import_file(csv, engine, kind="volume", now=NOW)
    assert report.inserted == 1
    reasons = report.bad_rows.set_index("line")["reasons"]
    assert "duplicate" in reasons[3] and "not a whole number" in reasons[4] and "exceeds solved" in reasons[5]
    table = _table(engine, "daily_volume")
    assert table["language"].tolist() == ["all"] and table["qa_n"].tolist() == [0]


def test_server_databases_are_never_import_targets():
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ImportRejected, match="embedded SQLite database only"):
        import_file(_csv(GOOD_ROW.format(id=1)), engine)


def test_option_values_are_validated(engine):
    with pytest.raises(ValueError, match="`on_bad` must be 'skip' or 'abort', got 'ignore'"):
        import_file(_csv(GOOD_ROW.format(id=1)), engine, on_bad="ignore")
    with pytest.raises(ValueError, match="`chunk_rows` must be >= 1, got 0"):
        import_file(_csv(GOOD_ROW.format(id=1)), engine, chunk_rows=0)


def test_ids_spelled_differently_but_reading_as_one_number_are_flagged_not_merged(engine):
    rows = [GOOD_ROW.format(id=i) for i in ("7", "07", "7.0", "8", "8 ")]
    report = import_file(_csv(*rows), engine, now=NOW)
    assert (report.inserted, report.updated) == (2, 0)
    reasons = report.bad_rows.set_index("line")["reasons"].to_dict()
    assert reasons == {
        3: "case_id '07' collides with '7' on line 2 (same number, different text)",
        4: "case_id '7.0' collides with '7' on line 2 (same number, different text)",
        6: "case_id '8 ' collides with '8' on line 5 (same id, different spaces)",
    }
    assert _table(engine)["case_id"].tolist() == ["7", "8"]


def test_ids_are_stored_and_upserted_as_the_text_the_file_holds(engine):
    import_file(_csv(GOOD_ROW.format(id="007"), GOOD_ROW.format(id="A-1")), engine, now=NOW)
    again = import_file(_csv(GOOD_ROW.format(id="007").replace(",300,", ",450,")), engine, now=NOW)
    assert (again.inserted, again.updated) == (0, 1)
    table = _table(engine).set_index("case_id")
    assert table.index.tolist() == ["007", "A-1"] and table.loc["007", "handle_time_s"] == 450


def test_an_id_colliding_with_another_spelling_already_in_the_database_is_a_bad_row(engine):
    import_file(_csv(GOOD_ROW.format(id="7")), engine, now=NOW)
    report = import_file(_csv(GOOD_ROW.format(id="07"), GOOD_ROW.format(id="9")), engine, now=NOW)
    assert report.inserted == 1
    assert report.bad_rows["reasons"].tolist() == [
        "case_id '07' collides with '7' already in the database (same number, different text)"]
    assert _table(engine)["case_id"].tolist() == ["7", "9"]


def test_a_table_storing_ids_as_numbers_refuses_ids_it_would_respell(engine):
    with engine.begin() as conn:  # as created before ids were text: BIGINT converts '07' to 7
        conn.execute(sa.text("CREATE TABLE cases (case_id BIGINT PRIMARY KEY, created_at DATETIME, "
                             "solved_at DATETIME, workflow TEXT, vendor_site TEXT, channel TEXT, language TEXT, "
                             "route TEXT, handle_time_s FLOAT, sla_hours FLOAT, escalated SMALLINT, "
                             "reopened SMALLINT, csat FLOAT, qa_score FLOAT)"))
    report = import_file(_csv(GOOD_ROW.format(id="7"), GOOD_ROW.format(id="08")), engine, now=NOW)
    assert report.inserted == 1
    assert "case_id '08' would be stored as a number and lose its spelling" in report.bad_rows["reasons"].iloc[0]
    assert _table(engine)["case_id"].tolist() == [7]


@pytest.mark.parametrize(("column", "value"), [("created_at", "0001-01-01"), ("solved_at", "1989-12-31 23:59:59")])
def test_timestamps_before_the_earliest_accepted_date_are_bad_rows(engine, column, value):
    bad = GOOD_ROW.format(id=2).replace("2026-06-01 10:00:00" if column == "created_at" else "2026-06-01 12:30:00",
                                        value)
    report = import_file(_csv(GOOD_ROW.format(id=1), bad), engine, now=NOW)
    assert datetime(1990, 1, 1) == EARLIEST_ACCEPTED  # the values above sit on either side of it
    assert report.inserted == 1 and report.bad_rows["line"].tolist() == [3]
    assert f"{column} {value} is before 1990-01-01 (the earliest date accepted)" in report.bad_rows["reasons"].iloc[0]
    assert _table(engine)["case_id"].tolist() == ["1"]


def test_a_volume_day_before_the_earliest_accepted_date_is_a_bad_row(engine):
    csv_file = io.BytesIO(b"day,incoming,solved\n2026-06-01,10,8\n0001-01-01,3,2\n")
    report = import_file(csv_file, engine, kind="volume", now=NOW)
    assert report.inserted == 1
    assert report.bad_rows["reasons"].tolist() == ["day 0001-01-01 is before 1990-01-01 (the earliest date accepted)"]


def test_a_file_without_a_good_row_is_rejected_and_writes_nothing(engine):
    import_file(_csv(GOOD_ROW.format(id=1)), engine, now=NOW)
    before = _count(engine)
    rows = [GOOD_ROW.format(id=2).replace("manual", "robot"), GOOD_ROW.format(id=3).replace("manual", "robot"),
            GOOD_ROW.format(id=4).replace("2026-06-01 10:00:00", "0001-01-01")]
    with pytest.raises(ImportRejected, match=r"none of the 3 row\(s\) read is good, so nothing was written\. "
                       r"Most common reasons: unknown route 'robot'.* \(2 rows\); created_at 0001-01-01 is "
                       r"before 1990-01-01 .*\(1 row\)") as caught:
        import_file(_csv(*rows), engine, now=NOW)
    assert isinstance(caught.value, RowsRejected)
    assert caught.value.bad_rows["line"].tolist() == [2, 3, 4]
    assert _count(engine) == before == 1


def test_bad_rows_csv_defuses_formulas_from_the_file(engine):
    rows = [GOOD_ROW.format(id=i).replace("manual", "robot") for i in ('"=HYPERLINK(""http://x"")"', "+1", "@SUM(A1)")]
    rows.append(GOOD_ROW.format(id=5).replace(",300,", ",-5,"))
    report = import_file(_csv(GOOD_ROW.format(id=1), *rows), engine, now=NOW)
    assert report.bad_rows["key"].tolist() == ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "5"]
    back = list(csv.DictReader(io.StringIO(csv_bytes(report.bad_rows).decode())))
    assert [r["key"] for r in back] == ["'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)", "5"]
    assert [r["line"] for r in back] == ["3", "4", "5", "6"]
    assert back[3]["reasons"] == "handle_time_s -5 must be >= 0 (negative)"
    numbers = pd.read_csv(io.BytesIO(csv_bytes(report.bad_rows.assign(handle_time_s=[0, 0, 0, -5]))))
    assert numbers["handle_time_s"].tolist() == [0, 0, 0, -5]


def test_a_cases_file_without_the_optional_columns_imports_them_empty(tmp_path):
    path = tmp_path / "lean.csv"
    path.write_text("case_id,created_at,workflow,vendor_site,channel,language\n"
                    "a1,2026-06-01 09:00,copyright,Manila,email,en\n", encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'lean.sqlite'}")
    report = import_file(path, engine, kind="cases", now=datetime(2026, 6, 2))
    assert report.loaded == 1 and len(report.bad_rows) == 0
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT solved_at, route, handle_time_s, sla_hours FROM cases")).one()
    assert tuple(row) == (None, None, None, None)
    engine.dispose()


def test_a_dimension_keyed_like_an_sql_keyword_imports(engine):
    from loaders.settings import settings_from_mapping

    settings = settings_from_mapping({"dimensions": {"group": "group", "order": "order"}}, url="sqlite://",
                                     url_source="test")
    rows = ["1,2026-06-01 10:00:00,Billing | Refunds,first", "2,2026-06-01 11:00:00,Billing,second"]
    report = import_file(_csv(*rows, header="case_id,created_at,group,order"), engine, settings=settings, now=NOW)
    assert report.inserted == 2
    again = import_file(_csv(*rows, header="case_id,created_at,group,order"), engine, settings=settings, now=NOW)
    assert again.inserted == 0


def test_volume_rows_whose_joined_keys_would_match_are_not_duplicates(engine):
    header = "day,workflow,vendor_site,incoming,solved"
    report = import_file(_csv("2026-06-01,a|b,c,3,1", "2026-06-01,a,b|c,4,2", header=header), engine,
                         kind="volume", now=NOW)
    assert report.inserted == 2 and report.bad_rows.empty
