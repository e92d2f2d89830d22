"""The anomaly detector and the scan: what gets flagged, what never does, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.anomalies import (
    AnomalyInputError,
    Detector,
    DetectorConfig,
    InsufficientHistoryError,
    detect,
    infer_period,
    min_points,
    regularize,
    score_frame,
)
from metrics.events import events_for
from metrics.incidents import scan, scan_last

WEEK = np.array([100.0, 104.0, 102.0, 101.0, 98.0, 70.0, 65.0])


def weekly(n: int = 84, *, noise: float = 2.0, seed: int = 0, start: str = "2024-01-01") -> pd.Series:
    """Daily series with a weekly pattern and small Gaussian noise."""
    idx = pd.date_range(start, periods=n, freq="D")
    rng = np.random.default_rng(seed)
    return pd.Series(WEEK[idx.day_of_week] + rng.normal(0, noise, n), index=idx)


def flagged_positions(frame: pd.DataFrame) -> list[int]:
    return np.nonzero(frame["is_anomaly"].to_numpy())[0].tolist()


# ------------------------------------------------------------------ detect: hand-made cases
def _spike() -> tuple[pd.Series, dict]:
    s = weekly()
    s.iloc[-1] += 40
    return s, {}


def _drop() -> tuple[pd.Series, dict]:
    s = weekly()
    s.iloc[-1] -= 40
    return s, {}


def _spike_mid() -> tuple[pd.Series, dict]:
    s = weekly()
    s.iloc[60] += 40
    return s, {}


CASES = {
    # name: (builder, engine options, flagged positions expected, direction of the first)
    "spike on the newest day": (_spike, [83], "spike"),
    "drop on the newest day": (_drop, [83], "drop"),
    "spike mid-series, neighbours untouched": (_spike_mid, [60], "spike"),
}


@pytest.mark.parametrize("engine", ["stl", "fast"])
@pytest.mark.parametrize("name", list(CASES))
def test_detect_flags_exactly_the_planted_point(name: str, engine: str) -> None:
    build, expected_flags, direction = CASES[name]
    series, options = build()
    frame = detect(series, engine=engine, **options)
    assert flagged_positions(frame) == expected_flags
    assert frame["direction"].iloc[expected_flags[0]] == direction
    assert (frame["direction"][~frame["is_anomaly"]] == "").all()


def test_detect_returns_the_documented_columns_on_the_regular_index() -> None:
    series = weekly()
    frame = detect(series)
    assert list(frame.columns) == ["observed", "expected", "trend", "seasonal", "resid", "lower",
                                   "upper", "score", "is_anomaly", "direction", "run", "event"]
    pd.testing.assert_index_equal(frame.index, series.index, check_names=False, exact=False)
    scored = frame.dropna(subset=["score"])
    np.testing.assert_allclose(scored["expected"], scored["trend"] + scored["seasonal"])
    np.testing.assert_allclose(scored["resid"], scored["observed"] - scored["expected"])
    assert (scored["score"] >= 0).all()
    # a day judged alone is flagged exactly when it is outside the band; a run (days judged together) is
    # flagged on its last day, which may lie inside the band, and says how many days it spans
    outside = (scored["observed"] > scored["upper"]) | (scored["observed"] < scored["lower"])
    alone = scored["run"] <= 1
    pd.testing.assert_series_equal(outside[alone], scored["is_anomaly"][alone], check_names=False)
    assert (scored.loc[scored["is_anomaly"], "run"] >= 1).all()


def test_score_is_comparable_across_scales() -> None:
    series = weekly()
    series.iloc[-1] += 40
    small = detect(series, engine="fast")["score"]
    big = detect(series * 1000.0 + 5e4, engine="fast")["score"]
    pd.testing.assert_series_equal(small, big, rtol=1e-9)
    stl_small, stl_big = detect(series)["score"], detect(series * 1000.0)["score"]
    assert stl_big.iloc[-1] == pytest.approx(stl_small.iloc[-1], rel=0.05)


@pytest.mark.parametrize("engine", ["hw", "stl", "fast"])
def test_level_shift_is_flagged_from_its_first_day_and_then_absorbed(engine: str) -> None:
    series = weekly(140, seed=3)
    series.iloc[80:] += 30  # a permanent step up of ~15 noise sd
    frame = detect(series, engine=engine)
    flags = flagged_positions(frame)
    assert flags and flags[0] == 80
    assert not frame["is_anomaly"].iloc[80 + 28:].any()  # four weeks on, it is the new normal


def test_slow_growth_is_followed_without_flags() -> None:
    series = weekly(280, seed=4)
    growth = np.arange(280) * 0.1  # +0.1 a day on ~100: about +36 % a year
    assert not detect(series + growth)["is_anomaly"].any()


def test_a_ramp_that_no_single_day_betrays_is_flagged_as_a_run() -> None:
    series = weekly(140, seed=4)
    ramp = np.clip(np.arange(140) - 70, 0, 21) * 1.5  # +1.5 a day for three weeks (noise sd 2)
    frame = detect(series + ramp)
    flags = frame[frame["is_anomaly"]]
    assert len(flags) and flags.index[0] <= series.index[70 + 14]
    assert (flags["direction"] == "spike").all()
    assert (flags["run"] > 1).any()


def test_holiday_event_is_masked_reported_and_not_flagged() -> None:
    series = weekly(84, seed=5)
    holiday = series.index[70]
    series.iloc[70] = 5.0  # office closed
    plain = detect(series)
    assert plain["is_anomaly"].iloc[70]
    events = pd.DataFrame({"start": [holiday], "name": ["New Year"]})
    frame = detect(series, events=events)
    assert not frame["is_anomaly"].any()
    assert frame["event"].iloc[70] == "New Year"
    assert (frame["event"].drop(holiday) == "").all()
    # masked from the fit: whatever the holiday's value, the expectations stay the same
    series.iloc[70] = 500.0
    other = detect(series, events=events)
    pd.testing.assert_series_equal(frame["expected"], other["expected"])
    pd.testing.assert_series_equal(frame["score"].drop(holiday), other["score"].drop(holiday))


def test_zero_inflated_counts_do_not_flag_small_blips() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    values = np.zeros(84)
    values[[10, 33, 50]] = 1.0
    values[-1] = 2.0  # 0 -> 2 on a series that is mostly zero
    frame = detect(pd.Series(values, index=idx), kind="count")
    assert not frame["is_anomaly"].any()
    values[-1] = 12.0
    assert detect(pd.Series(values, index=idx), kind="count")["is_anomaly"].iloc[-1]


def test_nans_are_never_flagged_and_do_not_disturb_the_rest() -> None:
    series = weekly(84, seed=6)
    series.iloc[[40, 41, 60]] = np.nan
    frame = detect(series)
    assert frame["score"].iloc[[40, 41, 60]].isna().all()
    assert not frame["is_anomaly"].iloc[[40, 41, 60]].any()
    assert not frame["is_anomaly"].any()
    series.iloc[-1] += 40
    assert flagged_positions(detect(series)) == [83]


def test_constant_series_scores_zero_and_a_practical_step_off_it_flags() -> None:
    idx = pd.date_range("2024-01-01", periods=60, freq="D")
    flat = pd.Series(50.0, index=idx)
    frame = detect(flat)
    assert not frame["is_anomaly"].any()
    assert frame["score"].dropna().max() < 1e-6
    flat.iloc[-1] = 51.0  # 2 %: below the minimum practical effect (5 %), and a bounded score
    small = detect(flat)
    assert not small["is_anomaly"].iloc[-1]
    assert small["score"].iloc[-1] == pytest.approx(2.0, rel=0.01)  # 1 % of the level is the floor
    flat.iloc[-1] = 60.0
    big = detect(flat)
    assert big["is_anomaly"].iloc[-1]
    assert big["score"].iloc[-1] < 100  # robust standard deviations, never 1e6


def test_a_backlog_going_from_one_to_two_is_not_a_million_sigma() -> None:
    idx = pd.date_range("2024-01-01", periods=90, freq="D")
    backlog = pd.Series(1.0, index=idx)
    backlog.iloc[-1] = 2.0
    frame = detect(backlog, kind="stock")
    assert frame["score"].iloc[-1] < 2  # a stock of cases is at least Poisson-noisy
    assert not frame["is_anomaly"].iloc[-1]  # and one case is below the minimum effect (3 cases)
    counts = detect(pd.Series(np.r_[np.zeros(89), 2.0], index=idx), kind="count")
    assert counts["score"].iloc[-1] < 3 and not counts["is_anomaly"].iloc[-1]


def test_a_ratio_that_was_zero_is_judged_against_its_own_size_and_resolution() -> None:
    """A ratio (minutes, hours) whose expected value fell to exactly 0 is not scored in millions of sd: its floor
    is 1 % of the series' own typical size, and never below the resolution the caller states."""
    idx = pd.date_range("2024-01-01", periods=120, freq="D")
    rng = np.random.default_rng(5)
    was = np.r_[rng.normal(12.0, 0.3, 60), np.zeros(59), 12.0]  # handle time read 0 for two months, then 12 min
    never = np.r_[np.zeros(119), 12.0]  # a ratio that was always 0
    frame = pd.DataFrame({"was": was, "never": never}, index=idx)
    plain = score_frame(frame, kinds={"was": "ratio", "never": "ratio"})
    scored = score_frame(frame, kinds={"was": "ratio", "never": "ratio"}, resolution={"never": 0.05})
    score = dict(zip(scored.columns, scored.score[-1], strict=True))
    assert 4 < score["was"] < 1000  # abnormal, in a readable number of sd (12 / (1 % of ~6) = 200)
    assert 4 < score["never"] <= 12.0 / 0.05 + 1e-6  # at most the change in resolution steps
    assert dict(zip(plain.columns, plain.score[-1], strict=True))["never"] > 1e6  # without one: unbounded
    with pytest.raises(AnomalyInputError, match="resolution"):
        score_frame(frame, kinds={"was": "ratio"}, resolution={"was": -1.0})


def test_the_scan_applies_the_configured_minimum_effect() -> None:
    """``[detector]`` min_cases / min_change reach the scan as they reach the panel: one rule for every caller."""
    idx = pd.date_range("2024-01-01", periods=90, freq="D")
    frame = pd.DataFrame({"incoming": np.random.default_rng(2).poisson(200, 90).astype(float)}, index=idx)
    frame.iloc[-1, 0] = 340.0  # about +135 cases, +65 %
    kinds = {"incoming": "count"}
    assert scan_last(frame, kinds=kinds)["series"].tolist() == ["incoming"]
    assert scan_last(frame, kinds=kinds, min_cases=200).empty  # below a 200-case minimum
    assert scan_last(frame, kinds=kinds, min_change=0.9).empty  # and below a 90 % one


@pytest.mark.parametrize("n", [5, 32])
def test_too_short_history_says_how_many_points_are_needed(n: int) -> None:
    with pytest.raises(InsufficientHistoryError, match=rf"at least 33 points .* got {n}") as info:
        detect(weekly(n))
    assert (info.value.needed, info.value.got) == (33, n)
    assert isinstance(info.value, ValueError)


def test_minimum_history_is_accepted() -> None:
    frame = detect(weekly(min_points(7)))
    assert frame["score"].notna().sum() == 1


# ------------------------------------------------------------------------------- causal
@pytest.mark.parametrize("engine", ["stl", "fast"])
@pytest.mark.parametrize("method", ["mad", "esd"])
def test_each_point_is_scored_as_with_only_the_data_up_to_it(engine: str, method: str) -> None:
    series = weekly(120, seed=8)
    series.iloc[[50, 77, 101]] += [35, -40, 25]
    series.iloc[90:] += 15
    full = detect(series, 7, engine=engine, method=method)
    for k in (min_points(7), 51, 52, 78, 95, 102, 119):
        part = detect(series.iloc[:k], 7, engine=engine, method=method)
        assert part["score"].iloc[-1] == pytest.approx(full["score"].iloc[k - 1], rel=1e-12)
        assert part["expected"].iloc[-1] == pytest.approx(full["expected"].iloc[k - 1], rel=1e-12)
        assert part["is_anomaly"].iloc[-1] == full["is_anomaly"].iloc[k - 1]


def test_a_spike_on_the_newest_day_is_not_hidden_by_end_effects() -> None:
    series = weekly(84, seed=9)
    series.iloc[-1] += 25
    frame = detect(series)
    assert frame["expected"].iloc[-1] == pytest.approx(WEEK[series.index[-1].day_of_week], abs=4)


# ------------------------------------------------------------------------ period inference
@pytest.mark.parametrize(("freq", "periods", "expected"), [
    ("D", 60, 7),
    ("h", 24 * 10, 24),  # 10 days of hourly data: daily cycle only
    ("h", 24 * 35, 168),  # 5 weeks: weekly cycle
    ("5min", 288 * 4, 288),
    ("30min", 48 * 30, 336),
    ("W-SUN", 80, None),  # under the warm-up of a yearly cycle
    ("W-SUN", 200, 52),
    ("MS", 60, 12),
    ("YS", 30, None),
])
def test_period_is_inferred_from_the_frequency(freq: str, periods: int, expected: int | None) -> None:
    idx = pd.date_range("2020-01-01", periods=periods, freq=freq)
    assert infer_period(idx) == expected


def test_period_inference_is_recorded_in_the_config() -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 35, freq="h")
    rng = np.random.default_rng(1)
    series = pd.Series(10 + np.sin(np.arange(len(idx)) * 2 * np.pi / 24) + rng.normal(0, 0.1, len(idx)),
                       index=idx)
    config = detect(series).attrs["config"]
    assert isinstance(config, DetectorConfig)
    assert (config.period, config.period_source, config.engine, config.freq) == (168, "inferred",
                                                                                 "hw", "h")
    assert "period 168" in config.describe()
    given = detect(series, 24).attrs["config"]
    assert (given.period, given.period_source, given.engine) == (24, "given", "hw")


def test_irregular_counts_are_regularised_with_missing_days_as_zero() -> None:
    series = weekly(70, seed=2).round()
    gappy = series.drop(series.index[[20, 21, 45]])
    counts = regularize(gappy, kind="count")
    pd.testing.assert_index_equal(counts.index, series.index, check_names=False)
    assert counts.iloc[[20, 21, 45]].tolist() == [0.0, 0.0, 0.0]
    ratios = regularize(gappy, kind="ratio")
    assert ratios.iloc[[20, 21, 45]].isna().all()
    frame = detect(gappy, kind="ratio")
    assert len(frame) == 70 and frame.attrs["config"].period == 7
    assert not frame["is_anomaly"].iloc[[20, 21, 45]].any()


def test_duplicate_timestamps_are_summed_for_counts_and_averaged_otherwise() -> None:
    idx = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"])
    s = pd.Series([1.0, 3.0, 2.0, 2.0], index=idx)
    assert regularize(s, kind="count").tolist() == [4.0, 2.0, 2.0]
    assert regularize(s, kind="level").tolist() == [2.0, 2.0, 2.0]


# -------------------------------------------------------------------------------- options
def test_threshold_moves_the_flag_not_the_score() -> None:
    series = weekly()
    series.iloc[-1] += 20
    loose, strict = detect(series, threshold=3.0), detect(series, threshold=50.0)
    pd.testing.assert_series_equal(loose["score"], strict["score"])
    assert loose["is_anomaly"].iloc[-1] and not strict["is_anomaly"].iloc[-1]


def test_esd_method_flags_the_spike() -> None:
    series = weekly(84, seed=10)
    series.iloc[-1] += 40
    frame = detect(series, method="esd")
    assert frame["is_anomaly"].iloc[-1]
    assert frame["is_anomaly"].sum() <= 2
    assert frame.attrs["config"].method == "esd"


def test_detector_object_matches_the_function() -> None:
    series = weekly()
    series.iloc[-1] += 40
    det = Detector(threshold=5.0).fit(series)
    assert det.config is not None and det.config.threshold == 5.0
    pd.testing.assert_frame_equal(det.detect(), detect(series, threshold=5.0))
    pd.testing.assert_series_equal(det.score(), detect(series)["score"])


@pytest.mark.parametrize(("options", "match"), [
    ({"period": 1}, r"`period` must be >= 2, got 1"),
    ({"period": 7.5}, r"`period` must be an int or None"),
    ({"threshold": 0}, r"`threshold` must be a positive number, got 0"),
    ({"kind": "rate"}, r"`kind` must be one of .* got 'rate'"),
    ({"engine": "prophet"}, r"`engine` must be one of .* got 'prophet'"),
    ({"method": "iforest"}, r"`method` must be one of .* got 'iforest'"),
    ({"alpha": 1.5}, r"`alpha` must be in \(0, 1\), got 1.5"),
    ({"max_anoms": 0.9}, r"`max_anoms` must be in \(0, 0.5\], got 0.9"),
    ({"seasonal_cycles": 1}, r"`seasonal_cycles` must be >= 2, got 1"),
    ({"level_window": 0}, r"`level_window` must be >= 1, got 0"),
    ({"scale_window": 3}, r"`scale_window` must be >= 5, got 3"),
    ({"refit": 0}, r"`refit` must be >= 1, got 0"),
    ({"events": "2024-01-05"}, r"`events` must be a list of dates"),
    ({"events": pd.DataFrame({"when": ["2024-01-05"]})}, r"`events` frame must have a `start`"),
    ({"events": pd.DataFrame({"start": ["2024-01-05"], "end": ["2024-01-01"]})},
     r"event `end` must be >= `start`"),
])
def test_detect_validation_errors_state_the_rule(options: dict, match: str) -> None:
    with pytest.raises(AnomalyInputError, match=match):
        detect(weekly(), **options)


@pytest.mark.parametrize(("series", "match"), [
    ([1.0, 2.0], r"`series` must be a pandas Series, got list"),
    (pd.Series([1.0, 2.0]), r"`series` must have a DatetimeIndex, got RangeIndex"),
    (pd.Series(["a", "b"], index=pd.date_range("2024-01-01", periods=2)), r"must be numeric"),
    (pd.Series([1.0], index=pd.date_range("2024-01-01", periods=1)), r"at least 2 distinct"),
])
def test_detect_rejects_bad_series(series: object, match: str) -> None:
    with pytest.raises(AnomalyInputError, match=match):
        detect(series)  # type: ignore[arg-type]


def test_detector_score_without_fit_raises() -> None:
    with pytest.raises(AnomalyInputError, match=r"`Detector.fit` must be called"):
        Detector().score()


# ----------------------------------------------------------------------------------- scan
def _frame(columns: dict[object, pd.Series]) -> pd.DataFrame:
    frame = pd.DataFrame({i: s for i, s in enumerate(columns.values())})
    frame.columns = pd.Index(list(columns), tupleize_cols=False)
    return frame


def test_scan_scores_each_column_exactly_like_detect() -> None:
    a, b = weekly(84, seed=11), weekly(84, seed=12) * 30
    a.iloc[70] += 40
    b.iloc[-1] -= 1500
    result = scan(pd.DataFrame({"a": a, "b": b}), threshold=4.0)
    for sid, series in (("a", a), ("b", b)):
        ref = detect(series, 7, threshold=4.0)
        ref = ref[ref["is_anomaly"]]
        mine = result[result["series"] == sid].sort_values("day")
        assert mine["day"].tolist() == ref.index.tolist()
        np.testing.assert_allclose(mine["score"], ref["score"])
        np.testing.assert_allclose(mine["expected"], ref["expected"])


def test_scan_ranks_big_volume_moderate_surprise_above_tiny_volume_big_surprise() -> None:
    rng = np.random.default_rng(13)
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    big = pd.Series(np.round(rng.normal(4000, 40, 84)), index=idx)
    tiny = pd.Series(3.0 + rng.normal(0, 0.02, 84), index=idx)  # a very steady 3 cases a day
    big.iloc[-1] = 4000 * 1.08  # +8 % on 4,000 cases: ~8 sd
    tiny.iloc[-1] = 3 * 1.4  # +40 % on 3 cases: ~60 sd
    values = pd.DataFrame({("incoming", "site=A"): big, ("incoming", "site=B"): tiny})
    result = scan(values, volume=values)
    assert result["series"].tolist() == [("incoming", "site=A"), ("incoming", "site=B")]
    assert result["score"].iloc[1] > 5 * result["score"].iloc[0]  # B is by far the bigger surprise
    assert result["impact"].iloc[0] > 100 * result["impact"].iloc[1]
    assert result["severity"].is_monotonic_decreasing


def test_scan_uses_volume_for_ratio_series() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    rng = np.random.default_rng(14)
    rate_a = pd.Series(0.05 + rng.normal(0, 0.002, 84), index=idx)
    rate_b = pd.Series(0.05 + rng.normal(0, 0.002, 84), index=idx)
    rate_a.iloc[-1] = rate_b.iloc[-1] = 0.08
    values = pd.DataFrame({"esc_a": rate_a, "esc_b": rate_b})
    volume = pd.DataFrame({"esc_a": 5.0, "esc_b": 5000.0}, index=idx)
    result = scan(values, volume=volume, kinds={"esc_a": "ratio", "esc_b": "ratio"})
    assert result["series"].tolist() == ["esc_b", "esc_a"]


def test_scan_groups_related_flags_into_one_incident() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    cols = {
        ("incoming", "total"): weekly(84, seed=20) * 10,
        ("incoming", "workflow=copyright"): weekly(84, seed=21),
        ("backlog", "workflow=copyright"): weekly(84, seed=22),  # shares the slice
        ("aht", "vendor_site=X"): weekly(84, seed=23),  # unrelated
    }
    values = _frame({k: v.set_axis(idx) for k, v in cols.items()})
    values.iloc[70, 0] += 500
    values.iloc[70, 1] += 60
    values.iloc[71, 2] += 60  # the next day: same incident
    values.iloc[70, 3] += 60
    result = scan(values)
    incident = dict(zip(result["series"], result["incident"], strict=True))
    assert len(result) == 4
    assert incident[("incoming", "total")] == incident[("incoming", "workflow=copyright")]
    assert incident[("backlog", "workflow=copyright")] == incident[("incoming", "workflow=copyright")]
    assert incident[("aht", "vendor_site=X")] != incident[("incoming", "total")]
    assert result["incident"].iloc[0] == 1


def test_a_chain_of_daily_flags_does_not_grow_into_one_endless_incident() -> None:
    # three nested incoming series take turns to spike, one a day for two weeks: every flag is one day
    # from a related flag, so day-to-day links alone would chain all of them into a single incident
    idx = pd.date_range("2024-01-01", periods=98, freq="D")
    cols = {("incoming", "total"): weekly(98, seed=60) * 10,
            ("incoming", "workflow=copyright"): weekly(98, seed=61),
            ("incoming", "workflow=copyright|vendor_site=Manila"): weekly(98, seed=62)}
    values = _frame({k: v.set_axis(idx) for k, v in cols.items()})
    for k, pos in enumerate(range(80, 94)):
        values.iloc[pos, k % 3] += 600 if k % 3 == 0 else 60
    chained = scan(values, group_span_days=100)
    result = scan(values)
    assert len(result) == len(chained) >= 12  # the grouping changes, never the flags
    assert chained["incident"].nunique() == 1
    spans = result.groupby("incident")["day"].agg(lambda d: (d.max() - d.min()).days)
    assert spans.max() <= 6  # the default span: one week
    assert result["incident"].nunique() >= 2
    # a flag on the incident's own week still joins it
    first = result.loc[result["day"] == idx[80], "incident"].iloc[0]
    assert (result.loc[result["day"] <= idx[86], "incident"] == first).all()


def test_scan_bad_direction_halves_the_good_side() -> None:
    a, b = weekly(84, seed=30), weekly(84, seed=30)
    a.iloc[-1] += 40
    b.iloc[-1] += 40
    values = pd.DataFrame({"good_up": a, "bad_up": b})
    result = scan(values, bad_direction={"good_up": "down", "bad_up": "up"})
    assert result["series"].tolist() == ["bad_up", "good_up"]
    assert result["severity"].iloc[1] == pytest.approx(result["severity"].iloc[0] / 2)
    assert scan(values, bad_direction={"good_up": "down"}, only_bad=True)["series"].tolist() == ["bad_up"]


def test_scan_last_keeps_only_the_newest_days_with_unchanged_scores() -> None:
    a = weekly(84, seed=31)
    a.iloc[[60, 83]] += 40
    values = pd.DataFrame({"a": a})
    everything = scan(values)
    newest = scan_last(values)
    assert sorted(everything["day"].tolist()) == [a.index[60], a.index[83]]
    assert newest["day"].tolist() == [a.index[83]]
    assert newest["score"].iloc[0] == everything.loc[everything["day"] == a.index[83], "score"].iloc[0]
    assert len(scan_last(values, days=30)) == 2


def test_scan_counts_missing_days_as_zero_and_skips_events() -> None:
    a = weekly(84, seed=32).round()
    values = pd.DataFrame({"a": a}).drop(a.index[83])  # the newest day has no row ...
    values.loc[a.index[83] + pd.Timedelta(days=1), "a"] = 100.0  # ... but a later day has one
    result = scan(values, kinds={"a": "count"})
    assert result["day"].tolist() == [a.index[83]] and result["direction"].iloc[0] == "drop"
    assert scan(values, kinds={"a": "count"}, events=[a.index[83]]).empty


def test_scan_with_no_flags_returns_the_empty_frame_with_columns() -> None:
    result = scan(pd.DataFrame({"a": weekly(84, seed=33)}))
    assert result.empty
    assert {"series", "day", "score", "severity", "incident"} <= set(result.columns)


@pytest.mark.parametrize(("call", "match"), [
    (lambda v: scan(v.to_numpy()), r"`values` must be a DataFrame"),
    (lambda v: scan(v.reset_index(drop=True)), r"`values` must have a DatetimeIndex"),
    (lambda v: scan(v.iloc[::2].set_axis(pd.date_range("2024-01-01", periods=42, freq="12h"))),
     r"daily DatetimeIndex"),
    (lambda v: scan(v, kinds={"zzz": "count"}), r"name series not in `values`"),
    (lambda v: scan(v, kinds={"a": "rate"}), r"`kind` must be one of"),
    (lambda v: scan(v, bad_direction={"a": "sideways"}), r"must be 'up' or 'down'"),
    (lambda v: scan(v, volume=v[[]]), r"`volume` has no column for series"),
    (lambda v: scan(v, volume=[1]), r"`volume` must be a DataFrame"),
    (lambda v: scan(v, days=0), r"`days` must be >= 1, got 0"),
    (lambda v: scan(v, group_gap_days=-1), r"`group_gap_days` must be >= 0, got -1"),
    (lambda v: scan(v, group_span_days=-2), r"`group_span_days` must be >= 0, got -2"),
    (lambda v: scan(v, threshold=-1), r"`threshold` must be a positive number"),
    (lambda v: scan(v.iloc[:20]), r"at least 33 points .* got 20"),
])
def test_scan_validation_errors_state_the_rule(call, match: str) -> None:
    a = weekly(84, seed=34)
    a.iloc[-1] += 60  # so that checks made after scoring are reached too
    with pytest.raises(AnomalyInputError, match=match):
        call(pd.DataFrame({"a": a}))


# ------------------------------------------------------------------ scan: scope, shares, speed path
def test_scan_of_the_newest_days_scores_exactly_as_the_full_history() -> None:
    rng = np.random.default_rng(40)
    idx = pd.date_range("2024-01-01", periods=200, freq="D")
    values = pd.DataFrame({f"s{i}": weekly(200, seed=40 + i).to_numpy() * (i + 1) for i in range(6)}, index=idx)
    values.iloc[rng.integers(0, 200, 15), 2] = np.nan
    for day in (150, 185, 199):
        values.iloc[day, day % 6] += 400
    full = scan(values, threshold=3.0, events=[idx[170]])
    for days in (1, 20, 60):
        part = scan(values, threshold=3.0, events=[idx[170]], days=days)
        ref = full[full["day"] > idx[-1 - days]].sort_values(["day", "series"]).reset_index(drop=True)
        mine = part.sort_values(["day", "series"]).reset_index(drop=True)
        assert len(mine) > 0
        pd.testing.assert_frame_equal(mine.drop(columns=["incident"]), ref.drop(columns=["incident"]))


def test_scoped_events_excuse_only_the_series_they_concern() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    cols = {("solved", "vendor_site=Manila"): weekly(84, seed=41),
            ("solved", "vendor_site=Dublin"): weekly(84, seed=42),
            ("solved", "all"): weekly(84, seed=43) * 2}
    values = _frame({k: v.set_axis(idx) for k, v in cols.items()})
    values.iloc[80] -= 60  # every series drops on the same day
    holiday = pd.DataFrame({"day": [idx[80]], "name": ["PH day"], "vendor_site": ["Manila"]})
    flagged = set(scan(values, events=holiday)["series"])
    # Manila's holiday excuses Manila only: never Dublin, and never the company total
    assert flagged == {("solved", "vendor_site=Dublin"), ("solved", "all")}
    assert set(scan(values)["series"]) == set(cols)
    frame = detect(values[("solved", "vendor_site=Manila")], events=holiday)
    assert frame["event"].iloc[80] == "PH day at Manila" and not frame["is_anomaly"].iloc[80]


def test_events_for_keeps_unscoped_and_matching_rows() -> None:
    ev = pd.DataFrame({"start": ["2024-01-01"] * 3, "name": ["a", "b", "c"],
                       "vendor_site": [None, "Manila", "Dublin"], "workflow": [None, None, "copyright"]})
    assert events_for(ev, {"vendor_site": "Manila"})["name"].tolist() == ["a", "b"]
    assert events_for(ev, {"workflow": "trademark"})["name"].tolist() == ["a"]
    assert events_for(ev, {"vendor_site": "Dublin", "workflow": "copyright"})["name"].tolist() == ["a", "c"]
    assert events_for(ev, {})["name"].tolist() == ["a"]  # the total: only what applies everywhere
    assert events_for([pd.Timestamp("2024-01-01")], {"vendor_site": "X"}) == [pd.Timestamp("2024-01-01")]


def test_share_series_on_few_cases_are_not_flagged_for_one_case() -> None:
    rng = np.random.default_rng(44)
    idx = pd.date_range("2024-01-01", periods=120, freq="D")
    n = pd.Series(rng.integers(2, 6, 120).astype(float), index=idx)
    escalated = rng.binomial(n.astype(int), 0.03)
    rate = pd.Series(100.0 * escalated / n, index=idx)
    rate.iloc[-1], n.iloc[-1] = 100.0 / 3, 3.0  # one escalation out of three cases
    values, volume = pd.DataFrame({"esc": rate}), pd.DataFrame({"esc": n})
    assert scan(values, volume=volume, kinds={"esc": "ratio"}, days=1)["day"].tolist() == [idx[-1]]
    assert scan(values, volume=volume, kinds={"esc": "share"}, days=1).empty
    big = pd.DataFrame({"esc": 2000.0}, index=idx)  # the same jump on 2,000 cases is real
    steady = pd.DataFrame({"esc": 3.0 + rng.normal(0, 0.3, 120)}, index=idx)
    steady.iloc[-1] = 100.0 / 3
    assert scan(steady, volume=big, kinds={"esc": "share"}, days=1)["day"].tolist() == [idx[-1]]
    framed = detect(rate, 7, kind="share", engine="fast", volume=n)
    assert not framed["is_anomaly"].iloc[-1]


def test_impact_of_a_rate_never_exceeds_its_cases() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    rate = pd.Series(0.01 + np.random.default_rng(45).normal(0, 0.001, 84), index=idx)
    rate.iloc[-1] = 33.0
    result = scan(pd.DataFrame({"r": rate}), volume=pd.DataFrame({"r": 3.0}, index=idx), kinds={"r": "ratio"})
    assert result["impact"].iloc[0] == pytest.approx(3.0)


def test_incidents_join_nested_slices_not_siblings_or_unrelated_totals() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    cols = {
        ("incoming", "workflow=copyright|vendor_site=Manila"): weekly(84, seed=50),
        ("incoming", "workflow=copyright|vendor_site=Dublin"): weekly(84, seed=51),  # sibling
        ("backlog", "vendor_site=Manila"): weekly(84, seed=52),  # contains the first, other KPI
        ("aht", "all"): weekly(84, seed=53),  # a total of another KPI
    }
    values = _frame({k: v.set_axis(idx) for k, v in cols.items()})
    values.iloc[75] += 60
    incident = dict(zip(*scan(values)[["series", "incident"]].T.to_numpy(), strict=True))
    keys = list(cols)
    assert incident[keys[0]] == incident[keys[2]]
    assert incident[keys[1]] != incident[keys[0]]
    assert incident[keys[3]] not in (incident[keys[0]], incident[keys[1]])


@pytest.mark.parametrize(("rows", "window", "min_periods", "start"),
                         [(200, 56, 28, 0), (200, 5, 5, 40), (40, 56, 10, 0), (10, 56, 1, 0), (3, 5, 1, 0),
                          (60, 7, 7, 59)])
@pytest.mark.parametrize("how", ["median", "mean"])
def test_the_vectorised_trailing_window_equals_pandas_rolling(rows, window, min_periods, start, how):
    from metrics.anomalies import _rolling

    rng = np.random.default_rng(rows + window)
    a = rng.normal(size=(rows, 12))
    a[rng.random(a.shape) < 0.2] = np.nan
    want = np.full(a.shape, np.nan)
    want[start:] = getattr(pd.DataFrame(a[start:]).shift(1).rolling(window, min_periods=min_periods), how)().to_numpy()
    np.testing.assert_allclose(_rolling(a, window, how, min_periods, start), want, rtol=1e-9, atol=1e-12)


def _nested(spike_at: dict[str, float], seed: int = 70) -> pd.DataFrame:
    """incoming for the total, workflow a, and a at sites X, Y, Z (the total = a + 200 of other work)."""
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    sites = {s: weekly(84, seed=seed + i).set_axis(idx) for i, s in enumerate("XYZ")}
    for s, extra in spike_at.items():
        sites[s].iloc[-1] += extra
    wf = sum(sites.values())
    cols = {("incoming", "all"): wf + 200.0, ("incoming", "workflow=a"): wf}
    cols.update({("incoming", f"workflow=a|site={s}"): v for s, v in sites.items()})
    return _frame(cols)


def test_an_incident_is_named_after_the_slice_that_explains_it() -> None:
    one_site = scan(_nested({"X": 120.0}), kinds=None)
    lead = one_site[one_site["lead"]]
    assert len(lead) == 1 and one_site["incident"].nunique() == 1
    assert lead["series"].iloc[0] == ("incoming", "workflow=a|site=X")  # the site carries the whole change
    assert one_site["series"].iloc[0] == lead["series"].iloc[0]  # the lead comes first
    assert lead["related"].iloc[0] == len(one_site) - 1 >= 2
    every_site = scan(_nested({"X": 60.0, "Y": 60.0, "Z": 60.0}))
    lead = every_site[every_site["lead"]]
    assert len(lead) == 1 and lead["series"].iloc[0] == ("incoming", "workflow=a")  # a cause at every site
    assert lead["incident_severity"].iloc[0] == every_site["severity"].max()


def test_a_flow_names_the_incident_it_feeds() -> None:
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    values = _frame({("backlog", "site=X"): weekly(84, seed=80).set_axis(idx) * 3,
                     ("incoming", "site=X"): weekly(84, seed=81).set_axis(idx)})
    values.iloc[-1, 0] += 400  # the backlog jumps far more (in sd) than the incoming that fed it
    values.iloc[-1, 1] += 60
    ranked = scan(values, cause_order=["incoming", "solved", "backlog"])
    assert ranked["incident"].nunique() == 1
    assert ranked.loc[ranked["lead"], "kpi"].tolist() == ["incoming"]
    assert ranked["severity"].iloc[1] > ranked["severity"].iloc[0]  # named by its cause, not its loudest echo


def test_the_minimum_practical_effect_is_a_setting_of_flag_and_band() -> None:
    rng = np.random.default_rng(90)
    idx = pd.date_range("2024-01-01", periods=84, freq="D")
    series = pd.Series(rng.poisson(100, 84).astype(float), index=idx)
    series.iloc[-1] += 60  # ~6 Poisson sd, 60 cases, +60 %
    assert detect(series, kind="count")["is_anomaly"].iloc[-1]
    strict = detect(series, kind="count", min_cases=80)
    assert not strict["is_anomaly"].iloc[-1]
    assert strict["upper"].iloc[-1] >= strict["expected"].iloc[-1] + 80  # the band says where "abnormal" starts
    assert not detect(series, kind="count", min_change=0.9)["is_anomaly"].iloc[-1]
    frame = score_frame(series.to_frame("s"), kinds={"s": "count"}, min_cases=80)
    assert not frame.flagged[-1, 0] and frame.upper[-1, 0] == strict["upper"].iloc[-1]


def test_an_exact_event_masks_its_own_slice_and_kpi_only():
    from metrics.events import events_for

    ev = pd.DataFrame({"start": pd.to_datetime(["2026-06-30"] * 3), "name": ["manila note", "total note", "csv"],
                       "workflow": [None, None, None], "vendor_site": ["Manila", None, "Manila"],
                       "kpi": ["incoming", None, None], "exact": [True, True, None]})
    names = lambda slice_, kpi=None: events_for(ev, slice_, kpi)["name"].tolist()  # noqa: E731
    assert names({"vendor_site": "Manila"}, "incoming") == ["manila note", "csv"]
    assert names({"vendor_site": "Manila"}, "sla_attainment") == ["csv"]            # its KPI only
    assert names({"vendor_site": "Manila", "workflow": "copyright"}, "incoming") == ["csv"]  # not the slices inside
    assert names({}, "incoming") == ["total note"]                                   # nor the total around it
    assert names({"workflow": "copyright"}, "incoming") == []
    assert names({"vendor_site": "Manila"}) == ["manila note", "csv"]                # no KPI asked: every row
