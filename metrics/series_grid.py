"""A series on a regular grid, and the seasonal period it is judged with.

Regularisation rule
-------------------
The input index is sorted, the step taken from ``index.freq``, the ``freq`` option or the
median spacing, and the series put on that grid starting at its first timestamp.  Several
points in one bin are summed for ``kind="count"`` and averaged otherwise.  A bin with no
point is ``0`` for ``kind="count"`` (no cases that day) and ``NaN`` for ``kind="ratio"`` /
``"level"`` (unknown); NaNs and event points are filled causally for the fit (value one
period earlier, else the last value) and are never flagged.

Period inference (``period=None``), by the step of the regularised index
------------------------------------------------------------------------
======================  ==========================================================
step                    period (first candidate the history is long enough for)
======================  ==========================================================
1 day                   7 (weekly); too short -> :class:`InsufficientHistoryError`
1 h                     168 (weekly) with >= 4 weeks of history, else 24, else none
30 min                  336 with >= 4 weeks, else 48, else none
other steps < 1 day     points per day (5 min -> 288, 15 min -> 96, 1 min -> 1440),
that divide a day       weekly only while the weekly period is <= 336; else none
1 week                  52 when the history covers the warm-up (~3.2 years), else none
1 month / 1 quarter     12 / 4 when the history covers the warm-up, else none
anything else           none (level + robust scoring only)
======================  ==========================================================

The warm-up (points scored NaN at the start) is ``2 * period + period // 2 +
level_window + min(max(period, 10), 28)`` points; a series needs at least one more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.errors import AnomalyInputError, InsufficientHistoryError

__all__ = ["check_kind", "infer_period", "min_points", "regularize", "warmup_points"]

_KIND_ALIASES = {"count": "count", "flow": "count", "ratio": "ratio", "share": "share", "level": "level",
                 "stock": "stock"}


def check_kind(kind: str) -> str:
    if kind not in _KIND_ALIASES:
        raise AnomalyInputError(
            f"`kind` must be one of {sorted(_KIND_ALIASES)}, got {kind!r}")
    return _KIND_ALIASES[kind]


def _step_of(index: pd.DatetimeIndex, freq: str | pd.Timedelta | None) -> pd.Timedelta:
    if freq is not None:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) \
            if not isinstance(freq, pd.Timedelta) else freq
    elif index.freq is not None:
        try:
            step = pd.Timedelta(index.freq)
        except ValueError:  # month/quarter offsets have no fixed length
            return pd.Timedelta(days=round(np.median(np.diff(index.as_unit("ns").asi8)) / 86400e9))
    else:
        diffs = np.diff(index.as_unit("ns").asi8)
        diffs = diffs[diffs > 0]
        if diffs.size == 0:
            raise AnomalyInputError("`series` must have at least 2 distinct timestamps")
        step = pd.Timedelta(int(np.median(diffs)), unit="ns")
    if step <= pd.Timedelta(0):
        raise AnomalyInputError(f"`freq` must be a positive step, got {freq!r}")
    return step


def regularize(series: pd.Series, *, kind: str = "level",
               freq: str | pd.Timedelta | None = None) -> pd.Series:
    """Put a series on a regular grid with the documented missing-value rule.

    Parameters
    ----------
    series : pd.Series
        Numeric values on a DatetimeIndex (any order, duplicates and gaps allowed).
    kind : {"count", "ratio", "level"}, keyword-only
        ``"count"`` (alias ``"flow"``): bins are summed and an empty bin is 0.
        ``"ratio"`` / ``"level"`` / ``"stock"``: bins are averaged and an empty bin is NaN.
    freq : str or Timedelta, optional, keyword-only
        The grid step; by default ``index.freq`` or the median spacing.

    Returns
    -------
    pd.Series
        Float values on a regular DatetimeIndex starting at the first timestamp.

    Raises
    ------
    AnomalyInputError
        If the series is not a numeric Series on a DatetimeIndex or has < 2 timestamps.

    Examples
    --------
    >>> days = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"])
    >>> s = pd.Series([1.0, 2.0, 3.0, 4.0], index=days)
    >>> regularize(s, kind="count").tolist()
    [1.0, 2.0, 3.0, 0.0, 4.0]
    >>> regularize(s, kind="ratio").tolist()
    [1.0, 2.0, 3.0, nan, 4.0]
    """
    kind = check_kind(kind)
    if not isinstance(series, pd.Series):
        raise AnomalyInputError(f"`series` must be a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise AnomalyInputError(
            f"`series` must have a DatetimeIndex, got {type(series.index).__name__}")
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)):
        raise AnomalyInputError(f"`series` must be numeric, got dtype {series.dtype}")
    s = series[series.index.notna()].astype(float).sort_index()
    if len(s.index.unique()) < 2:
        raise AnomalyInputError("`series` must have at least 2 distinct timestamps")
    step = _step_of(s.index, freq)
    origin = s.index[0]
    pos = np.floor((s.index - origin) / step).astype(np.int64)
    n = int(pos[-1]) + 1
    vals = s.to_numpy()
    ok = ~np.isnan(vals)
    sums = np.bincount(pos[ok], weights=vals[ok], minlength=n)
    cnt = np.bincount(pos[ok], minlength=n)
    if kind == "count":
        out = sums
        # an explicit NaN with no other value in its bin stays unknown, only absent bins are 0
        seen = np.bincount(pos, minlength=n) > 0
        out = np.where(seen & (cnt == 0), np.nan, out)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
    day = pd.Timedelta(days=1)
    grid = f"{step // day}D" if step % day == pd.Timedelta(0) else step
    index = pd.date_range(origin, periods=n, freq=grid, name=series.index.name)
    return pd.Series(out, index=index, name=series.name, dtype=float)


def min_points(period: int | None, *, level_window: int = 5) -> int:
    """Smallest number of points :func:`detect` accepts for a period.

    Parameters
    ----------
    period : int or None
        Seasonal period (None: no seasonality).
    level_window : int, keyword-only
        The ``level_window`` option of :func:`detect`.

    Returns
    -------
    int
        Warm-up length + 1 (the first scorable point).

    Examples
    --------
    >>> min_points(7)
    33
    """
    return warmup_points(period, level_window) + 1


def warmup_points(period: int | None, level_window: int) -> int:
    p = period or 0
    return 2 * p + p // 2 + level_window + min(max(p, 10), 28)


def _candidates(step: pd.Timedelta) -> list[int | None]:
    day, week = pd.Timedelta(days=1), pd.Timedelta(days=7)
    if step == day:
        return [7]
    if step < day and (day % step) == pd.Timedelta(0):
        per_day = int(day / step)
        if per_day > 1440:
            return [None]
        per_week = 7 * per_day
        return ([per_week] if per_week <= 336 else []) + [per_day, None]
    if step == week:
        return [52, None]
    if pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31):
        return [12, None]
    if pd.Timedelta(days=89) <= step <= pd.Timedelta(days=92):
        return [4, None]
    return [None]


def infer_period(index: pd.DatetimeIndex, *, level_window: int = 5) -> int | None:
    """Seasonal period for a regular index, by the table in the module docstring.

    Parameters
    ----------
    index : pd.DatetimeIndex
        A regular index (see :func:`regularize`).
    level_window : int, keyword-only
        Used to compute how much history a period needs.

    Returns
    -------
    int or None
        The period, or None for no seasonality.

    Raises
    ------
    InsufficientHistoryError
        For daily data shorter than the weekly warm-up.

    Examples
    --------
    >>> infer_period(pd.date_range("2024-01-01", periods=60, freq="D"))
    7
    >>> infer_period(pd.date_range("2024-01-01", periods=24 * 10, freq="h"))
    24
    """
    if len(index) < 2:
        raise AnomalyInputError("`index` must have at least 2 timestamps")
    step = pd.Timedelta(index[1] - index[0])
    n = len(index)
    cands = _candidates(step)
    for p in cands:
        if p is None:
            return None
        weekly_subdaily = step < pd.Timedelta(days=1) and p == int(pd.Timedelta(days=7) / step)
        if weekly_subdaily and n * step < pd.Timedelta(days=28):
            continue
        if n >= min_points(p, level_window=level_window):
            return p
    need = min_points(cands[-1], level_window=level_window)
    raise InsufficientHistoryError(
        f"series needs at least {need} points to be scored with period {cands[-1]} "
        f"(two seasonal cycles, the level window and a residual history), got {n}",
        needed=need, got=n)

