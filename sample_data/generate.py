"""Seeded generator of a realistic Identity Ops case history with planted incidents.

Everything is vectorised numpy driven by ``np.random.default_rng``; the same
:class:`SampleConfig` always yields identical frames.  Daily volumes per slice
(workflow x vendor site x channel x language) are drawn once for the whole period;
the cases of each day come from their own generator keyed by (seed, day), so the
output does not depend on how the period is cut into chunks.

The planted incidents are placed relative to ``config.end`` so that all of them
fit even in :meth:`SampleConfig.small`; :func:`incidents` returns their ground truth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from loaders.clock import utcnow

__all__ = [
    "CHANNELS",
    "LANGUAGES",
    "VENDOR_SITES",
    "WORKFLOWS",
    "SampleConfig",
    "VendorSite",
    "expected_total_cases",
    "generate_cases",
    "holidays",
    "incidents",
]

WORKFLOWS: tuple[str, ...] = (
    "user_impersonation",
    "brand_impersonation",
    "account_security",
    "copyright",
    "trademark",
    "compliance",
    "privacy_request",
)
CHANNELS: tuple[str, ...] = ("web_form", "email", "in_app", "api")
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "pl", "pt")

_MIN_DAYS = 60
_DAY_S = 86_400
_EPOCH = dt.date(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class VendorSite:
    """One vendor site: who runs it, where it is, what it works on."""

    name: str
    kind: str  # "in-house" | "outsourced"
    tz_offset_h: float  # fixed offset from UTC (no daylight saving, on purpose: simpler to reason about)
    languages: tuple[str, ...]
    workflows: tuple[str, ...]


# short workflow names keep the tables below readable
_UI, _BI, _AS, _CR, _TM, _CO, _PR = WORKFLOWS

# fmt: off
VENDOR_SITES: Mapping[str, VendorSite] = MappingProxyType({
    s.name: s for s in (
        VendorSite("Dublin", "in-house", 0.0, ("en", "de", "fr"), (_BI, _AS, _CR, _TM, _CO, _PR)),
        VendorSite("Austin", "in-house", -6.0, ("en", "es"), (_AS, _CR, _TM, _CO)),
        VendorSite("Manila", "outsourced", 8.0, ("en",), (_UI, _BI, _AS, _PR)),
        VendorSite("Hyderabad", "outsourced", 5.5, ("en",), (_UI, _AS, _CR, _TM)),
        VendorSite("Krakow", "outsourced", 1.0, ("de", "pl", "fr"), (_UI, _BI, _AS, _PR)),
        VendorSite("Bogota", "outsourced", -5.0, ("es", "pt"), (_UI, _AS, _CR)),
    )
})
# fmt: on
_SITES: tuple[str, ...] = tuple(VENDOR_SITES)

# --- model parameters (private: they shape the sample, they are not a contract) -------------

# share: of all volume; weekend/monday: weekday shape; yr_amp/yr_peak: yearly cosine and its
# peak day of year; growth: per year; auto: automation share (x channel factor); age_h: manual
# median age at solve; aht_min: median handle time; sla_h: SLA target; esc: manual escalation
_WF_COLUMNS = (
    "share", "weekend", "monday", "yr_amp", "yr_peak", "growth",
    "auto", "age_h", "aht_min", "sla_h", "esc",
)  # fmt: skip
# fmt: off
_WF_TABLE = {
    #      share  wkend  mon   yr_amp peak growth auto  age_h aht  sla    esc
    _UI: (0.24,  0.80,  1.05, 0.06,   20, 0.18,  0.45, 14.0,  9.0,  48.0, 0.03),
    _BI: (0.18,  0.55,  1.10, 0.15,  335, 0.30,  0.35, 18.0, 12.0,  48.0, 0.04),
    _AS: (0.26,  0.85,  1.05, 0.05,  200, 0.12,  0.55,  7.0,  7.0,  24.0, 0.06),
    _CR: (0.12,  0.45,  1.15, 0.08,   60, 0.08,  0.60, 24.0, 15.0,  72.0, 0.05),
    _TM: (0.07,  0.40,  1.15, 0.06,   80, 0.10,  0.30, 26.0, 18.0,  72.0, 0.07),
    _CO: (0.05,  0.35,  1.20, 0.10,  170, 0.20,  0.10, 40.0, 22.0, 120.0, 0.10),
    _PR: (0.08,  0.50,  1.10, 0.06,   30, 0.25,  0.50, 22.0, 14.0,  72.0, 0.04),
}
_WF_CHANNELS = {
    _UI: {"web_form": 0.45, "in_app": 0.40, "email": 0.15},
    _BI: {"web_form": 0.50, "email": 0.30, "api": 0.20},
    _AS: {"in_app": 0.50, "web_form": 0.35, "email": 0.15},
    _CR: {"web_form": 0.45, "email": 0.25, "api": 0.30},
    _TM: {"web_form": 0.55, "email": 0.45},
    _CO: {"email": 0.60, "web_form": 0.40},
    _PR: {"web_form": 0.50, "in_app": 0.30, "email": 0.20},
}
# fmt: on
_WF_PARAMS: dict[str, dict] = {
    wf: {**dict(zip(_WF_COLUMNS, row, strict=True)), "channels": _WF_CHANNELS[wf]}
    for wf, row in _WF_TABLE.items()
}
_CHANNEL_AUTO_MULT = {"web_form": 1.0, "email": 0.6, "in_app": 1.1, "api": 1.3}

# weight: routing share among the sites serving a workflow; open_h/close_h: local shift hours;
# age/aht: capacity and tenure factors; qa: mean QA score; reopen: reopen factor
_SITE_COLUMNS = ("weight", "open_h", "close_h", "age", "aht", "qa", "reopen")
# fmt: off
_SITE_TABLE = {
    #             weight open close age   aht   qa    reopen
    "Dublin":    (1.0,   8,   18,   0.85, 0.90, 91.0, 0.9),
    "Austin":    (0.8,   8,   18,   0.90, 0.95, 90.0, 0.9),
    "Manila":    (1.4,   6,   22,   1.05, 1.10, 86.0, 1.2),
    "Hyderabad": (1.3,   7,   23,   1.20, 1.15, 84.0, 1.3),
    "Krakow":    (0.9,   7,   21,   1.00, 1.00, 88.0, 1.0),
    "Bogota":    (0.7,   7,   21,   1.10, 1.05, 87.0, 1.1),
}
_SITE_LANGS = {
    "Dublin": {"en": 0.60, "de": 0.25, "fr": 0.15},
    "Austin": {"en": 0.70, "es": 0.30},
    "Manila": {"en": 1.0},
    "Hyderabad": {"en": 1.0},
    "Krakow": {"de": 0.45, "pl": 0.35, "fr": 0.20},
    "Bogota": {"es": 0.70, "pt": 0.30},
}
# fmt: on
_SITE_PARAMS: dict[str, dict] = {
    site: {**dict(zip(_SITE_COLUMNS, row, strict=True)), "langs": _SITE_LANGS[site]}
    for site, row in _SITE_TABLE.items()
}

# customers write in their daytime; the site's region stands in for theirs (local hour 0..23)
# fmt: off
_LOCAL_HOUR_PROFILE = np.array([
    0.20, 0.15, 0.10, 0.10, 0.12, 0.20, 0.40, 0.70, 1.00, 1.20, 1.30, 1.30,
    1.25, 1.25, 1.30, 1.25, 1.15, 1.00, 0.90, 0.80, 0.70, 0.60, 0.45, 0.30,
])
# fmt: on

# (month, day, name, volume factor); the volume factor applies to all created cases
_GLOBAL_HOLIDAYS: tuple[tuple[int, int, str, float], ...] = (
    (1, 1, "New Year's Day", 0.55),
    (12, 24, "Christmas Eve", 0.75),
    (12, 25, "Christmas Day", 0.50),
    (12, 26, "St Stephen's Day", 0.80),
    (12, 31, "New Year's Eve", 0.80),
)
# in-house sites close on these (outsourced sites keep a skeleton crew)
_INHOUSE_CLOSED = {(1, 1), (12, 25), (12, 26)}
# a site's own public holiday: the site does not work (its manual solves wait for the next day)
_SITE_HOLIDAYS: tuple[tuple[int, int, str, str], ...] = (
    (3, 17, "St Patrick's Day", "Dublin"),
    (7, 4, "Independence Day (US)", "Austin"),
    (6, 12, "Independence Day (PH)", "Manila"),
    (8, 15, "Independence Day (IN)", "Hyderabad"),
    (11, 11, "Independence Day (PL)", "Krakow"),
    (7, 20, "Independence Day (CO)", "Bogota"),
)

_WF_DAY_SHAPE = 400.0  # gamma shape of the day x workflow factor (CV 5 %)
_SLICE_DAY_SHAPE = 30.0  # gamma shape of the day x slice factor (CV 18 %)
_AUTO_AGE_MEDIAN_S = 240.0
_CSAT_SURVEY_P = 0.08
_QA_SAMPLE_P = 0.05
# CSAT 1..5 probabilities: solved in SLA / out of SLA or reopened
_CSAT_P = np.array([[0.04, 0.05, 0.12, 0.34, 0.45], [0.15, 0.15, 0.20, 0.28, 0.22]])

# planted incidents
_SPIKE_TOTAL_LIFT = 0.10  # the spike adds 10 % of the day's expected total incoming
_SPIKE = ("brand_impersonation", "Manila", "web_form")
_OUTAGE_SITE = "Hyderabad"
_OUTAGE_SOLVED_SHARE = 0.05  # share of due solves that still happen during the outage
_OUTAGE_CATCHUP_H = 72.0
_FAILURE_WF = "account_security"
_POLICY_WF = "copyright"
_POLICY_LIFT = 0.35
_CREEP_SITE = "Krakow"
_CREEP_LIFT = 0.40


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """What to generate: seed, period and volume.

    Parameters
    ----------
    seed : int
        Seed of every random draw; the same config always gives identical frames.
    end : datetime.date or None
        Last complete (UTC) day of data. ``None`` means yesterday in UTC; call
        :meth:`resolved` to pin it.
    days : int
        Length of the history in days (>= 60). The default covers two years.
    cases_per_day : float
        Mean number of created cases per day over the period, before planted incidents
        (> 0). The default gives a little over 3 million cases.

    Raises
    ------
    ValueError
        If ``days`` < 60, ``cases_per_day`` <= 0 or not finite, or ``seed`` < 0.
    TypeError
        If ``end`` is not a ``datetime.date`` (a ``datetime`` is refused too).

    Examples
    --------
    >>> cfg = SampleConfig.small(end=dt.date(2025, 3, 31))
    >>> cfg.start, cfg.days
    (datetime.date(2024, 11, 2), 150)
    """

    seed: int = 7
    end: dt.date | None = None
    days: int = 730
    cases_per_day: float = 4200.0

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"`seed` must be an int, got {type(self.seed).__name__}")
        if self.seed < 0:
            raise ValueError(f"`seed` must be >= 0, got {self.seed}")
        if isinstance(self.days, bool) or not isinstance(self.days, (int, np.integer)):
            raise TypeError(f"`days` must be an int, got {type(self.days).__name__}")
        if self.days < _MIN_DAYS:
            raise ValueError(f"`days` must be >= {_MIN_DAYS}, got {self.days}")
        if not (math.isfinite(self.cases_per_day) and self.cases_per_day > 0):
            raise ValueError(
                f"`cases_per_day` must be > 0 and finite, got {self.cases_per_day}"
            )
        if self.end is not None and (
            isinstance(self.end, dt.datetime) or not isinstance(self.end, dt.date)
        ):
            raise TypeError(
                f"`end` must be a datetime.date or None, got {type(self.end).__name__}"
            )

    @classmethod
    def small(cls, *, seed: int = 7, end: dt.date | None = None) -> SampleConfig:
        """A quick config for tests: 150 days, ~400 cases a day (~60,000 cases).

        Parameters
        ----------
        seed : int
            Seed of every random draw.
        end : datetime.date or None
            Last day of data; ``None`` means yesterday in UTC.

        Returns
        -------
        SampleConfig

        Examples
        --------
        >>> SampleConfig.small(end=dt.date(2025, 3, 31)).cases_per_day
        400.0
        """
        return cls(seed=seed, end=end, days=150, cases_per_day=400.0)

    def resolved(self) -> SampleConfig:
        """The same config with ``end`` pinned (yesterday in UTC when it was ``None``).

        Returns
        -------
        SampleConfig

        Examples
        --------
        >>> SampleConfig(end=None).resolved().end is not None
        True
        """
        if self.end is not None:
            return self
        yesterday = utcnow().date() - dt.timedelta(days=1)
        return dataclasses.replace(self, end=yesterday)

    @property
    def start(self) -> dt.date:
        """First day of data: ``end - (days - 1)`` (``end`` resolved if needed)."""
        return self.resolved().end - dt.timedelta(days=self.days - 1)


# --- the plan: slices, expected and drawn daily volumes ---------------------------------------


@dataclasses.dataclass(frozen=True)
class _Incidents:
    spike: dt.date
    outage: tuple[dt.date, dt.date]
    failure: tuple[dt.date, dt.date]
    policy: dt.date
    creep: tuple[dt.date, dt.date]


def _incident_dates(cfg: SampleConfig) -> _Incidents:
    e = cfg.end
    d = dt.timedelta
    # the policy shift wants a long "before" and "after"; in a short history it moves to the middle
    policy_back = min(89, cfg.days // 2)
    return _Incidents(
        spike=e,
        outage=(e - d(days=46), e - d(days=44)),
        failure=(e - d(days=20), e - d(days=19)),
        policy=e - d(days=policy_back),
        creep=(e - d(days=28), e - d(days=8)),
    )


def _daynum(day: dt.date) -> int:
    return (day - _EPOCH).days


@dataclasses.dataclass(frozen=True)
class _Plan:
    cfg: SampleConfig
    inc: _Incidents
    start_num: int
    slice_wf: np.ndarray  # (S,) workflow index
    slice_site: np.ndarray
    slice_ch: np.ndarray
    slice_lang: np.ndarray
    mu: np.ndarray  # (D, S) expected created cases, incidents included
    counts: np.ndarray  # (D, S) drawn created cases
    p_auto: np.ndarray  # (D, S) automation probability
    first_id: np.ndarray  # (D,) case_id of each day's first case
    closed: np.ndarray  # (sites, closed_span) local day is closed for manual work
    closed_base: int  # day number of closed[:, 0]
    spike_slice: int
    spike_size: float


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _slices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    wf_i, site_i, ch_i, lang_i, weight = [], [], [], [], []
    for w, wf in enumerate(WORKFLOWS):
        p = _WF_PARAMS[wf]
        serving = [s for s in _SITES if wf in VENDOR_SITES[s].workflows]
        site_total = sum(_SITE_PARAMS[s]["weight"] for s in serving)
        for s in serving:
            sp = _SITE_PARAMS[s]
            for ch, ch_share in p["channels"].items():
                for lang, lang_share in sp["langs"].items():
                    wf_i.append(w)
                    site_i.append(_SITES.index(s))
                    ch_i.append(CHANNELS.index(ch))
                    lang_i.append(LANGUAGES.index(lang))
                    weight.append(
                        p["share"] * sp["weight"] / site_total * ch_share * lang_share
                    )
    return (
        np.array(wf_i),
        np.array(site_i),
        np.array(ch_i),
        np.array(lang_i),
        np.array(weight),
    )


def _month_day(day_nums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dates = day_nums.astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return month, dom


@functools.lru_cache(maxsize=4)
def _plan(cfg: SampleConfig) -> _Plan:
    inc = _incident_dates(cfg)
    n_days = cfg.days
    start_num = _daynum(cfg.end) - n_days + 1
    day_nums = start_num + np.arange(n_days)
    dates = day_nums.astype("datetime64[D]")
    dow = (day_nums + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    month, dom = _month_day(day_nums)

    slice_wf, slice_site, slice_ch, slice_lang, weight = _slices()
    n_wf = len(WORKFLOWS)

    weekly = np.empty((n_wf, 7))
    yearly = np.empty((n_wf, n_days))
    growth = np.empty((n_wf, n_days))
    years_to_end = (np.arange(n_days) - (n_days - 1)) / 365.25
    for w, wf in enumerate(WORKFLOWS):
        p = _WF_PARAMS[wf]
        shape = np.array(
            [p["monday"], 1.0, 1.0, 1.0, 0.97, p["weekend"], p["weekend"] * 1.05]
        )
        weekly[w] = shape / shape.mean()
        yearly[w] = 1.0 + p["yr_amp"] * np.cos(
            2 * np.pi * (doy - p["yr_peak"]) / 365.25
        )
        growth[w] = np.exp(p["growth"] * years_to_end)
    holiday = np.ones(n_days)
    for m, d, _name, factor in _GLOBAL_HOLIDAYS:
        holiday[(month == m) & (dom == d)] = factor

    wf_day = weekly[:, dow] * yearly * growth  # (W, D)
    mu = weight[None, :] * wf_day.T[:, slice_wf] * holiday[:, None]
    mu *= cfg.cases_per_day * n_days / mu.sum()

    # planted volume incidents
    policy_i = _daynum(inc.policy) - start_num
    mu[policy_i:, slice_wf == WORKFLOWS.index(_POLICY_WF)] *= 1.0 + _POLICY_LIFT
    spike_slice = int(
        np.flatnonzero(
            (slice_wf == WORKFLOWS.index(_SPIKE[0]))
            & (slice_site == _SITES.index(_SPIKE[1]))
            & (slice_ch == CHANNELS.index(_SPIKE[2]))
        )[0]
    )
    last = n_days - 1
    spike_size = _SPIKE_TOTAL_LIFT * mu[last].sum() / mu[last, spike_slice]
    mu[last, spike_slice] *= 1.0 + spike_size

    rng = np.random.default_rng([cfg.seed, 0])
    wf_noise = rng.gamma(_WF_DAY_SHAPE, 1.0 / _WF_DAY_SHAPE, size=(n_days, n_wf))
    slice_noise = rng.gamma(_SLICE_DAY_SHAPE, 1.0 / _SLICE_DAY_SHAPE, size=mu.shape)
    counts = rng.poisson(mu * wf_noise[:, slice_wf] * slice_noise).astype(np.int64)

    auto_base = np.array([_WF_PARAMS[WORKFLOWS[w]]["auto"] for w in slice_wf])
    ch_mult = np.array([_CHANNEL_AUTO_MULT[CHANNELS[c]] for c in slice_ch])
    p_auto = np.broadcast_to(np.clip(auto_base * ch_mult, 0.0, 0.95), mu.shape).copy()
    f0, f1 = (_daynum(x) - start_num for x in inc.failure)
    p_auto[f0 : f1 + 1, slice_wf == WORKFLOWS.index(_FAILURE_WF)] = 0.0

    per_day = counts.sum(axis=1)
    first_id = 1 + np.concatenate([[0], np.cumsum(per_day)[:-1]])

    # closed local days per site, far enough past `end` for late solves
    closed_base = start_num - 2
    span_nums = closed_base + np.arange(n_days + 400)
    span_dow = (span_nums + 3) % 7
    span_month, span_dom = _month_day(span_nums)
    closed = np.zeros((len(_SITES), len(span_nums)), dtype=bool)
    for s, name in enumerate(_SITES):
        if VENDOR_SITES[name].kind == "in-house":
            closed[s] |= span_dow >= 5
            for m, d in _INHOUSE_CLOSED:
                closed[s] |= (span_month == m) & (span_dom == d)
    for m, d, _name, site in _SITE_HOLIDAYS:
        closed[_SITES.index(site)] |= (span_month == m) & (span_dom == d)

    return _Plan(
        cfg=cfg,
        inc=inc,
        start_num=start_num,
        slice_wf=_readonly(slice_wf),
        slice_site=_readonly(slice_site),
        slice_ch=_readonly(slice_ch),
        slice_lang=_readonly(slice_lang),
        mu=_readonly(mu),
        counts=_readonly(counts),
        p_auto=_readonly(p_auto),
        first_id=_readonly(first_id),
        closed=_readonly(closed),
        closed_base=closed_base,
        spike_slice=spike_slice,
        spike_size=float(spike_size),
    )


# --- one day of cases ---------------------------------------------------------------------------

_TZ_S = np.array(
    [round(VENDOR_SITES[s].tz_offset_h * 3600) for s in _SITES], dtype=np.int64
)
_OPEN_S = np.array([_SITE_PARAMS[s]["open_h"] * 3600 for s in _SITES], dtype=np.int64)
_CLOSE_S = np.array([_SITE_PARAMS[s]["close_h"] * 3600 for s in _SITES], dtype=np.int64)
_SITE_AGE = np.array([_SITE_PARAMS[s]["age"] for s in _SITES])
_SITE_AHT = np.array([_SITE_PARAMS[s]["aht"] for s in _SITES])
_SITE_QA = np.array([_SITE_PARAMS[s]["qa"] for s in _SITES])
_SITE_REOPEN = np.array([_SITE_PARAMS[s]["reopen"] for s in _SITES])
_WF_AGE_H = np.array([_WF_PARAMS[w]["age_h"] for w in WORKFLOWS])
_WF_AHT_S = np.array([_WF_PARAMS[w]["aht_min"] * 60.0 for w in WORKFLOWS])
_WF_SLA_H = np.array([_WF_PARAMS[w]["sla_h"] for w in WORKFLOWS])
_WF_ESC = np.array([_WF_PARAMS[w]["esc"] for w in WORKFLOWS])
_HOUR_CDF = np.cumsum(_LOCAL_HOUR_PROFILE) / _LOCAL_HOUR_PROFILE.sum()
_CSAT_CDF = np.cumsum(_CSAT_P, axis=1)


def _snap_to_shift(
    plan: _Plan, t_s: np.ndarray, site: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Move solve times that fall outside the site's shift to the next opening (+0-90 min)."""
    local = t_s + _TZ_S[site]
    day = local // _DAY_S
    sec = local - day * _DAY_S
    early = sec < _OPEN_S[site]
    late = sec >= _CLOSE_S[site]
    day = day + late
    moved = early | late
    last = plan.closed.shape[1] - 1
    for _ in range(6):  # weekend + holiday in a row is at most 4 closed days
        closed = plan.closed[site, np.clip(day - plan.closed_base, 0, last)]
        if not closed.any():
            break
        day = day + closed
        moved |= closed
    new_sec = np.where(moved, _OPEN_S[site] + (u * 5400).astype(np.int64), sec)
    return day * _DAY_S + new_sec - _TZ_S[site]


def _simulate_day(
    plan: _Plan,
    i: int,
    counts: np.ndarray,
    rng: np.random.Generator,
    *,
    outage: bool = True,
) -> dict[str, np.ndarray]:
    """Cases created on plan day ``i`` (UTC), sorted by created time; times in epoch seconds."""
    n = int(counts.sum())
    inc = plan.inc
    day_num = plan.start_num + i
    sl = np.repeat(np.arange(counts.size), counts)
    site = plan.slice_site[sl]

    # created: local daytime profile of the site's region, mapped to UTC within the UTC day
    n_sites = len(_SITES)
    flat_cdf = (_HOUR_CDF[None, :] + np.arange(n_sites)[:, None]).ravel()
    hour = np.searchsorted(flat_cdf, rng.random(n) + site, side="right") - site * 24
    local_s = (np.minimum(hour, 23) + rng.random(n)) * 3600.0
    utc_s = np.mod(local_s - _TZ_S[site], _DAY_S).astype(np.int64)
    order = np.argsort(utc_s, kind="stable")
    sl, site, utc_s = sl[order], site[order], utc_s[order]
    wf = plan.slice_wf[sl]
    created = day_num * _DAY_S + utc_s

    auto = rng.random(n) < plan.p_auto[i, sl]
    z = rng.standard_normal(n)
    manual_age = _WF_AGE_H[wf] * _SITE_AGE[site] * 3600.0 * np.exp(0.75 * z)
    auto_age = _AUTO_AGE_MEDIAN_S * np.exp(0.9 * z)
    solved = created + np.where(auto, auto_age, manual_age).astype(np.int64) + 1
    u_snap = rng.random(n)
    manual = ~auto
    solved[manual] = _snap_to_shift(plan, solved[manual], site[manual], u_snap[manual])

    # site outage: almost nothing due at the site is solved; it is caught up over the next days
    u_out = rng.random(n)
    u_catch = rng.random(n)
    if outage:
        t0 = _daynum(inc.outage[0]) * _DAY_S
        t1 = (_daynum(inc.outage[1]) + 1) * _DAY_S
        hit = (
            (site == _SITES.index(_OUTAGE_SITE))
            & (solved >= t0)
            & (solved < t1)
            & (u_out >= _OUTAGE_SOLVED_SHARE)
        )
        late = t1 + (u_catch[hit] * _OUTAGE_CATCHUP_H * 3600).astype(np.int64)
        solved[hit] = _snap_to_shift(plan, late, site[hit], u_snap[hit])

    # handle time depends on the day the agent works the case (the AHT creep follows solved_at)
    c0 = _daynum(inc.creep[0]) * _DAY_S
    c1 = (_daynum(inc.creep[1]) + 1) * _DAY_S
    creep = np.where(
        site == _SITES.index(_CREEP_SITE),
        1.0 + _CREEP_LIFT * np.clip((solved - c0) / (c1 - c0), 0.0, 1.0),
        1.0,
    )
    handle = (
        _WF_AHT_S[wf] * _SITE_AHT[site] * creep * np.exp(0.5 * rng.standard_normal(n))
    )

    cutoff = (_daynum(plan.cfg.end) + 1) * _DAY_S
    is_open = solved >= cutoff
    age_h = (solved - created) / 3600.0
    in_sla = age_h <= _WF_SLA_H[wf]

    escalated = rng.random(n) < np.where(auto, 0.005, _WF_ESC[wf])
    reopened = (
        rng.random(n) < np.where(auto, 0.06, 0.035 * _SITE_REOPEN[site])
    ) & ~is_open
    surveyed = (rng.random(n) < _CSAT_SURVEY_P) & ~is_open
    group = (~in_sla | reopened).astype(np.int64)
    flat_csat = (_CSAT_CDF + np.arange(2)[:, None]).ravel()
    csat_score = (
        np.searchsorted(flat_csat, rng.random(n) + group, side="right") - group * 5 + 1
    )
    sampled = (rng.random(n) < _QA_SAMPLE_P) & manual & ~is_open
    qa_score = np.round(
        np.clip(_SITE_QA[site] + 7.0 * rng.standard_normal(n), 0.0, 100.0), 1
    )

    return {
        "slice": sl,
        "created": created,
        "solved": solved,
        "open": is_open,
        "auto": auto,
        "handle": np.where(manual & ~is_open, handle, np.nan),
        "escalated": escalated,
        "reopened": reopened,
        "csat": np.where(
            surveyed, np.minimum(csat_score, 5).astype(np.float64), np.nan
        ),
        "qa": np.where(sampled, qa_score, np.nan),
    }


def _day_rng(cfg: SampleConfig, day_num: int, stream: int = 1) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, stream, day_num])


def _str_column(codes: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    # pandas' default `str` dtype is Arrow-backed: taking from a tiny Arrow dictionary is ~10x
    # faster than converting a Python object array, which matters at 3 M rows x 5 columns
    dtype = pd.Series([""], dtype="str").dtype
    try:
        import pyarrow as pa
        from pandas.arrays import ArrowStringArray

        values = pa.array(list(names), type=pa.large_string()).take(pa.array(codes))
        return pd.Series(ArrowStringArray(values, dtype=dtype), copy=False)
    except (ImportError, TypeError, ValueError):
        return pd.Series(np.array(names, dtype=object)[codes], dtype="str")


_ROUTES = ("manual", "automated")


def _frame(
    plan: _Plan, parts: list[dict[str, np.ndarray]], first_id: int
) -> pd.DataFrame:
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    sl = cat["slice"]
    n = sl.size
    wf = plan.slice_wf[sl]
    solved_ns = np.where(
        cat["open"], np.iinfo(np.int64).min, cat["solved"] * 1_000_000_000
    )
    return pd.DataFrame(
        {
            "case_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "created_at": (cat["created"] * 1_000_000_000).view("datetime64[ns]"),
            "solved_at": solved_ns.view("datetime64[ns]"),
            "workflow": _str_column(wf, WORKFLOWS),
            "vendor_site": _str_column(plan.slice_site[sl], _SITES),
            "channel": _str_column(plan.slice_ch[sl], CHANNELS),
            "language": _str_column(plan.slice_lang[sl], LANGUAGES),
            "route": _str_column(cat["auto"].astype(np.int64), _ROUTES),
            "handle_time_s": cat["handle"].astype(np.float64),
            "sla_hours": _WF_SLA_H[wf].astype(np.float64),
            "escalated": cat["escalated"].astype(np.int8),
            "reopened": cat["reopened"].astype(np.int8),
            "csat": cat["csat"],
            "qa_score": cat["qa"],
        }
    )


# --- public functions ----------------------------------------------------------------------------


def generate_cases(
    config: SampleConfig, *, chunk_days: int = 31
) -> Iterator[pd.DataFrame]:
    """Yield the sample's cases in chunks of whole (UTC) days, ordered by ``created_at``.

    Parameters
    ----------
    config : SampleConfig
        Seed, period and volume (``end=None`` is resolved to yesterday in UTC).
    chunk_days : int
        Days of created cases per chunk (>= 1); only memory depends on it, never the data.

    Yields
    ------
    pandas.DataFrame
        Canonical case rows (docs/architecture.md): ``case_id`` int64 (unique, increasing
        across chunks), ``created_at``/``solved_at`` datetime64[ns] naive UTC (``solved_at``
        NaT while open at the end of ``end``), ``workflow``, ``vendor_site``, ``channel``,
        ``language``, ``route`` as strings, ``handle_time_s``, ``sla_hours``, ``csat``,
        ``qa_score`` float64, ``escalated``/``reopened`` int8.

    Raises
    ------
    ValueError
        If ``chunk_days`` < 1.

    Examples
    --------
    >>> cfg = SampleConfig.small(end=dt.date(2025, 3, 31))
    >>> first = next(generate_cases(cfg, chunk_days=1))
    >>> bool(first["created_at"].is_monotonic_increasing)
    True
    """
    if isinstance(chunk_days, bool) or not isinstance(chunk_days, (int, np.integer)):
        raise TypeError(f"`chunk_days` must be an int, got {type(chunk_days).__name__}")
    if chunk_days < 1:
        raise ValueError(f"`chunk_days` must be >= 1, got {chunk_days}")
    plan = _plan(config.resolved())
    n_days = plan.counts.shape[0]
    for lo in range(0, n_days, chunk_days):
        hi = min(lo + chunk_days, n_days)
        parts = [
            _simulate_day(
                plan, i, plan.counts[i], _day_rng(plan.cfg, plan.start_num + i)
            )
            for i in range(lo, hi)
        ]
        yield _frame(plan, parts, int(plan.first_id[lo]))


def expected_total_cases(config: SampleConfig) -> int:
    """Expected number of cases (incidents included), e.g. for a progress bar.

    Parameters
    ----------
    config : SampleConfig

    Returns
    -------
    int
        Expected count; the drawn total differs by noise (well under 1 % at default size).

    Examples
    --------
    >>> expected_total_cases(SampleConfig.small(end=dt.date(2025, 3, 31))) > 55_000
    True
    """
    return int(np.rint(_plan(config.resolved()).mu.sum()))


def holidays(config: SampleConfig) -> pd.DataFrame:
    """Known events of the sample period (for an anomaly "events" table).

    Global holidays lower the volume of created cases; a site's own holiday closes that site
    (its manual solves wait for the next working day). In-house sites also close on
    New Year's Day, Christmas Day and St Stephen's Day.

    Parameters
    ----------
    config : SampleConfig

    Returns
    -------
    pandas.DataFrame
        Columns ``day`` (``datetime.date``), ``name`` and ``vendor_site`` (null for a holiday
        of every site), sorted by day.

    Examples
    --------
    >>> h = holidays(SampleConfig.small(end=dt.date(2025, 3, 31)))
    >>> dt.date(2024, 12, 25) in set(h["day"])
    True
    """
    cfg = config.resolved()
    rows: list[tuple[dt.date, str, str | None]] = []
    for year in range(cfg.start.year, cfg.end.year + 1):
        for m, d, name, _f in _GLOBAL_HOLIDAYS:
            rows.append((dt.date(year, m, d), name, None))
        for m, d, name, site in _SITE_HOLIDAYS:
            rows.append((dt.date(year, m, d), name, site))
    rows = [r for r in rows if cfg.start <= r[0] <= cfg.end]
    rows.sort(key=lambda r: (r[0], r[2] or ""))
    frame = pd.DataFrame(rows, columns=["day", "name", "vendor_site"])
    return frame.astype({"day": object, "name": "str", "vendor_site": "str"})


def _outage_effects(plan: _Plan) -> tuple[float, float]:
    """Relative lift of the outage site's backlog (end of outage) and AAS (catch-up days).

    Simulated on the expected volumes of the site's slices, with and without the outage,
    on the same random draws, so the figures are what the model planted, not noise.
    """
    inc = plan.inc
    o0 = _daynum(inc.outage[0]) - plan.start_num
    o1 = _daynum(inc.outage[1]) - plan.start_num
    site_slices = plan.slice_site == _SITES.index(_OUTAGE_SITE)
    mu = np.where(site_slices[None, :], plan.mu, 0.0)
    scale = max(1.0, 2000.0 / max(mu[o0].sum(), 1e-9))
    lo = max(0, o0 - 21)
    hi = min(plan.counts.shape[0], o1 + 4)
    t_end = (_daynum(inc.outage[1]) + 1) * _DAY_S
    c0, c1 = t_end, t_end + 3 * _DAY_S
    results = []
    for outage in (False, True):
        created, solved = [], []
        for i in range(lo, hi):
            counts = np.rint(mu[i] * scale).astype(np.int64)
            day = _simulate_day(
                plan,
                i,
                counts,
                _day_rng(plan.cfg, plan.start_num + i, 2),
                outage=outage,
            )
            created.append(day["created"])
            solved.append(day["solved"])
        cr, so = np.concatenate(created), np.concatenate(solved)
        backlog = np.count_nonzero((cr < t_end) & (so >= t_end))
        catch = (so >= c0) & (so < c1)
        aas = float(np.mean(so[catch] - cr[catch])) if catch.any() else float("nan")
        results.append((backlog, aas))
    (b0, a0), (b1, a1) = results
    return b1 / max(b0, 1) - 1.0, a1 / a0 - 1.0


_TRUTH_COLUMNS = (
    "kind", "start", "end", "kpi", "workflow", "vendor_site", "channel", "language",
    "size", "description",
)  # fmt: skip


def _truth(
    kind: str,
    start: dt.date,
    end: dt.date,
    kpi: str,
    size: float,
    description: str,
    *,
    workflow: str | None = None,
    vendor_site: str | None = None,
    channel: str | None = None,
    language: str | None = None,
) -> tuple:
    return (kind, start, end, kpi, workflow, vendor_site, channel, language, size,
            description)  # fmt: skip


def incidents(config: SampleConfig) -> pd.DataFrame:
    """Ground truth of the planted incidents: one row per incident x KPI mainly affected.

    Parameters
    ----------
    config : SampleConfig

    Returns
    -------
    pandas.DataFrame
        Columns ``kind, start, end, kpi, workflow, vendor_site, channel, language, size,
        description``; ``start``/``end`` are inclusive ``datetime.date`` values, a null
        dimension means "all values", ``size`` is the relative change (0.8 = +80 %) of the
        KPI at that grain versus the incident-free model.

    Examples
    --------
    >>> truth = incidents(SampleConfig.small(end=dt.date(2025, 3, 31)))
    >>> sorted(set(truth["kind"]))  # doctest: +NORMALIZE_WHITESPACE
    ['aht_creep', 'automation_failure', 'channel_spike', 'policy_change', 'site_outage']
    """
    plan = _plan(config.resolved())
    cfg, inc = plan.cfg, plan.inc
    last = plan.mu.shape[0] - 1
    wf_b = plan.slice_wf == WORKFLOWS.index(_SPIKE[0])
    extra = plan.mu[last, plan.spike_slice] * plan.spike_size / (1.0 + plan.spike_size)
    wf_size = extra / (plan.mu[last, wf_b].sum() - extra)

    f0 = _daynum(inc.failure[0]) - plan.start_num
    fail = plan.slice_wf == WORKFLOWS.index(_FAILURE_WF)
    normal_auto = plan.p_auto[f0 - 1, fail] if f0 > 0 else plan.p_auto[f0 + 2, fail]
    mu_f = plan.mu[f0, fail]
    manual_lift = mu_f.sum() / (mu_f * (1.0 - normal_auto)).sum() - 1.0

    backlog_lift, aas_lift = _outage_effects(plan)
    day = dt.timedelta(days=1)
    o_start, o_end = inc.outage
    site_out, wf_fail = _OUTAGE_SITE, _FAILURE_WF
    w, s, c = _SPIKE
    # fmt: off
    rows = [
        _truth("channel_spike", inc.spike, inc.spike, "incoming", plan.spike_size,
               f"{w} cases from {c} routed to {s} jump on the last day",
               workflow=w, vendor_site=s, channel=c),
        _truth("channel_spike", inc.spike, inc.spike, "incoming", wf_size,
               f"the same spike seen in all {w} incoming", workflow=w),
        _truth("channel_spike", inc.spike, inc.spike, "incoming", _SPIKE_TOTAL_LIFT,
               "the same spike seen in total incoming"),
        _truth("site_outage", o_start, o_end, "solved", -(1.0 - _OUTAGE_SOLVED_SHARE),
               f"{site_out} outage: the site solves almost nothing, cases wait",
               vendor_site=site_out),
        _truth("site_outage", o_start, o_end + 2 * day, "backlog", backlog_lift,
               f"{site_out} backlog climbs during the outage (size at its last day)",
               vendor_site=site_out),
        _truth("site_outage", o_end + day, o_end + 3 * day, "aas", aas_lift,
               f"{site_out} age at solve climbs while the waiting cases are caught up",
               vendor_site=site_out),
        _truth("automation_failure", *inc.failure, "manual_incoming", manual_lift,
               f"{wf_fail} automation fails: every case goes to a human", workflow=wf_fail),
        _truth("automation_failure", *inc.failure, "automation_rate", -1.0,
               f"{wf_fail} automated share of created cases drops to 0", workflow=wf_fail),
        _truth("policy_change", inc.policy, cfg.end, "incoming", _POLICY_LIFT,
               f"{_POLICY_WF} policy change: incoming up {_POLICY_LIFT:.0%} for good",
               workflow=_POLICY_WF),
        _truth("aht_creep", *inc.creep, "aht", _CREEP_LIFT,
               f"{_CREEP_SITE} handle time creeps up {_CREEP_LIFT:.0%} over 3 weeks, stays",
               vendor_site=_CREEP_SITE),
    ]
    # fmt: on
    frame = pd.DataFrame(rows, columns=list(_TRUTH_COLUMNS))
    text = [c for c in _TRUTH_COLUMNS if c not in ("start", "end", "size")]
    return frame.astype(
        {**{k: "str" for k in text}, "start": object, "end": object, "size": np.float64}
    )
