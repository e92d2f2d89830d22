"""A table without the optional columns (escalated, reopened, CSAT, QA) works on every database: the roll-up
builds, case lists read them as empty, one source column may serve two roles, and the data window is the
days cases were created."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import (
    Filters,
    Settings,
    case_columns,
    load_cases,
    load_daily_volume,
    load_rollup_bounds,
    make_engine,
    refresh_rollup,
)
from loaders.engine import _TYPES
from ui.data_page import format_value

OPTIONAL = ("escalated", "reopened", "csat", "qa_score")


@pytest.fixture()
def lean(db_url: str) -> tuple[sa.Engine, Settings]:
    """Cases created on 1 and 2 June, one of them solved on 4 June; no optional column at all."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(url=db_url, cases_table=f"lean_{tag}", rollup_table=f"lean_daily_{tag}")
    engine = make_engine(db_url)
    table = sa.Table(settings.cases_table, sa.MetaData(),
                     *(sa.Column(c, t(), primary_key=c == "case_id", autoincrement=False)
                       for c, t in _TYPES.items() if c not in OPTIONAL))
    table.create(engine)
    base = {"workflow": "copyright", "vendor_site": "Manila", "channel": "email", "language": "en",
            "route": "manual", "handle_time_s": 300.0, "sla_hours": 48.0}
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {**base, "case_id": 1, "created_at": datetime(2026, 6, 1, 9), "solved_at": datetime(2026, 6, 1, 12)},
            {**base, "case_id": 2, "created_at": datetime(2026, 6, 2, 9), "solved_at": datetime(2026, 6, 4, 9)},
            {**base, "case_id": 3, "created_at": datetime(2026, 6, 2, 10), "solved_at": None},
        ])
    yield engine, settings
    engine.dispose()


def test_a_table_without_optional_columns_rolls_up_on_every_database(lean):
    engine, settings = lean
    assert refresh_rollup(engine, settings, full=True).rows_written > 0  # PostgreSQL: no sum(unknown)
    assert set(case_columns(engine, settings=settings)).isdisjoint(OPTIONAL)


def test_case_lists_read_absent_optional_columns_as_empty(lean):
    engine, settings = lean
    cases = load_cases(engine, settings=settings, filters=Filters(date(2026, 6, 1), date(2026, 6, 2)))
    assert cases["case_id"].astype(str).tolist() == ["1", "2", "3"]
    assert all(cases[c].isna().all() for c in OPTIONAL)
    with pytest.raises(ValueError, match="`order_by` 'csat' is not mapped"):
        load_cases(engine, settings=settings, filters=Filters(date(2026, 6, 1), date(2026, 6, 2)), order_by="csat")


def test_the_data_window_is_the_days_cases_were_created(lean):
    engine, settings = lean
    refresh_rollup(engine, settings, full=True)
    # 4 June has a solve but no new case: the newest day of the data is 2 June
    assert load_rollup_bounds(engine, settings=settings) == (date(2026, 6, 1), date(2026, 6, 2))


def test_a_checked_value_that_is_not_a_time_is_shown_empty_not_raised():
    assert format_value(pd.NaT) == "" and format_value("NaT") == "NaT" and format_value(None) == ""


def test_one_source_column_may_serve_two_roles(lean):
    """``channel`` and ``route`` both read the channel column: "email" means a human worked the case."""
    engine, settings = lean
    both = replace(settings, columns={**settings.columns, "route": "channel"},
                   route_values={"manual": ("email",), "automated": ("bot",)})
    refresh_rollup(engine, both, full=True)
    day = load_daily_volume(engine, settings=both, filters=Filters(date(2026, 6, 2), date(2026, 6, 2)))
    assert day["incoming"].iloc[0] == 2 and day["incoming_manual"].iloc[0] == 2
    cases = load_cases(engine, settings=both, filters=Filters(date(2026, 6, 2), date(2026, 6, 2)))
    assert cases["channel"].tolist() == ["email", "email"] and cases["route"].tolist() == ["manual", "manual"]


def test_weeks_before_the_first_case_are_not_zeros_in_the_drill_down(tmp_path, monkeypatch):
    """Four weeks of 10 cases a day, then a day of 20: expected is 10 (not 5, with four empty weeks as 0)."""
    from streamlit.testing.v1 import AppTest

    from loaders import create_cases_table, write_cases
    from tests.conftest import visible

    days = pd.date_range("2026-06-02", "2026-06-30", freq="D")
    rows = [{"case_id": n, "created_at": d + pd.Timedelta(hours=9, minutes=i), "solved_at": None,
             "workflow": "copyright", "vendor_site": "Manila", "channel": "email", "language": "en",
             "route": "manual", "handle_time_s": None, "sla_hours": 24.0, "escalated": 0, "reopened": 0,
             "csat": None, "qa_score": None}
            for n, (d, i) in enumerate(((d, i) for d in days for i in range(20 if d == days[-1] else 10)), 1)]
    url = f"sqlite:///{tmp_path / 'young.sqlite'}"
    engine = make_engine(url)
    create_cases_table(engine, Settings(url=url))
    write_cases(engine, pd.DataFrame(rows), settings=Settings(url=url))
    refresh_rollup(engine, Settings(url=url), full=True)
    engine.dispose()
    monkeypatch.setenv("OPS_DB_URL", url)
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.query_params.update({"kpi": "incoming", "day": "2026-06-30"})
    at.switch_page("pages/drilldown.py").run()
    assert not at.exception
    sentence = " ".join(visible(h.value) for h in at.subheader)
    assert "(20 vs 10)" in sentence, sentence
