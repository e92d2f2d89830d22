"""The KPI registry: complete specs, formulas against hand-computed values, exact roll-ups."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics.kpis import KPIS, PARTS, compute_kpis, get_kpi, kpi_parts, registry_table


def _parts(rows: list[dict], *, days: int) -> pd.DataFrame:
    index = pd.date_range("2026-03-02", periods=days, freq="D", name="day")  # a Monday
    frame = pd.DataFrame(0.0, index=index, columns=list(PARTS))
    for i, row in enumerate(rows):
        for k, v in row.items():
            frame.iloc[i, frame.columns.get_loc(k)] = v
    return frame


def test_every_spec_is_complete_and_documented():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for k in KPIS:
        assert k.label and k.description.endswith(".") and k.unit in {"cases", "%", "minutes", "hours", "score"}
        assert k.bad_direction in {"up", "down"} and k.kind in {"flow", "ratio", "stock"}
        assert (k.denominator is not None) == (k.kind == "ratio")
        assert k.name in readme, f"KPI {k.name} is not documented in the README"
    assert len({k.name for k in KPIS}) == len(KPIS)


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_kpi("aht").scale = 1  # type: ignore[misc]


def test_unknown_kpi_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown KPI 'speed'; known: incoming"):
        get_kpi("speed")


def test_formulas_against_hand_computed_values():
    parts = kpi_parts(_parts([
        {"incoming": 10, "incoming_manual": 6, "solved": 8, "solved_manual": 4, "handle_time_s": 4 * 600,
         "age_at_solve_h": 8 * 5, "solved_in_sla": 6, "escalated": 2, "reopened": 1, "csat_sum": 9, "csat_n": 2},
    ], days=1), opening=100)
    got = compute_kpis(parts).iloc[0]
    assert got["incoming"] == 10 and got["manual_incoming"] == 6
    assert got["automation_rate"] == pytest.approx(50.0)  # 1 - 4/8
    assert got["aht"] == pytest.approx(10.0)  # 2400 s / 4 cases = 10 minutes
    assert got["aas"] == pytest.approx(5.0)
    assert got["sla_attainment"] == pytest.approx(75.0)
    assert got["escalation_rate"] == pytest.approx(25.0)
    assert got["csat"] == pytest.approx(4.5)
    assert got["backlog"] == 102  # 100 + 10 - 8
    assert np.isnan(got["qa_score"])  # no QA sample: NaN, never 0


def test_weekly_ratio_is_sum_over_sum_not_mean_of_daily_ratios():
    parts = kpi_parts(_parts([
        {"solved_manual": 1, "handle_time_s": 60 * 100},  # one slow case
        {"solved_manual": 99, "handle_time_s": 99 * 60 * 10},  # many quick ones
    ], days=7))
    weekly = compute_kpis(parts, grain="week", kpis=["aht"])
    assert weekly["aht"].iloc[0] == pytest.approx((100 + 990) / 100)  # 10.9, not (100 + 10) / 2


def test_backlog_is_read_at_the_end_of_each_period():
    parts = kpi_parts(_parts([{"incoming": 5}] * 10, days=10), opening=3)
    weekly = compute_kpis(parts, grain="week", kpis=["backlog", "incoming"])
    assert weekly["backlog"].tolist() == [3 + 35, 3 + 50]
    assert weekly["incoming"].tolist() == [35, 15]


def test_split_kpis_add_up_to_the_total_for_flows():
    a = _parts([{"incoming": 4, "solved": 1}, {"incoming": 2, "solved": 5}], days=2).assign(site="A")
    b = _parts([{"incoming": 7, "solved": 2}, {"incoming": 1, "solved": 1}], days=2).assign(site="B")
    split = kpi_parts(pd.concat([a, b]).sort_index(), by=["site"], opening=pd.Series({"A": 10.0, "B": 1.0}))
    per_site = compute_kpis(split, by=["site"], kpis=["incoming", "backlog"])
    total = compute_kpis(split, kpis=["incoming", "backlog"])
    assert per_site.groupby(level=0)["incoming"].sum().tolist() == total["incoming"].tolist() == [11, 3]
    assert per_site[per_site["site"] == "A"]["backlog"].tolist() == [13, 10]
    assert total["backlog"].tolist() == [13 + 6, 10 + 6]


def test_missing_parts_and_bad_grain_are_rejected():
    with pytest.raises(ValueError, match="lacks part column"):
        kpi_parts(pd.DataFrame({"incoming": [1.0]}))
    with pytest.raises(ValueError, match="`grain` must be one of day, week, month"):
        compute_kpis(kpi_parts(_parts([], days=1)), grain="hour")


def test_registry_table_lists_formulas():
    table = registry_table()
    assert table.loc[table["name"] == "aht", "formula"].item() == "handle_time_s / solved_manual × 0.0166667"


def test_a_difference_is_written_in_the_kpis_own_unit():
    from metrics.kpis import get_kpi

    assert get_kpi("sla_attainment").format_difference(-10.0) == "-10.0 pts"
    assert get_kpi("aas").format_difference(772.88) == "+772.9 h"
    assert get_kpi("incoming").format_difference(1234.0) == "+1,234"
    assert get_kpi("aht").format_difference(-0.25, decimals=2) == "-0.25 min"


@pytest.mark.parametrize(("kpi", "new", "old", "expected", "text"), [
    ("incoming", 110.0, 100.0, 10.0, "+10.0 % vs last week"),
    ("aht", 90.0, 100.0, -10.0, "-10.0 % vs last week"),
    ("sla_attainment", 80.0, 90.0, -10.0, "-10.0 pts vs last week"),  # points, never -11.1 %
    ("incoming", 5.0, 0.0, None, "n/a vs last week"),
    ("incoming", None, 3.0, None, "n/a vs last week"),
    ("aas", np.nan, 3.0, None, "n/a vs last week"),
])
def test_a_change_is_relative_except_for_percent_kpis_which_move_in_points(kpi, new, old, expected, text):
    spec = get_kpi(kpi)
    got = spec.change(new, old)
    assert got == pytest.approx(expected) if expected is not None else got is None
    assert spec.format_change(new, old, against="last week") == text
    assert spec.format_change(new, old) == ("" if expected is None else text.removesuffix(" vs last week"))
