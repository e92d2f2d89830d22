"""Same-weekday baselines per leaf, allocated down so that the leaves add up to the expected total."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.baselines import allocate, leaf_baseline, same_weekdays

DAY = date(2026, 6, 30)  # a Tuesday


def weekly_volume(values: dict[str, list[float]], *, day: date = DAY) -> pd.DataFrame:
    """Daily rows per leaf; each list gives the leaf's value on the same weekday, oldest first, ending on ``day``.

    Other days carry a large value, so a baseline that read them would show.
    """
    n = len(next(iter(values.values())))
    days = pd.date_range(end=pd.Timestamp(day), periods=7 * (n - 1) + 1, freq="D", name="day")
    frames = []
    for leaf, series in values.items():
        col = np.full(len(days), 1000.0)
        col[::7] = series
        frames.append(pd.DataFrame({"workflow": leaf, "incoming": col}, index=days))
    return pd.concat(frames).sort_index(kind="stable")


def test_same_weekdays_go_back_one_week_at_a_time():
    assert same_weekdays(DAY, weeks=3) == [date(2026, 6, 23), date(2026, 6, 16), date(2026, 6, 9)]
    with pytest.raises(ValueError, match="`weeks` must be >= 1, got 0"):
        same_weekdays(DAY, weeks=0)


def test_allocate_splits_in_proportion_and_adds_up():
    parts = allocate(90.0, np.array([1.0, 2.0, 0.0]))
    np.testing.assert_allclose(parts, [30.0, 60.0, 0.0])
    np.testing.assert_allclose(allocate(10.0, np.zeros(2), fallback=np.array([3.0, 1.0])), [7.5, 2.5])
    np.testing.assert_allclose(allocate(10.0, np.zeros(4)), [2.5] * 4)
    with pytest.raises(ValueError, match="`total` must be finite and >= 0"):
        allocate(-1.0, np.ones(2))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        allocate(1.0, np.array([1.0, -1.0]))


def test_leaf_baseline_is_the_same_weekday_median_rescaled_to_the_total():
    history = {"a": [10, 12, 11, 30, 9, 10, 13, 11], "b": [0, 0, 1, 0, 0, 2, 0, 1], "c": [5, 4, 6, 5, 5, 4, 6, 5]}
    volume = weekly_volume({k: [*v, 99.0] for k, v in history.items()})
    leaves = leaf_baseline(volume, DAY, by=["workflow"], measures=["incoming"], weeks=8).set_index("workflow")
    raw = {k: float(np.median(v)) for k, v in history.items()}
    total = float(np.median(np.sum(list(history.values()), axis=0)))
    pd.testing.assert_series_equal(leaves["incoming_baseline"], pd.Series(raw, name="incoming_baseline"),
                                   check_index=False, check_names=False)
    assert leaves["incoming_expected"].sum() == pytest.approx(total)
    expected = {k: total * r / sum(raw.values()) for k, r in raw.items()}
    for k, v in expected.items():
        assert leaves.loc[k, "incoming_expected"] == pytest.approx(v)
    assert (leaves["incoming"] == 99.0).all()
    assert leaves.attrs["weeks"][0] == date(2026, 6, 23) and len(leaves.attrs["weeks"]) == 8


def test_a_given_total_is_what_the_leaves_add_up_to():
    volume = weekly_volume({"a": [10.0] * 9, "b": [30.0] * 9})
    leaves = leaf_baseline(volume, DAY, by=["workflow"], measures=["incoming"], totals={"incoming": 60.0})
    np.testing.assert_allclose(leaves["incoming_expected"], [15.0, 45.0])
    assert leaves.attrs["totals"] == {"incoming": 60.0}


def test_a_leaf_seen_only_today_has_no_expected_volume():
    volume = weekly_volume({"a": [10.0] * 9, "b": [0.0] * 8 + [7.0]})
    leaves = leaf_baseline(volume, DAY, by=["workflow"], measures=["incoming"]).set_index("workflow")
    assert leaves.loc["b", "incoming_expected"] == 0.0
    assert leaves.loc["b", "incoming"] == 7.0


def test_baseline_input_errors_state_the_rule():
    volume = weekly_volume({"a": [1.0] * 3})
    with pytest.raises(ValueError, match=r"at least 4 previous same weekdays .* the data has 2"):
        leaf_baseline(volume, DAY, by=["workflow"], measures=["incoming"])
    with pytest.raises(ValueError, match="outside the data"):
        leaf_baseline(volume, date(2026, 7, 30), by=["workflow"], measures=["incoming"], min_weeks=1)
    with pytest.raises(ValueError, match="lacks column"):
        leaf_baseline(volume, DAY, by=["workflow"], measures=["solved"], min_weeks=1)
    with pytest.raises(ValueError, match="`weeks` must be >= `min_weeks`"):
        leaf_baseline(volume, DAY, by=["workflow"], measures=["incoming"], weeks=2, min_weeks=3)
