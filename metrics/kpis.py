"""The KPI registry: every KPI defined once, computed at any grain from the roll-up's additive parts.

A KPI is data (a frozen :class:`KPI`), not code scattered over pages. Ratios are ``sum(numerator) /
sum(denominator)`` over whatever rows are being aggregated, so any roll-up — a week, a site, all of it —
is exact; averaging daily ratios never happens. Backlog is a stock: the opening balance plus the running
sum of incoming − solved, read at the end of each period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "GRAINS",
    "KPI",
    "KPIS",
    "PARTS",
    "available_kpis",
    "compute_kpis",
    "get_kpi",
    "kpi_parts",
    "registry_table",
]

#: additive parts of the roll-up (plus the derived ``solved_automated``); see docs/architecture.md
PARTS: tuple[str, ...] = (
    "incoming", "incoming_manual", "solved", "solved_manual", "handle_time_s", "age_at_solve_h",
    "solved_in_sla", "escalated", "reopened", "csat_sum", "csat_n", "qa_sum", "qa_n",
)

#: parts computed from others: ``solved_automated = solved - solved_manual``; backlog is a running sum
_DERIVED: dict[str, tuple[str, ...]] = {"solved_automated": ("solved", "solved_manual"),
                                        "backlog": ("incoming", "solved")}

#: grain code -> pandas resample rule (weeks start on Monday, months on the 1st)
GRAINS: dict[str, str] = {"day": "D", "week": "W-MON", "month": "MS"}


@dataclass(frozen=True)
class KPI:
    """One KPI, defined once.

    Attributes
    ----------
    name : str
        Identifier used everywhere (URLs, scans, exports).
    label : str
        Short title for tiles and axes.
    description : str
        The definition shown next to every number.
    unit : str
        ``cases``, ``%``, ``minutes``, ``hours`` or ``score``.
    bad_direction : {"up", "down"}
        Which way is bad (a rise in backlog is bad, a rise in solved is good).
    kind : {"flow", "ratio", "stock"}
        How it aggregates over time and slices.
    numerator, denominator : str
        Additive parts; ``denominator`` only for ratios.
    scale : float
        Multiplier applied to the ratio (100 for percentages, 1/60 for seconds → minutes).
    volume : str
        The part that measures how many cases stand behind a value (weighs anomaly severity).
    decimals : int
        Display precision.
    optional : bool
        Only shown where the data has it (e.g. CSAT).
    """

    name: str
    label: str
    description: str
    unit: Literal["cases", "%", "minutes", "hours", "score"]
    bad_direction: Literal["up", "down"]
    kind: Literal["flow", "ratio", "stock"]
    numerator: str
    denominator: str | None = None
    scale: float = 1.0
    volume: str = "incoming"
    decimals: int = 0
    optional: bool = False

    @property
    def parts(self) -> tuple[str, ...]:
        """The roll-up measures the KPI is computed from (derived parts expanded)."""
        out: list[str] = []
        for part in (self.numerator, self.denominator):
            out += _DERIVED.get(part, (part,)) if part else ()
        return tuple(dict.fromkeys(out))

    def value(self, sums: Mapping) -> float | np.ndarray | pd.Series:
        """The KPI from its summed parts — the one evaluation every grain, slice, window and panel uses.

        ``sums`` maps part names to summed values: a row (``Series``), a frame of rows, or arrays. A ratio is
        ``numerator / denominator × scale`` (NaN where the denominator is 0, never 0 or inf); a flow or a stock is
        its numerator (a stock's parts are end-of-period levels: sum them across slices, never over days).

        Examples
        --------
        >>> get_kpi("aht").value({"handle_time_s": 3600.0, "solved_manual": 6.0})
        10.0
        >>> get_kpi("sla_attainment").value(pd.DataFrame({"solved_in_sla": [9, 0], "solved": [10, 0]})).tolist()
        [90.0, nan]
        """
        num = sums[self.numerator]
        if self.kind != "ratio":
            return num.astype("float64") if isinstance(num, pd.Series | np.ndarray) else float(num)
        den = sums[self.denominator]
        if isinstance(den, pd.Series):
            return num.astype("float64") / den.where(den > 0).astype("float64") * self.scale
        den = np.asarray(den, dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den > 0, np.asarray(num, dtype="float64") / np.where(den > 0, den, 1.0), np.nan) * self.scale
        return float(out) if out.ndim == 0 else out

    @property
    def series_kind(self) -> Literal["count", "share", "ratio", "stock"]:
        """How the anomaly detector reads this KPI's daily series — the one mapping every screen uses:
        a flow is a ``count`` of cases (a day without cases is 0; Poisson noise floor), a percentage of the
        cases in its volume part a ``share`` (binomial noise floor), another ratio a ``ratio``, the backlog
        a ``stock`` (a level of cases: Poisson noise floor, so a backlog going from 1 to 2 is no surprise)."""
        if self.kind == "flow":
            return "count"
        if self.kind == "stock":
            return "stock"
        if self.unit == "%" and self.scale == 100.0 and self.volume == self.denominator:
            return "share"
        return "ratio"

    def change(self, value: float | None, reference: float | None) -> float | None:
        """How far ``value`` is from ``reference``: points for a percentage KPI, else a relative change in %
        (None when the reference is unknown or 0 for a relative change)."""
        if value is None or reference is None or not (np.isfinite(value) and np.isfinite(reference)):
            return None
        if self.unit == "%":
            return float(value - reference)
        return float((value - reference) / abs(reference) * 100) if reference else None

    def format_change(self, value: float | None, reference: float | None, *, against: str = "",
                      decimals: int = 1) -> str:
        """:meth:`change` as text — the one wording of a change on every screen, message and slide.

        ``"+3.2 pts"`` for a percentage KPI (90 % → 80 % is ``"-10.0 pts"``, never ``"-11.1 %"``), ``"-11.0 %"``
        otherwise; with ``against``, ``"+3.2 pts vs last week"`` (``"n/a vs last week"`` without a reference),
        else ``""`` when there is none. The minus is ASCII: ``st.metric`` reads the arrow from the first character.

        Examples
        --------
        >>> get_kpi("sla_attainment").format_change(80.0, 90.0, against="last week")
        '-10.0 pts vs last week'
        >>> get_kpi("incoming").format_change(110, 100)
        '+10.0 %'
        >>> get_kpi("incoming").format_change(110, 0, against="expected")
        'n/a vs expected'
        """
        delta = self.change(value, reference)
        if delta is None:
            return f"n/a vs {against}" if against else ""
        text = f"{delta:+.{decimals}f} pts" if self.unit == "%" else f"{delta:+.{decimals}f} %"
        return f"{text} vs {against}" if against else text

    @property
    def difference_unit(self) -> str:
        """The suffix of a difference of this KPI: points for a percentage (``" pts"``), else its unit."""
        return {"%": " pts", "minutes": " min", "hours": " h"}.get(self.unit, "")

    def format_difference(self, delta: float, *, decimals: int | None = None) -> str:
        """A difference in the KPI's own unit, signed: ``"+3.2 pts"`` (a percentage), ``"-12.5 h"``, ``"+41"``."""
        places = self.decimals if decimals is None else decimals
        return f"{delta:+,.{places}f}{self.difference_unit}"

    def judged_line(self, observed: float, expected: float, day: dt.date, where: str = "") -> str:
        """One line stating a judged day: ``"Incoming at Manila on Wed 02 Dec 2026: 91, +111.6 % vs 43 expected"``."""
        at = f" at {where}" if where else ""
        change = self.format_change(observed, expected)
        vs = f", {change} vs {self.format(expected)} expected" if change else (
            f", expected {self.format(expected)}" if expected is not None and np.isfinite(expected) else "")
        return f"{self.label}{at} on {day:%a %d %b %Y}: {self.format(observed)}{vs}"

    @property
    def resolution(self) -> float:
        """Half the smallest difference a displayed value can show (``0.05`` for one decimal): the detector
        never judges this KPI's series with a smaller scale, so a score stays a count of visible steps."""
        return 0.5 * 10.0 ** -self.decimals

    @property
    def bounds(self) -> tuple[float, float | None]:
        """The values the KPI can take: ``(0, 100)`` for a percentage, ``(0, None)`` for the rest
        (no negative cases, minutes, hours or scores). Expected bands are clipped to it."""
        return (0.0, 100.0) if self.unit == "%" else (0.0, None)

    def format(self, value: float | None) -> str:
        """The value as shown on a tile (``"4,210"``, ``"12.5 min"``, ``"93.1 %"``)."""
        if value is None or not np.isfinite(value):
            return "–"
        text = f"{value:,.{self.decimals}f}"
        return {"%": f"{text} %", "minutes": f"{text} min", "hours": f"{text} h"}.get(self.unit, text)


KPIS: tuple[KPI, ...] = (
    KPI("incoming", "Incoming", "Cases created in the period.", "cases", "up", "flow", "incoming"),
    KPI("manual_incoming", "Manual incoming",
        "Created cases routed to a human queue (not closed by automation).", "cases", "up", "flow",
        "incoming_manual", volume="incoming_manual"),
    KPI("manual_share", "Manual share", "Manual incoming / incoming: the share of created cases routed to a human "
        "queue.", "%", "up", "ratio", "incoming_manual", "incoming", scale=100.0, volume="incoming", decimals=1),
    KPI("solved", "Solved", "Cases solved in the period.", "cases", "down", "flow", "solved", volume="solved"),
    KPI("manual_solved", "Manual solved", "Solved cases that an agent worked.", "cases", "down", "flow",
        "solved_manual", volume="solved_manual"),
    KPI("automation_rate", "Automation rate", "1 − manual solved / solved: share of solved cases closed by automation.",
        "%", "down", "ratio", "solved_automated", "solved", scale=100.0, volume="solved", decimals=1),
    KPI("aht", "AHT", "Average handle time: agent handle time summed over manual solved cases / manual solved.",
        "minutes", "up", "ratio", "handle_time_s", "solved_manual", scale=1 / 60, volume="solved_manual", decimals=1),
    KPI("aas", "AAS", "Average age at solve: mean of (solved_at − created_at) over cases solved in the period.",
        "hours", "up", "ratio", "age_at_solve_h", "solved", volume="solved", decimals=1),
    KPI("backlog", "Backlog", "Cases open at the end of the period (created, not yet solved).", "cases", "up",
        "stock", "backlog", volume="backlog"),
    KPI("sla_attainment", "SLA attainment", "Solved within the workflow's SLA target / solved.", "%", "down", "ratio",
        "solved_in_sla", "solved", scale=100.0, volume="solved", decimals=1),
    KPI("escalation_rate", "Escalation rate", "Solved cases that were escalated / solved.", "%", "up", "ratio",
        "escalated", "solved", scale=100.0, volume="solved", decimals=1),
    KPI("reopen_rate", "Reopen rate", "Solved cases that were reopened / solved.", "%", "up", "ratio",
        "reopened", "solved", scale=100.0, volume="solved", decimals=1),
    KPI("csat", "CSAT", "Mean customer satisfaction (1–5) over surveyed solved cases.", "score", "down", "ratio",
        "csat_sum", "csat_n", volume="csat_n", decimals=2, optional=True),
    KPI("qa_score", "QA score", "Mean quality-review score (0–100) over sampled manual solved cases.", "score",
        "down", "ratio", "qa_sum", "qa_n", volume="qa_n", decimals=1, optional=True),
)

_BY_NAME: dict[str, KPI] = {k.name: k for k in KPIS}


def available_kpis(measures: Collection[str]) -> tuple[KPI, ...]:
    """The KPIs the data can state: every roll-up measure they are made of is available.

    Examples
    --------
    >>> [k.name for k in available_kpis({"incoming", "solved", "age_at_solve_h"})]
    ['incoming', 'solved', 'aas', 'backlog']
    """
    have = set(measures)
    return tuple(k for k in KPIS if set(k.parts) <= have)


def get_kpi(name: str) -> KPI:
    """The registered KPI called ``name``.

    Raises
    ------
    KeyError
        Naming the known KPIs.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known: {', '.join(_BY_NAME)}") from None


def kpi_parts(volume: pd.DataFrame, *, by: Sequence[str] = (),
              opening: float | pd.Series | None = None) -> pd.DataFrame:
    """Add the derived parts (``solved_automated``, ``backlog``) to a daily roll-up frame.

    Parameters
    ----------
    volume : DataFrame
        Daily parts on a ``DatetimeIndex`` (as returned by ``loaders.load_daily_volume``), with the
        ``by`` columns when split.
    by : sequence of str
        Dimension columns identifying each series.
    opening : float or Series, optional
        Backlog at the start of the range (total, or per ``by`` group); 0 if omitted.

    Returns
    -------
    DataFrame
        ``volume`` plus ``solved_automated`` and ``backlog`` (end-of-day stock).
    """
    missing = [p for p in PARTS if p not in volume.columns]
    if missing:
        raise ValueError(f"volume frame lacks part column(s): {', '.join(missing)}")
    out = volume.copy()
    out["solved_automated"] = out["solved"] - out["solved_manual"]
    net = out["incoming"] - out["solved"]
    by = list(by)
    if by:
        running = net.groupby([out[b] for b in by], sort=False).cumsum()
        if isinstance(opening, pd.Series) and len(opening):
            keys = pd.MultiIndex.from_frame(out[by]) if len(by) > 1 else pd.Index(out[by[0]])
            start = opening.reindex(keys).fillna(0.0).to_numpy()
        else:
            start = float(opening) if isinstance(opening, int | float) else 0.0
        out["backlog"] = running + start
    else:
        base = float(opening.sum()) if isinstance(opening, pd.Series) else float(opening or 0.0)
        out["backlog"] = net.cumsum() + base
    return out


#: what the values beyond a chart's largest ones are folded into
OTHER = "(other)"  # in brackets like "(none)": a real value of that spelling is not expected
#: how many values of a dimension a chart shows as their own lines or bars (the rest: "other")
TOP_VALUES = 10


def top_values(parts: pd.DataFrame, by: str, *, most: int = TOP_VALUES, size: str = "incoming") -> pd.DataFrame:
    """The parts with every value of ``by`` beyond the ``most`` largest (by total ``size``) folded into
    :data:`OTHER`, their parts summed: a chart of 150 lines is unreadable, and "other" keeps the total whole.

    Ratios computed afterwards stay right (sums of parts, never averages of ratios); so does the backlog,
    a sum of stocks. A dimension with at most ``most + 1`` values is returned unchanged.

    Examples
    --------
    >>> idx = pd.to_datetime(["2026-01-01"] * 3)
    >>> p = pd.DataFrame({"w": ["a", "b", "c"], "incoming": [5.0, 1.0, 2.0]}, index=idx)
    >>> top_values(p, "w", most=1)["w"].tolist()
    ['a', '(other)']
    """
    totals = parts.groupby(by, sort=False)[size].sum()
    if len(totals) <= most + 1:
        return parts
    keep = set(totals.sort_values(ascending=False, kind="stable").index[:most])
    label = parts[by].where(parts[by].isin(keep), OTHER)
    numbers = [c for c in parts.columns if c != by and pd.api.types.is_numeric_dtype(parts[c])]
    others = [c for c in parts.columns if c not in numbers and c != by]
    folded = parts.assign(**{by: label}).groupby([parts.index, by, *others], sort=False)[numbers].sum()
    out = folded.reset_index(level=[by, *others])
    out.index.name = parts.index.name
    order = [*(v for v in totals.sort_values(ascending=False, kind="stable").index[:most]), OTHER]
    out[by] = pd.Categorical(out[by], categories=order)
    out = out.sort_values(by, kind="stable").sort_index(kind="stable")
    out[by] = out[by].astype(str)
    return out[parts.columns]


def _evaluate(sums: pd.DataFrame, kpis: Sequence[KPI]) -> pd.DataFrame:
    return pd.DataFrame({k.name: k.value(sums) for k in kpis}, index=sums.index)


def compute_kpis(parts: pd.DataFrame, *, grain: str = "day", by: Sequence[str] = (),
                 kpis: Sequence[str] | None = None) -> pd.DataFrame:
    """KPI values at a grain from a frame prepared by :func:`kpi_parts`.

    Parameters
    ----------
    parts : DataFrame
        Daily parts (``DatetimeIndex``), possibly several rows per day (one per ``by`` group or leaf).
    grain : {"day", "week", "month"}
    by : sequence of str
        Keep these dimensions as columns; all other rows of a period are summed.
    kpis : sequence of str, optional
        Names from the registry; all by default.

    Returns
    -------
    DataFrame
        Index: period start (``DatetimeIndex`` named ``day``); columns: ``*by`` then one per KPI.
        Ratios with a zero denominator are NaN, never 0.

    Examples
    --------
    >>> compute_kpis(kpi_parts(volume), grain="week", kpis=["aht"])  # doctest: +SKIP
    """
    if grain not in GRAINS:
        raise ValueError(f"`grain` must be one of {', '.join(GRAINS)}, got {grain!r}")
    specs = [get_kpi(n) for n in (kpis if kpis is not None else _BY_NAME)]
    by = list(by)
    additive = [p for p in (*PARTS, "solved_automated") if p in parts.columns]
    keys = [pd.Grouper(freq=GRAINS[grain], label="left", closed="left"), *by]
    frame = parts.rename_axis("day")
    sums = frame.groupby(keys, sort=True)[additive].sum()
    # A stock is summed across slices within a day, then read at the period's last day.
    daily_stock = frame.groupby([frame.index, *by] if by else frame.index)["backlog"].sum()
    if by:
        stock_frame = daily_stock.reset_index(level=by)
        period = pd.Grouper(freq=GRAINS[grain], label="left", closed="left")
        stock = stock_frame.groupby([period, *by])["backlog"].last()
    else:
        stock = daily_stock.resample(GRAINS[grain], label="left", closed="left").last()
    sums["backlog"] = stock.reindex(sums.index)
    values = _evaluate(sums, specs)
    if by:
        values = values.reset_index(level=by)
    values.index.name = "day"
    return values


def registry_table(kpis: Mapping[str, KPI] | None = None) -> pd.DataFrame:
    """The registry as a table (for the docs and the definitions appendix)."""
    rows = [
        {"name": k.name, "label": k.label, "unit": k.unit, "bad when": f"{k.bad_direction}",
         "formula": f"{k.numerator} / {k.denominator}" + (f" × {k.scale:g}" if k.scale != 1 else "")
         if k.kind == "ratio" else k.numerator, "definition": k.description}
        for k in (kpis or _BY_NAME).values()
    ]
    return pd.DataFrame(rows)
