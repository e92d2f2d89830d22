"""How many flags the judgment raises on a real-shaped source, before and after the minimum practical effect.

Reads any configured source (default: the Open311 example, ``python -m examples.open311 --url URL`` builds it),
builds the panel the Anomalies page judges (the first two dimensions, slices big enough to judge), and scores it
twice in the same run: the previous detector (median engine, no minimum effect) and the product's. Prints the
flags, how many of them are fewer than 3 cases away from expected (count KPIs), and the incidents they form.

Run: ``python bench/bench_flag_volume.py --url sqlite:///open311.sqlite --config examples/open311.toml``
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loaders
from metrics.anomalies import score_frame
from metrics.incidents import rank
from metrics.kpis import kpi_parts
from metrics.panel import judged, kpi_panel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--config", default="examples/open311.toml")
    args = ap.parse_args()
    os.environ.update(OPS_CONFIG=args.config, OPS_DB_URL=args.url)
    warnings.simplefilter("ignore")
    settings = loaders.load_settings({})
    engine = loaders.make_engine(settings.url)
    loaders.refresh_rollup(engine, settings=settings)
    first, last = loaders.load_rollup_bounds(engine, settings=settings)
    filters = loaders.Filters(first, last)
    by = settings.dimension_keys[:2]
    raw = loaders.load_daily_volume(engine, settings=settings, filters=filters, by=by)
    opening = loaders.load_opening_balance(engine, settings=settings, filters=filters, by=by)
    panel = kpi_panel(kpi_parts(raw, by=by, opening=opening), by=by)
    keep = set(judged(panel))
    pos = [i for i, sid in enumerate(panel.values.columns) if sid in keep]
    values, volume = panel.values.iloc[:, pos], panel.volume.iloc[:, pos]
    kinds = {sid: panel.kinds[sid] for sid in values.columns}
    counts = np.array([kinds[c] in ("count", "stock") for c in values.columns])
    for name, options in (("previous (median engine, no minimum effect)", {"engine": "fast", "min_cases": 0,
                                                                           "min_change": 0}),
                          ("product (Holt-Winters, runs, minimum effect)", {})):
        scores = score_frame(values, volume=volume, kinds=kinds, **options)
        small = scores.flagged & (np.abs(scores.observed - scores.expected) < 3) & counts[None, :]
        print(f"{name}: {values.shape[1]:,} series x {values.shape[0]} days: {int(scores.flagged.sum()):,} flags, "
              f"{int(small.sum()):,} of them < 3 cases from expected (counts), "
              f"{rank(scores)['incident'].nunique():,} incidents")


if __name__ == "__main__":
    main()
