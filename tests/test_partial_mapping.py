"""A table without the optional columns (escalated, reopened, CSAT, QA) works on every database: the roll-up
builds, case lists read them as empty, one source column may serve two roles, and the data window is the
days cases were created."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
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
from loaders.engine import cases_table
from ui.data_page import format_value

OPTIONAL = ("escalated", "reopened", "csat", "qa_score", "sla_due_at")


@pytest.fixture()
def lean(db_url: str) -> tuple[sa.Engine, Settings]:
    """Cases created on 1 and 2 June, one of them solved on 4 June; no optional column at all."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(url=db_url, cases_table=f"lean_{tag}", rollup_table=f"lean_daily_{tag}")
    engine = make_engine(db_url)
    table = sa.Table(settings.cases_table, sa.MetaData(),
                     *(sa.Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
                       for c in cases_table(settings).columns if c.key not in OPTIONAL))
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


@pytest.fixture()
def minimal_db(tmp_path) -> str:
    """Only what is certain, plus the dimensions: case_id and created_at, 90 days, no solves, no routes."""
    url = f"sqlite:///{tmp_path / 'minimal.sqlite'}"
    engine = make_engine(url)
    full = cases_table(Settings(url=url))
    table = sa.Table("cases", sa.MetaData(), *(sa.Column(c, full.c[c].type, primary_key=c == "case_id")
                                               for c in ("case_id", "created_at", "workflow", "vendor_site",
                                                         "channel", "language")))
    table.create(engine)
    rng = np.random.default_rng(3)
    rows, n = [], 0
    for d in pd.date_range("2026-04-01", "2026-06-29", freq="D"):
        for _ in range(int(rng.poisson(30))):
            n += 1
            rows.append({"case_id": n, "created_at": d + pd.Timedelta(minutes=int(rng.integers(1, 1400))),
                         "workflow": str(rng.choice(["copyright", "trademark"])), "vendor_site": "Manila",
                         "channel": "email", "language": "en"})
    with engine.begin() as conn:
        conn.execute(table.insert(), [{**r, "created_at": r["created_at"].to_pydatetime()} for r in rows])
    engine.dispose()
    return url


@pytest.mark.parametrize("script", ["app.py", "pages/trends.py", "pages/anomalies.py", "pages/drilldown.py",
                                    "pages/data.py"])
def test_every_page_works_on_a_table_with_only_an_id_a_created_time_and_dimensions(minimal_db, monkeypatch,
                                                                                     script):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import visible

    monkeypatch.setenv("OPS_DB_URL", minimal_db)
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120).run()
    if script != "app.py":
        at.switch_page(script).run()
    assert not at.exception, [e.value for e in at.exception]
    if script == "app.py":
        assert [m.label for m in at.metric] == ["Incoming"]  # no stand-ins for what the data cannot say
        note = [visible(c.value) for c in at.caption if c.value.startswith("Not shown")]
        assert note and "Solved (solved_at)" in note[0] and "Manual incoming (route)" in note[0]
    if script == "pages/trends.py":
        assert at.selectbox(key="trends_kpi").options == ["Incoming"]
    if script == "pages/data.py":
        kpis = next(d.value for d in at.dataframe if "KPI" in d.value.columns).set_index("KPI")
        assert kpis.loc["Incoming", "shown"] and not kpis.loc["AHT", "shown"]
        assert kpis.loc["AHT", "needs"] == "handle_time_s, route, solved_at"


def test_column_checks_work_with_one_column_in_two_roles_and_name_the_newest_created_case(lean):
    from loaders.checks import check_source

    engine, settings = lean
    both = replace(settings, columns={**settings.columns, "route": "channel"},
                   route_values={"manual": ("email",), "automated": ("bot",)})
    report = check_source(engine, both, now=datetime(2026, 6, 5))
    assert report.newest == datetime(2026, 6, 2, 10)  # the newest created case, not the newest solve (4 June)
    assert set(report.columns["column"]) >= {"channel", "route"}
