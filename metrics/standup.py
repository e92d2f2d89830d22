"""The stand-up's logic, pure: headline tiles, the site scorecard, workflow bands, freshness, narrative.

Everything here takes plain frames (``metrics.kpis.compute_kpis`` output) and dates, and returns
plain values, so the 9:00 screen's rules are tested without a server:

* a **tile** is a KPI's value on the day, its expected value and band from the anomaly detector
  (:func:`metrics.anomalies.detect`, the same "fast" model the ranked scan uses, so a tile and the
  anomaly list never disagree), its change vs the same weekday last week and vs the median of the
  last four same weekdays. It is coloured only when the detector flags the day, and the colour
  follows the KPI's bad direction (a rise in backlog is bad, a rise in solved is good);
* **freshness** decides whether the numbers may be called "yesterday's": the newest case must be
  younger than ``stale_after_hours`` and the roll-up must have caught up with it;
* the **narrative** is 3–5 sentences built from the same tiles, anomalies, scorecard and freshness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from metrics.anomalies import MIN_CASES, MIN_CHANGE, InsufficientHistoryError, detect
from metrics.incidents import scan
from metrics.kpis import KPI, get_kpi
from metrics.panel import HISTORY_DAYS
from metrics.slices import Slice

__all__ = [
    "HISTORY_DAYS",
    "SCORECARD_KPIS",
    "TILE_KPIS",
    "Freshness",
    "Tile",
    "assess_freshness",
    "day_phrase",
    "narrative",
    "panel_frame",
    "same_weekday_baseline",
    "scorecard",
    "tile_state",
    "tiles",
    "workflow_bands",
]

#: the headline KPIs of PRODUCT.md, in reading order
TILE_KPIS: tuple[str, ...] = ("incoming", "manual_incoming", "solved", "manual_solved", "automation_rate", "aht",
                              "aas", "backlog", "sla_attainment")
#: days of history read before the stand-up day: the detector's warm-up (~33 days), a full residual
#: window (56) and the 8 weeks the small multiples show all fit
#: the scorecard's KPI columns, in reading order (registry KPIs: their labels, units, directions and kinds)
SCORECARD_KPIS: tuple[str, ...] = ("incoming", "solved", "manual_share", "aht", "aas", "backlog", "sla_attainment")
State = Literal["bad", "good", "normal", "unknown"]


def _check_day_index(values: pd.DataFrame, day: date, *, name: str) -> pd.Timestamp:
    if not isinstance(values, pd.DataFrame):
        raise TypeError(f"`{name}` must be a DataFrame, got {type(values).__name__}")
    if not isinstance(values.index, pd.DatetimeIndex):
        raise ValueError(f"`{name}` must have a DatetimeIndex of days, got {type(values.index).__name__}")
    stamp = pd.Timestamp(day)
    if stamp not in values.index:
        raise ValueError(f"`day` {stamp:%Y-%m-%d} must be a row of `{name}` "
                         f"(it covers {_span(values.index)})")
    return stamp


def _span(index: pd.DatetimeIndex) -> str:
    return "no days" if index.empty else f"{index.min():%Y-%m-%d} to {index.max():%Y-%m-%d}"


def same_weekday_baseline(series: pd.Series, day: date, *, weeks: int = 4) -> tuple[float | None, float | None]:
    """The value on the same weekday last week and the median of the last ``weeks`` same weekdays.

    Parameters
    ----------
    series : pd.Series
        Daily values on a DatetimeIndex.
    day : date
        The stand-up day.
    weeks : int, keyword-only
        How many past same weekdays the median covers (>= 1).

    Returns
    -------
    (float or None, float or None)
        ``None`` where the history has no (finite) value.

    Raises
    ------
    ValueError
        If ``weeks`` < 1.

    Examples
    --------
    >>> s = pd.Series([10.0, 20, 30, 40, 50], index=pd.date_range("2026-01-01", periods=5, freq="7D"))
    >>> same_weekday_baseline(s, date(2026, 1, 29))
    (40.0, 25.0)
    """
    if weeks < 1:
        raise ValueError(f"`weeks` must be >= 1, got {weeks}")
    stamps = [pd.Timestamp(day) - pd.Timedelta(days=7 * k) for k in range(1, weeks + 1)]
    past = series.reindex(stamps).astype(float)
    week_ago = past.iloc[0]
    finite = past[np.isfinite(past)]
    return (float(week_ago) if np.isfinite(week_ago) else None,
            float(finite.median()) if len(finite) else None)


def tile_state(abnormal: bool, direction: str, bad_direction: str, *, scored: bool = True) -> State:
    """Colour rule of a tile: coloured only when abnormal, and then by the KPI's bad direction.

    Examples
    --------
    >>> tile_state(True, "spike", "up"), tile_state(True, "spike", "down"), tile_state(False, "", "up")
    ('bad', 'good', 'normal')
    """
    if not scored:
        return "unknown"
    if not abnormal:
        return "normal"
    went_up = direction == "spike"
    return "bad" if went_up == (bad_direction == "up") else "good"


@dataclass(frozen=True)
class Tile:
    """One headline KPI on the stand-up day (see :func:`tiles`)."""

    kpi: KPI
    day: date
    value: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    score: float | None
    abnormal: bool
    direction: str
    week_ago: float | None
    median_4w: float | None
    trend: tuple[float, ...]
    #: the known event covering the day ("" if none): the day is not judged, and the tile says why
    event: str = ""

    @property
    def state(self) -> State:
        return tile_state(self.abnormal, self.direction, self.kpi.bad_direction, scored=self.expected is not None)

    def expected_text(self) -> str:
        """``"expected 4,100 (3,800–4,400)"`` or a plain note when the history is too short."""
        if self.event:
            return f"{self.event}: not judged"
        if self.expected is None:
            return "no expected value (history too short)"
        low, high = (self.kpi.format(_bounded(v, self.kpi)) for v in (self.lower, self.upper))
        return f"expected {self.kpi.format(self.expected)} ({low} – {high})"

    def verdict(self) -> str:
        """A word for the tile, never colour alone: ``"Abnormal: above expected"`` or ``"Normal"``."""
        if self.event:
            return f"Not judged: {self.event}"
        if self.state == "unknown":
            return "Not scored"
        if not self.abnormal:
            return "Within expected range"
        return f"Abnormal: {'above' if self.direction == 'spike' else 'below'} expected"


def _bounded(value: float, kpi: KPI) -> float:
    """A band edge as it can happen: no negative cases, no share outside 0–100 % (see ``KPI.bounds``)."""
    low, high = kpi.bounds
    return min(max(value, low), high) if high is not None else max(value, low)


def _clean(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def tiles(values: pd.DataFrame, day: date, *, kpis: Sequence[str] = TILE_KPIS, threshold: float = 4.0,
          trend_days: int = 28, events: Any = None, judged: Mapping[str, pd.DataFrame] | None = None,
          min_cases: float = MIN_CASES, min_change: float = MIN_CHANGE) -> list[Tile]:
    """The headline tiles of one day.

    Parameters
    ----------
    values : pd.DataFrame
        Daily KPI values (``compute_kpis`` output, no split) from at least ~90 days before ``day``
        (fewer days leave the expected value empty) up to ``day``; later rows are ignored, so the
        detector never sees the future.
    day : date
        The stand-up day (a row of ``values``).
    kpis : sequence of str, keyword-only
        Registry names, in display order.
    threshold : float, keyword-only
        The detector's flag threshold (robust standard deviations).
    min_cases, min_change : float, keyword-only
        The minimum practical effect where the detector runs here (``metrics.anomalies.min_effect``).
    trend_days : int, keyword-only
        Length of the sparkline, ending on ``day``.
    events : optional, keyword-only
        Known events (holidays…) as ``detect`` takes them: masked from the fit, never flagged.
    judged : mapping, optional, keyword-only
        KPI -> its total series as the scored panel judged it (``metrics.panel.Scored.series``): the tiles then
        state exactly what every other screen states. Without it each KPI is judged here by the same detector.

    Returns
    -------
    list of Tile

    Raises
    ------
    ValueError
        If ``day`` is not a row of ``values`` or a KPI column is missing.
    KeyError
        For a name that is not in the registry.

    Examples
    --------
    >>> idx = pd.date_range("2026-01-01", periods=70, freq="D", name="day")
    >>> frame = pd.DataFrame({"incoming": 100.0 + 10 * (idx.day_of_week >= 5)}, index=idx)
    >>> frame.iloc[-1, 0] = 200
    >>> t = tiles(frame, idx[-1].date(), kpis=["incoming"])[0]
    >>> t.state, t.value, t.week_ago
    ('bad', 200.0, 100.0)
    """
    stamp = _check_day_index(values, day, name="values")
    specs = [get_kpi(n) for n in kpis]
    missing = [k.name for k in specs if k.name not in values.columns]
    if missing:
        raise ValueError(f"`values` lacks KPI column(s): {', '.join(missing)}")
    history = values[values.index <= stamp]
    out = []
    for kpi in specs:
        series = history[kpi.name].astype(float)
        expected = lower = upper = score = None
        abnormal, direction, event = False, "", ""
        try:
            frame = judged[kpi.name] if judged is not None and kpi.name in judged else detect(
                series, 7, kind=kpi.series_kind, threshold=threshold, events=events, min_cases=min_cases,
                min_change=min_change)
            row = frame.loc[stamp]
            event = str(row.get("event", "") or "")
            if np.isfinite(row["score"]) and not event:
                expected, lower, upper, score = (_clean(row[c]) for c in ("expected", "lower", "upper", "score"))
                abnormal, direction = bool(row["is_anomaly"]), str(row["direction"])
        except InsufficientHistoryError:
            pass  # a short history is shown as "no expected value", not as an error
        week_ago, median_4w = same_weekday_baseline(series, day)
        trend = tuple(float(v) for v in series.iloc[-trend_days:].fillna(0.0))
        out.append(Tile(kpi, day, _clean(series.loc[stamp]), expected, lower, upper, score, abnormal, direction,
                        week_ago, median_4w, trend, event))
    return out


def panel_frame(values: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """A KPI panel's wide values (columns ``(kpi, slice_key)``) as a ``compute_kpis``-shaped frame.

    One roll-up read feeds the whole stand-up: the total (``by=None``, slice ``"all"``) for the tiles,
    the one-dimension slices (``by="vendor_site"``, ``"workflow"``) for the scorecard and the small
    multiples — and the anomaly list scans the very same series, so they cannot disagree.

    Parameters
    ----------
    values : pd.DataFrame
        ``metrics.panel.Panel.values``.
    by : str, optional, keyword-only
        A dimension; its single-dimension slices (``"vendor_site=Manila"``) become rows with a
        ``by`` column.

    Returns
    -------
    pd.DataFrame
        Index ``day``; columns ``[by,] *kpis``.

    Raises
    ------
    ValueError
        If the panel has no series for that split.

    Examples
    --------
    >>> idx = pd.date_range("2026-01-01", periods=2, freq="D", name="day")
    >>> wide = pd.DataFrame({("incoming", "all"): [3.0, 4.0], ("incoming", "vendor_site=A"): [1.0, 2.0],
    ...                      ("incoming", "vendor_site=B"): [2.0, 2.0]}, index=idx)
    >>> panel_frame(wide, by="vendor_site")["vendor_site"].tolist()
    ['A', 'A', 'B', 'B']
    """
    keys = {key: Slice.parse(key) for key in dict.fromkeys(c[1] for c in values.columns)}
    wanted = [c for c in values.columns if (not keys[c[1]] if by is None else list(keys[c[1]]) == [by])]
    if not wanted:
        raise ValueError(f"the panel has no series {'for the total' if by is None else f'split by {by}'}")
    if by is None:
        out = pd.DataFrame({c[0]: values[c] for c in wanted}, index=values.index)
        out.index.name = "day"
        return out
    by_value: dict[str, list] = {}
    for c in wanted:
        by_value.setdefault(keys[c[1]].filters[by], []).append(c)
    parts = []
    for value, cols in by_value.items():
        part = pd.DataFrame({c[0]: values[c] for c in cols}, index=values.index)
        part.insert(0, by, value)
        parts.append(part)
    out = pd.concat(parts)
    out.index.name = "day"
    return out


def _site_flags(frame: pd.DataFrame, stamp: pd.Timestamp, *, threshold: float, events: Any, min_cases: float,
                min_change: float) -> dict[str, str]:
    """Column -> "bad" / "good" for one site's newest day: one vectorised scan (the anomaly list's model)."""
    cols = list(SCORECARD_KPIS)
    try:
        found = scan(frame[cols].astype(float), kinds={c: get_kpi(c).series_kind for c in cols},
                     bad_direction={c: get_kpi(c).bad_direction for c in cols}, period=7, threshold=threshold,
                     events=events, days=1, min_cases=min_cases, min_change=min_change)
    except InsufficientHistoryError:
        return {}
    found = found[found["day"] == stamp]
    return {str(c): "bad" if bad else "good" for c, bad in zip(found["series"], found["bad"], strict=True)}


def scorecard(by_site: pd.DataFrame, day: date, *, threshold: float = 4.0, trend_days: int = 28,
              events: Mapping[str, Any] | None = None, by: str = "vendor_site",
              states: Mapping[str, Mapping[str, str]] | None = None, min_cases: float = MIN_CASES,
              min_change: float = MIN_CHANGE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per vendor site on ``day``, with 4-week trends and the cells the detector flags.

    Parameters
    ----------
    by_site : pd.DataFrame
        Daily KPI values split by ``vendor_site`` (``compute_kpis(..., by=("vendor_site",))``),
        ending on or after ``day``.
    day : date
    threshold : float, keyword-only
        Flag threshold of the detector.
    min_cases, min_change : float, keyword-only
        The minimum practical effect where the detector runs here (``metrics.anomalies.min_effect``).
    trend_days : int, keyword-only
        Length of the trend lists.
    events : mapping, optional, keyword-only
        Site -> the known events that apply to it (as ``detect`` takes them).
    by : str, keyword-only
        The dimension whose values are the rows (the vendor site in the sample).
    states : mapping, optional, keyword-only
        Site -> column -> ``"bad"`` / ``"good"``: the scored panel's flags on ``day`` (the same the anomaly list
        holds). Without it each site is judged here by the same detector.

    Returns
    -------
    (table, flags)
        ``table``: index ``vendor_site``; the :data:`SCORECARD_KPIS`, then ``incoming_trend``,
        ``backlog_trend``, ``sla_trend`` (lists of
        floats, oldest first) and ``abnormal`` (the flagged columns in words, "" if none).
        ``flags``: same index, one column per scorecard column holding ``"bad"``, ``"good"`` or ``""``.
        Rows are ordered with the most bad flags first, then by SLA (lowest first).

    Raises
    ------
    ValueError
        If ``by_site`` lacks ``vendor_site`` or a KPI column, or ``day`` is not in it.
    """
    need = [by, *SCORECARD_KPIS]
    missing = [c for c in need if c not in by_site.columns]
    if missing:
        raise ValueError(f"`by_site` lacks column(s): {', '.join(missing)}")
    stamp = _check_day_index(by_site, day, name="by_site")
    frame = by_site[by_site.index <= stamp]
    sites = sorted(frame[by].astype(str).unique())
    grid = pd.date_range(frame.index.min(), stamp, freq="D")
    per_site = {str(s): g.drop(columns=by).reindex(grid) for s, g in frame.groupby(by, sort=True)}
    table = pd.DataFrame({c: [_clean(per_site[s][c].iloc[-1]) for s in sites] for c in SCORECARD_KPIS},
                         index=pd.Index(sites, name=by), dtype=float)
    for col, name in (("incoming", "incoming_trend"), ("backlog", "backlog_trend"), ("sla_attainment", "sla_trend")):
        table[name] = [[round(float(v), 2) for v in per_site[s][col].iloc[-trend_days:].fillna(0.0)] for s in sites]
    found = {s: dict((states or {}).get(s, {})) for s in sites} if states is not None else {
        s: _site_flags(per_site[s], stamp, threshold=threshold, events=(events or {}).get(s), min_cases=min_cases,
                       min_change=min_change) for s in sites}
    flags = pd.DataFrame({c: [found[s].get(c, "") for s in sites] for c in SCORECARD_KPIS}, index=table.index)
    table["abnormal"] = [", ".join(get_kpi(c).label + (" ▲" if _went_up(flags.loc[s, c], c) else " ▼")
                                   for c in SCORECARD_KPIS if flags.loc[s, c]) for s in sites]
    order = sorted(sites, key=lambda s: (-int((flags.loc[s] == "bad").sum()),
                                         table.loc[s, "sla_attainment"] if np.isfinite(table.loc[s, "sla_attainment"])
                                         else np.inf))
    return table.loc[order], flags.loc[order]


def _went_up(state: str, column: str) -> bool:
    bad_up = get_kpi(column).bad_direction == "up"
    return (state == "bad") == bad_up


def workflow_bands(by_workflow: pd.DataFrame, kpi: str, day: date, *, weeks: int = 8,
                   threshold: float = 4.0, events: Mapping[str, Any] | None = None,
                   by: str = "workflow", judged: Mapping[str, pd.DataFrame | None] | None = None,
                   min_cases: float = MIN_CASES, min_change: float = MIN_CHANGE) -> pd.DataFrame:
    """The last ``weeks`` weeks of one KPI per workflow with the detector's expected band.

    Parameters
    ----------
    by_workflow : pd.DataFrame
        Daily KPI values split by ``workflow`` (``compute_kpis(..., by=("workflow",))``).
    kpi : str
        Registry name.
    day : date
        Last day shown.
    weeks : int, keyword-only
        Weeks shown (>= 1).
    threshold : float, keyword-only
        Flag threshold of the detector (where ``judged`` does not give the workflow's frame).
    min_cases, min_change : float, keyword-only
        The minimum practical effect where the detector runs here (``metrics.anomalies.min_effect``).
    events : mapping, optional, keyword-only
        Workflow -> the known events that apply to it.
    by : str, keyword-only
        The dimension split by (the workflow in the sample); the frame's first column is named after it.
    judged : mapping, optional, keyword-only
        Workflow -> its series as the scored panel judged it (``None``: too small to judge, no band); without
        it each workflow is judged here by the same detector.

    Returns
    -------
    pd.DataFrame
        Long frame ``workflow, day, observed, expected, lower, upper, is_anomaly, state`` (``state``
        as :func:`tile_state`); a workflow with too short a history has NaN expected values.

    Raises
    ------
    ValueError
        If ``weeks`` < 1, the frame lacks ``workflow`` or the KPI column, or ``day`` is not in it.
    """
    if weeks < 1:
        raise ValueError(f"`weeks` must be >= 1, got {weeks}")
    spec = get_kpi(kpi)
    if by not in by_workflow.columns or kpi not in by_workflow.columns:
        raise ValueError(f"`by_workflow` must have columns `{by}` and `{kpi}`")
    stamp = _check_day_index(by_workflow, day, name="by_workflow")
    start = stamp - pd.Timedelta(days=7 * weeks - 1)
    parts = []
    for name, group in by_workflow[by_workflow.index <= stamp].groupby(by, sort=True):
        series = group[kpi].astype(float)
        try:
            if judged is not None:
                frame = judged.get(str(name))
                if frame is None:
                    raise InsufficientHistoryError("not judged", needed=0, got=0)
                frame = frame.reindex(series.index)
            else:
                frame = detect(series, 7, kind=spec.series_kind, threshold=threshold,
                               events=(events or {}).get(str(name)), min_cases=min_cases, min_change=min_change)
        except InsufficientHistoryError:
            frame = pd.DataFrame({"observed": series, "expected": np.nan, "lower": np.nan, "upper": np.nan,
                                  "is_anomaly": False, "direction": ""}, index=series.index)
        frame = frame.loc[start:stamp]
        parts.append(pd.DataFrame({
            by: str(name), "day": frame.index, "observed": frame["observed"].to_numpy(),
            "expected": frame["expected"].to_numpy(), "lower": frame["lower"].to_numpy(),
            "upper": frame["upper"].to_numpy(), "is_anomaly": frame["is_anomaly"].to_numpy(dtype=bool),
            "state": [tile_state(bool(a), str(d), spec.bad_direction) for a, d in
                      zip(frame["is_anomaly"], frame["direction"], strict=True)],
        }))
    columns = [by, "day", "observed", "expected", "lower", "upper", "is_anomaly", "state"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class Freshness:
    """How fresh the numbers are (see :func:`assess_freshness`); times naive, in the time zone ``zone``."""

    newest_case: datetime | None
    refreshed_at: datetime | None
    rollup_day: date | None
    now: datetime
    stale_after_hours: float
    zone: str = "UTC"

    @property
    def age_hours(self) -> float | None:
        """Hours since the newest case was created."""
        if self.newest_case is None:
            return None
        return (self.now - self.newest_case).total_seconds() / 3600

    @property
    def rollup_behind(self) -> bool:
        """The roll-up has not caught up with the newest case's day."""
        if self.newest_case is None or self.rollup_day is None:
            return self.rollup_day is None
        return self.rollup_day < self.newest_case.date()

    @property
    def is_late(self) -> bool:
        """Late: no case at all, the newest case is older than the limit, or the roll-up lags behind."""
        age = self.age_hours
        return age is None or age > self.stale_after_hours or self.rollup_behind

    def day_complete(self, day: date) -> bool:
        """Whether the data reaches the last hour of ``day`` (a day cut off mid-way looks like a drop)."""
        if self.newest_case is None:
            return False
        return self.newest_case >= datetime.combine(day, datetime.min.time()) + timedelta(hours=23)

    def message(self, day: date) -> str:
        """The warning shown above the numbers when they are late ("" when they are fresh)."""
        problems = []
        if self.newest_case is None:
            problems.append("the cases table has no cases")
        elif self.age_hours is not None and self.age_hours > self.stale_after_hours:
            problems.append(f"the newest case is from {self.newest_case:%a %d %b %Y %H:%M} {self.zone}, "
                            f"{_hours(self.age_hours)} ago (the limit is {self.stale_after_hours:g} h)")
        if self.rollup_behind and self.newest_case is not None:
            through = f"{self.rollup_day:%a %d %b %Y}" if self.rollup_day else "nothing"
            problems.append(f"the daily roll-up only reaches {through} while cases exist up to "
                            f"{self.newest_case:%a %d %b %Y}")
        if not problems:
            return ""
        yesterday = self.now.date() - timedelta(days=1)
        tail = (f"These are the numbers of {day:%A %d %B %Y}, not of yesterday ({yesterday:%a %d %b %Y})."
                if day != yesterday else "Yesterday's numbers below are incomplete.")
        return f"Data is late: {'; '.join(problems)}. {tail}"


def _hours(hours: float) -> str:
    return f"{hours:,.0f} h" if hours < 72 else f"{hours / 24:,.0f} days"


def assess_freshness(*, newest_case: datetime | None, refreshed_at: datetime | None, rollup_day: date | None,
                     now: datetime, stale_after_hours: float, zone: str = "UTC") -> Freshness:
    """Judge whether the data is fresh enough to be called yesterday's.

    Parameters
    ----------
    newest_case : datetime or None
        Newest ``created_at`` in the source (naive, in ``zone``).
    refreshed_at : datetime or None
        The roll-up's last refresh (naive, in ``zone``).
    rollup_day : date or None
        The last day in the roll-up (a day of the team's calendar).
    now : datetime
        The current time (naive, in ``zone``).
    stale_after_hours : float
        The configured limit (``freshness.stale_after_hours``), > 0.
    zone : str, keyword-only
        The business time zone the times are in (named in messages).

    Returns
    -------
    Freshness

    Raises
    ------
    ValueError
        If ``stale_after_hours`` <= 0.

    Examples
    --------
    >>> f = assess_freshness(newest_case=datetime(2026, 6, 30, 23, 50), refreshed_at=None,
    ...                      rollup_day=date(2026, 6, 30), now=datetime(2026, 7, 1, 8), stale_after_hours=36)
    >>> f.is_late, round(f.age_hours, 1)
    (False, 8.2)
    """
    if not stale_after_hours > 0:
        raise ValueError(f"`stale_after_hours` must be > 0, got {stale_after_hours}")
    return Freshness(newest_case, refreshed_at, rollup_day, now, float(stale_after_hours), zone)


def day_phrase(day: date, *, today: date, fresh: bool) -> str:
    """How the title names the day: "yesterday" only when it is yesterday *and* the data is fresh.

    Examples
    --------
    >>> day_phrase(date(2026, 6, 30), today=date(2026, 7, 1), fresh=True)
    'yesterday, Tuesday 30 June 2026'
    >>> day_phrase(date(2026, 6, 30), today=date(2026, 7, 1), fresh=False)
    'Tuesday 30 June 2026'
    """
    text = f"{day:%A %d %B %Y}"
    return f"yesterday, {text}" if fresh and day == today - timedelta(days=1) else text


def _anomaly_sentence(row: Mapping, explanation: str | None) -> str:
    kpi = get_kpi(str(row["kpi"]))
    observed, expected = float(row["observed"]), float(row["expected"])
    moved = kpi.format_change(observed, expected)
    text = (f"{kpi.label} {Slice.of(row.get('slice')).subject()} was {kpi.format(observed)} against "
            f"{kpi.format(expected)} expected" + (f" ({moved})" if moved else ""))
    # the drill-down's sentence is "<how far off>; <which slice explains it>": the second half adds the why
    why = explanation.split("; ", 1)[1] if explanation and "; " in explanation else None
    return text + (f"; {why.rstrip('.')}" if why else "")


def _range_phrase(t: Tile) -> str:
    if t.expected is None:
        return ""
    low, high = (t.kpi.format(_bounded(v, t.kpi)) for v in (t.lower, t.upper))
    where = {"normal": "within", "unknown": "against"}.get(t.state, "outside")
    return f", {where} the expected {low} – {high}"


def narrative(day: date, tiles_: Sequence[Tile], anomalies: pd.DataFrame, sites: pd.DataFrame,
              site_flags: pd.DataFrame, freshness: Freshness | None, *,
              explanations: Mapping[int, str] | None = None, flagged: int | None = None,
              scope: str = "workflow and vendor site", site: str = "vendor site") -> str:
    """A 3–5 sentence summary of the day, for chat or e-mail.

    Parameters
    ----------
    day : date
    tiles_ : sequence of Tile
        From :func:`tiles` (``incoming``, ``solved``, ``backlog``, ``sla_attainment``, ``aht`` and
        ``aas`` are used when present).
    anomalies : pd.DataFrame
        The day's abnormal points, one per incident, most severe first (columns ``kpi, observed,
        expected`` and optionally ``slice``); empty when nothing is abnormal.
    sites, site_flags : pd.DataFrame
        From :func:`scorecard`.
    freshness : Freshness or None
        When late, the summary opens with a caution.
    explanations : mapping, optional, keyword-only
        Row position in ``anomalies`` -> the drill-down's one-line sentence (its "why" half is used).
    flagged : int, optional, keyword-only
        How many series were flagged in all (default: the rows of ``anomalies``).
    scope, site : str, keyword-only
        The scanned dimensions and the scorecard's rows in words (the configured labels, lower case).

    Returns
    -------
    str
        Three to five sentences separated by single spaces.

    Examples
    --------
    >>> text = narrative(date(2026, 6, 30), [], pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), None)
    >>> text.split(". ")[1]
    'Nothing was abnormal: every KPI, workflow and vendor site stayed within its expected range.'
    """
    by = {t.kpi.name: t for t in tiles_ if t.value is not None}
    sentences = []
    if freshness is not None and freshness.is_late:
        newest = f"{freshness.newest_case:%a %d %b %Y %H:%M} {freshness.zone}" if freshness.newest_case else "none"
        sentences.append(f"Caution: the data is late (newest case {newest}), so these are not yesterday's numbers.")
    first = f"On {day:%A %d %B %Y}"
    if "incoming" in by:
        t = by["incoming"]
        first += (f", {t.kpi.format(t.value)} {'case' if t.value == 1 else 'cases'} came in "
                  f"({t.kpi.format_change(t.value, t.week_ago, against='the same weekday last week')}"
                  f"{_range_phrase(t)})")
    if "solved" in by:
        first += f" and {by['solved'].kpi.format(by['solved'].value)} were solved"
    if "backlog" in by:
        first += f"; the backlog closed at {by['backlog'].kpi.format(by['backlog'].value)}"
    sentences.append(first + ".")
    if anomalies is None or anomalies.empty:
        sentences.append(f"Nothing was abnormal: every KPI, {scope} stayed within its expected range.")
    else:
        rows = anomalies.reset_index(drop=True)
        n = len(rows)
        total = max(flagged or n, n)
        lead = f"{n} incident{'s' if n != 1 else ''} ({total} flagged series)"
        sentences.append(f"{lead}; the most severe: {_anomaly_sentence(rows.iloc[0], (explanations or {}).get(0))}.")
    service = [by[n] for n in ("sla_attainment", "aht", "aas") if n in by]
    if service:
        parts = [f"{t.kpi.label} {t.kpi.format(t.value)}"
                 + (f" ({'above' if t.direction == 'spike' else 'below'} expected)" if t.abnormal else "")
                 for t in service]
        calm = all(not t.abnormal for t in service)
        text = f"{', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else parts[0]
        sentences.append(text + (", all as expected." if calm and len(parts) > 1 else "."))
    if not sites.empty and not site_flags.empty:
        bad_counts = (site_flags == "bad").sum(axis=1)
        if bad_counts.max() > 0:
            worst = bad_counts.idxmax()
            off = [f"{get_kpi(c).label} {'above' if _went_up(site_flags.loc[worst, c], c) else 'below'}"
                   for c in SCORECARD_KPIS if c in site_flags.columns and site_flags.loc[worst, c] == "bad"]
            sla = (f" (SLA {get_kpi('sla_attainment').format(sites.loc[worst, 'sla_attainment'])})"
                   if "sla_attainment" in sites.columns else "")
            sentences.append(f"{worst} is behind: {', '.join(off)} expected{sla}.")
        elif "sla_attainment" in sites.columns:  # a source without SLA targets has no lowest SLA to name
            sla = sites["sla_attainment"].dropna()
            if len(sla):
                low = sla.idxmin()
                good = (site_flags == "good").any(axis=None)  # a good flag is abnormal too: not "no abnormal"
                sentences.append(f"No {site} was {'behind' if good else 'abnormal'}; the lowest SLA was {low}'s "
                                 f"{get_kpi('sla_attainment').format(sla.loc[low])}.")
    return " ".join(sentences[:5])
