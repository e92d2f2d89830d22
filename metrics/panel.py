"""Every KPI × slice series of the daily roll-up as one wide panel, ready for the anomaly scan.

A *slice* is the total, one workflow, one vendor site or one workflow × vendor site pair. The
panel is built from the additive parts of the roll-up (split by workflow and vendor site) in one
pass: the leaves (workflow × site pairs present in the data) are summed into every slice with a
single matrix product, then each KPI is evaluated from the summed parts exactly as
:func:`metrics.kpis.compute_kpis` does — ratios are ``sum(numerator) / sum(denominator)``,
never an average of ratios, and backlog (a stock) is the sum of the leaves' end-of-day backlogs.

Series ids are tuples ``(kpi_name, slice_key)`` where ``slice_key`` is ``"all"`` for the total
and ``"dim=value"`` pieces joined by ``"|"`` in the order of :data:`SLICE_DIMENSIONS`
(``"workflow=copyright|vendor_site=Manila"``): ``metrics.slices.Slice`` makes, parses and words the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from metrics.anomalies import MIN_CASES, MIN_CHANGE, Scores, score_frame
from metrics.incidents import rank, rank_empty
from metrics.kpis import KPIS, PARTS, get_kpi
from metrics.slices import KEY_ORDER, TOTAL, Slice

__all__ = [
    "HISTORY_DAYS",
    "JUDGED_WINDOW",
    "MIN_DAILY_CASES",
    "SLICE_DIMENSIONS",
    "TOTAL",
    "Panel",
    "Scored",
    "history_for",
    "holiday_events",
    "judged",
    "kpi_panel",
    "scan_panel",
    "score_panel",
]

#: the dimensions a panel splits by unless told (the sample's), in the order they appear in a slice key
SLICE_DIMENSIONS: tuple[str, ...] = KEY_ORDER

SeriesId = tuple[str, str]

#: a slice with fewer cases a day than this (on average over :data:`JUDGED_WINDOW` days) is not judged: a day
#: of 0 or 3 there is no evidence of anything, and with 150+ values in a dimension most pairs are that small
MIN_DAILY_CASES = 1.0
JUDGED_WINDOW = 56
#: days of history a judged series is built from, ending at the day judged: the detector's values on a day depend
#: on the ~120 days before it, so every screen showing up to 8 weeks before its day reads the same numbers from a
#: panel this long (the stand-up, the Anomalies page, the Trends band, the drill-down)
HISTORY_DAYS = 240
#: every judged series starts on one day per data version, this many days before the newest day (or on the first
#: day of data): see :func:`judging_start`
JUDGING_SPAN = 400


@dataclass(frozen=True)
class Panel:
    """KPI × slice daily series in wide form (one column per series id).

    Attributes
    ----------
    values : pd.DataFrame
        Daily DatetimeIndex ``day``; one column per series id ``(kpi, slice_key)``; NaN where a
        ratio has a zero denominator.
    volume : pd.DataFrame
        Same shape: the cases behind each value (the KPI spec's ``volume`` part).
    kinds : dict
        Series id -> ``"count"`` (flows), ``"share"`` (percentages of the cases in their volume
        part: automation rate, SLA attainment, escalation and reopen rates), ``"ratio"`` (other
        ratios: AHT, AAS, CSAT, QA) or ``"stock"`` (the backlog): the ``kind`` the anomaly detector
        regularises and floors by (``KPI.series_kind``).
    bad_direction : dict
        Series id -> ``"up"`` / ``"down"``.
    slices : dict
        Series id -> ``{dimension: value}`` (``{}`` for the total).
    kpi : dict
        Series id -> KPI name.
    """

    values: pd.DataFrame
    volume: pd.DataFrame
    kinds: dict[SeriesId, str]
    bad_direction: dict[SeriesId, str]
    slices: dict[SeriesId, dict[str, str]]
    kpi: dict[SeriesId, str]

    @property
    def series(self) -> list[SeriesId]:
        """The series ids in column order."""
        return list(self.values.columns)


def history_for(days: int) -> int:
    """The panel history that judges ``days`` days up to an end day like every other screen does."""
    return max(HISTORY_DAYS, int(days) + HISTORY_DAYS - JUDGED_WINDOW)


def judging_start(first: date, last: date, end: date, *, history_days: int = HISTORY_DAYS) -> date:
    """The day the series judged up to ``end`` start on, the same for every screen of one data version.

    The robust Holt-Winters state remembers where it started (its first weeks set the weekly pattern, which
    fades only over months), so two screens whose windows start on different days would state slightly
    different expected values for the same day. Every window therefore starts ``JUDGING_SPAN`` days before the
    newest day of data (``last``), or on its first day. Only a replay of a day fewer than 8 weeks after that
    start, too close to it to be judged, starts ``history_days`` before its day instead.

    Examples
    --------
    >>> first, last = date(2024, 1, 1), date(2026, 6, 30)
    >>> {judging_start(first, last, d) for d in (last, date(2026, 3, 1), date(2025, 9, 1))}
    {datetime.date(2025, 5, 27)}
    """
    origin = max(first, last - timedelta(days=JUDGING_SPAN - 1))
    if (end - origin).days + 1 >= JUDGED_WINDOW:
        return origin
    return max(first, end - timedelta(days=history_days - 1))


def _available(kpis: Sequence[str] | None, sums: Mapping[str, float]) -> list:
    if kpis is not None:
        return [get_kpi(n) for n in kpis]
    out = []
    for k in KPIS:
        # an optional KPI (CSAT, QA) the data never fills would only add empty series
        if k.optional and not sums.get(k.denominator or k.numerator, 0.0):
            continue
        out.append(k)
    return out


def kpi_panel(parts: pd.DataFrame, *, kpis: Sequence[str] | None = None,
              by: Sequence[str] = SLICE_DIMENSIONS) -> Panel:
    """Every KPI × (total, each workflow, each site, each workflow × site) daily series.

    ``by`` names the one or two dimensions the slices are made of (the sample's workflow and vendor site by
    default; a deployment's first two configured dimensions).

    Parameters
    ----------
    parts : pd.DataFrame
        The daily parts frame split by workflow and vendor site (as ``ui.data.volume(ctx, filters,
        by=("workflow", "vendor_site"))`` returns it): a DatetimeIndex (one row per day and pair),
        columns ``workflow``, ``vendor_site``, the roll-up measures, ``solved_automated`` and
        ``backlog``. A day missing for a pair counts as no cases (flows 0, backlog unchanged).
    kpis : sequence of str, optional, keyword-only
        KPI names from the registry; by default every KPI, except optional ones (CSAT, QA) whose
        parts are zero throughout.
    by : sequence of str, keyword-only
        The slice dimensions (1 or 2), columns of ``parts``.

    Returns
    -------
    Panel
        Columns ordered by KPI (registry order), then total, workflows, sites, pairs (each sorted).

    Raises
    ------
    ValueError
        If ``parts`` lacks a DatetimeIndex, a dimension column or a part column, or names an unknown KPI.

    Examples
    --------
    >>> idx = pd.to_datetime(["2026-01-01"] * 2)
    >>> parts = pd.DataFrame({"workflow": ["a", "b"], "vendor_site": ["X", "X"],
    ...                       **{p: [1.0, 3.0] for p in PARTS}, "solved_automated": [0.0, 1.0],
    ...                       "backlog": [5.0, 7.0]}, index=idx)
    >>> panel = kpi_panel(parts, kpis=["incoming", "automation_rate"])
    >>> panel.values[("incoming", "all")].iloc[0], panel.values[("automation_rate", "all")].iloc[0]
    (np.float64(4.0), np.float64(25.0))
    """
    if not isinstance(parts.index, pd.DatetimeIndex):
        raise ValueError(f"`parts` must have a DatetimeIndex, got {type(parts.index).__name__}")
    by = tuple(by)
    if not 1 <= len(by) <= 2:
        raise ValueError(f"`by` must name one or two dimensions, got {len(by)}")
    needed = [*by, *PARTS, "solved_automated", "backlog"]
    missing = [c for c in needed if c not in parts.columns]
    if missing:
        raise ValueError(f"`parts` lacks column(s) {', '.join(missing)} (pass the volume split by "
                         f"{' and '.join(by)})")
    if parts.empty:
        raise ValueError("no cases match these filters: clear a filter or widen the date range")
    measure_cols = [*PARTS, "solved_automated"]
    frame = parts.copy()
    frame.index = frame.index.normalize()
    days = pd.date_range(frame.index.min(), frame.index.max(), freq="D", name="day") if len(frame) \
        else pd.DatetimeIndex([], name="day")
    sums_all = frame[measure_cols].sum()
    specs = _available(kpis, sums_all.to_dict())

    # leaves: one per workflow × site pair present; cube = day × leaf × part, filled by position (a
    # groupby + unstack of every row costs seconds at 150 workflows × 20 sites × 2 years)
    day_pos = days.get_indexer(frame.index)
    codes, uniques = zip(*(pd.factorize(frame[d].astype(str), sort=True) for d in by), strict=True)
    sizes = [len(u) for u in uniques]
    combined = codes[0].astype(np.int64) * (sizes[1] if len(by) > 1 else 1) + (codes[1] if len(by) > 1 else 0)
    leaf_ids, leaf_pos = np.unique(combined, return_inverse=True)  # sorted: by the first dimension, then the second
    leaves = pd.MultiIndex.from_arrays(
        [np.asarray(uniques[0])[leaf_ids // (sizes[1] if len(by) > 1 else 1)],
         *([np.asarray(uniques[1])[leaf_ids % sizes[1]]] if len(by) > 1 else [])], names=list(by))
    n_days, n_leaves = len(days), len(leaves)
    flat = day_pos * n_leaves + leaf_pos
    # only the parts the KPIs read (the cube is days × leaves × parts: hundreds of MB at 3,000 leaves × 2 years)
    used = {p for k in specs for p in (k.numerator, k.denominator, k.volume) if p}
    measure_cols = [c for c in measure_cols if c in used or c in ("incoming", "solved")]
    cube = np.empty((n_days, n_leaves, len(measure_cols) + 1))
    for j, col in enumerate(measure_cols):  # two rows for one day and leaf add up
        cube[:, :, j] = np.bincount(flat, weights=frame[col].to_numpy(dtype=float),
                                    minlength=n_days * n_leaves).reshape(n_days, n_leaves)
    # a missing day leaves a stock where it was; before a pair's first row, its opening balance
    stock = np.full((n_days, n_leaves), np.nan)
    stock[day_pos, leaf_pos] = frame["backlog"].to_numpy(dtype=float)  # the last row of a day and leaf wins
    present = ~np.isnan(stock)
    first = present.argmax(axis=0) if n_days else np.zeros(n_leaves, dtype=int)
    cols = np.arange(n_leaves)
    inc, sol = measure_cols.index("incoming"), measure_cols.index("solved")
    opening = stock[first, cols] - (cube[first, cols, inc] - cube[first, cols, sol]) if n_days else np.zeros(0)
    filled = pd.DataFrame(stock).ffill().to_numpy()
    cube[:, :, -1] = np.nan_to_num(np.where(np.isnan(filled), opening[None, :], filled))

    # membership matrix leaf -> slice (total, each workflow, each site, each pair)
    def leaf_dict(leaf: Any) -> dict[str, str]:
        return dict(zip(by, map(str, leaf if isinstance(leaf, tuple) else (leaf,)), strict=True))

    # total, then each value of each dimension (the leaves holding it summed), then each pair (a leaf)
    slices: list[dict[str, str]] = [{}]
    blocks = [cube.sum(axis=1, keepdims=True)]
    for d in by:
        level = pd.Index(leaves.get_level_values(d).astype(str)) if n_leaves else pd.Index([], dtype=str)
        codes, values_d = pd.factorize(level, sort=True)
        slices += [{d: str(v)} for v in values_d]
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(len(values_d)))
        blocks.append(np.add.reduceat(cube[:, order, :], starts, axis=1) if len(values_d)
                      else np.zeros((n_days, 0, cube.shape[2])))
    if len(by) > 1:
        slices += [leaf_dict(leaf) for leaf in leaves]
        blocks.append(cube)
    summed = np.concatenate(blocks, axis=1)  # day × slice × part
    part_pos = {c: j for j, c in enumerate([*measure_cols, "backlog"])}

    keys = [Slice.of(sl).key for sl in slices]
    ids: list[SeriesId] = []
    value_blocks, volume_blocks = [], []
    kinds: dict[SeriesId, str] = {}
    bad: dict[SeriesId, str] = {}
    slice_of: dict[SeriesId, dict[str, str]] = {}
    kpi_of: dict[SeriesId, str] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in specs:
            value_blocks.append(k.value({p: summed[:, :, part_pos[p]] for p in (k.numerator, k.denominator) if p}))
            volume_blocks.append(summed[:, :, part_pos[k.volume]])
            kind = k.series_kind
            for key, sl in zip(keys, slices, strict=True):
                sid = (k.name, key)
                ids.append(sid)
                kinds[sid] = kind
                bad[sid] = k.bad_direction
                slice_of[sid] = sl
                kpi_of[sid] = k.name
    columns = pd.Index(ids, tupleize_cols=False, dtype=object)
    values_frame = pd.DataFrame(np.hstack(value_blocks) if ids else np.empty((n_days, 0)), index=days,
                                columns=columns)
    volume_frame = pd.DataFrame(np.hstack(volume_blocks) if ids else np.empty((n_days, 0)), index=days,
                                columns=columns)
    return Panel(values_frame, volume_frame, kinds, bad, slice_of, kpi_of)


def judged(panel: Panel, *, min_daily_cases: float = MIN_DAILY_CASES, window: int = JUDGED_WINDOW) -> list[SeriesId]:
    """The series of a panel big enough to judge: the total always, any other slice whose volume part (the
    cases behind the KPI) averages at least ``min_daily_cases`` a day over the last ``window`` days."""
    recent = panel.volume.iloc[-window:]
    mean = recent.mean(axis=0) if len(recent) else pd.Series(0.0, index=panel.volume.columns)
    return [sid for sid, m in zip(panel.volume.columns, mean.to_numpy(), strict=True)
            if sid[1] == TOTAL or m >= min_daily_cases]


@dataclass(frozen=True, eq=False)
class Scored:
    """A panel judged once: every screen that states an expected value, a band or a flag reads it here.

    Only the series big enough to judge (:func:`judged`) are scored; the others have no expected value
    (a screen says "too small to judge") and are never flagged.
    """

    panel: Panel
    scores: Scores | None
    not_judged: int
    min_daily_cases: float

    def has(self, sid: SeriesId) -> bool:
        """Whether ``sid`` was judged."""
        if self.scores is None:
            return False
        try:
            self.scores.position(sid)
        except KeyError:
            return False
        return True

    def series(self, sid: SeriesId) -> pd.DataFrame:
        """One series as ``metrics.anomalies.detect`` returns it; ``KeyError`` for one not judged."""
        if self.scores is None:
            raise KeyError(f"series {sid!r} was not scored")
        return self.scores.frame(sid)

    def flags(self, *, days: int | None = None, only_bad: bool = False) -> pd.DataFrame:
        """The ranked flags (of the newest ``days`` days) with KPI and slice attached (see :func:`scan_panel`)."""
        flags = rank(self.scores, bad_direction=self.panel.bad_direction, days=days, only_bad=only_bad,
                     cause_order=[k.name for k in KPIS]) \
            if self.scores is not None else rank_empty()
        specs = {n: get_kpi(n) for n in set(self.panel.kpi.values())}
        flags["slice"] = pd.Series([dict(self.panel.slices[sid]) for sid in flags["series"]],
                                   index=flags.index, dtype=object)
        flags["slice_key"] = pd.Series([sid[1] for sid in flags["series"]], index=flags.index, dtype=str)
        flags["kpi_label"] = pd.Series([specs[k].label for k in flags["kpi"]], index=flags.index, dtype=str)
        flags["unit"] = pd.Series([specs[k].unit for k in flags["kpi"]], index=flags.index, dtype=str)
        flags["decimals"] = pd.Series([specs[k].decimals for k in flags["kpi"]], index=flags.index, dtype=int)
        judged_n = len(self.scores.columns) if self.scores is not None else 0
        flags.attrs.update(judged=judged_n, not_judged=self.not_judged, min_daily_cases=self.min_daily_cases)
        return flags


def score_panel(panel: Panel, *, events: Any = None, threshold: float = 4.0,
                min_daily_cases: float = MIN_DAILY_CASES, min_cases: float = MIN_CASES,
                min_change: float = MIN_CHANGE) -> Scored:
    """Judge every series of a panel big enough to judge, on every day, in one vectorised pass.

    Parameters
    ----------
    panel : Panel
        From :func:`kpi_panel`.
    events : optional, keyword-only
        Known events (see ``metrics.events.events_for``); a dimension column scopes a row to the series of
        that value and the series containing it.
    threshold : float, keyword-only
        Flag when the score (robust standard deviations) exceeds it.
    min_daily_cases : float, keyword-only
        Slices smaller than this are not judged (see :func:`judged`); ``0`` judges every series.
    min_cases, min_change : float, keyword-only
        The minimum practical effect (see ``metrics.anomalies.min_effect``).

    Raises
    ------
    metrics.anomalies.AnomalyInputError
        As ``scan`` (e.g. ``InsufficientHistoryError`` for less than ~5 weeks of data).
    """
    keep = judged(panel, min_daily_cases=min_daily_cases) if min_daily_cases > 0 else panel.ids
    wanted = set(keep)
    pos = [i for i, sid in enumerate(panel.values.columns) if sid in wanted]
    resolution = {sid: get_kpi(panel.kpi[sid]).resolution for sid in keep}
    scores = score_frame(panel.values.iloc[:, pos], volume=panel.volume.iloc[:, pos],
                         kinds={sid: panel.kinds[sid] for sid in keep}, events=events, threshold=threshold,
                         bad_direction={sid: panel.bad_direction[sid] for sid in keep}, min_cases=min_cases,
                         min_change=min_change, resolution=resolution) if pos else None
    return Scored(panel, scores, panel.values.shape[1] - len(pos), min_daily_cases)


def scan_panel(panel: Panel, *, events: Any = None, days: int | None = None,
               min_daily_cases: float = MIN_DAILY_CASES, threshold: float = 4.0,
               only_bad: bool = False, min_cases: float = MIN_CASES,
               min_change: float = MIN_CHANGE) -> pd.DataFrame:
    """Scan every series of a panel in one pass; the ranked flags with KPI and slice attached.

    ``score_panel(panel, …).flags(days=…)``: see :func:`score_panel` for the options.

    Returns
    -------
    pd.DataFrame
        The scan's columns plus ``slice`` (dict), ``slice_key``, ``kpi_label``, ``unit`` and
        ``decimals``; ranked by severity. ``attrs``: ``judged`` and ``not_judged`` (series counts) and
        ``min_daily_cases``, for the pages to state what was left out.
    """
    return score_panel(panel, events=events, threshold=threshold, min_daily_cases=min_daily_cases,
                       min_cases=min_cases, min_change=min_change).flags(
        days=days, only_bad=only_bad)


def holiday_events(holidays: pd.DataFrame, *, catch_up_days: int = 1) -> pd.DataFrame:
    """Holidays (``day``, ``name``, optional ``vendor_site``) as events, each with its catch-up day(s).

    The working day after a holiday is abnormal by construction (the cases that waited are
    solved, so solved and age at solve jump); it is masked with the holiday rather than flagged.

    Examples
    --------
    >>> h = pd.DataFrame({"day": [pd.Timestamp('2026-03-17')], "name": ["St Patrick's Day"], "vendor_site": ["Dublin"]})
    >>> holiday_events(h)[["start", "end"]].iloc[0].dt.strftime("%m-%d").tolist()
    ['03-17', '03-18']
    """
    if catch_up_days < 0:
        raise ValueError(f"`catch_up_days` must be >= 0, got {catch_up_days}")
    start = pd.to_datetime(holidays["day"])
    site = holidays["vendor_site"] if "vendor_site" in holidays.columns else None
    return pd.DataFrame({"start": start, "end": start + pd.Timedelta(days=catch_up_days),
                         "name": holidays["name"].astype(str), "workflow": None, "vendor_site": site})
