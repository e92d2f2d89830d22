"""The product's expected values are statsmodels' Holt-Winters one-step predictions (on the cleaned series)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from metrics.anomalies import detect, score_frame
from metrics.holt_winters import ALPHA, GAMMA, smooth

N = 200


def _series(seed: int, *, level: float = 300.0, additive: bool = False) -> np.ndarray:
    """Counts with a weekly pattern that scales with a growing level (or, ``additive``, a steady one)."""
    rng = np.random.default_rng(seed)
    week = np.array([1.1, 1.05, 1.0, 1.0, 0.95, 0.4, 0.5])
    t = np.arange(N)
    mu = level + level * (week[t % 7] - 1) if additive else level * week[t % 7] * (1 + 0.002 * t)
    y = rng.negative_binomial(60, 60 / (60 + mu)).astype(float)
    y[[50, 51]] *= 2.5          # a two-day spike: cleaned, never learned
    y[90] = y[90] * 0.2          # a drop
    return y


def _floor(t, expected, cols):
    return np.sqrt(np.maximum(expected, 1.0))


def _statsmodels(y: np.ndarray, fit, j: int, *, mul: bool, rows: int) -> np.ndarray:
    model = ExponentialSmoothing(
        fit.cleaned[:rows, j], seasonal="mul" if mul else "add", seasonal_periods=7,
        initialization_method="known", initial_level=float(fit.initial_level[j]),
        initial_seasonal=fit.initial_seasonal[:, j])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(smoothing_level=ALPHA, smoothing_seasonal=GAMMA, optimized=False)
    return np.asarray(res.fittedvalues)


@pytest.mark.parametrize("mul", [True, False])
def test_expected_values_are_statsmodels_fitted_values_on_the_cleaned_series(mul: bool) -> None:
    y = np.column_stack([_series(s, additive=not mul) for s in range(4)])
    y[120, 1] = np.nan                     # a missing day
    usable = ~np.isnan(y)
    usable[140:143, 2] = False             # a known event: it updates nothing
    fit = smooth(y, period=7, usable=usable, mul=np.full(4, mul), floor=_floor)
    assert not fit.anchored.any()          # no confirmed shift here: one statsmodels run covers everything
    for j in range(4):
        ref = _statsmodels(y, fit, j, mul=mul, rows=N)
        np.testing.assert_allclose(fit.expected[:, j], ref, rtol=1e-9)
    # cleaning is what keeps a spike out of the state: y* is within 2 scales of the prediction there
    assert fit.cleaned[50, 0] < y[50, 0]
    assert fit.cleaned[50, 0] == pytest.approx(fit.expected[50, 0] + 2 * fit.scale[50, 0])
    np.testing.assert_allclose(fit.cleaned[140:143, 2], fit.expected[140:143, 2])


def test_a_confirmed_shift_re_anchors_the_level_and_statsmodels_holds_up_to_it() -> None:
    y = _series(9)[:, None].copy()
    y[130:] *= 2.0                         # a lasting doubling
    fit = smooth(y, period=7, usable=np.ones_like(y, dtype=bool), mul=np.array([True]), floor=_floor)
    anchors = np.flatnonzero(fit.anchored[:, 0])
    assert anchors.size and 130 < anchors[0] <= 135     # confirmed after five days beyond the clip
    a = anchors[0]
    ref = _statsmodels(y, fit, 0, mul=True, rows=a + 1)
    np.testing.assert_allclose(fit.expected[:a + 1, 0], ref, rtol=1e-9)
    # from the day after, the level stands on the new level
    assert fit.level[a + 1, 0] == pytest.approx(y[a, 0] / (fit.expected[a, 0] / fit.level[a, 0]))
    frame = detect(pd.Series(y[:, 0], index=pd.date_range("2024-01-01", periods=N)), kind="count")
    flagged = np.flatnonzero(frame["is_anomaly"].to_numpy())
    assert 130 in flagged and not (flagged > 140).any()


def test_an_outage_is_never_learned_as_the_new_level() -> None:
    y = _series(3)[:, None].copy()
    y[150:160] = 0.0
    idx = pd.date_range("2024-01-01", periods=N)
    frame = detect(pd.Series(y[:, 0], index=idx), kind="count")
    assert frame["is_anomaly"].iloc[150:160].all()      # every day of the outage is abnormal
    assert (frame["direction"].iloc[150:160] == "drop").all()


def test_the_frame_scorer_and_the_single_series_detector_agree() -> None:
    idx = pd.date_range("2024-01-01", periods=N)
    values = pd.DataFrame({f"s{j}": _series(20 + j) for j in range(3)}, index=idx)
    scores = score_frame(values, kinds={c: "count" for c in values.columns})
    for c in values.columns:
        ref = detect(values[c], 7, kind="count")
        mine = scores.frame(c)
        for col in ("expected", "lower", "upper", "score", "is_anomaly", "run"):
            np.testing.assert_array_equal(mine[col].to_numpy(), ref[col].to_numpy())


@pytest.mark.parametrize("case", ["zeros", "constant", "gaps", "duplicates", "irregular"])
def test_awkward_input_follows_the_documented_rule(case: str) -> None:
    idx = pd.date_range("2024-01-01", periods=90, freq="D")
    if case == "zeros":
        s = pd.Series(0.0, index=idx)
    elif case == "constant":
        s = pd.Series(7.0, index=idx)
    elif case == "gaps":
        s = pd.Series(np.r_[np.full(40, 20.0), np.full(50, 20.0)], index=idx).drop(idx[40:45])
    elif case == "duplicates":  # two rows on one day are summed for a count
        s = pd.concat([pd.Series(20.0, index=idx), pd.Series([5.0], index=[idx[60]])])
    else:  # irregular timestamps inside each day: binned to days
        s = pd.Series(20.0, index=idx + pd.to_timedelta(np.arange(90) % 5, unit="h"))
    frame = detect(s, kind="count", freq="D")
    assert len(frame) == 90 and frame.index.equals(idx)  # one row per day, from the first day
    assert np.isfinite(frame["score"].dropna()).all() and frame["score"].dropna().max() < 100
    if case == "gaps":  # absent days of a count are zero cases: an outage, flagged
        assert frame["is_anomaly"].iloc[40:45].all()
    elif case == "duplicates":
        assert frame["observed"].iloc[60] == 25.0
    else:
        assert not frame["is_anomaly"].any()
