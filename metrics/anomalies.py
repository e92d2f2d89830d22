"""Anomaly detection on regular time series and a ranked scan across many series.

Two public entry points:

* :func:`detect` scores one series (any regular frequency) and returns a frame with the
  expected value, its band, a robust score and a flag for every point.
* :func:`score_frame` scores a whole frame of daily series in one vectorised pass (the product's scored
  panel reads it); ``metrics.incidents`` turns its flags into incidents named by their cause.

How a point is judged (both entry points, default ``engine="hw"``)
--------------------------------------------------------------------
Every point is scored **causally**: the expected value for point ``t`` is built from the points before
``t`` only.  So the score of the newest point is exactly the score it will keep once more data arrives.

1. **Expected value**: statsmodels' Holt-Winters (``ExponentialSmoothing``, level + seasonal, fixed
   smoothing) one step ahead, made robust by cleaning each observation to within 2 robust standard
   deviations of its prediction before it updates the state (``metrics.holt_winters``, whose tests show
   the values equal statsmodels' ``fittedvalues`` on the cleaned series).  The weekly pattern is
   multiplicative for counts and stocks and additive for rates.  A shift confirmed by five days in a row
   beyond the clip on one side re-anchors the level (so a lasting step is flagged for about five days, then
   is the new normal); an outage (a count under a tenth of its expected value) never does.
   ``engine="stl"`` (statsmodels STL refits) and ``engine="fast"`` (a median decomposition) remain for
   comparison (``bench/bench_accuracy.py``).
2. **Scale**: the robust running standard deviation of past residuals (days beyond 2 sd do not widen
   it), never below the noise a series of its kind must have: ``sqrt(expected)`` for counts and stocks
   (Poisson: a backlog going from 1 to 2 is no surprise), the binomial ``sqrt(p (100 - p) / n)`` for a
   percentage of ``n`` cases, 1 % of the level otherwise.  So the score is a number of robust standard
   deviations, comparable across series, and never 1e6.
3. **Score**: the strongest of the day alone (``|residual| / scale``) and the runs of 2-14 days ending on it
   (:func:`run_scores`): a climb no single day betrays (a ramp, a slow drift) is judged on the same
   threshold.  ``run`` says how many days the judgment spans (1 = the day alone).
4. **Flag**: score above ``threshold`` (default 4) **and** a deviation of at least the minimum practical
   effect (:func:`min_effect`: 3 cases and 5 % for counts, 5 % for rates, 3 cases' worth for a percentage),
   outside known events, missing observations and the warm-up.  ``lower``/``upper`` are
   ``expected ± max(threshold x scale, minimum effect)``: a day judged alone is flagged exactly when it
   lies outside them.

Regularisation (the documented missing-value rule, the output index) and period inference are
``metrics.series_grid``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import bottleneck as bn
import numpy as np
import pandas as pd
from scipy import stats

from metrics.errors import AnomalyInputError, InsufficientHistoryError
from metrics.events import event_labels, scoped_event_labels
from metrics.holt_winters import smooth
from metrics.series_grid import check_kind, infer_period, min_points, regularize, warmup_points

__all__ = [
    "AnomalyInputError",
    "Detector",
    "DetectorConfig",
    "InsufficientHistoryError",
    "detect",
    "infer_period",
    "min_effect",
    "min_points",
    "regularize",
    "run_scores",
    "score_frame",
]

_ENGINES = ("hw", "auto", "stl", "fast")
_METHODS = ("mad", "esd")
_MAD_TO_SIGMA = 1.4826
_MEANABS_TO_SIGMA = 1.2533
_STL_MAX_PERIOD = 52
MIN_CASES = 3.0     # the minimum practical effect: nothing is abnormal less than 3 cases away from expected …
MIN_CHANGE = 0.05   # … or less than 5 % away from it


@dataclass(frozen=True)
class DetectorConfig:
    """The resolved configuration a series was judged with (``frame.attrs["config"]``).

    Attributes mirror the options of :func:`detect` after defaults and inference were
    applied, plus what was derived from the data (``freq``, ``n_points``, ``warmup``).
    """

    period: int | None
    period_source: str
    freq: str
    kind: str
    engine: str
    method: str
    threshold: float
    alpha: float
    max_anoms: float
    seasonal_cycles: int
    level_window: int
    scale_window: int
    refit: int
    robust: bool
    warmup: int
    n_points: int
    n_events: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One sentence the UI can show next to a flagged point."""
        seas = f"period {self.period} ({self.engine})" if self.period else "no seasonality"
        rule = (f"score > {self.threshold:g}" if self.method == "mad"
                else f"generalized ESD, alpha {self.alpha:g}")
        if self.engine == "hw":
            return (f"Expected = robust Holt-Winters one step ahead (statsmodels' level + seasonal, {seas}), "
                    f"from the data before each point; score = robust standard deviations of the day, or of "
                    f"the run of days ending on it; flagged when {rule} and the change reaches the minimum "
                    f"practical effect.")
        return (f"Expected = median level of the last {self.level_window} points + seasonal "
                f"pattern ({seas}), fitted on data before each point; score = |residual| / "
                f"robust scale of the last {self.scale_window} residuals; flagged when {rule}.")

    def as_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict (for display or JSON)."""
        return asdict(self)


# --------------------------------------------------------------------------- validation


def _check_options(*, period: int | None, threshold: float, engine: str, method: str,
                   alpha: float, max_anoms: float, seasonal_cycles: int, level_window: int,
                   scale_window: int | None, refit: int | None) -> None:
    if period is not None and (isinstance(period, bool) or not isinstance(period, (int, np.integer))):
        raise AnomalyInputError(f"`period` must be an int or None, got {period!r}")
    if period is not None and period < 2:
        raise AnomalyInputError(f"`period` must be >= 2, got {period}")
    if not np.isfinite(threshold) or threshold <= 0:
        raise AnomalyInputError(f"`threshold` must be a positive number, got {threshold}")
    if engine not in _ENGINES:
        raise AnomalyInputError(f"`engine` must be one of {list(_ENGINES)}, got {engine!r}")
    if method not in _METHODS:
        raise AnomalyInputError(f"`method` must be one of {list(_METHODS)}, got {method!r}")
    if not 0 < alpha < 1:
        raise AnomalyInputError(f"`alpha` must be in (0, 1), got {alpha}")
    if not 0 < max_anoms <= 0.5:
        raise AnomalyInputError(f"`max_anoms` must be in (0, 0.5], got {max_anoms}")
    if seasonal_cycles < 2:
        raise AnomalyInputError(f"`seasonal_cycles` must be >= 2, got {seasonal_cycles}")
    if level_window < 1:
        raise AnomalyInputError(f"`level_window` must be >= 1, got {level_window}")
    if scale_window is not None and scale_window < 5:
        raise AnomalyInputError(f"`scale_window` must be >= 5, got {scale_window}")
    if refit is not None and refit < 1:
        raise AnomalyInputError(f"`refit` must be >= 1, got {refit}")


# ------------------------------------------------------------------------------ engine
def _causal_fill(y: np.ndarray, period: int | None) -> np.ndarray:
    """Fill NaNs (columns of ``y``) with data before them only: one period earlier, else last value."""
    out = y.copy()
    if period:
        for _ in range(4):
            miss = np.isnan(out)
            if not miss.any():
                break
            shifted = np.full_like(out, np.nan)
            shifted[period:] = out[:-period]
            out = np.where(miss, shifted, out)
    if np.isnan(out).any():
        out = pd.DataFrame(out).ffill().bfill().to_numpy()
    return np.nan_to_num(out, nan=0.0)


def _lagged(a: np.ndarray, lag: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    if lag < len(a):
        out[lag:] = a[: len(a) - lag]
    return out


def _seasonal_fast(yf: np.ndarray, period: int, cycles: int, start: int = 0) -> np.ndarray:
    """Causal seasonal estimate: median of same-phase detrended values over past cycles.

    Rows before ``start`` are left NaN (a scan that reports only its newest days needs no more).
    """
    n = yf.shape[0]
    h = period // 2
    csum = np.vstack([np.zeros((1, yf.shape[1])), np.cumsum(yf, axis=0)])
    ma = np.full_like(yf, np.nan)
    j = np.arange(h, n - h)
    if period % 2:  # odd: plain centred mean over j-h..j+h
        ma[j] = (csum[j + h + 1] - csum[j - h]) / period
    else:  # even: 2 x p moving average, half weights at both ends keep it centred
        inner = csum[j + h] - csum[j - h + 1]
        ma[j] = (inner + 0.5 * (yf[j - h] + yf[j + h])) / period
    detr = yf - ma  # defined at j, uses data up to j + h < j + period
    lags = np.stack([_lagged(detr, k * period)[start:] for k in range(1, cycles + 1)])
    valid = np.sum(~np.isnan(lags), axis=0)
    part = np.full(lags.shape[1:], np.nan)
    # np.median is ~10x faster than np.nanmedian; only the warm-up rows hold NaN lags
    full = (valid == cycles).all(axis=1)
    if full.any():
        part[full] = np.median(lags[:, full], axis=0)
    if (~full).any():
        with warnings.catch_warnings():  # all-NaN slices are the warm-up, handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            part[~full] = np.nanmedian(lags[:, ~full], axis=0)
    seas = np.full_like(yf, np.nan)
    seas[start:] = np.where(valid >= 2, part, np.nan)
    return seas


def _seasonal_stl(yf: np.ndarray, period: int, cycles: int, refit: int,
                  robust: bool) -> np.ndarray:
    """Causal seasonal estimate from statsmodels STL refitted every ``refit`` points."""
    from statsmodels.tsa.seasonal import STL

    n = yf.shape[0]
    seas = np.full(n, np.nan)
    first = 2 * period
    start = -(-first // refit) * refit  # refit points are multiples of `refit` from the start
    for t0 in range(start, n, refit):
        lo = max(0, t0 - cycles * period)
        window = yf[lo:t0]
        fit = STL(window, period=period, robust=robust).fit()
        # STL's own seasonal is noisy in its last cycle (the loess end effect); the median of
        # the STL-detrended cycles is both steadier and robust to past anomalies
        detr = window - np.asarray(fit.trend)
        full = (len(detr) // period) * period
        pattern = np.median(detr[len(detr) - full:].reshape(-1, period), axis=0)
        last = pattern - pattern.mean()  # phase of index t0 - period + i
        t = np.arange(t0, min(n, t0 + refit))
        seas[t] = last[(t - (t0 - period)) % period]
    return seas[:, None]


def _rolling(a: np.ndarray, window: int, how: str, min_periods: int, start: int = 0) -> np.ndarray:
    """Trailing window statistic over the rows *before* each row (so causal).

    Only rows from ``start`` on are computed (earlier rows NaN); a row's value is exact once
    its whole window lies at or after ``start``.
    """
    out = np.full(a.shape, np.nan)
    if a.shape[0] - start < 2:
        return out
    # bottleneck's moving windows run over every column at once (pandas' rolling loops over the columns:
    # ~70 µs each, seconds for 10,000 series); NaNs are skipped and need ``min_periods`` values, as in pandas
    move = {"median": bn.move_median, "mean": bn.move_mean}[how]
    body = a[start:-1]
    out[start + 1:] = move(body, window=min(window, len(body)), min_count=min(min_periods, len(body)), axis=0) \
        if window <= len(body) else _short_window(body, window, how, min_periods)
    return out


def _short_window(body: np.ndarray, window: int, how: str, min_periods: int) -> np.ndarray:
    """A trailing window longer than the data: every row sees all rows before it (and itself)."""
    frame = pd.DataFrame(body).rolling(window, min_periods=min_periods)
    return getattr(frame, how)().to_numpy()


def _score_core(y: np.ndarray, *, period: int | None, engine: str, cycles: int,
                level_window: int, scale_window: int, refit: int, robust: bool,
                count: np.ndarray, masked: np.ndarray, report_from: int = 0,
                share_n: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Causal expected value, residual and scale for each column of ``y`` (n x s).

    Only rows from ``report_from`` on are guaranteed (the scan of the newest days computes
    the level and scale on the rows those days depend on, not on the whole history);
    the values there are identical to a full computation.
    """
    warm = warmup_points(period, level_window)
    fit_input = np.where(masked, np.nan, y)
    yf = _causal_fill(fit_input, period)
    # a reported row needs residuals scale_window back, each needing level_window levels
    r0 = max(0, report_from - scale_window - level_window - 1) if engine != "stl" else 0
    if period:
        if engine == "stl":
            seas = _seasonal_stl(yf[:, 0], period, cycles, refit, robust)
        else:
            seas = _seasonal_fast(yf, period, cycles, start=r0)
    else:
        seas = np.zeros_like(yf)
    deseas = yf - np.nan_to_num(seas)
    level = _rolling(deseas, level_window, "median", level_window, start=r0)
    expected = level + seas
    resid = y - expected
    ok_hist = np.where(masked | np.isnan(resid), np.nan, resid)
    absr = np.abs(ok_hist)
    min_hist = min(max(period or 0, 10), 28)
    mad = _MAD_TO_SIGMA * _rolling(absr, scale_window, "median", min_hist, start=r0)
    meanabs = _MEANABS_TO_SIGMA * _rolling(absr, scale_window, "mean", min_hist, start=r0)
    scale = np.where(mad > 0, mad, meanabs)
    typical = np.abs(_rolling(yf, scale_window, "median", 1, start=r0))
    floor = 1e-6 * np.maximum(np.nan_to_num(typical), 1.0)
    poisson = np.sqrt(np.maximum(np.nan_to_num(expected), 1.0))
    floor = np.where(count[None, :], np.maximum(floor, poisson), floor)
    if share_n is not None:
        # a percentage of n cases cannot be steadier than a binomial: sd = sqrt(p (100 - p) / n),
        # p the recent mean (add-one smoothed, so a rate that is usually 0 % still has a floor)
        p_mean = _rolling(yf, scale_window, "mean", 1, start=r0)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_t = np.where(share_n > 0, share_n, np.nan)
            p_adj = (np.clip(np.nan_to_num(p_mean), 0, 100) * n_t + 100.0) / (n_t + 2.0)
            binom = np.sqrt(p_adj * (100.0 - p_adj) / n_t)
        floor = np.where(np.isnan(binom), floor, np.maximum(floor, binom))
    scale = np.maximum(np.nan_to_num(scale, nan=np.inf), floor)
    scale[np.isinf(scale)] = np.nan
    expected[:warm] = np.nan
    score = np.abs(resid) / scale
    score[:warm] = np.nan
    return {"expected": expected, "trend": level, "seasonal": seas, "resid": resid,
            "scale": scale, "score": score}


def _noise_floor(kinds: np.ndarray, share_n: np.ndarray | None, typical: np.ndarray,
                 resolution: np.ndarray):
    """The smallest scale a day may be judged with, by kind: a count (or a stock of cases) cannot be steadier
    than Poisson (``sqrt(expected)``), a percentage of ``n`` cases than a binomial (``sqrt(p (100 - p) / n)``,
    add-one smoothed so a rate that is usually 0 % still has one), any other series (a ratio: minutes, hours, a
    score) than 1 % of its level — of the expected value, or of the series' own typical size so far
    (``typical``, day x series) when the expected value is near 0 — and than its ``resolution`` (per series,
    in its unit: half the smallest difference the product shows). A score is a number of such scales, so it
    stays comparable across series and never reaches 1e6 because a series was 0 for a while."""
    poisson = np.isin(kinds, ("count", "stock"))
    share = kinds == "share"

    def floor(t: int, expected: np.ndarray, cols: np.ndarray) -> np.ndarray:
        size = np.maximum(np.abs(expected), typical[t, cols])
        out = np.where(poisson[cols], np.sqrt(np.maximum(expected, 1.0)),
                       np.maximum(0.01 * size, resolution[cols]) + 1e-9)
        if share_n is not None and share[cols].any():
            with np.errstate(invalid="ignore", divide="ignore"):
                n_t = share_n[t, cols]
                n_t = np.where(n_t > 0, n_t, np.nan)
                p_adj = (np.clip(expected, 0, 100) * n_t + 100.0) / (n_t + 2.0)
                binom = np.sqrt(p_adj * (100.0 - p_adj) / n_t)
            out = np.where(share[cols] & ~np.isnan(binom), np.maximum(out, binom), out)
        return out

    return floor


def _typical_size(y: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Each day's mean absolute value of the series over the usable days before it (causal; 0 before any)."""
    a = np.where(usable, np.abs(np.nan_to_num(y)), 0.0)
    total = np.cumsum(a, axis=0) - a
    seen = np.cumsum(usable, axis=0) - usable
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, total / np.maximum(seen, 1), 0.0)


def _score_hw(y: np.ndarray, *, period: int | None, kinds: np.ndarray, masked: np.ndarray,
              share_n: np.ndarray | None, resolution: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Causal expected value, level, seasonal, residual and scale from robust Holt-Winters
    (``metrics.holt_winters``): multiplicative weekly pattern for counts and stocks, additive otherwise."""
    mul = np.isin(kinds, ("count", "stock")) & (np.nan_to_num(np.nanmin(np.where(np.isnan(y), 0, y), axis=0)) >= 0) \
        if y.size else np.zeros(y.shape[1], dtype=bool)
    usable = ~masked & ~np.isnan(y)
    ratio = ~np.isin(kinds, ("count", "stock"))
    typical = np.zeros(y.shape)
    if ratio.any():
        typical[:, ratio] = _typical_size(y[:, ratio], np.broadcast_to(usable, y.shape)[:, ratio])
    res = np.zeros(y.shape[1]) if resolution is None else np.asarray(resolution, dtype=float)
    fit = smooth(y, period=period, usable=usable, mul=mul, floor=_noise_floor(kinds, share_n, typical, res))
    resid = y - fit.expected
    return {"expected": fit.expected, "trend": fit.level, "seasonal": fit.seasonal, "resid": resid,
            "scale": fit.scale, "score": np.abs(resid) / fit.scale}


def _judge(y: np.ndarray, *, period: int | None, engine: str, kinds: np.ndarray, masked: np.ndarray,
           share_n: np.ndarray | None, cycles: int, level_window: int, scale_window: int, refit: int,
           robust: bool, report_from: int = 0, resolution: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The engine's causal expected value, trend, seasonal, residual, scale and score (NaN in the warm-up)."""
    if engine == "hw":
        core = _score_hw(y, period=period, kinds=kinds, masked=masked, share_n=share_n, resolution=resolution)
        warm = warmup_points(period, level_window)
        core["expected"][:warm] = np.nan
        core["score"][:warm] = np.nan
        return core
    return _score_core(y, period=period, engine=engine, cycles=cycles, level_window=level_window,
                       scale_window=scale_window, refit=refit, robust=robust, count=kinds == "count",
                       masked=masked, report_from=report_from, share_n=share_n)


RUN_WINDOWS = (2, 3, 4, 5, 7, 10, 14)  # the runs of days judged together, besides the day alone
RUN_CLIP = 3.0  # a day counts at most 3 sd in a run: one spike never makes a run abnormal


def run_scores(resid: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strongest run of days ending on each day (day x series): its score, its length (1 = the day
    alone) and its mean residual (what the minimum practical effect is checked against).

    A run of ``w`` days (``RUN_WINDOWS``) scores ``sum(clip(z, ±3)) / sqrt(w)``, ``z`` each day's residual
    in robust standard deviations: under the model it is again a standard normal, so it is judged on the
    same threshold as a single day, while ``w`` days each 2 sd off (none abnormal alone) score ``2 sqrt(w)``
    and one spike never makes the days after it a run. A run is ``w`` days in a row on one side of expected.
    Where residuals follow each other (a backlog, a solve
    capacity), the run's variance is widened by the series' own lag-1 correlation over 8 earlier weeks
    (:func:`_lag1_correlation`), so persistence alone is not abnormal. A run counts only if it deviates in the
    direction of its last day; a run crossing a known event or a missing day is not a run.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (resid / scale).astype(np.float32)  # single precision: half the memory traffic, ample for a score
    best = np.abs(z)
    length = np.ones(z.shape, dtype=np.int8)
    mean = resid.astype(np.float32)
    gap = np.isnan(z)

    def csum(a: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        return np.vstack([np.zeros((1, a.shape[1]), dtype=dtype), np.cumsum(a, axis=0, dtype=dtype)])

    zc = np.where(gap, np.float32(0), np.clip(z, -RUN_CLIP, RUN_CLIP))
    rho = _lag1_correlation(zc, gap).astype(np.float32)
    # the variance of a w-day sum is w (1 + 2 sum_{k<w} (1 - k/w) rho^k) = w (1 + 2a) - 2q + 2q rho^w with
    # a = rho / (1 - rho), q = rho / (1 - rho)^2: the parts that do not depend on w, once
    with np.errstate(invalid="ignore", divide="ignore"):
        one_2a = 1 + 2 * rho / (1 - rho)
        two_q = 2 * rho / (1 - rho) ** 2
    rho_w = np.ones_like(rho)
    power = 0
    cz = csum(zc).astype(np.float32)  # sums in double precision, differences of at most 14 rows in single
    cr = csum(np.where(gap, 0.0, resid)).astype(np.float32)
    streak = _same_side_streak(z)
    for w in RUN_WINDOWS:
        if w > z.shape[0]:
            break
        rho_w *= rho ** (w - power)
        power = w
        # views of the rows a w-day run can end on (row w - 1 on); best, length and mean are updated in place
        bv, lv, mv = best[w - 1:], length[w - 1:], mean[w - 1:]
        # residuals that follow each other (a backlog, a solve capacity) make runs by themselves: the variance
        # of their sum is widened by the series' own lag-1 correlation (in place: one temporary per window)
        sd = two_q[w - 1:] * rho_w[w - 1:]
        sd -= two_q[w - 1:]
        sd += np.float32(w) * one_2a[w - 1:]
        np.sqrt(sd, out=sd)
        abs_w = np.subtract(cz[w:], cz[:-w])
        np.abs(abs_w, out=abs_w)
        abs_w /= sd
        with np.errstate(invalid="ignore"):
            ok = streak[w - 1:] >= w  # w days in a row on one side, and a stronger case
            ok &= abs_w > bv
        np.copyto(bv, abs_w, where=ok)
        np.copyto(lv, w, where=ok)
        np.subtract(cr[w:], cr[:-w], out=abs_w)
        abs_w /= np.float32(w)
        np.copyto(mv, abs_w, where=ok)
    return best.astype(np.float64), length, mean.astype(np.float64)


def _same_side_streak(z: np.ndarray) -> np.ndarray:
    """How many days in a row, ending on each day, lie strictly on the day's side of expected (0 if unknown)."""
    side = np.nan_to_num(np.sign(z)).astype(np.int8)
    out = np.zeros(z.shape, dtype=np.int16)
    prev_side = np.zeros(z.shape[1], dtype=np.int8)
    prev = np.zeros(z.shape[1], dtype=np.int16)
    for t in range(z.shape[0]):
        now = side[t]
        prev = np.where(now == 0, 0, np.where(now == prev_side, prev + 1, 1)).astype(np.int16)
        out[t] = prev
        prev_side = now
    return out


def _lag1_correlation(zc: np.ndarray, gap: np.ndarray, window: int = 56) -> np.ndarray:
    """Each day's lag-1 correlation of the clipped scores over the ``window`` days that end two weeks before
    it (causal, and outside any run the day ends), clipped to [0, 0.9]; 0 until there are two weeks of pairs."""
    n, lag = zc.shape[0], max(RUN_WINDOWS)
    out = np.zeros(zc.shape, dtype=np.float32)
    if n <= lag + 1:
        return out
    ok = ~(gap[1:] | gap[:-1])  # pair (t - 1, t), stored at row t - 1

    m = n - lag - 1  # rows lag + 1 .. n - 1 get a value

    def window_sums(a: np.ndarray) -> np.ndarray:
        """For each row t >= lag + 1: the sum of the ``window`` pairs stored in rows [t - lag - 1 - window,
        t - lag - 2], i.e. whose later day is at least ``lag + 1`` days before t."""
        c = np.cumsum(a[:m], axis=0, dtype=np.float64)  # c[k]: pairs in rows 0..k
        out = np.empty_like(c)  # out[k] = c[k - 1] - c[k - 1 - window]: pairs in rows [k - window, k - 1]
        out[0] = 0.0
        out[1:] = c[:-1]
        if m > window + 1:
            out[window + 1:] -= c[:m - window - 1]
        return out

    num = window_sums(np.where(ok, zc[1:] * zc[:-1], 0.0))
    den = window_sums(np.where(ok, zc[1:] ** 2, 0.0))
    n_pairs = window_sums(ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(n_pairs >= 14, np.clip(np.nan_to_num(num / den), 0.0, 0.9), 0.0)
    out[lag + 1:] = rho
    return out


def min_effect(expected: np.ndarray, kinds: np.ndarray, share_n: np.ndarray | None = None, *,
               min_cases: float = MIN_CASES, min_change: float = MIN_CHANGE) -> np.ndarray:
    """The smallest deviation from ``expected`` that may be called abnormal (the minimum practical effect).

    ``min_change`` of the expected value for every series; for counts and stocks also ``min_cases`` cases,
    for a percentage of ``n`` cases also the change that ``min_cases`` of those cases make
    (``100 x min_cases / n`` points).
    """
    rel = min_change * np.abs(expected)
    cases = np.isin(kinds, ("count", "stock"))
    out = np.where(cases[None, :], np.maximum(rel, min_cases), rel)
    if share_n is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            pts = np.where(share_n > 0, 100.0 * min_cases / share_n, np.nan)
        share = (kinds == "share")[None, :] & ~np.isnan(pts)
        out = np.where(share, np.maximum(out, pts), out)
    return out


def _esd_flags(resid: np.ndarray, masked: np.ndarray, score: np.ndarray, *, window: int,
               alpha: float, max_anoms: float, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Generalized ESD (median/MAD) on each point's causal window; flag if the point is an outlier.

    Returns the flags and the first-stage critical value per point (for the band).  The full
    test only runs where the robust score is >= 2.5: ESD critical values are ~3.3 or more
    and removing ``max_anoms`` of a window shrinks its MAD by well under a quarter, so the
    other points cannot be outliers (this keeps long hourly histories to seconds).
    """
    n = len(resid)
    flags = np.zeros(n, dtype=bool)
    m_all = np.minimum(np.arange(n) + 1, window + 1).astype(float)
    p_all = 1 - alpha / (2 * m_all)
    t_all = stats.t.ppf(p_all, np.maximum(m_all - 2, 1))
    lam1 = (m_all - 1) * t_all / np.sqrt(np.maximum(m_all - 2 + t_all**2, 1e-12) * m_all)
    lam1[:start] = np.nan
    hist = np.where(masked, np.nan, resid)
    rows = np.arange(start, n)
    rows = rows[np.nan_to_num(score[rows]) >= 2.5]
    if rows.size == 0:
        return flags, lam1
    offsets = np.arange(-window, 1)
    idx = rows[:, None] + offsets[None, :]
    win = np.where(idx >= 0, hist[np.clip(idx, 0, None)], np.nan)
    win[:, -1] = resid[rows]  # the point itself, even when it is an event (result masked later)
    n_obs = np.sum(~np.isnan(win), axis=1)
    k_max = np.maximum(1, np.floor(max_anoms * n_obs)).astype(int)
    removed_at = np.full(len(rows), 0)  # iteration at which the current point was removed
    n_out = np.zeros(len(rows), dtype=int)
    work = win.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(1, int(k_max.max()) + 1):
            active = i <= k_max
            med = np.nanmedian(work, axis=1)
            mad = _MAD_TO_SIGMA * np.nanmedian(np.abs(work - med[:, None]), axis=1)
            mad = np.where(mad > 0, mad, np.nan)
            dev = np.abs(work - med[:, None]) / mad[:, None]
            dev_f = np.where(np.isnan(dev), -np.inf, dev)
            arg = np.argmax(dev_f, axis=1)
            r_i = dev_f[np.arange(len(rows)), arg]
            m = n_obs - i + 1
            p = 1 - alpha / (2 * np.maximum(m, 2))
            tq = stats.t.ppf(p, np.maximum(m - 2, 1))
            lam = (m - 1) * tq / np.sqrt(np.maximum(m - 2 + tq**2, 1e-12) * np.maximum(m, 1))
            hit = active & np.isfinite(r_i) & (r_i > lam)
            n_out = np.where(hit, i, n_out)
            newly = active & (arg == window) & (removed_at == 0) & np.isfinite(r_i)
            removed_at = np.where(newly, i, removed_at)
            work[np.arange(len(rows))[active], arg[active]] = np.nan
    flags[rows] = (removed_at > 0) & (removed_at <= n_out)
    return flags, lam1


def _resolve_period(index: pd.DatetimeIndex, period: int | None,
                    level_window: int) -> tuple[int | None, str]:
    if period is None:
        return infer_period(index, level_window=level_window), "inferred"
    return int(period), "given"


def _default_scale_window(period: int | None) -> int:
    return max(8 * (period or 0), 56)


def _resolve_engine(engine: str, period: int | None) -> str:
    if engine == "auto":
        return "stl" if period and period <= _STL_MAX_PERIOD else "fast"
    return engine


def detect(series: pd.Series, period: int | None = None, *, kind: str = "level",
           threshold: float = 4.0, method: str = "mad", engine: str = "hw",
           events: Any = None, freq: str | pd.Timedelta | None = None,
           alpha: float = 0.01, max_anoms: float = 0.1, seasonal_cycles: int = 8,
           level_window: int = 5, scale_window: int | None = None,
           refit: int | None = None, robust: bool = True,
           volume: pd.Series | None = None, min_cases: float = MIN_CASES,
           min_change: float = MIN_CHANGE) -> pd.DataFrame:
    """Score every point of a regular time series causally and flag the abnormal ones.

    See the module docstring for the model, the regularisation rule and the period table.

    Parameters
    ----------
    series : pd.Series
        Numeric values on a DatetimeIndex (regularised first, see :func:`regularize`).
    period : int, optional
        Seasonal period in steps (>= 2); None infers it from the frequency.
    kind : {"level", "count", "ratio", "share"}, keyword-only
        ``"count"``: missing bins are 0 and the noise floor is Poisson;
        ``"ratio"``/``"level"``: missing bins are NaN (never flagged); ``"share"``: a ratio in
        percent of the cases in ``volume`` (binomial noise floor when ``volume`` is given).
    threshold : float, keyword-only
        Flag when ``score > threshold`` (default 4 robust standard deviations).
    method : {"mad", "esd"}, keyword-only
        ``"mad"``: threshold on the robust score; ``"esd"``: generalized ESD per point.
    engine : {"auto", "stl", "fast"}, keyword-only
        Seasonal estimator (STL refits, or the vectorised median decomposition).
    events : list of dates, Series (date -> name) or DataFrame (start[, end, name]), keyword-only
        Known events: masked from the fit, never flagged, named in the ``event`` column.
    freq : str or Timedelta, optional, keyword-only
        Grid step; inferred by default.
    volume : pd.Series, optional, keyword-only
        Cases behind each point; with ``kind="share"`` (a percentage of those cases) the scale
        never drops below the binomial ``sqrt(p (100 - p) / n)``, as in :func:`scan`.
    alpha, max_anoms : float, keyword-only
        ESD significance and largest share of a window that may be outliers.
    seasonal_cycles : int, keyword-only
        Number of past cycles the seasonal pattern is estimated from (>= 2).
    level_window : int, keyword-only
        Points in the running median level; shifts are absorbed after ``level_window // 2 + 1``.
    scale_window : int, optional, keyword-only
        Past residuals the scale is estimated from (default ``max(8 * period, 56)``).
    refit : int, optional, keyword-only
        STL refit interval in steps (default: one period).
    robust : bool, keyword-only
        Robust STL fits (``engine="stl"`` only).

    Returns
    -------
    pd.DataFrame
        On the regularised index: ``observed, expected, trend, seasonal, resid, lower, upper,
        score, is_anomaly, direction, event``.  ``score`` is NaN during the warm-up and where
        the observation is missing; ``direction`` is "spike", "drop" or "".  The resolved
        :class:`DetectorConfig` is in ``frame.attrs["config"]``.

    Raises
    ------
    AnomalyInputError
        For a non-numeric series, a non-datetime index or an option outside its range.
    InsufficientHistoryError
        When the series is shorter than :func:`min_points` for its period.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=70, freq="D")
    >>> y = pd.Series(100 + 10 * (idx.day_of_week >= 5), index=idx, dtype=float)
    >>> y.iloc[-1] += 60
    >>> frame = detect(y)
    >>> bool(frame["is_anomaly"].iloc[-1]), frame["direction"].iloc[-1]
    (True, 'spike')
    """
    kind = check_kind(kind)
    _check_options(period=period, threshold=threshold, engine=engine, method=method,
                   alpha=alpha, max_anoms=max_anoms, seasonal_cycles=seasonal_cycles,
                   level_window=level_window, scale_window=scale_window, refit=refit)
    reg = regularize(series, kind=kind, freq=freq)
    per, source = _resolve_period(reg.index, period, level_window)
    n = len(reg)
    need = min_points(per, level_window=level_window)
    if n < need:
        raise InsufficientHistoryError(
            f"series needs at least {need} points to be scored with period {per} "
            f"(two seasonal cycles, the level window and a residual history), got {n}",
            needed=need, got=n)
    eng = _resolve_engine(engine, per)
    sw = scale_window or _default_scale_window(per)
    rf = refit or (per or 1)
    labels = event_labels(reg.index, events)
    in_event = labels != ""
    y = reg.to_numpy()[:, None]
    share_n = None
    if kind == "share" and volume is not None:
        if not isinstance(volume, pd.Series):
            raise AnomalyInputError(f"`volume` must be a pandas Series, got {type(volume).__name__}")
        share_n = regularize(volume, kind="count", freq=freq).reindex(reg.index).to_numpy()[:, None]
    kinds = np.array([kind])
    core = _judge(y, period=per, engine=eng, kinds=kinds, masked=in_event[:, None], share_n=share_n,
                  cycles=seasonal_cycles, level_window=level_window, scale_window=sw, refit=rf, robust=robust)
    col = {k: v[:, 0] for k, v in core.items()}
    warm = warmup_points(per, level_window)
    floor = min_effect(col["expected"][:, None], kinds, share_n, min_cases=min_cases, min_change=min_change)[:, 0]
    width = np.maximum(threshold * col["scale"], floor)
    scoreable = ~np.isnan(col["score"])
    run = np.ones(n, dtype=np.int8)
    if method == "esd":
        flags, lam1 = _esd_flags(col["resid"], in_event | np.isnan(col["resid"]), col["score"],
                                 window=sw, alpha=alpha, max_anoms=max_anoms, start=warm)
        width = np.maximum(lam1 * col["scale"], floor)
        flags = flags & (np.abs(col["resid"]) >= floor)
    else:
        best, run, mean = (a[:, 0] for a in run_scores(np.where(in_event, np.nan, col["resid"])[:, None],
                                                         col["scale"][:, None]))
        col["score"] = np.where(scoreable, best, np.nan)
        with np.errstate(invalid="ignore"):
            flags = (col["score"] > threshold) & (np.abs(mean) >= floor)
    flags = flags & scoreable & ~in_event
    expected = col["expected"]
    out = pd.DataFrame({
        "observed": reg.to_numpy(),
        "expected": expected,
        "trend": np.where(np.isnan(expected), np.nan, col["trend"]),
        "seasonal": np.where(np.isnan(expected), np.nan, col["seasonal"]),
        "resid": col["resid"],
        "lower": expected - width,
        "upper": expected + width,
        "score": col["score"],
        "is_anomaly": flags,
        "direction": np.where(flags, np.where(col["resid"] > 0, "spike", "drop"), ""),
        "run": np.where(flags, run, 0).astype(int),
        "event": labels.astype(str),
    }, index=reg.index)
    out.loc[np.arange(n) < warm, "resid"] = np.nan
    out.attrs["config"] = DetectorConfig(
        period=per, period_source=source, freq=pd.tseries.frequencies.to_offset(
            pd.Timedelta(reg.index[1] - reg.index[0])).freqstr,
        kind=kind, engine=eng, method=method, threshold=float(threshold), alpha=alpha,
        max_anoms=max_anoms, seasonal_cycles=seasonal_cycles, level_window=level_window,
        scale_window=sw, refit=rf, robust=robust, warmup=warm, n_points=n,
        n_events=int(in_event.sum()))
    return out


class Detector:
    """The detector as an object (adtk / Merlion style): options stored as given.

    ``fit`` resolves the configuration on a history, ``score`` returns the causal scores and
    ``detect`` the full frame; the threshold stays apart from the score.

    Parameters
    ----------
    period : int, optional
        As in :func:`detect`.
    **options
        Any keyword option of :func:`detect`.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="D")
    >>> det = Detector(threshold=5).fit(pd.Series(range(60), index=idx, dtype=float))
    >>> det.config.period
    7
    """

    def __init__(self, period: int | None = None, **options: Any) -> None:
        self.period = period
        self.options = dict(options)
        self.config: DetectorConfig | None = None
        self._series: pd.Series | None = None

    def fit(self, series: pd.Series) -> Detector:
        """Resolve the configuration on ``series`` (which is kept for ``score``/``detect``)."""
        frame = detect(series, self.period, **self.options)
        self.config = frame.attrs["config"]
        self._series = series
        return self

    def detect(self, series: pd.Series | None = None) -> pd.DataFrame:
        """The frame of :func:`detect` for ``series`` (default: the fitted one)."""
        target = self._target(series)
        period = self.config.period if self.config and self.config.period else self.period
        return detect(target, period, **self.options)

    def score(self, series: pd.Series | None = None) -> pd.Series:
        """The causal score of every point (NaN in the warm-up)."""
        return self.detect(series)["score"]

    def _target(self, series: pd.Series | None) -> pd.Series:
        if series is not None:
            return series
        if self._series is None:
            raise AnomalyInputError("`Detector.fit` must be called before scoring without a series")
        return self._series


@dataclass(frozen=True, eq=False)
class Scores:
    """Every series of a frame scored on every day: arrays day × series, columns in ``columns`` order.

    ``flagged`` is the detector's verdict (score above ``threshold`` and a deviation of at least the minimum
    practical effect, outside known events); ``lower`` and ``upper`` the band inside which a day is not
    abnormal (``expected ± width``, ``width = max(threshold × scale, minimum effect)``); ``run`` the days the
    judgment spans (1 = the day alone, see :func:`run_scores`); ``event`` the known event of a day ("" if
    none). Rows before the warm-up hold NaN expected values and scores.
    """

    index: pd.DatetimeIndex
    columns: list
    observed: np.ndarray
    expected: np.ndarray
    scale: np.ndarray
    score: np.ndarray
    resid: np.ndarray
    trend: np.ndarray
    seasonal: np.ndarray
    flagged: np.ndarray
    event: np.ndarray
    count: np.ndarray
    volume: np.ndarray | None
    threshold: float
    kinds: dict
    config: dict
    width: np.ndarray
    run: np.ndarray

    @property
    def lower(self) -> np.ndarray:
        return self.expected - self.width

    @property
    def upper(self) -> np.ndarray:
        return self.expected + self.width

    def position(self, sid: Hashable) -> int:
        """The column of series ``sid``; ``KeyError`` if it was not scored."""
        try:
            return self._positions()[sid]
        except KeyError:
            raise KeyError(f"series {sid!r} was not scored") from None

    def _positions(self) -> dict:
        cached = self.__dict__.get("_pos")
        if cached is None:
            cached = {c: i for i, c in enumerate(self.columns)}
            object.__setattr__(self, "_pos", cached)
        return cached

    def frame(self, sid: Hashable) -> pd.DataFrame:
        """One series as :func:`detect` returns it (observed, expected, trend, seasonal, resid, lower, upper,
        score, is_anomaly, direction, event)."""
        j = self.position(sid)
        expected = self.expected[:, j]
        flags = self.flagged[:, j]
        out = pd.DataFrame({
            "observed": self.observed[:, j], "expected": expected,
            "trend": np.where(np.isnan(expected), np.nan, self.trend[:, j]),
            "seasonal": np.where(np.isnan(expected), np.nan, self.seasonal[:, j]),
            "resid": np.where(np.isnan(expected), np.nan, self.resid[:, j]),
            "lower": expected - self.width[:, j], "upper": expected + self.width[:, j], "score": self.score[:, j],
            "is_anomaly": flags,
            "direction": np.where(flags, np.where(self.resid[:, j] > 0, "spike", "drop"), ""),
            "run": np.where(flags, self.run[:, j], 0).astype(int),
            "event": self.event[:, j],
        }, index=self.index)
        c = self.config
        out.attrs["config"] = DetectorConfig(
            period=c["period"], period_source="given", freq="D", kind=self.kinds[sid], engine=c["engine"], method="mad",
            threshold=self.threshold, alpha=0.01, max_anoms=0.1, seasonal_cycles=c["seasonal_cycles"],
            level_window=c["level_window"], scale_window=c["scale_window"], refit=c["period"] or 1, robust=False,
            warmup=warmup_points(c["period"], c["level_window"]), n_points=len(self.index),
            n_events=int((self.event[:, j] != "").sum()))
        return out


def _is_day_grid(index: pd.Index) -> bool:
    """Midnights one day apart, in order: a frame already on its daily grid."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2 or index.tz is not None:
        return False
    ns = index.as_unit("ns").asi8
    day = 86400 * 10**9
    return bool((ns % day == 0).all() and (np.diff(ns) == day).all())


def score_frame(values: pd.DataFrame, *, volume: pd.DataFrame | None = None,
                kinds: Mapping[Hashable, str] | None = None, events: Any = None, period: int | None = 7,
                threshold: float = 4.0, seasonal_cycles: int = 8, level_window: int = 5,
                scale_window: int | None = None, days: int | None = None,
                bad_direction: Mapping[Hashable, str] | None = None, engine: str = "hw",
                min_cases: float = MIN_CASES, min_change: float = MIN_CHANGE,
                resolution: Mapping[Hashable, float] | None = None) -> Scores:
    """Score every daily series of a frame on every day, in one vectorised pass (the first half of
    :func:`scan`; its options mean the same). ``days`` limits the rows guaranteed to the newest ones.
    ``resolution`` (series -> value in its unit) is the smallest scale a ratio series is judged with (half the
    difference its display can show; 0 where not given): no score grows without bound because a ratio was 0.

    Returns
    -------
    Scores
        Arrays day × series: what every screen states about a series (expected value, band, score, flag).
    """
    days_opt = days
    if not isinstance(values, pd.DataFrame):
        raise AnomalyInputError(f"`values` must be a DataFrame, got {type(values).__name__}")
    if not isinstance(values.index, pd.DatetimeIndex):
        raise AnomalyInputError(
            f"`values` must have a DatetimeIndex, got {type(values.index).__name__}")
    _check_options(period=period, threshold=threshold, engine=engine, method="mad",
                   alpha=0.01, max_anoms=0.1, seasonal_cycles=seasonal_cycles,
                   level_window=level_window, scale_window=scale_window, refit=None)
    if engine not in ("hw", "fast"):
        raise AnomalyInputError(f"`engine` must be 'hw' or 'fast' for a frame of series, got {engine!r}")
    if days_opt is not None and days_opt < 1:
        raise AnomalyInputError(f"`days` must be >= 1, got {days_opt}")
    kinds = dict(kinds or {})
    bad_direction = dict(bad_direction or {})
    resolution = dict(resolution or {})
    unknown = [k for k in [*kinds, *bad_direction, *resolution] if k not in values.columns]
    if unknown:
        raise AnomalyInputError(f"`kinds`/`bad_direction`/`resolution` name series not in `values`: {unknown[:3]}")
    bad_res = [k for k, r in resolution.items() if not (np.isfinite(r) and r >= 0)]
    if bad_res:
        raise AnomalyInputError(f"`resolution` must be a finite number >= 0, got {resolution[bad_res[0]]!r}")
    for sid, d in bad_direction.items():
        if d not in ("up", "down"):
            raise AnomalyInputError(f"`bad_direction` must be 'up' or 'down', got {d!r} for {sid!r}")
    kind_of = {c: check_kind(kinds.get(c, "level")) for c in values.columns}
    count_cols = np.array([kind_of[c] == "count" for c in values.columns])
    if _is_day_grid(values.index):  # the usual case (a panel): no copy of the frame to put it on its grid
        vals, full = values, values.index
        arr = values.to_numpy(dtype=float, copy=True)
    else:
        vals = values.sort_index()
        vals = vals[~vals.index.duplicated(keep="last")]
        if len(vals.index) >= 2:
            steps = np.diff(vals.index.normalize().as_unit("ns").asi8)
            if (steps % (86400 * 10**9)).any() or (steps <= 0).any():
                raise AnomalyInputError("`values` must have a daily DatetimeIndex (one row per day)")
        full = pd.date_range(vals.index.min().normalize(), vals.index.max().normalize(), freq="D")
        vals = vals.set_axis(vals.index.normalize()).reindex(full).astype(float)
        arr = vals.to_numpy(copy=True)
        absent = vals.isna().to_numpy() & ~values.reindex(full).notna().to_numpy()
        # counts: a day with no row is zero cases; explicit NaN stays unknown
        arr[:, count_cols] = np.where(absent[:, count_cols] & np.isnan(arr[:, count_cols]), 0.0,
                                      arr[:, count_cols])
    n = len(full)
    need = min_points(period, level_window=level_window)
    if n < need:
        raise InsufficientHistoryError(
            f"series needs at least {need} points to be scored with period {period} "
            f"(two seasonal cycles, the level window and a residual history), got {n}",
            needed=need, got=n)
    labels = scoped_event_labels(full, events, list(vals.columns))
    in_event = labels != ""
    sw = scale_window or _default_scale_window(period)
    cols = list(vals.columns)
    vol_arr = None
    if volume is not None:
        if not isinstance(volume, pd.DataFrame):
            raise AnomalyInputError(f"`volume` must be a DataFrame, got {type(volume).__name__}")
        missing = [c for c in cols if c not in volume.columns]
        if missing:
            raise AnomalyInputError(f"`volume` has no column for series {missing[:3]}")
        if volume.index.equals(full) and list(volume.columns) == cols:
            vol_arr = volume.to_numpy(dtype=float)
        else:
            vol = volume.set_axis(pd.DatetimeIndex(volume.index).normalize()).reindex(full)[cols]
            vol_arr = vol.to_numpy(dtype=float)
    share_cols = np.array([kind_of[c] == "share" for c in cols])
    share_n = np.where(share_cols[None, :], vol_arr, np.nan) \
        if vol_arr is not None and share_cols.any() else None
    kinds_arr = np.array([kind_of[c] for c in cols], dtype=object)
    core = _judge(arr, period=period, engine=engine, kinds=kinds_arr, masked=in_event, share_n=share_n,
                  cycles=seasonal_cycles, level_window=level_window, scale_window=sw, refit=period or 1,
                  robust=False, report_from=max(0, n - days) if days is not None else 0,
                  resolution=np.array([float(resolution.get(c, 0.0)) for c in cols]))
    floor = min_effect(core["expected"], kinds_arr, share_n, min_cases=min_cases, min_change=min_change)
    width = np.maximum(threshold * core["scale"], floor)
    score, run, mean = run_scores(np.where(in_event, np.nan, core["resid"]), core["scale"])
    score = np.where(np.isnan(core["score"]), np.nan, score)
    with np.errstate(invalid="ignore"):
        flagged = (score > threshold) & ~in_event & ~np.isnan(score) & (np.abs(mean) >= floor)
    return Scores(index=full, columns=cols, observed=arr, expected=core["expected"], scale=core["scale"],
                  score=score, resid=core["resid"], trend=core["trend"], seasonal=core["seasonal"],
                  flagged=flagged, event=labels.astype(str), count=count_cols, volume=vol_arr,
                  threshold=float(threshold), kinds={c: kind_of[c] for c in cols}, width=width, run=run,
                  config={"period": period, "threshold": threshold, "engine": engine,
                          "seasonal_cycles": seasonal_cycles, "level_window": level_window,
                          "scale_window": sw, "days": days_opt, "n_series": len(cols), "n_days": n,
                          "min_cases": min_cases, "min_change": min_change})
