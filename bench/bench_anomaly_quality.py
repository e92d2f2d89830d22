"""How well the anomaly scan finds the sample's planted incidents, and how often it cries wolf.

Runs the same pipeline as the Anomalies page — roll-up split by workflow × vendor site →
``metrics.panel.kpi_panel`` → ``metrics.panel.scan_panel`` with the sample's holidays as known
events — over the whole history of a sample database (every day scored causally, with only
the data up to it), then compares the flags with the ground truth written beside the database
(``<stem>.ground_truth.csv``, from ``sample_data.incidents``):

* per planted incident row (kind × KPI × slice): found or missed, the first day flagged on its
  series versus the planted start, and the score on the start day;
* false flags on incident-free stretches, per series-month and per series-quarter. A series-day
  is incident-free when no planted incident touches a slice containing it or contained in it
  (e.g. the total, the workflow and the workflow × site of a spike) from the incident's start
  to ``RECOVERY_DAYS`` after its end; warm-up days (not scored) and known-event days (holidays
  and their catch-up day: never flagged) are left out of the count.

A ground-truth row names a channel or language the panel does not split by; it is matched to
the finest panel series that contains it (workflow × site).

Run: ``python bench/bench_anomaly_quality.py`` (builds the small sample in a temporary folder,
~10 s) or ``python bench/bench_anomaly_quality.py --db path/to/sample.sqlite`` for a sample built
with ``python -m sample_data.build --out path/to/sample.sqlite``.
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

import loaders
from metrics.anomalies import min_points
from metrics.kpis import kpi_parts
from metrics.panel import holiday_events, kpi_panel, scan_panel
from metrics.slices import Slice
from sample_data import SampleConfig, holidays
from sample_data.build import build_sample, ground_truth_path

RECOVERY_DAYS = 7
BY = ("workflow", "vendor_site")


def load_panel(db: Path):
    """The panel of the whole sample and the sample's holidays (the page's events on a sample)."""
    url = f"sqlite:///{db}"
    settings = loaders.Settings(url=url)
    engine = loaders.make_engine(url)
    first, last = loaders.load_rollup_bounds(engine, settings=settings)
    filters = loaders.Filters(first, last)
    raw = loaders.load_daily_volume(engine, settings=settings, filters=filters, by=BY)
    opening = loaders.load_opening_balance(engine, settings=settings, filters=filters, by=BY)
    engine.dispose()
    parts = kpi_parts(raw, by=BY, opening=opening)
    config = SampleConfig(end=last, days=max(60, (last - first).days + 1))
    return kpi_panel(parts), holiday_events(holidays(config))


def truth_table(db: Path) -> pd.DataFrame:
    truth = pd.read_csv(ground_truth_path(db), parse_dates=["start", "end"])
    truth["slice"] = [
        {d: row[d] for d in BY if isinstance(row[d], str) and row[d]} for _, row in truth.iterrows()]
    truth["series"] = [(k, Slice.of(s).key) for k, s in zip(truth["kpi"], truth["slice"], strict=True)]
    return truth


def _compatible(series_slice: dict[str, str], incident_slice: dict[str, str]) -> bool:
    """The series contains the incident's slice or lies inside it (they overlap)."""
    return all(series_slice.get(d, v) == v for d, v in incident_slice.items())


def evaluate(panel, events: pd.DataFrame, truth: pd.DataFrame, **options) -> dict:
    t0 = time.perf_counter()
    flags = scan_panel(panel, events=events, **options)
    seconds = time.perf_counter() - t0
    days = panel.values.index
    flagged = {(s, d) for s, d in zip(flags["series"], flags["day"], strict=True)}

    rows = []
    for _, inc in truth.iterrows():
        sid = inc["series"]
        window = pd.date_range(inc["start"], inc["end"], freq="D")
        hits = [d for d in window if (sid, d) in flagged]
        first = hits[0] if hits else None
        start_flag = flags[(flags["series"] == sid) & (flags["day"] == inc["start"])]
        rows.append({
            "kind": inc["kind"], "kpi": inc["kpi"], "slice": sid[1], "start": inc["start"].date(),
            "end": inc["end"].date(), "size": f"{inc['size']:+.0%}",
            "first flagged": first.date() if first is not None else "missed",
            "lag (days)": (first - inc["start"]).days if first is not None else np.nan,
            "flagged days": f"{len(hits)}/{len(window)}",
            "score on start": round(float(start_flag["score"].iloc[0]), 1) if len(start_flag) else np.nan,
        })
    per_incident = pd.DataFrame(rows)

    # incident-free mask: series x day
    warm = min_points(7) - 1
    free = np.ones(panel.values.shape, dtype=bool)
    free[:warm] = False
    col_slices = [panel.slices[c] for c in panel.values.columns]
    for _, inc in truth.iterrows():
        lo = days.searchsorted(inc["start"])
        hi = days.searchsorted(inc["end"] + timedelta(days=RECOVERY_DAYS), side="right")
        for j, sl in enumerate(col_slices):
            if _compatible(sl, inc["slice"]):
                free[lo:hi, j] = False
    for _, ev in events.iterrows():
        lo = days.searchsorted(ev["start"])
        hi = days.searchsorted(ev["end"], side="right")
        site = ev["vendor_site"]
        for j, sl in enumerate(col_slices):
            if not isinstance(site, str) or sl.get("vendor_site", site) == site:
                free[lo:hi, j] = False
    col_pos = {c: j for j, c in enumerate(panel.values.columns)}
    false = flags[[free[days.get_loc(d), col_pos[s]] for s, d in zip(flags["series"], flags["day"], strict=True)]]
    series_months = free.sum() / 30.4375
    return {"per_incident": per_incident, "false": false, "series_months": series_months,
            "n_series": panel.values.shape[1], "n_days": len(days), "seconds": seconds, "flags": flags}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a sample database built by sample_data.build")
    parser.add_argument("--threshold", type=float, default=None, help="override the scan threshold")
    parser.add_argument("--top", type=int, default=12, help="false flags to list")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "small.sqlite"
            build_sample(db, config=SampleConfig.small(seed=7, end=date(2026, 6, 30)))
            label = "small sample (150 days, seed 7, end 2026-06-30)"
        else:
            label = str(db.name)
        panel, events = load_panel(db)
        truth = truth_table(db)
    options = {} if args.threshold is None else {"threshold": args.threshold}
    result = evaluate(panel, events, truth, **options)
    per = result["per_incident"]
    false = result["false"]
    months = result["series_months"]
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(f"sample            : {label}")
    print(f"series x days     : {result['n_series']} x {result['n_days']}  (scan {result['seconds']:.2f} s)")
    print(f"options           : {options or 'defaults'}")
    print("\nplanted incidents (first day flagged on the incident's own series):")
    print(per.to_string(index=False))
    found = per["first flagged"] != "missed"
    on_day = per["lag (days)"] == 0
    print(f"\nfound             : {found.sum()}/{len(per)} rows; flagged on the first day: {on_day.sum()}/{len(per)}")
    by_kind = per.groupby("kind").agg(rows=("kpi", "size"), found=("lag (days)", lambda s: s.notna().sum()),
                                      first_day=("lag (days)", lambda s: (s == 0).sum()))
    print(by_kind.to_string())
    print(f"\nfalse flags       : {len(false)} over {months:,.0f} incident-free series-months")
    print(f"  per series-month  : {len(false) / months:.3f}")
    print(f"  per series-quarter: {3 * len(false) / months:.3f}   (target < 1)")
    print(f"  in the bad direction only, per series-quarter: {3 * false['bad'].sum() / months:.3f}")
    if len(false):
        print("  by KPI (per series-quarter):")
        n_by_kpi = pd.Series(panel.kpi).value_counts()
        share = free_share = months / result["n_series"]
        del free_share
        rate = (3 * false["kpi"].value_counts() / (n_by_kpi * share)).dropna().sort_values(ascending=False)
        print("    " + ", ".join(f"{k} {v:.2f}" for k, v in rate.items()))
        print(f"  top {args.top} false flags by severity:")
        cols = ["series", "day", "observed", "expected", "score", "direction", "severity"]
        print(false[cols].head(args.top).round({"observed": 2, "expected": 2, "score": 1, "severity": 1})
              .to_string(index=False))


if __name__ == "__main__":
    main()
