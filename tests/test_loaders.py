"""The data layer on SQLite, PostgreSQL and MariaDB: roll-up totals, incremental refresh, filters, mapping."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import (
    MEASURES,
    Filters,
    SchemaMismatch,
    Settings,
    check_cases_schema,
    count_cases,
    create_cases_table,
    load_cases,
    load_daily_volume,
    load_opening_balance,
    make_engine,
    refresh_rollup,
    rollup_state,
    write_cases,
)
from loaders.settings import settings_from_mapping
from tests.conftest import SAMPLE_END


def _expected_daily(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Roll-up measures computed by hand in pandas from the case rows."""
    days = pd.date_range(start, end, freq="D", name="day")
    created = cases.assign(day=cases["created_at"].dt.floor("D"))
    solved = cases[cases["solved_at"].notna()].assign(day=lambda f: f["solved_at"].dt.floor("D"))
    manual = solved["route"] == "manual"
    age = (solved["solved_at"] - solved["created_at"]).dt.total_seconds() / 3600
    out = pd.DataFrame(index=days)
    out["incoming"] = created.groupby("day").size()
    out["incoming_manual"] = created[created["route"] == "manual"].groupby("day").size()
    out["solved"] = solved.groupby("day").size()
    out["solved_manual"] = solved[manual].groupby("day").size()
    out["handle_time_s"] = solved[manual].groupby("day")["handle_time_s"].sum()
    out["age_at_solve_h"] = age.groupby(solved["day"]).sum()
    out["solved_in_sla"] = solved[age <= solved["sla_hours"]].groupby("day").size()
    return out.fillna(0.0).astype("float64")


def test_rollup_totals_equal_hand_computed_sums(loaded, sample_cases):
    engine, settings = loaded
    start, end = SAMPLE_END - timedelta(days=40), SAMPLE_END
    got = load_daily_volume(engine, settings=settings, filters=Filters(start, end))
    want = _expected_daily(sample_cases, start, end)
    pd.testing.assert_frame_equal(got[want.columns], want, check_freq=False, rtol=1e-6)


def test_filters_restrict_rows_and_split_keeps_every_group(loaded, sample_cases):
    engine, settings = loaded
    start, end = SAMPLE_END - timedelta(days=13), SAMPLE_END
    filters = Filters(start, end, vendor_site=("Manila", "Dublin"), channel=("web_form",))
    got = load_daily_volume(engine, settings=settings, filters=filters, by=["vendor_site"])
    subset = sample_cases[sample_cases["vendor_site"].isin(["Manila", "Dublin"])
                          & (sample_cases["channel"] == "web_form")]
    for site, part in got.groupby("vendor_site"):
        want = _expected_daily(subset[subset["vendor_site"] == site], start, end)["incoming"]
        pd.testing.assert_series_equal(part["incoming"], want, check_freq=False, check_names=False)
    assert set(got["vendor_site"]) == {"Manila", "Dublin"}
    assert len(got) == 2 * 14  # a complete, regular grid per site


def test_backlog_opening_balance_counts_cases_open_at_start(loaded, sample_cases):
    engine, settings = loaded
    start = SAMPLE_END - timedelta(days=10)
    opening = load_opening_balance(engine, settings=settings, filters=Filters(start, SAMPLE_END))
    cutoff = pd.Timestamp(start)
    open_then = ((sample_cases["created_at"] < cutoff)
                 & (sample_cases["solved_at"].isna() | (sample_cases["solved_at"] >= cutoff))).sum()
    assert float(opening.iloc[0]) == open_then


def test_incremental_refresh_equals_full_rebuild(db_url, sample_cases):
    """Day N arrives (new cases, old cases get solved): refreshing from the watermark = rebuilding."""
    settings = Settings(url=db_url, cases_table="cases_inc", rollup_table="rollup_inc")
    full_settings = Settings(url=db_url, cases_table="cases_inc", rollup_table="rollup_full")
    engine = make_engine(db_url)

    def snapshot(as_of: datetime) -> pd.DataFrame:
        seen = sample_cases[sample_cases["created_at"] < as_of].copy()
        seen.loc[seen["solved_at"] >= as_of, ["solved_at", "handle_time_s", "csat", "qa_score"]] = np.nan
        return seen

    day1 = datetime.combine(SAMPLE_END - timedelta(days=3), datetime.min.time())
    create_cases_table(engine, settings, drop=True)
    write_cases(engine, snapshot(day1), settings=settings)
    assert refresh_rollup(engine, settings).kind == "full"
    for step in (1, 2):  # two daily loads in a row
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM cases_inc"))
        write_cases(engine, snapshot(day1 + timedelta(days=step)), settings=settings)
        result = refresh_rollup(engine, settings)
        assert result.kind == "incremental"
        # the watermark is the newest day already rolled up, less the look-back
        newest_before = (day1 + timedelta(days=step - 2)).date()
        assert result.since == newest_before - timedelta(days=settings.lookback_days)
    refresh_rollup(engine, full_settings, full=True)
    window = Filters(SAMPLE_END - timedelta(days=120), SAMPLE_END)
    by = ["workflow", "vendor_site", "channel", "language"]
    inc = load_daily_volume(engine, settings=settings, filters=window, by=by).reset_index()
    full = load_daily_volume(engine, settings=full_settings, filters=window, by=by).reset_index()
    key = ["day", *by]
    pd.testing.assert_frame_equal(inc.sort_values(key).reset_index(drop=True),
                                  full.sort_values(key).reset_index(drop=True), rtol=1e-9)
    assert rollup_state(engine, settings).kind == "incremental"
    engine.dispose()


def test_cases_page_is_filtered_sorted_and_counted(loaded, sample_cases):
    engine, settings = loaded
    day = SAMPLE_END - timedelta(days=2)
    filters = Filters(day, day, workflow=("copyright",))
    total = count_cases(engine, settings=settings, filters=filters, day=day)
    want = sample_cases[(sample_cases["created_at"].dt.date == day) & (sample_cases["workflow"] == "copyright")]
    assert total == len(want) > 0
    page = load_cases(engine, settings=settings, filters=filters, day=day, order_by="handle_time_s",
                      descending=True, limit=5, offset=0)
    assert len(page) == min(5, total)
    assert (page["workflow"] == "copyright").all()
    assert page["handle_time_s"].dropna().is_monotonic_decreasing


def test_filter_values_are_bound_not_spliced(loaded):
    engine, settings = loaded
    hostile = "x' OR '1'='1"
    frame = load_daily_volume(engine, settings=settings,
                              filters=Filters(SAMPLE_END, SAMPLE_END, workflow=(hostile,)))
    assert frame["incoming"].sum() == 0


def test_load_cases_rejects_unknown_sort_column(loaded):
    engine, settings = loaded
    with pytest.raises(ValueError, match="`order_by` must be one of"):
        load_cases(engine, settings=settings, filters=Filters(SAMPLE_END, SAMPLE_END), order_by="1; DROP TABLE")


def test_mapped_table_with_other_names_gives_the_same_rollup(db_url, sample_cases, loaded):
    engine, canonical = loaded
    doc = {"source": {"table": "renamed_cases"},
           "columns": {"created_at": "opened_ts", "solved_at": "closed_ts", "workflow": "queue_name",
                       "vendor_site": "site"},
           "rollup": {"table": "renamed_daily"}}
    settings = settings_from_mapping(doc, url=db_url, url_source="test")
    create_cases_table(engine, settings, drop=True)
    write_cases(engine, sample_cases, settings=settings)
    refresh_rollup(engine, settings, full=True)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("renamed_cases")}
    assert {"opened_ts", "closed_ts", "queue_name", "site"} <= columns and "created_at" not in columns
    window = Filters(SAMPLE_END - timedelta(days=20), SAMPLE_END)
    mapped = load_daily_volume(engine, settings=settings, filters=window, by=["workflow"])
    plain = load_daily_volume(engine, settings=canonical, filters=window, by=["workflow"])
    pd.testing.assert_frame_equal(mapped.sort_values(["day", "workflow"]), plain.sort_values(["day", "workflow"]))


def test_validation_names_each_missing_and_mistyped_column(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS broken_cases"))
        conn.execute(sa.text(
            "CREATE TABLE broken_cases (case_id INTEGER, created_at INTEGER, workflow VARCHAR(20), "
            "vendor_site VARCHAR(20), channel VARCHAR(20), route VARCHAR(10), "
            "handle_time_s FLOAT, sla_hours FLOAT)"
        ))
    settings = Settings(url=db_url, cases_table="broken_cases")
    with pytest.raises(SchemaMismatch, match="does not match the data contract: 2 problem") as info:
        check_cases_schema(engine, settings)
    problems = "\n".join(info.value.problems)
    assert "no column `language`" in problems and "[columns] language =" in problems
    assert "solved_at" not in problems  # optional: only its KPIs are hidden
    assert "column `created_at` (for `created_at`) has type INTEGER, expected a timestamp" in problems
    with pytest.raises(SchemaMismatch, match="table `nowhere` does not exist"):
        check_cases_schema(engine, Settings(url=db_url, cases_table="nowhere"))
    engine.dispose()


def test_local_mode_writes_nothing_to_the_source(db_url, loaded, tmp_path):
    engine, settings = loaded
    before = set(sa.inspect(engine).get_table_names())
    local = Settings(url=db_url, rollup_mode="local", rollup_table="ops_daily_volume",
                     local_cache_path=tmp_path / "cache.sqlite")
    from loaders import rollup_engine

    target = rollup_engine(engine, local)
    result = refresh_rollup(engine, local, target=target)
    assert result.rows_written > 0
    assert set(sa.inspect(sa.create_engine(db_url)).get_table_names()) == before
    window = Filters(SAMPLE_END - timedelta(days=5), SAMPLE_END)
    pd.testing.assert_frame_equal(load_daily_volume(target, settings=local, filters=window),
                                  load_daily_volume(engine, settings=settings, filters=window))


def test_measures_cover_the_architecture_table():
    assert MEASURES[:4] == ("incoming", "incoming_manual", "solved", "solved_manual")
