"""The drill-down's pure logic: its state, stepping between slices, and the analysis.

State
-----
A drill-down view is a KPI, a day and a **slice** (dimension filters, one value per dimension, kept in
the order they were added). How it travels in a URL, and how a click on a chart becomes one, is the UI's
protocol: ``ui/links.py``.

What is explained, per kind of KPI
----------------------------------
Leaves are the slice's day × workflow × vendor site × channel × language rows; their expected values
come from :func:`metrics.baselines.leaf_baseline` (same-weekday median, allocated down from the
expected total).

* **flow** (incoming, solved…): :func:`metrics.root_cause.explain` on the KPI's part per leaf.
* **ratio** (AHT, AAS, SLA attainment, automation/escalation/reopen rate, CSAT, QA): two views.
  :func:`metrics.root_cause.mix_rate` splits the change into mix and rate per slice (over the top
  cause's dimensions, else vendor site). The root-cause set localises the **rate** part across all
  dimensions: ``explain`` on the numerator against ``denominator_actual × expected rate of the leaf``
  — what the numerator would have been had each leaf kept its usual rate on today's volume.
* **stock** (backlog): a stock adds up across slices at a point in time, so each leaf's end-of-day
  backlog is compared with its same-weekday median backlog (the *level* of the stock, not its daily
  change) and ``explain`` runs on that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from metrics.baselines import leaf_baseline
from metrics.kpis import KPI, get_kpi
from metrics.root_cause import explain, mix_rate
from metrics.slices import Slice

__all__ = [
    "Analysis",
    "DrilldownState",
    "analyse",
    "case_side",
    "coarser",
    "finer",
    "measures_for",
    "summary_sentence",
]

_CREATED_SIDE = {"incoming", "incoming_manual"}
_RATE_PRIOR = 5.0


@dataclass(frozen=True)
class DrilldownState:
    """What the drill-down shows: a KPI on a day, within a slice.

    ``slice`` holds ``(dimension, value)`` pairs in the order they were added, so "coarser" can undo
    the last step.
    """

    kpi: str
    day: date
    slice: tuple[tuple[str, str], ...] = field(default=())

    @property
    def filters(self) -> dict[str, str]:
        """The slice as ``{dimension: value}``."""
        return dict(self.slice)

    def with_filters(self, filters: Mapping[str, str]) -> DrilldownState:
        """A copy whose slice is ``filters`` (insertion order kept)."""
        return replace(self, slice=tuple((str(d), str(v)) for d, v in filters.items()))


def coarser(state: DrilldownState) -> DrilldownState | None:
    """The slice without its last dimension; ``None`` at the top (no slice).

    Examples
    --------
    >>> s = DrilldownState("incoming", date(2026, 6, 30), (("workflow", "copyright"), ("channel", "api")))
    >>> coarser(s).filters
    {'workflow': 'copyright'}
    """
    return replace(state, slice=state.slice[:-1]) if state.slice else None


def finer(state: DrilldownState, causes: Sequence[Mapping[str, str]]) -> DrilldownState | None:
    """The slice narrowed by one dimension of the top root cause; ``None`` when there is none.

    Parameters
    ----------
    causes : sequence of mapping
        The root-cause filters, best first (``explain(...)["filters"]``).

    Examples
    --------
    >>> s = DrilldownState("incoming", date(2026, 6, 30))
    >>> finer(s, [{"workflow": "brand_impersonation", "channel": "web_form"}]).filters
    {'workflow': 'brand_impersonation'}
    """
    current = state.filters
    for cause in causes[:1]:
        for d in cause:  # in the order the search ranks dimensions
            if d not in current:
                return state.with_filters({**current, d: cause[d]})
    return None


def measures_for(kpi: KPI) -> tuple[str, ...]:
    """The additive parts a KPI's leaves carry (numerator[, denominator]; ``backlog`` for the stock)."""
    if kpi.kind == "ratio":
        assert kpi.denominator is not None
        return (kpi.numerator, kpi.denominator)
    return ("backlog",) if kpi.kind == "stock" else (kpi.numerator,)


def case_side(kpi: KPI) -> Literal["created", "solved"]:
    """Which timestamp puts a case behind this KPI's day: created for intake KPIs, else solved.

    Backlog counts open cases, which a day filter cannot list; its cases are those created that day.
    """
    return "created" if kpi.numerator in _CREATED_SIDE or kpi.kind == "stock" else "solved"


@dataclass(frozen=True)
class Analysis:
    """The drill-down's numbers for one KPI, day and slice.

    ``actual``/``expected`` are in KPI units; ``causes`` is ``explain``'s frame (for ratios: of the
    rate part); ``mix`` is ``mix_rate``'s frame for ratios (else None); ``leaves`` the leaf table with
    ``actual``/``expected`` columns; ``sentence`` the one-line summary.
    """

    kpi: KPI
    actual: float
    expected: float
    leaves: pd.DataFrame
    causes: pd.DataFrame
    mix: pd.DataFrame | None
    sentence: str
    weeks: tuple[date, ...] = ()


def _named_causes(causes: pd.DataFrame, *, kpi: KPI, total: float, of: str = "", limit: int = 2) -> str:
    if causes is None or causes.empty:
        return "no slice stands out from the noise"
    parts = []
    for i, row in enumerate(causes.head(limit).itertuples(index=False)):
        parts.append(_cause_phrase(row, kpi=kpi, total=total, of=of, first=i == 0))
    more = len(causes) - limit
    return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _cause_phrase(row: Any, *, kpi: KPI, total: float, of: str, first: bool) -> str:
    """One cause's part of the change; a share above 100 % (or below 0) said in words, not as a percent.

    A cause can move more than the whole KPI when other slices moved the other way: "explains 101 %"
    reads like an error, so the sentence says it accounts for more than the whole rise and, for flows
    and the stock, gives both changes.
    """
    where = Slice.of(row.filters).words()
    share = float(row.share_of_delta)
    if not np.isfinite(share) or 0 <= round(share * 100) <= 100:
        text = f"{share * 100:.0f} %" if np.isfinite(share) else "n/a"
        return f"{where} explains {text}{of}" if first else f"{where} {text}"
    numbers = ""
    if kpi.kind != "ratio":  # a rate's leaf deltas are in cases-at-the-usual-rate: no number to quote
        delta = float(getattr(row, "delta", share * total))
        noun = "case" if round(abs(delta)) == 1 else "cases"
        digits = 0 if f"{delta:.0f}" != f"{total:.0f}" else 1  # never "+36 cases vs +36 overall"
        numbers = f" ({delta:+,.{digits}f} {noun} vs {total:+,.{digits}f} overall)"
    if share < 0:
        return f"{where} moved the other way{numbers}"
    change = "rate change" if kpi.kind == "ratio" else ("rise" if total >= 0 else "fall")
    return f"{where} accounts for more than the whole {change}{numbers}"


def summary_sentence(kpi: KPI, *, actual: float, expected: float, causes: pd.DataFrame,
                     mix: pd.DataFrame | None = None) -> str:
    """The one-line answer: how far off the KPI is, and which slice explains it.

    Examples
    --------
    >>> causes = pd.DataFrame({"filters": [{"workflow": "brand_impersonation", "vendor_site": "Manila"}],
    ...                        "share_of_delta": [0.71]})
    >>> summary_sentence(get_kpi("manual_incoming"), actual=138.0, expected=100.0, causes=causes)
    'Manual incoming +38.0 % vs expected (138 vs 100); brand impersonation at Manila explains 71 %'
    """
    if kpi.kind != "ratio":
        head = (f"{kpi.label} {kpi.format_change(actual, expected, against='expected')} "
                f"({kpi.format(actual)} vs {kpi.format(expected)})")
        return f"{head}; {_named_causes(causes, kpi=kpi, total=actual - expected)}"
    head = (f"{kpi.label} {kpi.format(actual)} vs {kpi.format(expected)} expected "
            f"({kpi.format_change(actual, expected) or 'n/a'})")
    if mix is not None and mix.attrs.get("overall"):
        overall = mix.attrs["overall"]
        # in the KPI's unit: how much the slices' own values moved it, how much the shift between slices did
        head += (f": {kpi.format_difference(overall['rate_effect'] * kpi.scale)} from the slices' own values, "
                 f"{kpi.format_difference(overall['mix_effect'] * kpi.scale)} from the mix of cases")
    return f"{head}; {_named_causes(causes, kpi=kpi, total=actual - expected, of=' of the rate change')}"


def analyse(volume: pd.DataFrame, kpi: KPI | str, day: date, *, dimensions: Sequence[str],
            slice: Mapping[str, str] | None = None, weeks: int = 8, min_weeks: int = 4,
            expected_total: float | None = None, **explain_options: Any) -> Analysis:
    """Leaves, baseline, root-cause set (and mix/rate for ratios) for one KPI on one day.

    Parameters
    ----------
    volume : pandas.DataFrame
        Daily parts per leaf (``DatetimeIndex``, the ``dimensions`` columns, the KPI's parts — see
        :func:`measures_for`; ``backlog`` from ``metrics.kpis.kpi_parts`` for the stock) of the slice,
        covering ``day`` and the ``weeks`` weeks before it.
    kpi : KPI or str
    day : datetime.date
    dimensions : sequence of str, keyword-only
        The dimensions ``volume`` is split by (the configured ones).
    slice : mapping, optional
        The slice ``volume`` is restricted to; its dimensions are left out of the search.
    weeks, min_weeks : int, keyword-only
        Same-weekday baseline (see :mod:`metrics.baselines`).
    expected_total : float, optional, keyword-only
        The expected KPI value of the slice (e.g. from the detector): for flows and the stock the leaves
        are allocated down from it; for a ratio every leaf's usual rate is scaled by one factor so that the
        slice's expected rate is this one (the sentence then states the detector's expected value).
    **explain_options
        Passed to :func:`metrics.root_cause.explain`.

    Returns
    -------
    Analysis

    Raises
    ------
    ValueError
        From :func:`metrics.baselines.leaf_baseline` (day outside the data, too few weeks).
    """
    spec = get_kpi(kpi) if isinstance(kpi, str) else kpi
    fixed = dict(slice or {})
    dimensions = list(dimensions)
    dims = [d for d in dimensions if d not in fixed]
    measures = measures_for(spec)
    totals = {measures[0]: float(expected_total)} if (
        expected_total is not None and spec.kind != "ratio" and np.isfinite(expected_total)) else None
    table = leaf_baseline(volume, day, by=dimensions, measures=measures, weeks=weeks,
                          min_weeks=min_weeks, totals=totals)
    weeks_used = tuple(table.attrs["weeks"])
    explain_dims = [d for d in dims if table[d].nunique() > 1] or dims
    mix = None
    if spec.kind != "ratio":
        m = measures[0]
        leaves = table[dimensions].assign(actual=table[m].clip(lower=0),
                                             expected=table[f"{m}_expected"].clip(lower=0))
        actual, expected = float(leaves["actual"].sum()), float(leaves["expected"].sum())
    else:
        num, den = measures
        n1, d1 = table[num].clip(lower=0), table[den].clip(lower=0)
        n0, d0 = table[f"{num}_expected"].clip(lower=0), table[f"{den}_expected"].clip(lower=0)
        big_r0 = n0.sum() / d0.sum() if d0.sum() > 0 else np.nan
        judged = expected_total / spec.scale if expected_total is not None and np.isfinite(expected_total) else None
        if judged is not None and np.isfinite(big_r0) and big_r0 > 0:
            # one judgment: the rate expected is the detector's; every leaf's usual rate is scaled by the same
            # factor, so the mix/rate split allocates the detector's expected value, not a second baseline's
            n0, big_r0 = n0 * (judged / big_r0), judged
        actual = float(n1.sum() / d1.sum() * spec.scale) if d1.sum() > 0 else np.nan
        expected = float(big_r0 * spec.scale)
        # What each leaf's numerator would be at its usual rate on today's volume. A leaf's own rate
        # rests on a handful of cases, so it is shrunk towards the overall rate (a prior worth
        # `_RATE_PRIOR` denominator units); raw leaf rates of 0 or 1 would read as causes.
        prior = big_r0 if np.isfinite(big_r0) else 0.0
        r0 = (n0 + _RATE_PRIOR * prior) / (d0 + _RATE_PRIOR)
        # In units of "cases at the usual overall rate", so explain's Poisson noise term (1 / cases)
        # fits sums of per-case values such as handle time or age at solve.
        unit = big_r0 if np.isfinite(big_r0) and big_r0 > 0 else 1.0
        explain_options.setdefault("counts", True)
        leaves = table[dimensions].assign(actual=n1 / unit, expected=d1 * r0 / unit,
                                             numerator_actual=n1, denominator_actual=d1,
                                             numerator_expected=n0, denominator_expected=d0)
    causes = explain(leaves, explain_dims, **explain_options) if explain_dims else explain(
        leaves.iloc[:0], dimensions)
    if spec.kind == "ratio" and np.isfinite(actual) and np.isfinite(expected):
        by = list(causes["dimensions"].iloc[0]) if len(causes) else [
            "vendor_site" if "vendor_site" in dims else (explain_dims or dimensions)[0]]
        mix = mix_rate(leaves, by)
    sentence = summary_sentence(spec, actual=actual, expected=expected, causes=causes, mix=mix)
    return Analysis(spec, actual, expected, leaves, causes, mix, sentence, weeks_used)
