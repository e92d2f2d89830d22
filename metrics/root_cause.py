"""Root-cause localisation across dimensions, and mix/rate split of ratio KPIs.

Two questions an analyst asks once a KPI is abnormal:

* :func:`explain` -- *which slices drove it?* For an additive measure given at
  leaf level (one row per combination of dimension values, with the actual and
  expected value for the abnormal period) it returns the small **set** of
  dimension-value combinations judged responsible.
* :func:`mix_rate` -- *for a ratio KPI, did the rate move inside the slices or
  did the traffic move between slices?* A Kitagawa (symmetric shift-share)
  decomposition per slice, whose parts add up exactly to the overall change.

How :func:`explain` works
-------------------------
It follows the "ripple effect" assumption shared by Squeeze, PSqueeze and
RiskLoc: when a slice is the root cause, *all* its leaves move by a similar
ratio, while leaves outside every cause only carry forecast noise.

1. Each leaf gets the bounded deviation score ``d = 2 (a - e) / (a + e)``
   (0 when both are 0; defined when ``e == 0``).
2. The noise scale is estimated robustly from the leaves that moved *against*
   the overall change (they are nearly all noise), so no threshold needs
   tuning per data set. For count data (integer actuals) a Poisson term
   ``1 / e`` is added to each leaf's variance, so that small leaves weigh less.
3. Each candidate element (any value combination over 1..``max_depth``
   dimensions) is scored by the z-statistic of its leaves' weighted mean
   deviation, ``Z = sum(w d) / sqrt(sum(w))``. Under the ripple model this is
   the likelihood-ratio statistic of "this element shifted" against "nothing
   shifted here": the exact cause beats its parents (diluted by normal
   leaves, ``Z`` shrinks by ``sqrt(fraction)``) and its children (fewer
   leaves), which is what makes the answer succinct without a separate
   succinctness rule.
4. Greedy: take the best element, retire its leaves, rescore, until no element
   clears a significance bar that grows with the number of candidates
   (``sqrt(2 ln M) + 1``, a Bonferroni-like bound on the best noise-only
   ``Z``). Scoring is vectorised with ``np.bincount`` per cuboid, so 20,000
   leaves over 4-5 dimensions take a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["explain", "mix_rate"]

# Median of |N(0, 1)|: turns a median absolute deviation into a standard deviation.
_MAD_TO_SD = 0.6744897501960817
_Z_MARGIN = 2.0
_PEARSON_CAP = 16.0
_MAX_COUNT_RATIO = 4.0
_EXTREME_MARGIN = 1.5
_RESULT_COLUMNS = [
    "filters",
    "actual",
    "expected",
    "delta",
    "share_of_delta",
    "ratio",
    "n_leaves",
    "score",
    "surprise",
    "dimensions",
]


def _as_dimension_list(dimensions: Sequence[str] | str) -> list[str]:
    dims = [dimensions] if isinstance(dimensions, str) else list(dimensions)
    if not dims:
        raise ValueError("`dimensions` must name at least one column, got none")
    seen: set[str] = set()
    for dim in dims:
        if dim in seen:
            raise ValueError(f"`dimensions` must not repeat a column, `{dim}` appears twice")
        seen.add(dim)
    return dims


def _check_columns(leaves: pd.DataFrame, dims: list[str], measures: dict[str, str]) -> None:
    if not isinstance(leaves, pd.DataFrame):
        raise TypeError(f"`leaves` must be a pandas DataFrame, got {type(leaves).__name__}")
    for dim in dims:
        if dim not in leaves.columns:
            raise ValueError(
                f"dimension `{dim}` is not a column of `leaves` (columns: {', '.join(map(str, leaves.columns))})"
            )
        if leaves[dim].isna().any():
            raise ValueError(
                f"dimension `{dim}` must not contain missing values; fill them with an explicit label such as 'unknown'"
            )
    for role, column in measures.items():
        if column in dims:
            raise ValueError(f"`{role}` column `{column}` cannot also be a dimension")
        if column not in leaves.columns:
            raise ValueError(f"`{role}` column `{column}` is not a column of `leaves`")
        values = leaves[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ValueError(f"`{role}` column `{column}` must be numeric, got dtype {values.dtype}")
        if values.isna().any():
            raise ValueError(
                f"`{role}` column `{column}` must not contain missing values, found {int(values.isna().sum())}"
            )
        arr = values.to_numpy(dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(f"`{role}` column `{column}` must be finite")
        n_negative = int((arr < 0).sum())
        if n_negative:
            raise ValueError(
                f"`{role}` column `{column}` must be >= 0 (an additive measure), found {n_negative} negative value(s)"
            )


def _factorize(leaves: pd.DataFrame, dims: list[str]) -> tuple[list[np.ndarray], list[int]]:
    codes, sizes = [], []
    for dim in dims:
        c, uniques = pd.factorize(leaves[dim], sort=False)
        codes.append(c.astype(np.int64))
        sizes.append(max(len(uniques), 1))
    return codes, sizes


def _cuboid_codes(codes: list[np.ndarray], sizes: list[int], cuboid: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """Compact element index per leaf for one cuboid, and the number of elements."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    capacity = 1
    for j in cuboid:
        combined = combined * sizes[j] + codes[j]
        capacity *= sizes[j]
    # Dense mixed-radix codes are fine while the capacity stays near the row
    # count; sparse cubes (many dimensions, few observed combinations) would make
    # bincount allocate huge arrays, so compact them.
    if capacity <= 4 * len(combined) + 1024:
        return combined, capacity
    compact, uniques = pd.factorize(combined, sort=False)
    return compact.astype(np.int64), len(uniques)


def _noise_scale(dev: np.ndarray, poisson_var: np.ndarray, floor: float) -> float:
    """Relative noise sd such that median |dev| / sd_i equals the normal MAD."""
    if dev.size == 0:
        return floor
    abs_dev = np.abs(dev)
    if not poisson_var.any():
        return max(float(np.median(abs_dev)) / _MAD_TO_SD, floor)

    def median_z(sigma: float) -> float:
        return float(np.median(abs_dev / np.sqrt(sigma**2 + poisson_var)))

    if median_z(floor) <= _MAD_TO_SD:
        return floor
    lo, hi = floor, 4.0
    if median_z(hi) > _MAD_TO_SD:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if median_z(mid) > _MAD_TO_SD:
            lo = mid
        else:
            hi = mid
    return hi


def _count_noise_scale(a: np.ndarray, e: np.ndarray, floor: float) -> float:
    """Extra relative noise of count leaves beyond Poisson, by winsorised moments.

    Solves ``mean(min((a - e)^2 / (sigma^2 e^2 + e), 16)) = 1`` for ``sigma``
    (``e`` floored at 0.5): the squared Pearson residuals of a well-specified
    model average 1, and the cap at 4 standard deviations keeps a stray cause
    on the noise side from inflating the scale.
    """
    if a.size == 0:
        return floor
    e_f = np.maximum(e, 0.5)
    sq = (a - e) ** 2

    def excess(sigma: float) -> float:
        return float(np.mean(np.minimum(sq / (sigma**2 * e_f**2 + e_f), _PEARSON_CAP))) - 1.0

    if excess(floor) <= 0:
        return floor
    lo, hi = floor, 4.0
    if excess(hi) > 0:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return hi


def _js_surprise(p: float, q: float) -> float:
    """Adtributor's surprise: Jensen-Shannon term of expected vs actual share."""
    total = 0.0
    m = 0.5 * (p + q)
    for x in (p, q):
        if x > 0 and m > 0:
            total += 0.5 * x * np.log(x / m)
    return float(total)


def explain(
    leaves: pd.DataFrame,
    dimensions: Sequence[str],
    actual: str = "actual",
    expected: str = "expected",
    *,
    max_depth: int | None = None,
    max_causes: int = 10,
    direction: Literal["auto", "up", "down", "both"] = "auto",
    z_min: float | None = None,
    min_share: float = 0.0,
    counts: bool | None = None,
    noise_floor: float = 0.01,
) -> pd.DataFrame:
    """Find the set of dimension-value combinations that explains an anomaly.

    Parameters
    ----------
    leaves : pandas.DataFrame
        One row per combination of dimension values (the finest grain), with an
        additive, non-negative measure for the abnormal period: the observed
        value and the value expected by a baseline.
    dimensions : sequence of str
        Dimension columns of ``leaves`` (a single name is accepted).
    actual, expected : str
        Names of the observed and expected measure columns.
    max_depth : int, optional
        Largest number of dimensions combined in one cause; default all.
    max_causes : int, default 10
        Upper bound on the size of the returned set.
    direction : {"auto", "up", "down", "both"}, default "auto"
        Which movement counts as a cause. ``"auto"`` follows the sign of the
        total change (a spike is explained by slices that went up).
    z_min : float, optional
        Significance bar on an element's z-score. Default
        ``sqrt(2 ln M) + 1`` with ``M`` the number of candidate elements.
    min_share : float, default 0.0
        Smallest share of the total change a cause must carry on its own;
        raise it (e.g. 0.05) to hide significant but immaterial slices.
    counts : bool, optional
        Treat the measure as counts and add Poisson noise per leaf. Default:
        true when every actual value is an integer.
    noise_floor : float, default 0.01
        Lower bound on the relative noise scale, so that near-exact forecasts
        do not make every rounding difference significant.

    Returns
    -------
    pandas.DataFrame
        One row per cause, ranked by ``share_of_delta`` (largest first), with
        columns ``filters`` (dict ``{dimension: value}``; a dimension left out
        means all values), ``actual``, ``expected``, ``delta`` (actual -
        expected, summed over every leaf the filters match),
        ``share_of_delta`` (``delta`` / total change), ``ratio`` (actual /
        expected, NaN when expected is 0), ``n_leaves``, ``score`` (the
        element's z-score when chosen), ``surprise`` (Jensen-Shannon
        divergence of its share, as in Adtributor) and ``dimensions`` (tuple
        of the dimensions used). Empty when nothing stands out from noise.
        Causes may overlap, so shares can add up to a little more than 1.

    Raises
    ------
    TypeError
        If ``leaves`` is not a DataFrame.
    ValueError
        If a dimension or measure column is missing, repeated or has missing
        values, a measure is negative or not numeric, two rows share the same
        dimension values, or an option is out of range.

    Examples
    --------
    >>> leaves = pd.DataFrame({
    ...     "channel": ["web", "email", "chat", "phone"],
    ...     "actual": [300.0, 101.0, 99.0, 100.0],
    ...     "expected": [100.0, 100.0, 100.0, 100.0],
    ... })
    >>> causes = explain(leaves, ["channel"])
    >>> causes.loc[0, "filters"], round(float(causes.loc[0, "share_of_delta"]), 2)
    ({'channel': 'web'}, 1.0)
    """
    dims = _as_dimension_list(dimensions)
    _check_columns(leaves, dims, {"actual": actual, "expected": expected})
    _check_options(max_depth=max_depth, max_causes=max_causes, direction=direction, min_share=min_share,
                   noise_floor=noise_floor)
    empty = pd.DataFrame(
        {c: pd.Series(dtype=object if c in ("filters", "dimensions") else float) for c in _RESULT_COLUMNS}
    )
    if leaves.empty:
        return empty
    codes, sizes = _unique_leaves(leaves, dims)
    a = leaves[actual].to_numpy(dtype=np.float64)
    e = leaves[expected].to_numpy(dtype=np.float64)
    total_delta = float(a.sum()) - float(e.sum())
    if total_delta == 0 and direction == "auto":
        return empty
    counts = bool(np.all(a == np.round(a))) if counts is None else counts
    sign = {"auto": 1.0 if total_delta > 0 else -1.0, "up": 1.0, "down": -1.0, "both": 0.0}[direction]
    dev, weight, noise_extreme = _leaf_evidence(a, e, counts=counts, sign=sign, noise_floor=noise_floor)

    depth = len(dims) if max_depth is None else min(max_depth, len(dims))
    cuboids = [c for k in range(1, depth + 1) for c in combinations(range(len(dims)), k)]
    cuboid_codes = [_cuboid_codes(codes, sizes, c) for c in cuboids]
    n_candidates = sum(n for _, n in cuboid_codes)
    threshold = z_min if z_min is not None else float(np.sqrt(2.0 * np.log(max(n_candidates, 2))) + _Z_MARGIN)
    chosen = _greedy_causes(cuboid_codes, a - e, dev, weight, sign=sign, total_delta=total_delta,
                            threshold=threshold, noise_extreme=noise_extreme, min_share=min_share,
                            max_causes=max_causes)
    if not chosen:
        return empty
    return _cause_table(leaves, dims, cuboids, cuboid_codes, chosen, a, e)


def _check_options(*, max_depth: int | None, max_causes: int, direction: str, min_share: float,
                   noise_floor: float) -> None:
    if max_depth is not None and max_depth < 1:
        raise ValueError(f"`max_depth` must be >= 1, got {max_depth}")
    if max_causes < 1:
        raise ValueError(f"`max_causes` must be >= 1, got {max_causes}")
    if direction not in ("auto", "up", "down", "both"):
        raise ValueError(f"`direction` must be one of 'auto', 'up', 'down', 'both', got {direction!r}")
    if not 0 <= min_share < 1:
        raise ValueError(f"`min_share` must be in [0, 1), got {min_share}")
    if noise_floor <= 0:
        raise ValueError(f"`noise_floor` must be > 0, got {noise_floor}")


def _unique_leaves(leaves: pd.DataFrame, dims: list[str]) -> tuple[list[np.ndarray], list[int]]:
    """The leaves' value codes per dimension; a combination given twice is an error (aggregate first)."""
    codes, sizes = _factorize(leaves, dims)
    full_codes, _ = _cuboid_codes(codes, sizes, tuple(range(len(dims))))
    n_unique = int(np.unique(full_codes).size)
    if n_unique < len(leaves):
        dup = leaves.duplicated(subset=dims, keep=False)
        first = leaves.loc[dup, dims].iloc[0].to_dict()
        raise ValueError(
            "`leaves` must hold one row per combination of dimension values, found "
            f"{len(leaves) - n_unique} duplicated row(s), e.g. {first}; aggregate them first"
        )
    return codes, sizes


def _leaf_evidence(a: np.ndarray, e: np.ndarray, *, counts: bool, sign: float,
                   noise_floor: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Each leaf's deviation, its weight (1 / its noise variance) and the most extreme noise seen against the
    change: what the search sums per candidate."""
    mass = a + e
    informative = mass > 0
    dev = np.zeros_like(a)
    np.divide(2.0 * (a - e), mass, out=dev, where=informative)
    poisson_var = np.zeros_like(a)
    if counts:
        # For counts the relative change r = (a - e) / e with Poisson variance
        # 1 / e makes an element's score the plain Poisson test of its total,
        # (A - E) / sqrt(E), when there is no extra noise; the bounded d
        # would throw away much of that power on small leaves. The floor keeps
        # a slice that appears from nothing (e = 0) finite, the clip keeps one
        # exploding leaf from posing as a whole slice.
        e_floor = np.maximum(e, 0.5)
        dev = np.where(informative, np.clip((a - e) / e_floor, -1.0, _MAX_COUNT_RATIO), 0.0)
        poisson_var = np.where(informative, 1.0 / e_floor, 0.0)
    # Leaves that moved against the change are (nearly) all noise when causes
    # push one way; with both ways allowed, fall back to every leaf.
    noise_side = informative & (sign * dev <= 0) if sign else informative.copy()
    if counts:
        # Small counts make d skewed and discrete (a = 0 gives d = -1), so a
        # median of |d| says little about the noise: with a few cases per leaf
        # it reads Poisson scatter as a 50 % relative noise and hides real
        # causes. The Poisson part is known; estimate only the extra relative
        # noise, by moments on the leaves that moved against the change.
        sigma = _count_noise_scale(a[noise_side], e[noise_side], noise_floor)
    else:
        sigma = _noise_scale(dev[noise_side], poisson_var[noise_side], noise_floor)
    weight = np.where(informative, 1.0 / (sigma**2 + poisson_var), 0.0)
    # Leaf noise has heavier tails than the normal model behind the bar, and a
    # one-leaf element is judged on one draw: hold it to the most extreme noise
    # seen on the other side (RiskLoc's cutoff idea), shrinking with sqrt(n).
    leaf_z = np.abs(dev) * np.sqrt(weight)
    opposite = informative & (sign * dev < 0)
    noise_extreme = float(leaf_z[opposite].max()) if sign and opposite.any() else 0.0
    return dev, weight, noise_extreme


def _greedy_causes(cuboid_codes: list[tuple[np.ndarray, int]], gap: np.ndarray, dev: np.ndarray,
                   weight: np.ndarray, *, sign: float, total_delta: float, threshold: float, noise_extreme: float,
                   min_share: float, max_causes: int) -> list[tuple[int, int, float]]:
    """The greedy search: the most surprising candidate (cuboid, element) above the bar, its leaves removed, again,
    until none passes. Returns ``(cuboid index, element, score)`` in the order found."""
    active = weight > 0
    wd = weight * dev
    abs_total = abs(total_delta) if total_delta != 0 else float(np.abs(gap).sum())
    chosen: list[tuple[int, int, float]] = []
    for _ in range(max_causes):
        w_act = np.where(active, weight, 0.0)
        wd_act = np.where(active, wd, 0.0)
        gap_act = np.where(active, gap, 0.0)
        best: tuple[float, int, int] | None = None
        for ci, (cc, n_el) in enumerate(cuboid_codes):
            s0 = np.bincount(cc, weights=w_act, minlength=n_el)
            s1 = np.bincount(cc, weights=wd_act, minlength=n_el)
            g = np.bincount(cc, weights=gap_act, minlength=n_el)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(s0 > 0, s1 / np.sqrt(s0), 0.0)
            oriented = z * sign if sign else np.abs(z)
            share = (g * sign if sign else np.abs(g)) / abs_total
            oriented = np.where(share >= max(min_share, 1e-12), oriented, -np.inf)
            passing = oriented > threshold
            if not passing.any():
                continue
            if _EXTREME_MARGIN * noise_extreme > threshold:
                n_act = np.bincount(cc, weights=active, minlength=n_el)
                bar = _EXTREME_MARGIN * noise_extreme / np.sqrt(np.maximum(n_act, 1.0))
                oriented = np.where(oriented > bar, oriented, -np.inf)
            k = int(np.argmax(oriented))
            # Strict ">" keeps the coarser cuboid on ties: the succinct answer.
            if oriented[k] > threshold and (best is None or oriented[k] > best[0]):
                best = (float(oriented[k]), ci, k)
        if best is None:
            break
        score, ci, k = best
        chosen.append((ci, k, score))
        active &= cuboid_codes[ci][0] != k
    return chosen


def _cause_table(leaves: pd.DataFrame, dims: list[str], cuboids: list[tuple[int, ...]],
                 cuboid_codes: list[tuple[np.ndarray, int]], chosen: list[tuple[int, int, float]],
                 a: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    """The chosen candidates as the result rows, largest share of the change first."""
    total_actual, total_expected = float(a.sum()), float(e.sum())
    total_delta = total_actual - total_expected
    rows = []
    for ci, k, score in chosen:
        mask = cuboid_codes[ci][0] == k
        first = int(np.flatnonzero(mask)[0])
        used = [dims[j] for j in cuboids[ci]]
        filters = {dim: leaves[dim].iloc[first] for dim in used}
        filters = {d: (v.item() if isinstance(v, np.generic) else v) for d, v in filters.items()}
        sa, se = float(a[mask].sum()), float(e[mask].sum())
        p = se / total_expected if total_expected > 0 else 0.0
        q = sa / total_actual if total_actual > 0 else 0.0
        rows.append(
            {
                "filters": filters,
                "actual": sa,
                "expected": se,
                "delta": sa - se,
                "share_of_delta": (sa - se) / total_delta if total_delta else np.nan,
                "ratio": sa / se if se > 0 else np.nan,
                "n_leaves": int(mask.sum()),
                "score": score,
                "surprise": _js_surprise(p, q),
                "dimensions": tuple(used),
            }
        )
    out = pd.DataFrame(rows, columns=_RESULT_COLUMNS)
    out = out.sort_values(["share_of_delta", "score"], ascending=False, kind="stable")
    return out.reset_index(drop=True)


def mix_rate(
    leaves: pd.DataFrame,
    dimensions: Sequence[str] | str,
    *,
    numerator_actual: str = "numerator_actual",
    denominator_actual: str = "denominator_actual",
    numerator_expected: str = "numerator_expected",
    denominator_expected: str = "denominator_expected",
) -> pd.DataFrame:
    """Split the change of a ratio KPI into mix and rate effects per slice.

    The overall rate is ``R = sum_k s_k r_k`` with ``s_k`` the slice's share of
    the denominator and ``r_k`` its own rate. The symmetric (Kitagawa)
    shift-share decomposition writes the change exactly as

    ``R1 - R0 = sum_k (s1_k - s0_k) (rbar_k - Rbar)  +  sum_k sbar_k (r1_k - r0_k)``

    where bars are the means of the expected (0) and actual (1) periods. The
    first term is the **mix** effect (volume moved towards slices whose rate
    is above the average raises the KPI; centring on ``Rbar`` changes no
    total, because shares sum to one, but makes each slice's sign readable),
    the second the **rate** effect (the slice's own rate moved). A slice with
    no denominator in one period has no rate there; it is given the other
    period's rate, so its whole effect is mix.

    Parameters
    ----------
    leaves : pandas.DataFrame
        Rows at any grain at or below the slices; they are summed per slice.
    dimensions : str or sequence of str
        Column(s) defining the slices.
    numerator_actual, denominator_actual, numerator_expected, denominator_expected : str
        Additive parts of the ratio for the abnormal (actual) and the
        reference (expected) period, e.g. handle time and solved cases for AHT.

    Returns
    -------
    pandas.DataFrame
        One row per slice, sorted by ``abs(total_effect)``, with the slice
        columns, ``share_expected``, ``share_actual``, ``rate_expected``,
        ``rate_actual`` (NaN without denominator), ``mix_effect``,
        ``rate_effect`` and ``total_effect``. Column sums add up exactly to the
        overall change; ``attrs["overall"]`` holds ``rate_expected``,
        ``rate_actual``, ``change``, ``mix_effect`` and ``rate_effect``.

    Raises
    ------
    TypeError
        If ``leaves`` is not a DataFrame.
    ValueError
        If a column is missing or a part is negative or missing, or a period
        has a zero total denominator.

    Examples
    --------
    >>> leaves = pd.DataFrame({
    ...     "channel": ["web", "app"],
    ...     "numerator_expected": [10.0, 40.0], "denominator_expected": [100.0, 100.0],
    ...     "numerator_actual": [20.0, 40.0], "denominator_actual": [200.0, 100.0],
    ... })
    >>> out = mix_rate(leaves, "channel")
    >>> round(float(out["mix_effect"].sum() + out["rate_effect"].sum()), 4)
    -0.05
    """
    dims = _as_dimension_list(dimensions)
    parts = {
        "numerator_actual": numerator_actual,
        "denominator_actual": denominator_actual,
        "numerator_expected": numerator_expected,
        "denominator_expected": denominator_expected,
    }
    _check_columns(leaves, dims, parts)
    grouped = leaves.groupby(dims, sort=True, observed=True)[list(parts.values())].sum()
    n1 = grouped[numerator_actual].to_numpy(dtype=np.float64)
    d1 = grouped[denominator_actual].to_numpy(dtype=np.float64)
    n0 = grouped[numerator_expected].to_numpy(dtype=np.float64)
    d0 = grouped[denominator_expected].to_numpy(dtype=np.float64)
    if d0.sum() <= 0:
        raise ValueError(f"`denominator_expected` column `{denominator_expected}` must not sum to 0")
    if d1.sum() <= 0:
        raise ValueError(f"`denominator_actual` column `{denominator_actual}` must not sum to 0")

    s0, s1 = d0 / d0.sum(), d1 / d1.sum()
    r0 = np.divide(n0, d0, out=np.full_like(n0, np.nan), where=d0 > 0)
    r1 = np.divide(n1, d1, out=np.full_like(n1, np.nan), where=d1 > 0)
    # Where a period has no denominator its rate is undefined and weighs
    # nothing in that period's total; borrowing the other period's rate keeps
    # the identity exact and assigns the slice's whole effect to mix.
    f0 = np.where(np.isnan(r0), np.nan_to_num(r1), r0)
    f1 = np.where(np.isnan(r1), np.nan_to_num(r0), r1)
    big_r0, big_r1 = n0.sum() / d0.sum(), n1.sum() / d1.sum()
    centre = 0.5 * (big_r0 + big_r1)
    mix = (s1 - s0) * (0.5 * (f0 + f1) - centre)
    rate = 0.5 * (s0 + s1) * (f1 - f0)

    out = grouped.index.to_frame(index=False)
    out["share_expected"] = s0
    out["share_actual"] = s1
    out["rate_expected"] = r0
    out["rate_actual"] = r1
    out["mix_effect"] = mix
    out["rate_effect"] = rate
    out["total_effect"] = mix + rate
    order = np.argsort(-np.abs(out["total_effect"].to_numpy()), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    out.attrs["overall"] = {
        "rate_expected": float(big_r0),
        "rate_actual": float(big_r1),
        "change": float(big_r1 - big_r0),
        "mix_effect": float(mix.sum()),
        "rate_effect": float(rate.sum()),
    }
    return out
