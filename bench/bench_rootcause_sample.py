"""Root cause on the sample's planted incidents, and ``explain`` timing at 20,000 and 100,000 leaves.

For every row of the ground truth (``sample_data.incidents``) the drill-down's own pipeline runs on
the KPI's total (no slice) on the incident's first and last day: leaves from the roll-up
(``load_daily_volume(by=DIMENSIONS)``), the same-weekday baseline allocated down from the detector's
expected total (``metrics.drilldown.analyse``), then ``explain``. A row is scored

Two allocations of the expected total are compared: the same-weekday median of the total (what the
page uses) and the detector's expected value.

* **top-1**: the first cause is exactly the planted slice;
* **in set**: the planted slice is one of the causes;
* **related**: some cause is the planted slice or lies inside it (a finer slice of it; e.g. the
  spike's "all brand impersonation" row is really explained by one of its sub-slices).

Rows whose planted slice is "everything" have nothing to localise and are reported as n/a.

Run: ``python bench/bench_rootcause_sample.py [--db path.sqlite] [--cases 10]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_root_cause import make_case  # the synthetic generator of the other bench

from loaders import Filters, Settings, load_daily_volume, load_opening_balance, make_engine
from loaders.settings import DIMENSIONS
from metrics.anomalies import detect
from metrics.drilldown import analyse
from metrics.kpis import compute_kpis, get_kpi, kpi_parts
from metrics.root_cause import explain
from metrics.slices import Slice
from sample_data import SampleConfig, incidents

WEEKS = 8


def _planted(row: pd.Series) -> dict[str, str]:
    return {d: str(row[d]) for d in DIMENSIONS if isinstance(row[d], str) and row[d]}


def _inside(cause: dict[str, str], planted: dict[str, str]) -> bool:
    return all(cause.get(d) == v for d, v in planted.items())


def run_incident(engine, settings: Settings, kpi_name: str, day: date, first: date, *,
                 detector: bool) -> tuple[object, float]:
    """The drill-down pipeline on the KPI's total; returns the analysis and its wall time."""
    kpi = get_kpi(kpi_name)
    t0 = time.perf_counter()
    window = Filters(max(first, day - timedelta(days=7 * WEEKS)), day)
    volume = load_daily_volume(engine, settings=settings, filters=window, by=DIMENSIONS)
    opening = load_opening_balance(engine, settings=settings, filters=window, by=DIMENSIONS)
    parts = kpi_parts(volume, by=DIMENSIONS, opening=opening)
    expected_total = None
    if detector and kpi.kind != "ratio":
        span = Filters(max(first, day - timedelta(days=364)), day)
        total = load_daily_volume(engine, settings=settings, filters=span)
        opening_total = float(load_opening_balance(engine, settings=settings, filters=span).iloc[0])
        series = compute_kpis(kpi_parts(total, opening=opening_total), kpis=[kpi.name])[kpi.name]
        value = detect(series, period=7, kind=kpi.series_kind).loc[pd.Timestamp(day), "expected"]
        expected_total = float(value) if np.isfinite(value) else None
    result = analyse(parts, kpi, day, weeks=WEEKS, expected_total=expected_total)
    return result, time.perf_counter() - t0


def sample_report(db: Path, config: SampleConfig, *, detector: bool) -> None:
    settings = Settings(url=f"sqlite:///{db}")
    engine = make_engine(settings.url)
    truth = incidents(config)
    first = config.start
    print(f"{'incident':<20} {'kpi':<16} {'day':<10} {'planted slice':<38} {'top-1':>5} {'in set':>6} "
          f"{'related':>7} {'ms':>6}  top cause (share)")
    scored = {"top1": 0, "in_set": 0, "related": 0, "n": 0}
    times = []
    for _, row in truth.iterrows():
        planted = _planted(row)
        for day in sorted({row["start"], row["end"]}):
            result, seconds = run_incident(engine, settings, row["kpi"], day, first, detector=detector)
            times.append(seconds)
            causes = list(result.causes["filters"])
            top = f"{Slice.of(causes[0]).words()} ({result.causes['share_of_delta'].iloc[0]:.0%})" if causes else "—"
            if planted:
                top1 = bool(causes) and causes[0] == planted
                in_set = planted in causes
                related = any(_inside(c, planted) for c in causes)
                scored["n"] += 1
                scored["top1"] += top1
                scored["in_set"] += in_set
                scored["related"] += related
                marks = [("yes" if v else "no") for v in (top1, in_set, related)]
            else:
                marks = ["n/a"] * 3
            print(f"{row['kind']:<20} {row['kpi']:<16} {day:%m-%d}{'':<5} {Slice.of(planted).words():<38} "
                  f"{marks[0]:>5} {marks[1]:>6} {marks[2]:>7} {seconds * 1000:>6.0f}  {top}")
    n = max(scored["n"], 1)
    print(f"\nlocalisable rows x days: {scored['n']}; top-1 {scored['top1']}/{n}, in set {scored['in_set']}/{n}, "
          f"related {scored['related']}/{n}; pipeline time median {np.median(times) * 1000:.0f} ms, "
          f"max {np.max(times) * 1000:.0f} ms (roll-up reads + detector + baseline + explain)")


def timing_report(n_cases: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    print(f"\n{'leaves':>8} {'cases':>5} {'median s':>9} {'max s':>7}")
    for sizes, cases in (((10, 10, 8, 5, 5), n_cases), ((10, 10, 10, 10, 10), max(n_cases // 2, 2))):
        dims = [f"d{i}" for i in range(len(sizes))]
        times = []
        for _ in range(cases):
            leaves, _ = make_case(rng, sizes)
            t0 = time.perf_counter()
            explain(leaves, dims)
            times.append(time.perf_counter() - t0)
        print(f"{int(np.prod(sizes)):>8} {cases:>5} {np.median(times):>9.3f} {np.max(times):>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an existing small-sample SQLite file (built if omitted)")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30), help="last day of the sample")
    parser.add_argument("--seed", type=int, default=7, help="sample seed (must match --db)")
    parser.add_argument("--cases", type=int, default=10, help="synthetic cases per size for the timing")
    args = parser.parse_args()
    config = SampleConfig.small(seed=args.seed, end=args.end)
    if args.db is None:
        from sample_data.build import build_sample

        tmp = tempfile.TemporaryDirectory()
        args.db = Path(tmp.name) / "sample.sqlite"
        t0 = time.perf_counter()
        build_sample(args.db, config=config)
        print(f"built the small sample in {time.perf_counter() - t0:.1f} s")
    for detector in (False, True):
        print(f"\nexpected total = {'the detector' if detector else 'same-weekday median of the total'}")
        sample_report(args.db, config, detector=detector)
    timing_report(args.cases, seed=20240601)


if __name__ == "__main__":
    main()
