"""The KPI × slice panel the anomaly scan reads: ids, exact ratios, slices that add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.kpis import KPIS, compute_kpis, kpi_parts
from metrics.panel import kpi_panel, scan_panel
from metrics.slices import Slice

PAIRS = [("copyright", "Manila"), ("copyright", "Dublin"), ("trademark", "Dublin")]


def parts_frame(days: int = 70, *, seed: int = 0, with_csat: bool = True) -> pd.DataFrame:
    """Daily parts for three workflow × site pairs, shaped like ui.data.volume(by=(workflow, vendor_site))."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-01-01", periods=days, freq="D", name="day")
    frames = []
    for i, (wf, site) in enumerate(PAIRS):
        scale = 50 * (i + 1)
        incoming = rng.poisson(scale, days).astype(float)
        solved = rng.poisson(scale, days).astype(float)
        solved_manual = np.floor(solved * rng.uniform(0.3, 0.7, days))
        frame = pd.DataFrame({
            "workflow": wf, "vendor_site": site,
            "incoming": incoming, "incoming_manual": np.floor(incoming * 0.6), "solved": solved,
            "solved_manual": solved_manual, "handle_time_s": solved_manual * rng.uniform(300, 900, days),
            "age_at_solve_h": solved * rng.uniform(5, 30, days), "solved_in_sla": np.floor(solved * 0.9),
            "escalated": np.floor(solved * 0.05), "reopened": np.floor(solved * 0.02),
            "csat_sum": solved * 0.1 * 4.2 if with_csat else 0.0,
            "csat_n": solved * 0.1 if with_csat else 0.0, "qa_sum": 0.0, "qa_n": 0.0,
        }, index=idx)
        frames.append(frame)
    raw = pd.concat(frames).sort_index(kind="stable")
    opening = pd.Series([10.0, 20.0, 30.0],
                        index=pd.MultiIndex.from_tuples(PAIRS, names=["workflow", "vendor_site"]))
    return kpi_parts(raw, by=("workflow", "vendor_site"), opening=opening)


@pytest.fixture(scope="module")
def parts() -> pd.DataFrame:
    return parts_frame()


def test_series_ids_cover_every_kpi_and_slice(parts: pd.DataFrame) -> None:
    panel = kpi_panel(parts)
    keys = {"all", "workflow=copyright", "workflow=trademark", "vendor_site=Dublin", "vendor_site=Manila",
            "workflow=copyright|vendor_site=Manila", "workflow=copyright|vendor_site=Dublin",
            "workflow=trademark|vendor_site=Dublin"}
    expected_kpis = [k.name for k in KPIS if k.name != "qa_score"]  # QA parts are all zero here
    assert set(panel.series) == {(k, s) for k in expected_kpis for s in keys}
    assert [c[0] for c in panel.series[:: len(keys)]] == expected_kpis
    assert panel.slices[("aht", "workflow=copyright|vendor_site=Manila")] == {"workflow": "copyright",
                                                                            "vendor_site": "Manila"}
    assert panel.slices[("aht", "all")] == {}
    assert panel.kpi[("backlog", "vendor_site=Dublin")] == "backlog"
    assert panel.kinds[("incoming", "all")] == "count"
    assert panel.kinds[("aht", "all")] == "ratio"
    assert panel.kinds[("escalation_rate", "all")] == "share"
    assert panel.kinds[("backlog", "all")] == "stock"
    assert panel.bad_direction[("solved", "all")] == "down" and panel.bad_direction[("aht", "all")] == "up"
    pd.testing.assert_index_equal(panel.volume.columns, panel.values.columns)
    assert panel.values.index.equals(pd.date_range("2026-01-01", periods=70, freq="D"))


def test_optional_kpis_without_data_are_left_out_and_a_kpi_choice_is_honoured() -> None:
    panel = kpi_panel(parts_frame(with_csat=False))
    assert {k for k, _ in panel.series}.isdisjoint({"csat", "qa_score"})
    chosen = kpi_panel(parts_frame(), kpis=["aht", "incoming"])
    assert {k for k, _ in chosen.series} == {"aht", "incoming"}


def test_ratios_are_exact_from_summed_parts_never_averaged(parts: pd.DataFrame) -> None:
    panel = kpi_panel(parts)
    dublin = parts[parts["vendor_site"] == "Dublin"]
    sums = dublin.groupby(level=0)[["handle_time_s", "solved_manual"]].sum()
    exact = sums["handle_time_s"] / sums["solved_manual"] / 60
    pd.testing.assert_series_equal(panel.values[("aht", "vendor_site=Dublin")], exact, check_names=False,
                                   check_freq=False)
    averaged = (dublin["handle_time_s"] / dublin["solved_manual"] / 60).groupby(level=0).mean()
    assert not np.allclose(panel.values[("aht", "vendor_site=Dublin")], averaged)


@pytest.mark.parametrize("dim", ["workflow", "vendor_site"])
def test_each_slice_matches_compute_kpis(parts: pd.DataFrame, dim: str) -> None:
    panel = kpi_panel(parts)
    reference = compute_kpis(parts, by=(dim,))
    for value, group in reference.groupby(dim):
        for k in ("incoming", "automation_rate", "aas", "backlog", "sla_attainment", "csat"):
            mine = panel.values[(k, Slice.of({dim: value}).key)]
            np.testing.assert_allclose(mine.to_numpy(), group[k].to_numpy(), rtol=1e-12, err_msg=f"{k} {value}")


@pytest.mark.parametrize("kpi", ["incoming", "solved", "manual_incoming", "backlog"])
def test_totals_equal_the_sum_of_their_slices_for_flows_and_stocks(parts: pd.DataFrame, kpi: str) -> None:
    panel = kpi_panel(parts)
    total = panel.values[(kpi, "all")]
    by_pair = sum(panel.values[(kpi, f"workflow={w}|vendor_site={s}")] for w, s in PAIRS)
    by_site = panel.values[(kpi, "vendor_site=Dublin")] + panel.values[(kpi, "vendor_site=Manila")]
    by_workflow = panel.values[(kpi, "workflow=copyright")] + panel.values[(kpi, "workflow=trademark")]
    for other in (by_pair, by_site, by_workflow):
        pd.testing.assert_series_equal(total, other, check_names=False)
    day_one = parts.loc[parts.index[0]]
    column = "incoming_manual" if kpi == "manual_incoming" else kpi
    assert total.iloc[0] == day_one[column].sum()


def test_volume_is_the_kpi_specs_volume_part(parts: pd.DataFrame) -> None:
    panel = kpi_panel(parts)
    solved = parts.groupby(level=0)["solved"].sum()
    np.testing.assert_array_equal(panel.volume[("automation_rate", "all")].to_numpy(), solved.to_numpy())
    np.testing.assert_array_equal(panel.volume[("incoming", "all")].to_numpy(),
                                  panel.values[("incoming", "all")].to_numpy())


def test_a_missing_day_for_a_pair_counts_no_cases_and_keeps_its_backlog(parts: pd.DataFrame) -> None:
    gap_day = parts.index.unique()[40]
    holed = parts[~((parts.index == gap_day) & (parts["workflow"] == "trademark"))]
    panel = kpi_panel(holed)
    pair = "workflow=trademark|vendor_site=Dublin"
    assert panel.values[("incoming", pair)].loc[gap_day] == 0
    before = parts[(parts["workflow"] == "trademark")]["backlog"].loc[gap_day - pd.Timedelta(days=1)]
    assert panel.values[("backlog", pair)].loc[gap_day] == before


@pytest.mark.parametrize(("call", "match"), [
    (lambda p: kpi_panel(p.reset_index(drop=True)), r"`parts` must have a DatetimeIndex"),
    (lambda p: kpi_panel(p.drop(columns=["vendor_site"])), r"lacks column\(s\) vendor_site"),
    (lambda p: kpi_panel(p.drop(columns=["backlog"])), r"lacks column\(s\) backlog"),
    (lambda p: kpi_panel(p, kpis=["nope"]), r"unknown KPI 'nope'"),
])
def test_validation_errors_state_the_rule(parts: pd.DataFrame, call, match: str) -> None:
    with pytest.raises((ValueError, KeyError), match=match):
        call(parts)


def test_scan_panel_flags_a_planted_spike_with_its_kpi_and_slice() -> None:
    parts = parts_frame(days=90, seed=3)
    last = parts.index.max()
    hit = (parts.index == last) & (parts["workflow"] == "trademark")
    parts.loc[hit, "incoming"] += 400
    found = scan_panel(kpi_panel(parts, kpis=["incoming"]), days=1)
    assert {("incoming", "workflow=trademark"), ("incoming", "workflow=trademark|vendor_site=Dublin")} \
        <= set(found["series"])
    assert not any("copyright" in key for key in found["slice_key"])
    assert found["incident"].nunique() == 1  # one spike seen in its pair, its workflow, its site, the total
    top = found.iloc[0]
    assert top["day"] == last and top["direction"] == "spike"
    assert top["kpi_label"] == "Incoming" and top["unit"] == "cases"
    assert top["slice"] == Slice.parse(top["slice_key"]).filters
    assert (found["day"] == last).all()


def test_a_value_holding_the_keys_separators_is_scored_like_any_other():
    from metrics.panel import score_panel

    idx = pd.date_range("2026-01-01", periods=70, freq="D")
    rng = np.random.default_rng(3)
    rows = []
    for name in ("Billing | Refunds", "Streets, Sanitation"):
        inc = rng.poisson(40, len(idx)).astype(float)
        inc[-1] = 200 if name.startswith("Billing") else inc[-1]
        rows.append(pd.DataFrame({"workflow": name, "vendor_site": "A=B", "incoming": inc, **{
            p: 0.0 for p in ("incoming_manual", "solved", "solved_manual", "handle_time_s", "age_at_solve_h",
                             "solved_in_sla", "escalated", "reopened", "csat_sum", "csat_n", "qa_sum", "qa_n")}},
                                 index=idx))
    parts = kpi_parts(pd.concat(rows).sort_index(kind="stable"), by=("workflow", "vendor_site"))
    flags = score_panel(kpi_panel(parts, kpis=["incoming"])).flags(days=1)
    assert {"workflow": "Billing | Refunds"} in list(flags["slice"])
