"""Root-cause localisation and the mix/rate split, on hand-built cubes."""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest

from metrics.root_cause import explain, mix_rate

DIMS = ["workflow", "vendor_site", "channel", "language"]
VALUES = {
    "workflow": ["account_takeover", "brand_impersonation", "kyc", "appeal", "fraud_ring"],
    "vendor_site": ["Manila", "Austin", "Dublin", "Krakow"],
    "channel": ["web_form", "email", "chat"],
    "language": ["en", "es", "de", "fr"],
}


def make_cube(
    causes: list[tuple[dict[str, str], float]] = (),
    *,
    noise: float = 0.05,
    seed: int = 0,
    counts: bool = False,
) -> pd.DataFrame:
    """240 leaves with random sizes, relative noise and the given causes.

    Each cause is ``(filters, ratio)``: every leaf the filters match gets
    ``actual = expected * ratio`` (plus the same small noise).
    """
    rng = np.random.default_rng(seed)
    leaves = pd.DataFrame(list(product(*VALUES.values())), columns=DIMS)
    expected = rng.lognormal(3.0, 0.8, len(leaves))
    ratio = np.ones(len(leaves))
    for filters, r in causes:
        mask = np.logical_and.reduce([leaves[d] == v for d, v in filters.items()])
        ratio[mask] = r
    actual = expected * ratio * (1 + rng.normal(0, noise, len(leaves)))
    if counts:
        actual = rng.poisson(expected * ratio).astype(float)
    leaves["actual"] = np.clip(actual, 0, None)
    leaves["expected"] = expected
    return leaves


def filters_of(causes: pd.DataFrame) -> list[dict]:
    return list(causes["filters"])


def matched(leaves: pd.DataFrame, filters: dict) -> pd.Series:
    return np.logical_and.reduce([leaves[d] == v for d, v in filters.items()])


def test_single_cause_on_one_dimension_is_found_alone():
    leaves = make_cube([({"channel": "web_form"}, 1.6)])
    causes = explain(leaves, DIMS)
    assert filters_of(causes) == [{"channel": "web_form"}]


def test_two_causes_are_both_returned_ranked_by_share():
    leaves = make_cube([({"channel": "web_form"}, 1.8), ({"vendor_site": "Dublin"}, 1.3)])
    causes = explain(leaves, DIMS)
    assert filters_of(causes) == [{"channel": "web_form"}, {"vendor_site": "Dublin"}]
    assert causes["share_of_delta"].is_monotonic_decreasing


def test_a_cause_spanning_two_dimensions_is_not_reported_as_either_parent():
    cause = {"workflow": "brand_impersonation", "vendor_site": "Manila"}
    leaves = make_cube([(cause, 2.5)])
    causes = explain(leaves, DIMS)
    assert filters_of(causes) == [cause]
    assert causes.loc[0, "n_leaves"] == 12


def test_a_drop_is_explained_like_a_spike():
    leaves = make_cube([({"workflow": "kyc", "language": "de"}, 0.3)])
    causes = explain(leaves, DIMS)
    assert filters_of(causes) == [{"workflow": "kyc", "language": "de"}]
    assert causes.loc[0, "delta"] < 0


def test_noise_only_gives_an_empty_set_with_the_result_columns():
    for seed in range(5):
        causes = explain(make_cube(noise=0.1, seed=seed), DIMS)
        assert causes.empty
    assert {"filters", "actual", "expected", "delta", "share_of_delta"} <= set(causes.columns)


def test_count_data_finds_a_poisson_sized_cause_and_nothing_in_pure_noise():
    cause = {"channel": "chat", "vendor_site": "Krakow"}
    found = explain(make_cube([(cause, 1.7)], counts=True, seed=3), DIMS)
    assert filters_of(found) == [cause]
    assert explain(make_cube(counts=True, seed=4), DIMS).empty


def test_deltas_are_the_sums_over_matched_leaves_and_shares_add_up_sensibly():
    leaves = make_cube([({"channel": "web_form"}, 1.8), ({"vendor_site": "Dublin"}, 1.4)])
    causes = explain(leaves, DIMS)
    total_delta = leaves["actual"].sum() - leaves["expected"].sum()
    for _, row in causes.iterrows():
        m = matched(leaves, row["filters"])
        assert row["actual"] == pytest.approx(leaves.loc[m, "actual"].sum())
        assert row["expected"] == pytest.approx(leaves.loc[m, "expected"].sum())
        assert row["delta"] == pytest.approx(row["actual"] - row["expected"])
        assert row["share_of_delta"] == pytest.approx(row["delta"] / total_delta)
        assert row["ratio"] == pytest.approx(row["actual"] / row["expected"])
        assert row["n_leaves"] == m.sum()
    # The two causes overlap on 12 leaves, so the shares may pass 1 a little.
    assert 0.8 < causes["share_of_delta"].sum() <= 1.2


def test_expected_zero_leaves_and_all_zero_leaves_are_handled():
    leaves = make_cube([({"channel": "email"}, 2.0)])
    leaves.loc[0, ["actual", "expected"]] = 0.0
    leaves.loc[1, "expected"] = 0.0
    causes = explain(leaves, DIMS)
    assert {"channel": "email"} in filters_of(causes)
    assert np.isfinite(causes["score"]).all()


def test_a_single_dimension_table_works():
    leaves = pd.DataFrame(
        {
            "channel": ["web_form", "email", "chat", "phone"],
            "actual": [300.0, 101.0, 99.0, 100.0],
            "expected": [100.0, 100.0, 100.0, 100.0],
        }
    )
    causes = explain(leaves, "channel")
    assert filters_of(causes) == [{"channel": "web_form"}]
    assert causes.loc[0, "share_of_delta"] == pytest.approx(200.0 / 200.0)


def test_ties_between_a_cause_and_its_only_child_keep_the_coarser_one():
    # One language only: {channel} and {channel, language} match the same leaves.
    leaves = make_cube([({"channel": "chat"}, 2.0)])
    leaves = leaves[leaves["language"] == "en"].reset_index(drop=True)
    causes = explain(leaves, DIMS)
    assert filters_of(causes) == [{"channel": "chat"}]


def test_max_depth_limits_how_many_dimensions_a_cause_combines():
    cause = {"workflow": "appeal", "vendor_site": "Austin"}
    causes = explain(make_cube([(cause, 3.0)]), DIMS, max_depth=1)
    assert all(len(f) == 1 for f in filters_of(causes))


def test_direction_up_ignores_a_slice_that_dropped():
    leaves = make_cube([({"channel": "chat"}, 0.4), ({"vendor_site": "Austin"}, 1.9)])
    assert filters_of(explain(leaves, DIMS, direction="up")) == [{"vendor_site": "Austin"}]
    both = filters_of(explain(leaves, DIMS, direction="both"))
    assert {"channel": "chat"} in both and {"vendor_site": "Austin"} in both


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (lambda df: df.drop(columns="expected"), {}, r"`expected` column `expected` is not a column"),
        (lambda df: df, {"dimensions": ["workflow", "site"]}, r"dimension `site` is not a column"),
        (lambda df: df, {"dimensions": ["workflow", "workflow"]}, r"must not repeat a column"),
        (lambda df: df, {"dimensions": []}, r"must name at least one column"),
        (lambda df: df.assign(actual=-df["actual"]), {}, r"must be >= 0 .* found 240 negative"),
        (lambda df: df.assign(actual=np.nan), {}, r"must not contain missing values, found 240"),
        (lambda df: df.assign(actual="x"), {}, r"must be numeric"),
        (lambda df: pd.concat([df, df.iloc[:3]]), {}, r"one row per combination .* found 3 duplicated"),
        (lambda df: df.assign(channel=None), {}, r"dimension `channel` must not contain missing"),
        (lambda df: df, {"max_depth": 0}, r"`max_depth` must be >= 1, got 0"),
        (lambda df: df, {"max_causes": 0}, r"`max_causes` must be >= 1, got 0"),
        (lambda df: df, {"direction": "sideways"}, r"`direction` must be one of"),
        (lambda df: df, {"min_share": 1.5}, r"`min_share` must be in \[0, 1\), got 1.5"),
    ],
)
def test_explain_rejects_bad_input_with_the_rule_broken(mutate, kwargs, message):
    leaves = mutate(make_cube())
    kwargs = {"dimensions": DIMS, **kwargs}
    with pytest.raises(ValueError, match=message):
        explain(leaves, **kwargs)


def test_explain_rejects_a_non_frame():
    with pytest.raises(TypeError, match="must be a pandas DataFrame, got list"):
        explain([1, 2], DIMS)


def test_an_empty_table_gives_an_empty_set():
    assert explain(make_cube().iloc[:0], DIMS).empty


def rate_frame(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "channel",
            "numerator_expected",
            "denominator_expected",
            "numerator_actual",
            "denominator_actual",
        ],
    )


def test_a_pure_mix_shift_has_no_rate_effect():
    # Each channel keeps its own rate; volume moves to the slow channel.
    leaves = rate_frame([("web_form", 100.0, 10.0, 300.0, 30.0), ("chat", 500.0, 10.0, 500.0, 10.0)])
    out = mix_rate(leaves, "channel")
    overall = out.attrs["overall"]
    assert overall["change"] == pytest.approx(800 / 40 - 600 / 20)
    np.testing.assert_allclose(out["rate_effect"], 0.0, atol=1e-12)
    assert out["mix_effect"].sum() == pytest.approx(overall["change"])
    by = out.set_index("channel")
    # More web_form cases (below-average rate) pull the KPI down; fewer chat cases too.
    assert by.loc["web_form", "mix_effect"] < 0 and by.loc["chat", "mix_effect"] < 0


def test_a_pure_rate_change_has_no_mix_effect():
    leaves = rate_frame([("web_form", 100.0, 10.0, 150.0, 10.0), ("chat", 500.0, 10.0, 500.0, 10.0)])
    out = mix_rate(leaves, "channel").set_index("channel")
    np.testing.assert_allclose(out["mix_effect"], 0.0, atol=1e-12)
    assert out.loc["web_form", "rate_effect"] == pytest.approx(0.5 * (15.0 - 10.0))
    assert out.loc["chat", "rate_effect"] == pytest.approx(0.0)


def test_mix_and_rate_add_up_exactly_on_a_random_cube_with_a_new_slice():
    rng = np.random.default_rng(1)
    leaves = make_cube(seed=1)
    leaves["numerator_expected"] = rng.uniform(0, 50, len(leaves))
    leaves["denominator_expected"] = rng.uniform(1, 10, len(leaves))
    leaves["numerator_actual"] = rng.uniform(0, 50, len(leaves))
    leaves["denominator_actual"] = rng.uniform(1, 10, len(leaves))
    new = leaves["workflow"] == "fraud_ring"
    leaves.loc[new, ["numerator_expected", "denominator_expected"]] = 0.0
    out = mix_rate(leaves, ["workflow", "channel"])
    r0 = leaves["numerator_expected"].sum() / leaves["denominator_expected"].sum()
    r1 = leaves["numerator_actual"].sum() / leaves["denominator_actual"].sum()
    assert out["total_effect"].sum() == pytest.approx(r1 - r0, rel=1e-12)
    pd.testing.assert_series_equal(out["total_effect"], out["mix_effect"] + out["rate_effect"], check_names=False)
    fresh = out[out["workflow"] == "fraud_ring"]
    assert fresh["rate_expected"].isna().all()
    np.testing.assert_allclose(fresh["rate_effect"], 0.0)
    assert len(out) == 15


def test_mix_rate_validates_its_columns():
    leaves = rate_frame([("web_form", 1.0, 1.0, 1.0, 1.0)])
    with pytest.raises(ValueError, match="`denominator_actual` column `den` is not a column"):
        mix_rate(leaves, "channel", denominator_actual="den")
    zero = leaves.assign(denominator_expected=0.0)
    with pytest.raises(ValueError, match="must not sum to 0"):
        mix_rate(zero, "channel")
