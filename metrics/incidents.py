"""Incidents: the flags of scored series, grouped by cause and ranked — what the lists and the stand-up show.

:func:`rank` turns the verdicts of ``metrics.anomalies.score_frame`` (a :class:`~metrics.anomalies.Scores`) into
one row per flagged point, grouped into incidents (flags a day apart on related series, see
:func:`_related`), each named by its lead (:func:`_leads`: the KPI and slice that explain it). :func:`scan` /
:func:`scan_last` score a frame and rank it in one call.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from metrics.anomalies import MIN_CASES, MIN_CHANGE, AnomalyInputError, Scores, score_frame
from metrics.slices import series_parts

__all__ = ["rank", "rank_empty", "scan", "scan_last"]


def _related(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> bool:
    """Two series can show one incident: nested slices, and the same KPI unless both are sliced.

    ``incoming`` total and ``incoming`` copyright are related (one contains the other), so are
    ``backlog`` at Hyderabad and ``solved`` at Hyderabad (one place, two symptoms); ``aht`` in
    total and ``incoming`` at one site are not (a total moves for many reasons), nor are two
    sibling slices (copyright at Manila and copyright at Dublin).
    """
    (ka, sa), (kb, sb) = a, b
    nested = sa <= sb or sb <= sa
    return nested and (ka == kb or (bool(sa) and bool(sb)))


def _group_incidents(flags: pd.DataFrame, *, gap_days: int, max_span_days: int) -> np.ndarray:
    """Incident roots: flags at most ``gap_days`` apart on related series (see :func:`_related`), an
    incident never reaching more than ``max_span_days`` past its first day.

    Without the span limit the links chain: a site outage flags the totals, the totals relate to every
    slice of their KPI, each slice to its neighbours' next day — and two weeks of unrelated flags end
    up in one incident. Flags are taken in day order; a flag joins (and merges) the incidents it is
    linked to only while their first day is within ``max_span_days``, else it starts a new one.
    """
    n = len(flags)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [series_parts(s) for s in flags["series"]]
    days = flags["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.argsort(days, kind="stable")
    first = days.copy()  # first day of the incident rooted at i (valid for roots)
    for b_pos, b in enumerate(order):
        for a in order[b_pos - 1::-1] if b_pos else ():
            if days[b] - days[a] > gap_days:
                break
            ra, rb = find(a), find(b)
            start = min(first[ra], first[rb])
            if ra == rb or days[b] - start > max_span_days or not _related(keys[a], keys[b]):
                continue
            first[rb] = start
            parent[ra] = rb
    return np.array([find(i) for i in range(n)])


def scan(values: pd.DataFrame, *, volume: pd.DataFrame | None = None,
         kinds: Mapping[Hashable, str] | None = None,
         bad_direction: Mapping[Hashable, str] | None = None, events: Any = None,
         period: int | None = 7, threshold: float = 4.0, days: int | None = None,
         only_bad: bool = False, seasonal_cycles: int = 8, level_window: int = 5,
         scale_window: int | None = None, group_gap_days: int = 1,
         group_span_days: int = 6, cause_order: Sequence[str] | None = None, min_cases: float = MIN_CASES,
         min_change: float = MIN_CHANGE) -> pd.DataFrame:
    """Score every daily series of a frame in one vectorised pass; rank and group the flags.

    The scan runs :func:`metrics.anomalies.score_frame` (the product's detector, every column at once: one
    loop over days, no per-series loop), so every day of every series is scored causally, then
    :func:`rank` groups and names the flags; ``detect`` reproduces a column exactly.

    Parameters
    ----------
    values : pd.DataFrame
        Daily DatetimeIndex, one column per series id (a string or a tuple such as
        ``("incoming", "workflow=copyright")``: first item the KPI, the rest the slice).
    volume : pd.DataFrame, optional, keyword-only
        Cases behind each point (same shape, matched by column).  Without it count series use
        their own values and other series a size of one case per percent of deviation.
    kinds : mapping id -> kind, optional, keyword-only
        ``"count"`` (missing day = 0, Poisson floor), ``"ratio"``/``"level"``, or ``"share"``: a
        percentage (0-100) of the cases in ``volume``, scored like a ratio but never with a scale
        below the binomial ``sqrt(p (100 - p) / n)`` (so 1 escalation out of 3 cases is not a
        surprise); default level.
    bad_direction : mapping id -> "up" / "down", optional, keyword-only
        Flags in the good direction rank at half severity (or are dropped with ``only_bad``).
    events : optional, keyword-only
        As in :func:`detect`; a frame's dimension columns scope its rows to the series whose
        ids carry a matching (or no) ``dim=value`` piece (see :func:`events_for`).
    period : int, optional, keyword-only
        Seasonal period (default 7); None for no seasonality.
    threshold : float, keyword-only
        Flag when the score exceeds it.
    min_cases, min_change : float, keyword-only
        The minimum practical effect (``metrics.anomalies.min_effect``): nothing smaller is flagged.
    days : int, optional, keyword-only
        Keep only flags on the last ``days`` days (the scores are the same either way).
    only_bad : bool, keyword-only
        Drop flags in the good direction.
    seasonal_cycles, level_window, scale_window : int, keyword-only
        As in :func:`detect`.
    group_gap_days : int, keyword-only
        Flags at most this many days apart on related series form one incident (>= 0).
    group_span_days : int, keyword-only
        An incident ends this many days after its first day at the latest (>= 0; default 6: one
        week); later flags start a new incident, so a long outage cannot chain weeks of flags.

    Returns
    -------
    pd.DataFrame
        One row per flagged point, grouped by incident (incident 1 holds the most severe flag; each
        incident's ``lead``, the flag that names its cause, first), with columns ``series, kpi, day,
        observed, expected, lower, upper, score, direction, impact, severity, bad, event, run, incident, lead,
        related, incident_severity`` (``run``: the days the judgment spans, 1 = the day alone;
        ``incident_severity``: the most severe flag of the incident).
        ``severity = min(score / threshold, 3) * log1p(impact)`` where ``impact`` is the
        deviation in cases: ``|observed - expected|`` for count series, else
        ``min(|observed - expected| / |expected|, 1) x volume``.

    Raises
    ------
    AnomalyInputError
        For a frame without a daily DatetimeIndex, mismatched ``volume``, unknown kinds or
        directions, or options outside their range.
    InsufficientHistoryError
        When the frame is shorter than :func:`min_points`.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="D")
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"incoming": rng.poisson(200, 60).astype(float)}, index=idx)
    >>> frame.iloc[-1, 0] = 400
    >>> scan(frame, kinds={"incoming": "count"})[["series", "direction"]].iloc[0].tolist()
    ['incoming', 'spike']
    """
    scores = score_frame(values, volume=volume, kinds=kinds, events=events, period=period, threshold=threshold,
                         seasonal_cycles=seasonal_cycles, level_window=level_window, scale_window=scale_window,
                         days=days, bad_direction=bad_direction, min_cases=min_cases, min_change=min_change)
    return rank(scores, bad_direction=bad_direction, days=days, only_bad=only_bad, group_gap_days=group_gap_days,
                group_span_days=group_span_days, cause_order=cause_order)


def rank(scores: Scores, *, bad_direction: Mapping[Hashable, str] | None = None, days: int | None = None,
         only_bad: bool = False, group_gap_days: int = 1, group_span_days: int = 6,
         cause_order: Sequence[str] | None = None) -> pd.DataFrame:
    """The flags of scored series grouped into incidents, incidents ranked by their most severe member (the
    second half of :func:`scan`; its options and columns mean the same).

    Each incident's ``lead`` row (first among its rows) names its cause (see :func:`_leads`, ``cause_order``:
    KPI names, causes first); ``related`` counts the incident's other flags."""
    bad_direction = dict(bad_direction or {})
    for name, gap in (("group_gap_days", group_gap_days), ("group_span_days", group_span_days)):
        if gap < 0:
            raise AnomalyInputError(f"`{name}` must be >= 0, got {gap}")
    if days is not None and days < 1:
        raise AnomalyInputError(f"`days` must be >= 1, got {days}")
    threshold, cols, arr, labels = scores.threshold, scores.columns, scores.observed, scores.event
    count_cols, vol_arr, score = scores.count, scores.volume, scores.score
    n = len(scores.index)
    full = scores.index
    flagged = scores.flagged.copy()
    if days is not None:
        flagged[: max(0, n - days)] = False
    ti, si = np.nonzero(flagged)
    if ti.size == 0:
        return _empty_scan()
    exp = scores.expected[ti, si]
    obs = arr[ti, si]
    vol_pts = vol_arr[ti, si] if vol_arr is not None else np.where(count_cols[si], np.abs(obs), 100.0)
    # a count's deviation is already in cases; for a rate, the relative change (capped at
    # 100 %: a rate going from 0.01 % to 33 % on 3 cases concerns 3 cases, not 10,000) x cases
    rel = np.minimum(np.abs(obs - exp) / np.maximum(np.abs(exp), 1e-9), 1.0)
    impact = np.where(count_cols[si], np.abs(obs - exp), np.nan_to_num(rel * vol_pts))
    direction = np.where(obs > exp, "spike", "drop")
    bad = np.array([
        (bad_direction.get(cols[s]) is None)
        or (bad_direction[cols[s]] == "up") == (d == "spike")
        for s, d in zip(si, direction, strict=True)])
    severity = np.minimum(score[ti, si] / threshold, 3.0) * np.log1p(impact)
    severity = np.where(bad, severity, 0.5 * severity)
    out = pd.DataFrame({
        "series": pd.Series([cols[s] for s in si], dtype=object),
        "kpi": [series_parts(cols[s])[0] for s in si],
        "day": full[ti],
        "observed": obs,
        "expected": exp,
        "lower": exp - scores.width[ti, si],
        "upper": exp + scores.width[ti, si],
        "score": score[ti, si],
        "direction": direction,
        "impact": impact,
        "severity": severity,
        "bad": bad,
        "event": labels[ti, si].astype(str),
        "run": scores.run[ti, si].astype(int),
    })
    if only_bad:
        out = out[out["bad"]].reset_index(drop=True)
        if out.empty:
            return _empty_scan()
    out = out.sort_values(["severity", "score"], ascending=False, kind="stable").reset_index(drop=True)
    roots = _group_incidents(out, gap_days=group_gap_days, max_span_days=group_span_days)
    # number incidents by their best (first, since sorted) member
    first_seen: dict[int, int] = {}
    for r in roots:
        first_seen.setdefault(int(r), len(first_seen) + 1)
    out["incident"] = [first_seen[int(r)] for r in roots]
    out["lead"] = _leads(out, cause_order)
    out["related"] = out.groupby("incident")["incident"].transform("size").astype(int) - 1
    out["incident_severity"] = out.groupby("incident")["severity"].transform("max")
    # each incident's lead first, then the rest of it; incidents by their most severe member
    out = out.sort_values(["incident", "lead", "severity"], ascending=[True, False, False],
                          kind="stable").reset_index(drop=True)
    out.attrs["config"] = {**scores.config, "days": days}
    return out


def _leads(flags: pd.DataFrame, cause_order: Sequence[str] | None) -> np.ndarray:
    """The flag that names each incident: the cause, not its echoes.

    On the incident's first day, the KPI earliest in ``cause_order`` (incoming before solved before backlog:
    a flow explains the stock it feeds; by default the order the KPIs first appear in); for that KPI, the
    least specific flagged slice (a cause seen at every site is named at the workflow), narrowed to a flagged
    slice inside it while that one carries at least two thirds of its deviation in the same direction (a spike
    at one site is named at that site).
    """
    lead = np.zeros(len(flags), dtype=bool)
    order = {k: i for i, k in enumerate(cause_order or dict.fromkeys(flags["kpi"]))}
    keys = [series_parts(s) for s in flags["series"]]
    dev = (flags["observed"] - flags["expected"]).to_numpy()
    days = flags["day"].to_numpy()
    for _, rows in flags.groupby("incident", sort=False).indices.items():
        first = rows[days[rows] == days[rows].min()]
        kpi = min((keys[i][0] for i in first), key=lambda k: order.get(k, len(order)))
        same = [i for i in first if keys[i][0] == kpi]
        pick = min(same, key=lambda i: (len(keys[i][1]), -abs(dev[i])))
        while True:
            inner = [i for i in same if keys[pick][1] < keys[i][1] and np.sign(dev[i]) == np.sign(dev[pick])
                     and abs(dev[i]) >= 2 / 3 * abs(dev[pick])]
            if not inner:
                break
            pick = min(inner, key=lambda i: (len(keys[i][1]), -abs(dev[i])))
        lead[pick] = True
    return lead


def rank_empty() -> pd.DataFrame:
    """An empty ranked list with :func:`rank`'s columns."""
    return _empty_scan()


def _empty_scan() -> pd.DataFrame:
    return pd.DataFrame({
        "series": pd.Series([], dtype=object), "kpi": pd.Series([], dtype=str),
        "day": pd.Series([], dtype="datetime64[ns]"),
        **{c: pd.Series([], dtype=float) for c in
           ("observed", "expected", "lower", "upper", "score")},
        "direction": pd.Series([], dtype=str), "impact": pd.Series([], dtype=float),
        "severity": pd.Series([], dtype=float), "bad": pd.Series([], dtype=bool),
        "event": pd.Series([], dtype=str), "incident": pd.Series([], dtype=int),
        "run": pd.Series([], dtype=int), "lead": pd.Series([], dtype=bool), "related": pd.Series([], dtype=int),
        "incident_severity": pd.Series([], dtype=float)})


def scan_last(values: pd.DataFrame, *, days: int = 1, **options: Any) -> pd.DataFrame:
    """The stand-up view of :func:`scan`: flags on the newest ``days`` day(s) only.

    Parameters
    ----------
    values : pd.DataFrame
        As in :func:`scan`.
    days : int, keyword-only
        How many of the newest days to keep (default 1: yesterday).
    **options
        Any keyword option of :func:`scan`.

    Returns
    -------
    pd.DataFrame
        As :func:`scan`, restricted to the newest days; scores are causal, so they equal
        the scores those days will keep in later scans.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="D")
    >>> frame = pd.DataFrame({"a": np.r_[np.full(59, 10.0), 90.0]}, index=idx)
    >>> scan_last(frame)["day"].tolist() == [idx[-1]]
    True
    """
    return scan(values, days=days, **options)
