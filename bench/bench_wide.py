"""Wide-source figures: 150 workflows x 20 vendor sites x 7 channels x 3 languages over two years.

Run: ``python bench/bench_wide.py`` (full size: ~3.3 million cases, several minutes); ``--scale 0.1`` for a quick
look (a tenth of the cases, the same width); ``--keep wide.sqlite`` builds the database there once and reuses it
on later runs with the same ``--scale`` / ``--days`` (by default it lives in a temporary directory).

The source is seeded and deterministic: Zipf-like workflow volumes (a few large workflows, a long tail of small
ones), each workflow spread over every site with Zipf-like, noisy site shares (so most workflow x site pairs see
well under a case a day), a per-workflow weekly pattern and growth, ~3,000-6,000 cases a day in total and one
planted spike (a mid-sized workflow at its main site, +80 % incoming on the last day). It is written as a SQLite
cases table through ``loaders.create_cases_table`` / ``loaders.write_cases``; the last day is held back (its cases
and the solves it brings to earlier cases) so that a one-day refresh can be timed.

In one run it prints:

1. roll-up: ``loaders.refresh_rollup(full=True)`` time and rows, then the one-day incremental refresh after the
   last day arrives; baseline: pandas ``read_sql`` of the whole cases table and a ``groupby`` to the same
   day x dimension sums (every measure), whose totals and row count must equal the roll-up's;
2. the scan: the panel the product builds (``load_daily_volume`` / ``load_opening_balance`` by workflow x site over
   the product's judging history ``metrics.panel.HISTORY_DAYS``, ``kpi_parts``, ``kpi_panel``),
   ``scan_panel(panel, days=1)`` time, series in the panel, judged / not judged;
   baseline: ``metrics.anomalies.detect(..., engine="fast")`` in a Python loop over the judged series (a fixed
   random 500 of them when there are more, extrapolated to all);
3. the stand-up (``app.py``) and the Anomalies page through Streamlit's AppTest, each in a fresh process with the
   roll-up built and the clock pinned to the morning after the last day: cold (first run, caches cleared), warm
   (second run), and a run after clearing the caches again in the same process (data cold, modules loaded).

Targets (printed beside the figures, not tuned for): scan of >= 7,000 series <= 2 s; stand-up and Anomalies page
<= 2 s cold / <= 0.3 s warm. The machine may be shared: the header gives its CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders import (  # noqa: E402
    MEASURES,
    Filters,
    Settings,
    create_cases_table,
    load_daily_volume,
    load_opening_balance,
    make_engine,
    refresh_rollup,
    rollup_state,
    write_cases,
)

END = date(2026, 6, 30)
SEED = 11
CASES_PER_DAY = 4500.0  # mean over the period at --scale 1 (before the planted spike)
N_WORKFLOWS = 150
SITES = ("Dublin", "Manila", "Hyderabad", "Krakow", "Bogota", "Austin", "Lisbon", "Cairo", "Nairobi", "Warsaw",
         "Sofia", "Cebu", "Pune", "Monterrey", "Bucharest", "Kuala_Lumpur", "Tallinn", "Accra", "Lima", "Porto")
CHANNELS = ("web_form", "email", "in_app", "api", "chat", "phone", "partner_portal")
LANGUAGES = ("en", "de", "es")
WORKFLOWS = tuple(f"workflow_{i:03d}" for i in range(N_WORKFLOWS))  # numbered by size rank
SCAN_BY = ("workflow", "vendor_site")
SPIKE_WF = 4  # the fifth-largest workflow ...
SPIKE_LIFT = 0.8  # ... gets +80 % incoming at its main site on the last day
BASELINE_SERIES = 500
PAGE_TIMEOUT = 120.0
PAGES = (("app.py", "stand-up (app.py)"), ("pages/anomalies.py", "Anomalies page"))
NEW_TABLE, LATE_TABLE, META_TABLE = "bench_new_cases", "bench_late_solves", "bench_wide_meta"

_DAY_S = 86_400
_EPOCH = date(1970, 1, 1)
_HOUR_PROFILE = np.array([0.20, 0.15, 0.10, 0.10, 0.12, 0.20, 0.40, 0.70, 1.00, 1.20, 1.30, 1.30,
                          1.25, 1.25, 1.30, 1.25, 1.15, 1.00, 0.90, 0.80, 0.70, 0.60, 0.45, 0.30])
_HOUR_CDF = np.cumsum(_HOUR_PROFILE) / _HOUR_PROFILE.sum()
_CHANNEL_BASE = np.array([0.35, 0.20, 0.18, 0.10, 0.08, 0.06, 0.03])
_CHANNEL_AUTO = np.array([1.0, 0.6, 1.1, 1.3, 0.9, 0.3, 1.2])
_CSAT_CDF = np.cumsum([[0.04, 0.05, 0.12, 0.34, 0.45], [0.15, 0.15, 0.20, 0.28, 0.22]], axis=1)
_AUTO_AGE_MEDIAN_S = 240.0
_CSAT_P, _QA_P = 0.08, 0.05


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - began


def say(message: str) -> None:
    """Progress, on stderr (stdout carries the figures)."""
    print(f"  .. {datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


# --- the wide source ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WideConfig:
    scale: float = 1.0
    days: int = 730
    seed: int = SEED
    end: date = END

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    def key(self) -> str:
        return json.dumps({**asdict(self), "end": self.end.isoformat(), "cases_per_day": CASES_PER_DAY,
                           "workflows": N_WORKFLOWS, "sites": len(SITES), "format": 1}, sort_keys=True)


@dataclass(frozen=True)
class Plan:
    cfg: WideConfig
    start_num: int
    counts: np.ndarray  # (days, workflows) created cases, spike excluded
    spike_site: int
    spike_extra: int  # cases added to (SPIKE_WF, spike_site) on the last day
    first_id: np.ndarray  # (days,) case_id of each day's first case
    site_cdf: np.ndarray  # (workflows, sites)
    channel_cdf: np.ndarray  # (workflows, channels)
    lang_cdf: np.ndarray  # (sites, languages)
    p_auto: np.ndarray  # (workflows,)
    age_h: np.ndarray
    aht_s: np.ndarray
    sla_h: np.ndarray
    esc: np.ndarray
    site_age: np.ndarray  # (sites,)
    site_aht: np.ndarray
    site_reopen: np.ndarray
    site_qa: np.ndarray
    weekly: np.ndarray  # (workflows, 7), for the printed description only


def _cdf(p: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _pick(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One category per case from the row ``rows[i]`` of a cdf table (vectorised, no loop over rows)."""
    flat = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()
    picked = np.searchsorted(flat, u + rows, side="right") - rows * cdf.shape[1]
    return np.minimum(picked, cdf.shape[1] - 1)


def make_plan(cfg: WideConfig) -> Plan:
    """Daily volume per workflow and every per-workflow / per-site parameter, from one seeded generator."""
    rng = np.random.default_rng([cfg.seed, 0])
    n_wf, n_site = N_WORKFLOWS, len(SITES)
    start_num = (cfg.start - _EPOCH).days
    day_nums = start_num + np.arange(cfg.days)
    dow = (day_nums + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0

    share = 1.0 / np.arange(1, n_wf + 1) ** 1.1  # Zipf-like: the top workflow ~23 % of cases, the last ~0.1 %
    share /= share.sum()
    monday = rng.uniform(1.0, 1.15, n_wf)
    weekend = rng.uniform(0.55, 0.9, n_wf)
    weekly = np.column_stack([monday, np.ones(n_wf), np.ones(n_wf), np.ones(n_wf), np.full(n_wf, 0.97),
                              weekend, weekend * 1.03])
    weekly /= weekly.mean(axis=1, keepdims=True)
    growth_rate = rng.uniform(-0.05, 0.25, n_wf)  # per year
    years_to_end = (np.arange(cfg.days) - (cfg.days - 1)) / 365.25
    growth = np.exp(growth_rate[None, :] * years_to_end[:, None])
    mu = share[None, :] * weekly[:, dow].T * growth
    mu *= cfg.scale * CASES_PER_DAY * cfg.days / mu.sum()
    noise = rng.gamma(400.0, 1.0 / 400.0, size=mu.shape)  # day x workflow factor, CV 5 %
    counts = rng.poisson(mu * noise).astype(np.int64)

    # every workflow is routed to every site, with Zipf-like site sizes and a noisy affinity per pair:
    # most of the 3,000 pairs are small
    site_pop = 1.0 / np.arange(1, n_site + 1)
    affinity = site_pop[None, :] * np.exp(rng.standard_normal((n_wf, n_site)))
    affinity /= affinity.sum(axis=1, keepdims=True)
    channel_mix = rng.dirichlet(2.0 * _CHANNEL_BASE * len(CHANNELS), size=n_wf)
    lang_mix = rng.dirichlet([3.0, 1.0, 1.0], size=n_site)

    spike_site = int(np.argmax(affinity[SPIKE_WF]))
    spike_extra = round(float(SPIKE_LIFT * mu[-1, SPIKE_WF] * affinity[SPIKE_WF, spike_site]))
    per_day = counts.sum(axis=1)
    per_day[-1] += spike_extra
    first_id = 1 + np.concatenate([[0], np.cumsum(per_day)[:-1]])
    return Plan(
        cfg=cfg, start_num=start_num, counts=counts, spike_site=spike_site, spike_extra=spike_extra,
        first_id=first_id, site_cdf=_cdf(affinity), channel_cdf=_cdf(channel_mix), lang_cdf=_cdf(lang_mix),
        p_auto=rng.uniform(0.1, 0.7, n_wf), age_h=rng.uniform(4.0, 40.0, n_wf),
        aht_s=rng.uniform(5.0, 25.0, n_wf) * 60.0, sla_h=rng.choice([24.0, 48.0, 72.0, 120.0], n_wf),
        esc=rng.uniform(0.02, 0.09, n_wf), site_age=rng.uniform(0.8, 1.3, n_site),
        site_aht=rng.uniform(0.85, 1.2, n_site), site_reopen=rng.uniform(0.8, 1.3, n_site),
        site_qa=rng.uniform(82.0, 93.0, n_site), weekly=weekly,
    )


def simulate_day(plan: Plan, i: int) -> pd.DataFrame:
    """The cases created on plan day ``i`` (UTC), sorted by created time; canonical columns."""
    rng = np.random.default_rng([plan.cfg.seed, 1, plan.start_num + i])
    wf = np.repeat(np.arange(N_WORKFLOWS), plan.counts[i])
    site = _pick(plan.site_cdf, wf, rng.random(wf.size))
    if i == plan.counts.shape[0] - 1 and plan.spike_extra:
        wf = np.concatenate([wf, np.full(plan.spike_extra, SPIKE_WF)])
        site = np.concatenate([site, np.full(plan.spike_extra, plan.spike_site)])
    n = wf.size
    channel = _pick(plan.channel_cdf, wf, rng.random(n))
    language = _pick(plan.lang_cdf, site, rng.random(n))
    hour = np.minimum(np.searchsorted(_HOUR_CDF, rng.random(n), side="right"), 23)
    created = (plan.start_num + i) * _DAY_S + ((hour + rng.random(n)) * 3600.0).astype(np.int64)
    order = np.argsort(created, kind="stable")
    wf, site, channel, language, created = wf[order], site[order], channel[order], language[order], created[order]

    auto = rng.random(n) < np.clip(plan.p_auto[wf] * _CHANNEL_AUTO[channel], 0.0, 0.95)
    z = rng.standard_normal(n)
    age_s = np.where(auto, _AUTO_AGE_MEDIAN_S * np.exp(0.9 * z),
                     plan.age_h[wf] * plan.site_age[site] * 3600.0 * np.exp(0.75 * z)).astype(np.int64) + 1
    age_s += age_s % 3600 == 0  # never exactly on a whole hour: no SLA verdict hangs on float rounding
    solved = created + age_s
    cutoff = ((plan.cfg.end - _EPOCH).days + 1) * _DAY_S
    is_open = solved >= cutoff
    manual = ~auto
    handle = plan.aht_s[wf] * plan.site_aht[site] * np.exp(0.5 * rng.standard_normal(n))
    in_sla = age_s / 3600.0 <= plan.sla_h[wf]
    escalated = rng.random(n) < np.where(auto, 0.005, plan.esc[wf])
    reopened = (rng.random(n) < np.where(auto, 0.06, 0.035 * plan.site_reopen[site])) & ~is_open
    surveyed = (rng.random(n) < _CSAT_P) & ~is_open
    group = (~in_sla | reopened).astype(np.int64)
    csat = np.minimum(_pick(_CSAT_CDF, group, rng.random(n)) + 1, 5).astype(np.float64)
    sampled = (rng.random(n) < _QA_P) & manual & ~is_open
    qa = np.round(np.clip(plan.site_qa[site] + 7.0 * rng.standard_normal(n), 0.0, 100.0), 1)
    solved_at = solved.astype("datetime64[s]")
    solved_at[is_open] = np.datetime64("NaT")
    first = int(plan.first_id[i])
    return pd.DataFrame({
        "case_id": np.arange(first, first + n, dtype=np.int64),
        "created_at": created.astype("datetime64[s]"),
        "solved_at": solved_at,
        "workflow": np.array(WORKFLOWS, dtype=object)[wf],
        "vendor_site": np.array(SITES, dtype=object)[site],
        "channel": np.array(CHANNELS, dtype=object)[channel],
        "language": np.array(LANGUAGES, dtype=object)[language],
        "route": np.where(auto, "automated", "manual").astype(object),
        "handle_time_s": np.where(manual & ~is_open, handle, np.nan),
        "sla_hours": plan.sla_h[wf],
        "escalated": escalated.astype(np.int8),
        "reopened": reopened.astype(np.int8),
        "csat": np.where(surveyed, csat, np.nan),
        "qa_score": np.where(sampled, qa, np.nan),
    })


# --- the database: build once, reuse with --keep -----------------------------------------------------------------


def _meta(engine: sa.Engine) -> dict[str, str] | None:
    if not sa.inspect(engine).has_table(META_TABLE):
        return None
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT key, value FROM {META_TABLE}")).all())


def build_db(path: Path, plan: Plan) -> dict[str, float]:
    """Write every case created before the last day into ``cases`` (a solve on the last day left open), and the
    last day apart: its cases in ``bench_new_cases``, the solves it brings to earlier cases in
    ``bench_late_solves``. Written to a partial file, renamed when complete."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    settings, held = Settings(url=url), Settings(url=url, cases_table=NEW_TABLE)
    engine = make_engine(url)
    cutoff = np.datetime64(plan.cfg.end.isoformat(), "s")
    n_days = plan.counts.shape[0]
    seconds_generate = seconds_write = 0.0
    written = late_rows = 0
    try:
        create_cases_table(engine, settings, drop=True)
        create_cases_table(engine, held, drop=True)
        late_table = sa.Table(LATE_TABLE, sa.MetaData(), sa.Column("case_id", sa.BigInteger, primary_key=True,
                                                                    autoincrement=False),
                              sa.Column("solved_at", sa.String(19), nullable=False))
        late_table.create(engine)
        for lo in range(0, n_days, 31):
            chunk, t = timed(lambda lo=lo: pd.concat([simulate_day(plan, i) for i in range(lo, min(lo + 31, n_days))],
                                                     ignore_index=True))
            seconds_generate += t
            began = time.perf_counter()
            early = chunk[chunk["created_at"] < cutoff].copy()
            late = early["solved_at"] >= cutoff
            if late.any():
                rows = early.loc[late, ["case_id", "solved_at"]]
                with engine.begin() as conn:
                    conn.execute(late_table.insert(), [
                        {"case_id": int(c), "solved_at": s.strftime("%Y-%m-%d %H:%M:%S")}
                        for c, s in zip(rows["case_id"], rows["solved_at"], strict=True)])
                late_rows += len(rows)
            early.loc[late, "solved_at"] = pd.NaT
            written += write_cases(engine, early, settings=settings)
            newest = chunk[chunk["created_at"] >= cutoff]
            if len(newest):
                written += write_cases(engine, newest, settings=held)
            seconds_write += time.perf_counter() - began
            say(f"cases written: {written:,} (days {lo + 1}-{min(lo + 31, n_days)} of {n_days})")
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute(sa.text(f"INSERT INTO {META_TABLE} VALUES (:k, :v)"),
                         [{"k": "config", "v": plan.cfg.key()}, {"k": "cases", "v": str(written)},
                          {"k": "late_solves", "v": str(late_rows)}])
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
        os.replace(partial, path)
    finally:
        engine.dispose()
        partial.unlink(missing_ok=True)
    return {"generate": seconds_generate, "write": seconds_write, "cases": written}


def reset_to_day_before(engine: sa.Engine) -> None:
    """Undo a previous run's arrival of the last day (a kept database): its cases out, its solves open again."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM cases WHERE case_id IN (SELECT case_id FROM {NEW_TABLE})")
        conn.exec_driver_sql(f"UPDATE cases SET solved_at = NULL WHERE case_id IN (SELECT case_id FROM {LATE_TABLE})")


def arrive_last_day(engine: sa.Engine) -> tuple[int, int]:
    """The last day arrives: its cases are inserted, earlier cases solved on it get their ``solved_at``."""
    columns = ", ".join(c.name for c in sa.Table("cases", sa.MetaData(), autoload_with=engine).columns)
    with engine.begin() as conn:
        new = conn.exec_driver_sql(f"INSERT INTO cases ({columns}) SELECT {columns} FROM {NEW_TABLE}").rowcount
        late = conn.exec_driver_sql(
            f"UPDATE cases SET solved_at = (SELECT l.solved_at FROM {LATE_TABLE} l WHERE l.case_id = cases.case_id) "
            f"WHERE case_id IN (SELECT case_id FROM {LATE_TABLE})").rowcount
    return int(new), int(late)


# --- 1. roll-up ----------------------------------------------------------------------------------------------------


def naive_rollup(engine: sa.Engine) -> pd.DataFrame:
    """The baseline: every case read into pandas, grouped there to day x dimensions with every roll-up measure."""
    stamp = {"format": "%Y-%m-%d %H:%M:%S"}
    cases = pd.read_sql("SELECT * FROM cases", engine, parse_dates={"created_at": stamp, "solved_at": stamp})
    keys = ["workflow", "vendor_site", "channel", "language"]
    manual = cases["route"] == "manual"
    created = pd.DataFrame({"day": cases["created_at"].dt.floor("D"), **{k: cases[k] for k in keys},
                            "incoming": 1, "incoming_manual": manual.astype(np.int64)})
    created = created.groupby(["day", *keys], sort=False).sum()
    done = cases[cases["solved_at"].notna()]
    manual = done["route"] == "manual"
    age = (done["solved_at"] - done["created_at"]).dt.total_seconds() / 3600.0
    solved = pd.DataFrame({
        "day": done["solved_at"].dt.floor("D"), **{k: done[k] for k in keys},
        "solved": 1, "solved_manual": manual.astype(np.int64),
        "handle_time_s": done["handle_time_s"].where(manual, 0.0).fillna(0.0),
        "age_at_solve_h": age, "solved_in_sla": (age <= done["sla_hours"]).astype(np.int64),
        "escalated": (done["escalated"] == 1).astype(np.int64), "reopened": (done["reopened"] == 1).astype(np.int64),
        "csat_sum": done["csat"].fillna(0.0), "csat_n": done["csat"].notna().astype(np.int64),
        "qa_sum": done["qa_score"].fillna(0.0), "qa_n": done["qa_score"].notna().astype(np.int64),
    }).groupby(["day", *keys], sort=False).sum()
    return created.join(solved, how="outer").fillna(0.0)[list(MEASURES)]


def rollup_totals(engine: sa.Engine, settings: Settings) -> tuple[int, pd.Series]:
    sums = ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(f"SELECT COUNT(*) AS n, {sums} FROM {settings.rollup_table}").mappings().one()
    return int(row["n"]), pd.Series({m: float(row[m] or 0.0) for m in MEASURES})


def compare_totals(rows: int, totals: pd.Series, naive: pd.DataFrame) -> list[str]:
    problems = []
    if rows != len(naive):
        problems.append(f"row count: roll-up {rows:,}, pandas {len(naive):,}")
    mine = naive.sum()
    for m in MEASURES:
        a, b = totals[m], float(mine[m])
        if abs(a - b) > 1e-7 * max(abs(a), abs(b), 1.0):
            problems.append(f"{m}: roll-up {a:,.6f}, pandas {b:,.6f}")
    return problems


def case_counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (int(conn.exec_driver_sql("SELECT COUNT(*) FROM cases").scalar()),
                int(conn.exec_driver_sql("SELECT COUNT(*) FROM cases WHERE solved_at IS NOT NULL").scalar()))


# --- 2. the scan ---------------------------------------------------------------------------------------------------


def build_panel(engine: sa.Engine, settings: Settings, cfg: WideConfig):
    from metrics.kpis import kpi_parts
    from metrics.panel import HISTORY_DAYS, kpi_panel

    # the history the product judges a day with (metrics.panel.HISTORY_DAYS), not the whole table
    filters = Filters(max(cfg.start, cfg.end - timedelta(days=HISTORY_DAYS - 1)), cfg.end)
    began = time.perf_counter()
    volume = load_daily_volume(engine, settings=settings, filters=filters, by=SCAN_BY)
    opening = load_opening_balance(engine, settings=settings, filters=filters, by=SCAN_BY)
    t_query = time.perf_counter() - began
    parts, t_parts = timed(kpi_parts, volume, by=SCAN_BY, opening=opening)
    panel, t_panel = timed(kpi_panel, parts, by=SCAN_BY)
    return panel, {"query": t_query, "parts": t_parts, "panel": t_panel, "volume_rows": len(volume)}


def detect_loop(panel, chosen: list) -> tuple[float, set]:
    """The baseline: one ``detect(engine="fast")`` call per series; the series flagged on the last day."""
    from metrics.anomalies import detect

    pos = {sid: i for i, sid in enumerate(panel.values.columns)}
    last = panel.values.index[-1]
    flagged = set()
    began = time.perf_counter()
    for sid in chosen:
        kind = panel.kinds[sid]
        volume = panel.volume.iloc[:, pos[sid]] if kind == "share" else None
        out = detect(panel.values.iloc[:, pos[sid]], 7, kind=kind, engine="fast", volume=volume)
        if bool(out["is_anomaly"].loc[last]):
            flagged.add(sid)
    return time.perf_counter() - began, flagged


# --- 3. page scripts -------------------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def _page_problems(at) -> list[str]:
    out = [f"exception: {e.value}" for e in at.exception]
    out += [f"error: {e.value}" for e in at.error]
    return out


def child_page(script: str) -> None:
    """Run in a fresh process: time one page script cold, warm, and cold again with its modules loaded."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import loaders.rollup

    def fresh():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=PAGE_TIMEOUT)
        return at.switch_page(script) if script != "app.py" else at

    def run(at) -> float:
        try:
            return timed(at.run, timeout=PAGE_TIMEOUT)[1]
        except RuntimeError as err:  # AppTest's timeout
            problems.append(f"run failed: {err}")
            return float("nan")

    problems: list[str] = []
    st.cache_data.clear()
    st.cache_resource.clear()
    at = fresh()
    cold = run(at)
    problems += _page_problems(at)
    warnings = [w.value for w in at.warning]
    elements = {"metrics": len(at.metric), "dataframes": len(at.dataframe), "subheaders": len(at.subheader)}
    warm = run(at)
    warm_best = min(run(at) for _ in range(3))
    problems += [p for p in _page_problems(at) if p not in problems]
    st.cache_data.clear()
    st.cache_resource.clear()
    loaders.rollup.forget_schemas()
    again = fresh()
    cold_loaded = run(again)
    problems += [p for p in _page_problems(again) if p not in problems]
    print(json.dumps({"cold": cold, "warm": warm, "warm_best": warm_best, "cold_loaded": cold_loaded,
                      "problems": problems, "warnings": warnings[:3], "elements": elements,
                      "rss_mb": _peak_rss_mb()}))


def run_page(script: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-page", script],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-5:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


# --- report --------------------------------------------------------------------------------------------------------


def _s(seconds: float | None, digits: int = 2) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds:.{digits}f} s"


def _table(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = ("figure", "product", "baseline", "baseline/product", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), line, *(fmt.format(*r) for r in rows)])


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" (met)" if ok else " (missed)")


def versions() -> str:
    import statsmodels
    import streamlit

    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    return (f"{cpus} CPUs ({usable} usable) · Python {platform.python_version()} · pandas {pd.__version__} · "
            f"numpy {np.__version__} · SQLAlchemy {sa.__version__} · SQLite {sqlite3.sqlite_version} · "
            f"statsmodels {statsmodels.__version__} · streamlit {streamlit.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full case volume (width unchanged)")
    parser.add_argument("--days", type=int, default=730, help=f"days of history ending {END.isoformat()}")
    parser.add_argument("--keep", type=Path, help="SQLite file to build once and reuse on later runs")
    parser.add_argument("--child-page", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_page:
        child_page(args.child_page)
        return
    if not (0 < args.scale <= 10) or args.days < 60:
        parser.error("--scale must be in (0, 10] and --days >= 60")
    cfg = WideConfig(scale=args.scale, days=args.days)
    failures: list[str] = []
    print(f"bench_wide · {datetime.now():%Y-%m-%d %H:%M} · {versions()}")
    print(f"source: {N_WORKFLOWS} workflows x {len(SITES)} vendor sites x {len(CHANNELS)} channels x "
          f"{len(LANGUAGES)} languages, {cfg.days} days {cfg.start} - {cfg.end}, scale {cfg.scale:g} "
          f"(~{CASES_PER_DAY * cfg.scale:,.0f} cases a day), seed {cfg.seed}")

    with tempfile.TemporaryDirectory(prefix="bench_wide_") as tmp:
        path = args.keep.resolve() if args.keep else Path(tmp) / "wide.sqlite"
        plan = make_plan(cfg)
        built = None
        if path.exists():
            probe = make_engine(f"sqlite:///{path}")
            meta = _meta(probe)
            probe.dispose()
            if meta is None:
                sys.exit(f"{path.name} exists but is not a database this benchmark built: pass another --keep file")
            if meta.get("config") != cfg.key():
                sys.exit(f"{path.name} was built for another --scale / --days ({meta.get('config')}): "
                         "pass the same options or another --keep file")
            say(f"reusing {path.name}")
        else:
            say("generating and writing the cases")
            built = build_db(path, plan)
        url = f"sqlite:///{path}"
        settings = Settings(url=url)
        engine = make_engine(url)
        reset_to_day_before(engine)
        n_cases, _ = case_counts(engine)

        daily = plan.counts.sum(axis=1).astype(float)
        daily[-1] += plan.spike_extra
        dow = (plan.start_num + np.arange(cfg.days) + 3) % 7
        print(f"cases: {int(daily.sum()):,} ({n_cases:,} before the last day); per day min {daily.min():,.0f}, "
              f"median {np.median(daily):,.0f}, max {daily.max():,.0f}; weekday mean {daily[dow < 5].mean():,.0f}, "
              f"weekend mean {daily[dow >= 5].mean():,.0f}")
        if built:
            print(f"database built: generate {built['generate']:.1f} s, write (loaders.write_cases) "
                  f"{built['write']:.1f} s")
        else:
            print("database reused (--keep): build time not measured in this run")

        # 1. roll-up: full build, pandas baseline on the same table, then the last day arrives
        had_rollup = rollup_state(engine, settings).rows is not None
        say("roll-up full build")
        _, t_full = timed(refresh_rollup, engine, settings, full=True)
        rows, totals = rollup_totals(engine, settings)
        say("pandas baseline: read_sql of every case + groupby")
        naive, t_naive = timed(naive_rollup, engine)
        problems = compare_totals(rows, totals, naive)
        naive_rows = len(naive)
        del naive
        if problems:
            failures += [f"roll-up vs pandas: {p}" for p in problems]
        (new_cases, newly_solved), t_arrive = timed(arrive_last_day, engine)
        say("one-day incremental refresh")
        inc, t_inc = timed(refresh_rollup, engine, settings)
        n_cases, n_solved = case_counts(engine)
        rows_after, totals_after = rollup_totals(engine, settings)
        if (totals_after["incoming"], totals_after["solved"]) != (n_cases, n_solved):
            failures.append(f"after the one-day refresh the roll-up counts {totals_after['incoming']:,.0f} incoming / "
                            f"{totals_after['solved']:,.0f} solved; the cases table holds {n_cases:,} / {n_solved:,}")

        # 2. the scan
        from metrics.incidents import scan
        from metrics.panel import judged, scan_panel

        say("panel: roll-up by workflow x site, kpi_parts, kpi_panel")
        panel, t = build_panel(engine, settings, cfg)
        scan(panel.values.iloc[-120:, :20], kinds=dict.fromkeys(panel.values.columns[:20], "count"))  # warm imports
        say("scan_panel(days=1)")
        flags, t_scan = timed(scan_panel, panel, days=1)
        _, t_scan2 = timed(scan_panel, panel, days=1)
        keep = judged(panel)
        n_judged, n_not = flags.attrs.get("judged"), flags.attrs.get("not_judged")
        if n_judged != len(keep):
            failures.append(f"scan_panel judged {n_judged} series, metrics.panel.judged lists {len(keep)}")
        rng = np.random.default_rng([cfg.seed, 2])
        sample = len(keep) > BASELINE_SERIES
        chosen = [keep[i] for i in sorted(rng.choice(len(keep), BASELINE_SERIES, replace=False))] if sample else keep
        say(f"detect loop over {len(chosen)} series")
        t_loop, loop_flags = detect_loop(panel, chosen)
        t_loop_all = t_loop * len(keep) / max(len(chosen), 1)
        scan_flags = set(flags["series"])
        agree = sum((sid in loop_flags) == (sid in scan_flags) for sid in chosen)
        spike_key = f"workflow={WORKFLOWS[SPIKE_WF]}|vendor_site={SITES[plan.spike_site]}"
        spike_found = ("incoming", spike_key) in scan_flags
        pairs = [sid for sid in panel.values.columns if sid[0] == "incoming" and "|" in sid[1]]
        pos = {sid: i for i, sid in enumerate(panel.values.columns)}
        pair_mean = panel.volume.iloc[-56:, [pos[s] for s in pairs]].mean(axis=0).to_numpy()
        kinds = pd.Series([panel.kinds[s] for s in panel.values.columns]).value_counts().to_dict()
        engine.dispose()

        # 3. page scripts, each in a fresh process
        config = Path(tmp) / "ops.toml"
        config.write_text("# defaults: the canonical cases table and its four dimensions\n")
        now = f"{cfg.end + timedelta(days=1)}T09:00:00"
        env = {"OPS_DB_URL": url, "OPS_CONFIG": str(config), "OPS_NOW": now, "PYTHONPATH": str(ROOT)}
        pages, restarted = {}, {}
        for script, label in PAGES:
            # a page cache of the page's own: its first process finds nothing stored, the second (a restart)
            # finds what the first stored
            own = {**env, "OPS_CACHE_DIR": str(Path(tmp) / f"pages-{Path(script).stem}")}
            say(f"{label}: AppTest in a fresh process, nothing stored")
            pages[script] = run_page(script, own)
            say(f"{label}: AppTest in a second fresh process (a restart), its results stored")
            restarted[script] = run_page(script, own)
            for got in (pages[script], restarted[script]):
                if "error" in got:
                    failures.append(f"{label}: the child process failed: {got['error']}")
                elif got["problems"]:
                    failures += [f"{label}: {p}" for p in got["problems"] if f"{label}: {p}" not in failures]
            if "error" not in pages[script] and "error" not in restarted[script] and \
                    restarted[script]["elements"] != pages[script]["elements"]:
                failures.append(f"{label}: after a restart the page drew {restarted[script]['elements']}, "
                                f"first {pages[script]['elements']}")
        check = make_engine(url)
        after_pages = rollup_state(check, settings)
        check.dispose()
        if after_pages.kind != "incremental":
            failures.append(f"the app's refresh left the roll-up as {after_pages.kind!r} (a rebuild on cold start?)")

    # --- figures ---------------------------------------------------------------------------------------------------
    print()
    print(f"1. roll-up ({'replacing the previous run' if had_rollup else 'first build'}): {rows:,} rows from "
          f"{n_cases - new_cases:,} cases ({rows / max(n_cases - new_cases, 1):.2f} rows per case); "
          f"pandas groupby {naive_rows:,} rows; totals of all {len(MEASURES)} measures and the row count "
          f"{'agree' if not problems else 'DISAGREE: ' + '; '.join(problems)}")
    print(f"   last day: {new_cases:,} new cases and {newly_solved:,} earlier cases solved, inserted in "
          f"{t_arrive:.2f} s; refresh {inc.kind} since {inc.since}, {inc.rows_written:,} rows written; "
          f"roll-up {rows_after:,} rows, incoming / solved totals "
          f"{'equal' if (totals_after['incoming'], totals_after['solved']) == (n_cases, n_solved) else 'DIFFER from'}"
          f" the cases table")
    print(f"2. panel: {panel.values.shape[1]:,} series x {panel.values.shape[0]} days ({len(pairs):,} workflow x site "
          f"pairs; kinds {', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}); "
          f"roll-up query {t['volume_rows']:,} rows")
    print(f"   pairs averaging >= 1 case a day over the last 56 days: {int((pair_mean >= 1).sum()):,} of "
          f"{len(pairs):,} (median pair {np.median(pair_mean):.2f} cases a day)")
    print(f"   judged {n_judged:,}, not judged {n_not:,}; {len(flags):,} flags on the last day in "
          f"{flags['incident'].nunique() if len(flags) else 0:,} incidents; planted spike "
          f"(incoming · {spike_key}) {'flagged' if spike_found else 'NOT flagged'}")
    which = (f"randomly chosen (fixed seed) of the {len(keep):,} judged series, time extrapolated to all"
             if sample else "judged series (all)")
    print(f"   baseline: detect(engine='fast') over {len(chosen):,} {which}: {t_loop:.2f} s measured; "
          f"last-day flags agree with the scan on {agree:,} of {len(chosen):,}")
    for script, label in PAGES:
        got = pages[script]
        if "error" in got:
            print(f"3. {label}: FAILED ({got['error']})")
            continue
        print(f"3. {label}: peak RSS {got['rss_mb']:,.0f} MB; {got['elements']}; "
              f"{'no exception, no error shown' if not got['problems'] else 'PROBLEMS: ' + '; '.join(got['problems'])}"
              + (f"; warnings: {' / '.join(w[:90] for w in got['warnings'])}" if got["warnings"] else ""))
    print(f"   clock pinned to {now} (OPS_NOW); roll-up after the page runs: {after_pages.kind}, "
          f"{after_pages.rows:,} rows")
    print()

    scan_ok = (t_scan <= 2.0) if (n_judged or 0) >= 7000 else None
    table = [
        ("roll-up full build", _s(t_full), f"{_s(t_naive)} read_sql+groupby", f"{t_naive / t_full:.1f}x", ""),
        ("roll-up rows", f"{rows:,}", f"{naive_rows:,}", "", ""),
        ("one-day incremental refresh", _s(t_inc, 3), "", f"{t_full / t_inc:.0f}x faster than full", ""),
        ("panel: roll-up query + opening", _s(t["query"]), "", "", ""),
        ("panel: kpi_parts", _s(t["parts"]), "", "", ""),
        ("panel: kpi_panel", _s(t["panel"]), "", "", ""),
        (f"scan_panel(days=1), {n_judged:,} series judged", f"{_s(t_scan)} (again {_s(t_scan2)})",
         f"{_s(t_loop_all)} detect loop{' (extrap.)' if sample else ''}", f"{t_loop_all / t_scan:.1f}x",
         "<= 2 s for >= 7,000 series" + (_verdict(scan_ok) if scan_ok is not None else
                                         f" (n/a: {n_judged:,} judged)")),
    ]
    for script, label in PAGES:
        got = pages[script]
        if "error" in got:
            table.append((f"{label}", "FAILED", "", "", ""))
            continue
        again = restarted[script]
        cold_stored = again.get("cold", float("nan"))
        table += [
            (f"{label} cold, nothing stored", _s(got["cold"]), "", "", "<= 2 s" + _verdict(got["cold"] <= 2.0)),
            (f"{label} cold, a restart: results stored", _s(cold_stored), "", f"{got['cold'] / cold_stored:.1f}x",
             "<= 2 s" + _verdict(cold_stored <= 2.0)),
            (f"{label} warm (2nd run)", _s(got["warm"], 3), "", "", "<= 0.3 s" + _verdict(got["warm"] <= 0.3)),
            (f"{label} warm, best of 3 more", _s(got["warm_best"], 3), "", "", ""),
            (f"{label} memory cleared, modules loaded, stored", _s(got["cold_loaded"]), "", "", ""),
        ]
    print(_table(table))
    print()
    print("cold = first AppTest run of the page in a fresh process after st.cache_data.clear() / "
          "st.cache_resource.clear() (imports of the page's modules and the app's incremental refresh included); "
          "'nothing stored': an empty page cache (ui.page_cache), the first process after new rows with no "
          "background warm-up; 'a restart': a second fresh process with the results the first one stored. "
          "AppTest runs the script in-process: wall time of at.run().")
    if failures:
        print("\nFAILED:")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
