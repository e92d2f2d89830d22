"""The drill-down's pure logic: URL state, chart clicks, coarser/finer slices, the sentence, the analysis."""

from __future__ import annotations

from datetime import date
from itertools import product
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pytest

from loaders.settings import DIMENSIONS
from metrics.drilldown import DrilldownState, analyse, case_side, coarser, finer, summary_sentence
from metrics.kpis import get_kpi
from ui.links import (
    LinkError,
    check_state,
    drilldown_link,
    drilldown_params,
    parse_params,
    point_params,
    selection_to_state,
    to_params,
)

DAY = date(2026, 6, 30)
SPIKE = {"workflow": "brand_impersonation", "vendor_site": "Manila", "channel": "web_form"}


def state(**filters: str) -> DrilldownState:
    return DrilldownState("incoming", DAY).with_filters(filters)


# ------------------------------------------------------------------------------------------ URL
def test_url_round_trip_keeps_kpi_day_and_slice_order():
    s = DrilldownState("aht", DAY, (("vendor_site", "Krakow"), ("workflow", "copyright")))
    assert parse_params(to_params(s), default_day=date(2000, 1, 1), dimensions=DIMENSIONS) == s
    assert list(to_params(s)) == ["kpi", "day", "vendor_site", "workflow"]


def test_drilldown_link_is_relative_and_parses_back():
    link = drilldown_link("manual_incoming", DAY, {"workflow": "brand_impersonation", "channel": "web_form"})
    assert link == "drilldown?kpi=manual_incoming&day=2026-06-30&workflow=brand_impersonation&channel=web_form"
    params = dict(parse_qsl(link.split("?", 1)[1]))
    back = parse_params(params, default_day=date(2000, 1, 1), dimensions=DIMENSIONS)
    assert back == DrilldownState("manual_incoming", DAY).with_filters(
        {"workflow": "brand_impersonation", "channel": "web_form"})
    assert drilldown_params("incoming", "2026-06-30") == {"kpi": "incoming", "day": "2026-06-30"}


def test_missing_params_take_the_defaults_and_lists_use_the_last_value():
    assert parse_params({}, default_day=DAY, dimensions=DIMENSIONS) == DrilldownState("incoming", DAY)
    assert parse_params({"kpi": ["aht", "aas"], "utm": "x"}, default_day=DAY, dimensions=DIMENSIONS).kpi == "aas"


@pytest.mark.parametrize(("params", "message"), [
    ({"kpi": "revenue"}, "unknown KPI 'revenue' in the link; known: incoming"),
    ({"day": "30/06/2026"}, r"`day` must be a date like 2026-06-30, got '30/06/2026'"),
    ({"workflow": ""}, "dimension `workflow` needs a value"),
])
def test_bad_links_raise_a_message_naming_the_rule(params, message):
    with pytest.raises(LinkError, match=message):
        parse_params(params, default_day=DAY, dimensions=DIMENSIONS)


def test_a_click_on_an_unknown_dimension_is_refused_and_links_keep_only_configured_ones():
    with pytest.raises(LinkError, match="unknown dimension 'region'"):
        point_params({"selection": {"points": [{"x": "2026-06-30"}]}}, kpi="incoming", slice={"region": "EMEA"},
                     dimensions=DIMENSIONS)
    link = drilldown_link("incoming", DAY, {"region": "EMEA", "workflow": "copyright"})
    assert parse_params(dict(parse_qsl(link.split("?", 1)[1])), default_day=DAY,
                        dimensions=DIMENSIONS).filters == {"workflow": "copyright"}


def test_check_state_against_the_data():
    values = {"workflow": ["copyright", "trademark"], "vendor_site": ["Manila"]}
    check_state(state(workflow="copyright"), first=date(2026, 1, 1), last=DAY, values=values)
    with pytest.raises(LinkError, match=r"day 2026-06-30 is outside the data \(2026-01-01 – 2026-06-29\)"):
        check_state(state(), first=date(2026, 1, 1), last=date(2026, 6, 29), values=values)
    with pytest.raises(LinkError, match="workflow 'kyc' does not occur in the data"):
        check_state(state(workflow="kyc"), first=date(2026, 1, 1), last=DAY, values=values)


# ------------------------------------------------------------------------------------ selection
def test_clicking_a_point_on_a_time_axis_moves_the_day():
    event = {"selection": {"points": [{"x": "2026-06-23", "y": 410.0, "curve_number": 2}]}}
    assert selection_to_state(event, state(workflow="copyright")) == DrilldownState(
        "incoming", date(2026, 6, 23), (("workflow", "copyright"),))


def test_clicking_a_cause_narrows_the_slice_and_keeps_the_day():
    event = {"selection": {"points": [{"x": "brand impersonation × web form", "y": 40.0,
                                       "customdata": "workflow=brand_impersonation&channel=web_form"}]}}
    new = selection_to_state(event, state(vendor_site="Manila"))
    assert new.day == DAY
    assert new.filters == {"vendor_site": "Manila", "workflow": "brand_impersonation", "channel": "web_form"}


def test_customdata_can_carry_kpi_and_day_as_a_list():
    event = {"selection": {"points": [{"x": 3, "customdata": ["kpi=aht&day=2026-06-01", "ignored"]}]}}
    assert selection_to_state(event, state()) == DrilldownState("aht", date(2026, 6, 1))


def test_empty_or_unchanged_selections_change_nothing():
    assert selection_to_state(None, state()) is None
    assert selection_to_state({"selection": {"points": []}}, state()) is None
    assert selection_to_state({"selection": {"points": [{"x": "2026-06-30"}]}}, state()) is None
    assert selection_to_state({"selection": {"points": [{"x": 12.5}]}}, state()) is None
    with pytest.raises(LinkError, match="unknown KPI"):
        selection_to_state({"selection": {"points": [{"customdata": "kpi=nope"}]}}, state())


# ------------------------------------------------------------------------------ coarser / finer
def test_coarser_drops_the_last_dimension_added():
    s = state(channel="web_form", workflow="copyright")
    assert coarser(s).filters == {"channel": "web_form"}
    assert coarser(coarser(s)).filters == {}
    assert coarser(state()) is None


def test_finer_adds_the_top_causes_next_dimension():
    causes = [SPIKE, {"language": "de"}]
    step1 = finer(state(), causes)
    assert step1.filters == {"workflow": "brand_impersonation"}
    assert finer(step1, causes).filters == {"workflow": "brand_impersonation", "vendor_site": "Manila"}
    assert finer(state(**SPIKE), causes) is None
    assert finer(state(), []) is None


# ----------------------------------------------------------------------------------- sentence

def test_flow_sentence_names_change_and_top_cause():
    causes = pd.DataFrame({"filters": [SPIKE, {"language": "de"}, {"channel": "api"}],
                           "share_of_delta": [0.71, 0.2, 0.05]})
    text = summary_sentence(get_kpi("manual_incoming"), actual=138.0, expected=100.0, causes=causes)
    assert text == ("Manual incoming +38.0 % vs expected (138 vs 100); brand impersonation × web form at Manila "
                    "explains 71 %, language de 20 % (+1 more)")
    quiet = summary_sentence(get_kpi("solved"), actual=90.0, expected=100.0, causes=causes.iloc[:0])
    assert quiet == "Solved -10.0 % vs expected (90 vs 100); no slice stands out from the noise"


def test_a_cause_larger_than_the_whole_change_is_said_in_words_not_as_a_share_above_100():
    # web form rose by 129 while the slice rose by 127: other channels fell a little
    causes = pd.DataFrame({"filters": [{"channel": "web_form"}, {"language": "de"}],
                           "delta": [129.0, -2.0], "share_of_delta": [129 / 127, -2 / 127]})
    text = summary_sentence(get_kpi("incoming"), actual=227.0, expected=100.0, causes=causes)
    assert text == ("Incoming +127.0 % vs expected (227 vs 100); web form accounts for more than the whole rise "
                    "(+129 cases vs +127 overall), language de moved the other way (-2 cases vs +127 overall)")
    assert "101 %" not in text and "102 %" not in text
    fall = summary_sentence(get_kpi("solved"), actual=80.0, expected=100.0,
                            causes=causes.assign(delta=[-25.0, 5.0], share_of_delta=[1.25, -0.25]))
    assert "web form accounts for more than the whole fall (-25 cases vs -20 overall)" in fall
    # a share that rounds to 100 % is still a share
    exact = summary_sentence(get_kpi("incoming"), actual=227.0, expected=100.0,
                             causes=causes.iloc[:1].assign(delta=127.4, share_of_delta=127.4 / 127))
    assert exact.endswith("web form explains 100 %")
    # two changes that round alike get a decimal, so the sentence never reads "+36 cases vs +36 overall"
    close = summary_sentence(get_kpi("manual_incoming"), actual=54.0, expected=18.0,
                             causes=causes.iloc[:1].assign(delta=36.4, share_of_delta=36.4 / 36))
    assert close.endswith("web form accounts for more than the whole rise (+36.4 cases vs +36.0 overall)")
    rate = summary_sentence(get_kpi("aht"), actual=15.0, expected=12.0, causes=causes.iloc[:1])
    assert rate.endswith("web form accounts for more than the whole rate change")


def test_case_side_follows_the_kpi():
    assert case_side(get_kpi("incoming")) == "created"
    assert case_side(get_kpi("manual_incoming")) == "created"
    assert case_side(get_kpi("aht")) == "solved"
    assert case_side(get_kpi("backlog")) == "created"


# ----------------------------------------------------------------------------------- analysis
def cube(*, spike: dict[str, str] | None = None, lift: float = 0.0, rate_site: str | None = None,
         weeks: int = 8, seed: int = 0) -> pd.DataFrame:
    """Daily leaf volume over ``weeks`` + 1 same weekdays; the last day carries the planted change."""
    rng = np.random.default_rng(seed)
    values = {"workflow": ["copyright", "trademark", "brand_impersonation"], "vendor_site": ["Manila", "Dublin"],
              "channel": ["web_form", "email"], "language": ["en", "de"]}
    leaves = pd.DataFrame(list(product(*values.values())), columns=list(DIMENSIONS))
    mu = rng.uniform(20, 60, len(leaves))
    days = pd.date_range(end=pd.Timestamp(DAY), periods=7 * weeks + 1, freq="D", name="day")
    rows = []
    for i, day in enumerate(days):
        frame = leaves.copy()
        frame["incoming"] = rng.poisson(mu).astype(float)
        frame["solved"] = rng.poisson(mu).astype(float)
        frame["handle_time_s"] = frame["solved"] * 600.0
        frame["solved_manual"] = frame["solved"]
        if i == len(days) - 1:
            if spike:
                hit = np.logical_and.reduce([frame[d] == v for d, v in spike.items()])
                frame.loc[hit, "incoming"] = rng.poisson(mu[hit] * (1 + lift)).astype(float)
            if rate_site:
                hit = frame["vendor_site"] == rate_site
                frame.loc[hit, "handle_time_s"] *= 1.5
        rows.append(frame.set_index(pd.DatetimeIndex([day] * len(frame), name="day")))
    return pd.concat(rows)


def test_analysis_finds_a_planted_flow_spike_and_leaves_add_up():
    result = analyse(cube(spike={"workflow": "brand_impersonation", "channel": "web_form"}, lift=1.5),
                     "incoming", DAY, dimensions=DIMENSIONS)
    assert result.causes["filters"].iloc[0] == {"workflow": "brand_impersonation", "channel": "web_form"}
    assert result.leaves["expected"].sum() == pytest.approx(result.expected)
    assert result.actual > result.expected
    # the planted slice is named first (its share may exceed 100 %: then it "accounts for more than the whole rise")
    assert any(f"brand impersonation × web form {verb}" in result.sentence
               for verb in ("explains", "accounts for more than the whole rise"))


def test_analysis_allocates_a_given_expected_total():
    result = analyse(cube(), "incoming", DAY, dimensions=DIMENSIONS, expected_total=1234.0)
    assert result.expected == pytest.approx(1234.0)
    assert result.leaves["expected"].sum() == pytest.approx(1234.0)


def test_analysis_of_a_ratio_splits_mix_and_rate_and_localises_the_rate():
    result = analyse(cube(rate_site="Dublin"), "aht", DAY, dimensions=DIMENSIONS)
    assert result.causes["filters"].iloc[0] == {"vendor_site": "Dublin"}
    overall = result.mix.attrs["overall"]
    assert abs(overall["rate_effect"]) > 5 * abs(overall["mix_effect"])
    assert overall["change"] == pytest.approx(overall["rate_effect"] + overall["mix_effect"])
    assert result.actual == pytest.approx(result.expected + overall["change"] * get_kpi("aht").scale)


def test_analysis_of_a_quiet_day_names_no_cause():
    result = analyse(cube(seed=3), "incoming", DAY, dimensions=DIMENSIONS)
    assert result.causes.empty
    assert "no slice stands out" in result.sentence


# ------------------------------------------------------------------- click on a daily trend chart
def click(x: object, curve: int | None = 0) -> dict:
    return {"selection": {"points": [{"x": x, "y": 400.0, "curve_number": curve, "point_index": 5}]}}


def test_a_click_on_a_split_line_opens_that_lines_slice_on_that_day():
    traces = ["copyright", "brand_impersonation", "account_security"]
    params = point_params(click("2026-06-30", 1), kpi="incoming", split="workflow", traces=traces,
                          slice={"vendor_site": "Manila"})
    assert params == {"kpi": "incoming", "day": "2026-06-30", "vendor_site": "Manila",
                      "workflow": "brand_impersonation"}
    # the link reads back as the view the drill-down page will show
    assert parse_params(params, default_day=date(2000, 1, 1), dimensions=DIMENSIONS) == DrilldownState(
        "incoming", DAY, (("vendor_site", "Manila"), ("workflow", "brand_impersonation")))


def test_a_click_on_an_unsplit_line_or_a_band_keeps_the_slice():
    assert point_params(click(pd.Timestamp("2026-06-23"), 2), kpi="aht", traces=["a", "b", "c"]) == {
        "kpi": "aht", "day": "2026-06-23"}
    # band and flag traces draw no slice; a curve the figure does not list neither
    for curve in (0, 7, None):
        assert point_params(click("2026-06-23T00:00:00", curve), kpi="aht", split="vendor_site",
                            traces=[None, "Manila"], slice={"channel": "api"}) == {
            "kpi": "aht", "day": "2026-06-23", "channel": "api"}


def test_an_empty_selection_or_a_non_date_point_opens_nothing():
    assert point_params(None, kpi="incoming") is None
    assert point_params({"selection": {"points": []}}, kpi="incoming") is None
    assert point_params(click(12.5), kpi="incoming") is None
    assert point_params(click("brand impersonation"), kpi="incoming") is None


def test_a_click_link_breaking_a_rule_says_which():
    with pytest.raises(LinkError, match="unknown dimension 'site' to split by"):
        point_params(click("2026-06-30"), kpi="incoming", split="site", traces=["Manila"], dimensions=DIMENSIONS)
    with pytest.raises(LinkError, match="unknown KPI 'nope'"):
        point_params(click("2026-06-30"), kpi="nope")
    with pytest.raises(LinkError, match="dimension `channel` needs a value"):
        point_params(click("2026-06-30"), kpi="incoming", slice={"channel": ""})
