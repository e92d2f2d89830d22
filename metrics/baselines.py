"""Expected values per leaf for one day: the same-weekday baseline, allocated down from the total.

The baseline, stated once
-------------------------
For a day ``d`` and each leaf (one combination of dimension values), the leaf's **raw baseline** is
the median of its values on the same weekday of the previous ``weeks`` weeks (``d - 7``, ``d - 14``,
…; default 8, at least ``min_weeks`` of them inside the data). Medians ignore a one-off spike in
one of those weeks, and the same weekday carries the weekly pattern without a model.

Medians do not add up: the sum of leaf medians is not the median of the total (sparse leaves have a
median of 0 most weeks, so the sum falls short). So the **expected total** — the detector's expected
value when the caller has one, else the same-weekday median of the total — is allocated down to the
leaves in proportion to their raw baselines::

    expected_leaf = expected_total * baseline_leaf / sum(baseline_leaf)

which makes the leaves add up to the expected total exactly. When every raw baseline is 0 the
allocation falls back to the leaves' mean over those weeks, and then to an even split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = ["allocate", "leaf_baseline", "same_weekdays"]


def same_weekdays(day: date, *, weeks: int = 8) -> list[date]:
    """The same weekday in each of the previous ``weeks`` weeks, newest first.

    Parameters
    ----------
    day : datetime.date
        The day being explained.
    weeks : int, keyword-only
        How many weeks back (>= 1).

    Returns
    -------
    list of datetime.date

    Raises
    ------
    ValueError
        If ``weeks`` < 1.

    Examples
    --------
    >>> same_weekdays(date(2026, 6, 30), weeks=2)
    [datetime.date(2026, 6, 23), datetime.date(2026, 6, 16)]
    """
    if weeks < 1:
        raise ValueError(f"`weeks` must be >= 1, got {weeks}")
    return [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]


def allocate(total: float, baseline: np.ndarray | pd.Series, *,
             fallback: np.ndarray | pd.Series | None = None) -> np.ndarray:
    """Split ``total`` over leaves in proportion to ``baseline`` (so the parts add up to ``total``).

    Parameters
    ----------
    total : float
        The expected total (>= 0).
    baseline : array-like of float
        Non-negative weights, one per leaf.
    fallback : array-like of float, optional, keyword-only
        Weights used when every ``baseline`` weight is 0; an even split when these are 0 too.

    Returns
    -------
    numpy.ndarray
        One expected value per leaf; ``sum == total``.

    Raises
    ------
    ValueError
        If ``total`` is negative or not finite, or a weight is negative.

    Examples
    --------
    >>> allocate(100.0, np.array([1.0, 3.0])).tolist()
    [25.0, 75.0]
    """
    if not np.isfinite(total) or total < 0:
        raise ValueError(f"`total` must be finite and >= 0, got {total}")
    weights = np.asarray(baseline, dtype=np.float64)
    if (weights < 0).any():
        raise ValueError("`baseline` weights must be >= 0")
    if weights.size == 0:
        return weights
    for candidate in (weights, None if fallback is None else np.asarray(fallback, dtype=np.float64)):
        if candidate is not None and candidate.sum() > 0:
            return total * candidate / candidate.sum()
    return np.full(weights.size, total / weights.size)


def leaf_baseline(volume: pd.DataFrame, day: date, *, by: Sequence[str], measures: Sequence[str],
                  weeks: int = 8, min_weeks: int = 4,
                  totals: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Actual and expected value of each measure per leaf on ``day`` (see the module docstring).

    Parameters
    ----------
    volume : pandas.DataFrame
        Daily additive measures on a ``DatetimeIndex`` with the ``by`` columns (one row per day and
        leaf, as ``loaders.load_daily_volume(..., by=DIMENSIONS)`` returns), covering ``day`` and the
        weeks before it. Days missing from the frame count as 0 for a leaf seen on other days.
    day : datetime.date
        The day being explained.
    by : sequence of str
        Dimension columns identifying a leaf.
    measures : sequence of str
        Additive, non-negative measure columns.
    weeks : int, keyword-only
        Same weekdays looked back (4..8 is the documented range; >= 1 accepted).
    min_weeks : int, keyword-only
        Fewest of those weekdays that must lie inside the frame's date range.
    totals : mapping, optional, keyword-only
        Expected total per measure (e.g. the detector's expected value); measures not given use the
        same-weekday median of the total.

    Returns
    -------
    pandas.DataFrame
        One row per leaf: the ``by`` columns, then per measure ``<m>`` (actual on ``day``),
        ``<m>_expected`` (allocated, adds up to the expected total) and ``<m>_baseline`` (raw median).
        ``attrs["weeks"]`` lists the days used, ``attrs["totals"]`` the expected totals.

    Raises
    ------
    ValueError
        If a column is missing, ``day`` is not in the frame's range, or fewer than ``min_weeks``
        previous same weekdays are.

    Examples
    --------
    >>> leaves = leaf_baseline(volume, date(2026, 6, 30), by=["workflow"], measures=["incoming"])  # doctest: +SKIP
    """
    by, measures = list(by), list(measures)
    if not by or not measures:
        raise ValueError("`by` and `measures` must each name at least one column")
    missing = [c for c in (*by, *measures) if c not in volume.columns]
    if missing:
        raise ValueError(f"`volume` lacks column(s): {', '.join(missing)}")
    if not isinstance(volume.index, pd.DatetimeIndex):
        raise ValueError(f"`volume` must be indexed by day (DatetimeIndex), got {type(volume.index).__name__}")
    if min_weeks < 1 or weeks < min_weeks:
        raise ValueError(f"`weeks` must be >= `min_weeks` >= 1, got weeks={weeks}, min_weeks={min_weeks}")
    target = pd.Timestamp(day)
    if volume.empty or not volume.index.min() <= target <= volume.index.max():
        span = "no rows" if volume.empty else f"{volume.index.min():%Y-%m-%d} – {volume.index.max():%Y-%m-%d}"
        raise ValueError(f"`day` {day} is outside the data ({span})")
    first = volume.index.min()
    history = [pd.Timestamp(d) for d in same_weekdays(day, weeks=weeks) if pd.Timestamp(d) >= first]
    if len(history) < min_weeks:
        raise ValueError(f"the baseline needs at least {min_weeks} previous same weekdays before {day}, "
                         f"the data has {len(history)}")
    rows = volume[volume.index.isin([target, *history])]
    frame = rows.rename_axis("day").reset_index()
    out: pd.DataFrame | None = None
    totals = dict(totals or {})
    used: dict[str, float] = {}
    for m in measures:
        grid = frame.pivot_table(index=by, columns="day", values=m, aggfunc="sum", fill_value=0.0)
        grid = grid.reindex(columns=[target, *history], fill_value=0.0)
        past = grid[history].to_numpy(dtype=np.float64)
        raw = np.median(past, axis=1)
        expected_total = float(totals.get(m, np.median(past.sum(axis=0))))
        used[m] = expected_total
        part = pd.DataFrame({m: grid[target].to_numpy(dtype=np.float64),
                             f"{m}_expected": allocate(max(expected_total, 0.0), raw, fallback=past.mean(axis=1)),
                             f"{m}_baseline": raw}, index=grid.index)
        out = part if out is None else out.join(part, how="outer").fillna(0.0)
    assert out is not None
    result = out.reset_index()
    for d in by:
        result[d] = result[d].astype("str")
    result.attrs["weeks"] = [h.date() for h in history]
    result.attrs["totals"] = used
    return result
