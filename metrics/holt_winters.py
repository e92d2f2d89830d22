"""Robust Holt-Winters smoothing of many series at once: the product's expected values.

The model is statsmodels' ``ExponentialSmoothing`` with a level and a seasonal component (no trend term:
growth is followed by the level) and fixed smoothing parameters, run one step ahead, so the expected value
of day ``t`` is built from the days before ``t`` only. Two things are added, both from Gelper, Fried &
Croux, *Robust forecasting with exponential and Holt-Winters smoothing* (J. Forecasting, 2010):

* **cleaning**: the observation that updates the state is ``y* = ŷ + ψ((y - ŷ) / σ) σ`` with Huber's ψ
  clipped at ``huber`` robust standard deviations, so one spike moves the level by at most
  ``alpha x huber x σ``; a day inside a known event, or missing, updates nothing (``y* = ŷ``);
* **a running scale** ``σ``: an exponentially weighted mean of the absolute residuals within ``2 σ`` (days
  further out leave it unchanged, so neither a spike nor a drifting run widens it), rescaled to a standard
  deviation (that truncated mean of a normal is ``0.723 σ``), floored by the noise a
  series of that size must have (see ``floor`` in :func:`smooth`). A count is over-dispersed Poisson:
  its variance is ``μ + φ μ²`` with the over-dispersion ``φ`` tracked the same way, so a Sunday of 30
  cases is judged with its own noise, not with the spread of a Monday of 1,000.

**Reproducing statsmodels.** Feeding the cleaned series ``y*`` (``Smoothed.cleaned``) to
``statsmodels.tsa.holtwinters.ExponentialSmoothing(y*, seasonal=..., seasonal_periods=period,
initialization_method="known", initial_level=..., initial_seasonal=...)`` and fitting with the same
``smoothing_level``/``smoothing_seasonal`` (``optimized=False``) gives ``fittedvalues`` equal to
``Smoothed.expected`` (within 1e-9 relative; ``tests/test_holt_winters.py`` checks it on series with
spikes, gaps, events, zeros and both seasonal forms). The loop here runs over days and is vectorised over
series, so 7,000 series x 730 days take a fraction of a second where one statsmodels fit per series takes
many seconds. Two guards apply only to counts that are mostly zero (where statsmodels would divide by
about zero): a weekday factor is never taken below 5 % in the level update, and no weekly pattern is learned
while the level is under one case a day.

Initial state (the first ``2 x period`` days, before any day is judged): the level is their mean, each
weekday's seasonal the mean of its two values over that level (multiplicative) or minus it (additive),
normalised to average 1 (or 0).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.10      # level smoothing: a day moves the level by 10 % of its (cleaned) surprise
GAMMA = 0.10      # seasonal smoothing: a weekday's pattern follows over about ten weeks
HUBER = 2.0       # cleaning clip, robust standard deviations (Gelper et al. use 2)
SCALE_DECAY = 0.05  # running scale: about the last 20 judged days
CONFIRM = 5       # days in a row beyond the clip, on one side, that confirm a shift: the level re-anchors
OUTAGE = 0.1      # a count under a tenth of its expected value is an outage, never a new level
MIN_FACTOR = 0.05  # the smallest weekday factor of a multiplicative pattern
SCALE_CLIP = 2.0  # days beyond 2 sigma (the cleaning's clip) leave the running scale as it is
# E[|Z| given |Z| <= 2] for a standard normal: the running scale's bias, divided out
_CLIPPED_MEAN = float(np.sqrt(2 / np.pi) * (1 - np.exp(-SCALE_CLIP**2 / 2)) / (1 - 2 * stats.norm.sf(SCALE_CLIP)))
# E[Z^2 given |Z| <= 2]: the same for the variance of counts
_CLIPPED_SQ = float(1 - 2 * SCALE_CLIP * stats.norm.pdf(SCALE_CLIP) / (1 - 2 * stats.norm.sf(SCALE_CLIP)))
_ABS_MEAN = float(np.sqrt(2 / np.pi))  # E[|Z|]: the scale before it has settled takes every day
_EPS = 1e-9


@dataclass(frozen=True)
class Smoothed:
    """Arrays day x series. ``expected = level (x or +) seasonal`` one step ahead; ``scale`` the robust
    standard deviation the day is judged with (after the floor); ``cleaned`` the observations that updated
    the state; ``initial_level`` / ``initial_seasonal`` the starting state (per series; seasonal period x
    series, by day of the cycle starting at row 0)."""

    expected: np.ndarray
    level: np.ndarray
    seasonal: np.ndarray
    scale: np.ndarray
    cleaned: np.ndarray
    anchored: np.ndarray
    initial_level: np.ndarray
    initial_seasonal: np.ndarray


def _initial(y: np.ndarray, usable: np.ndarray, period: int,
             mul: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level, seasonal (period x s) and scale from the first two cycles (usable days only)."""
    n0 = min(len(y), 2 * period)
    head = np.where(usable[:n0], y[:n0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an all-NaN column: no usable day yet
        level = np.nanmean(head, axis=0)
        level = np.where(np.isnan(level), 0.0, level)
        seas = np.full((period, y.shape[1]), np.nan)
        for k in range(period):
            seas[k] = np.nanmean(head[k::period], axis=0)
        ratio = np.where(np.abs(level) > _EPS, seas / np.where(np.abs(level) > _EPS, level, 1.0), 1.0)
        ratio = np.where(np.isnan(ratio), 1.0, ratio)
        ratio = ratio / np.where(ratio.mean(axis=0) > _EPS, ratio.mean(axis=0), 1.0)
        diff = np.where(np.isnan(seas), 0.0, seas - level)
        diff = diff - diff.mean(axis=0)
        seasonal = np.where(mul[None, :], ratio, diff)
        fit = np.where(mul[None, :], level * seasonal, level + seasonal)
        resid = head - np.tile(fit, (2, 1))[:n0]
        norm = np.where(mul[None, :], np.maximum(np.abs(np.tile(fit, (2, 1))[:n0]), _EPS), 1.0)
        scale = 1.4826 * np.nanmedian(np.abs(resid) / norm, axis=0)
    return level, seasonal, np.where(np.isnan(scale), 0.0, scale)


def smooth(y: np.ndarray, *, period: int | None, usable: np.ndarray, mul: np.ndarray, floor,
           alpha: float = ALPHA, gamma: float = GAMMA, huber: float = HUBER,
           scale_decay: float = SCALE_DECAY, confirm: int = CONFIRM) -> Smoothed:
    """Run the robust one-step-ahead Holt-Winters recursion over the rows of ``y`` (day x series).

    Parameters
    ----------
    y : ndarray
        Observations, NaN where unknown.
    period : int or None
        Seasonal period in rows (None or 1: no seasonal component).
    usable : ndarray of bool
        Days that may update the state (not in a known event, observed).
    mul : ndarray of bool
        Per series: multiplicative seasonal (counts, whose weekly pattern scales with their level) or
        additive (rates).
    floor : callable
        ``floor(t, expected, cols) -> ndarray``: the smallest scale day ``t`` may be judged with, for the
        series ``cols`` (the noise a count or a percentage of that size must have; see ``metrics.anomalies``).
    """
    n, s = y.shape
    mul = np.asarray(mul, dtype=bool)
    parts = [(cols, kind) for kind in (True, False) if (cols := np.flatnonzero(mul == kind)).size]
    if len(parts) == 1:  # one kind of pattern: no copies
        return _run(y, usable, parts[0][1], np.arange(s), period=period, floor=floor, alpha=alpha, gamma=gamma,
                    huber=huber, scale_decay=scale_decay, confirm=confirm)
    out = {k: np.full((n, s), np.nan) for k in ("expected", "level", "seasonal", "scale", "cleaned")}
    anchored = np.zeros((n, s), dtype=bool)
    init_level = np.zeros(s)
    init_seas = np.zeros((period if period and period > 1 else 1, s))
    for cols, kind in parts:  # each kind of pattern runs its own loop: no branch is computed twice
        part = _run(y[:, cols], usable[:, cols], kind, cols, period=period, floor=floor, alpha=alpha,
                    gamma=gamma, huber=huber, scale_decay=scale_decay, confirm=confirm)
        for k in out:
            out[k][:, cols] = getattr(part, k)
        anchored[:, cols] = part.anchored
        init_level[cols], init_seas[:, cols] = part.initial_level, part.initial_seasonal
    return Smoothed(out["expected"], out["level"], out["seasonal"], out["scale"], out["cleaned"], anchored,
                    init_level, init_seas)


def _run(y: np.ndarray, usable: np.ndarray, mul: bool, cols: np.ndarray, *, period: int | None, floor,
         alpha: float, gamma: float, huber: float, scale_decay: float, confirm: int) -> Smoothed:
    """The recursion for series that share one kind of pattern (``cols``: their positions, for ``floor``)."""
    n, s = y.shape
    p = period if period and period > 1 else 1
    level, seas, sigma = _initial(y, usable, p, np.full(s, mul))
    init_level, init_seas = level.copy(), seas.copy()
    sigma = sigma * np.sqrt(2.0)  # residuals of a fit to two points per weekday are ~1/sqrt(2) too small
    if mul:
        # counts: the state is the over-dispersion phi of Var = mu + phi mu^2 (what the relative spread leaves
        # once Poisson noise is accounted for); rates: the state is the standard deviation itself
        sigma = np.maximum(sigma**2 - 1.0 / np.maximum(np.abs(level), 1.0), 0.0)
    n_seen = np.zeros(s)          # days that updated the scale: a plain mean until there are 1/decay of them
    streak = np.zeros(s)          # signed count of the latest days beyond the clip on one side
    out = {k: np.full((n, s), np.nan) for k in ("expected", "level", "scale", "cleaned")}
    anchored = np.zeros((n, s), dtype=bool)
    every = np.arange(s)
    for t in range(n):
        ph = t % p
        st = seas[ph]
        yhat = level * st if mul else level + st
        mu = np.maximum(yhat, 1.0)
        scale = np.maximum(np.sqrt(mu + sigma * mu**2) if mul else sigma, floor(t, yhat, cols))
        obs = y[t]
        ok = usable[t] & ~np.isnan(obs)
        resid = np.where(ok, obs - yhat, 0.0)
        z = resid / np.maximum(scale, _EPS)
        side = np.sign(z) * (ok & (np.abs(z) > huber))
        streak = np.where((side != 0) & (side == np.sign(streak)), streak + side, side)
        # a shift confirmed by `confirm` days in a row re-anchors the level on the day (an outage, a count at
        # under a tenth of its expected value, is never learned as the new normal)
        anchor = ok & (np.abs(streak) >= confirm)
        if mul:
            anchor &= ~(obs < OUTAGE * yhat)
        ystar = yhat + np.clip(z, -huber, huber) * scale
        if mul:
            ystar = np.maximum(ystar, 0.0)
        ystar = np.where(ok, ystar, yhat)
        out["expected"][t], out["level"][t], out["scale"][t], out["cleaned"][t] = yhat, level, scale, ystar
        # statsmodels' update: level from the deseasonalised y*, the season from y* against the old level
        # (guards for counts that are mostly zero: a weekday factor never below 5 %, and no weekly pattern
        # learned while the level is under one case a day; statsmodels would divide by ~0 there)
        if mul:
            safe_st = np.maximum(st, MIN_FACTOR)
            new_level = alpha * ystar / safe_st + (1 - alpha) * level
            if p > 1:
                new_seas = gamma * ystar / np.maximum(level, 1.0) + (1 - gamma) * st
                seas[ph, every] = np.where(anchor | (level < 1.0), st, new_seas)
            level = np.where(anchor, obs / safe_st, new_level)
        else:
            new_level = alpha * (ystar - st) + (1 - alpha) * level
            if p > 1:
                seas[ph, every] = np.where(anchor, st, gamma * (ystar - level) + (1 - gamma) * st)
            level = np.where(anchor, obs - st, new_level)
        streak = np.where(anchor, 0.0, streak)
        anchored[t] = anchor
        if t >= 2 * p:  # the first two cycles fitted the initial state: their residuals say nothing of noise
            settled = n_seen * scale_decay >= 1
            inlier = ok & (~settled | (np.abs(z) <= SCALE_CLIP))  # then an outlier never widens the scale
            n_seen = n_seen + inlier
            rate = np.maximum(scale_decay, 1.0 / np.maximum(n_seen, 1))
            if mul:
                unit = (resid**2 / np.where(settled, _CLIPPED_SQ, 1.0) - mu) / mu**2
                sigma = np.maximum(np.where(inlier, (1 - rate) * sigma + rate * unit, sigma), 0.0)
            else:
                unit = np.abs(resid) / np.where(settled, _CLIPPED_MEAN, _ABS_MEAN)
                sigma = np.where(inlier, (1 - rate) * sigma + rate * unit, sigma)
    return Smoothed(out["expected"], out["level"], out["expected"] - out["level"], out["scale"], out["cleaned"],
                    anchored, init_level, init_seas)
