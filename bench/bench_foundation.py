"""Foundation figures: sample build, roll-up full build and one-day refresh, stand-up page run time.

Run: ``python bench/bench_foundation.py`` (default sample, ≥ 3 million cases; ``--small`` for a quick look).

The roll-up build is compared with a baseline in the same process: reading every case into pandas and
grouping there (what the roll-up exists to avoid).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loaders import Settings, create_cases_table, make_engine, refresh_rollup, write_cases
from sample_data import SampleConfig, generate_cases
from sample_data.build import build_sample


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - began


def bench_refresh(config: SampleConfig, folder: Path) -> dict[str, float]:
    """Write all but the last day, build the roll-up, then load the last day and refresh."""
    url = f"sqlite:///{folder / 'refresh.sqlite'}"
    settings = Settings(url=url)
    engine = make_engine(url)
    create_cases_table(engine, settings, drop=True)
    cutoff = datetime.combine(config.resolved().end, datetime.min.time())
    late: list[pd.DataFrame] = []
    for chunk in generate_cases(config):
        early = chunk[chunk["created_at"] < cutoff].copy()
        solved_late = early["solved_at"] >= cutoff
        late.append(early.loc[solved_late, ["case_id", "solved_at"]])
        early.loc[solved_late, "solved_at"] = pd.NaT
        write_cases(engine, early, settings=settings)
        late.append(chunk[chunk["created_at"] >= cutoff])
    _, full = timed(refresh_rollup, engine, settings, full=True)
    # pandas baseline over the same cases table: read everything, group by day × dimensions
    def baseline() -> int:
        frame = pd.read_sql("SELECT created_at, workflow, vendor_site, channel, language, route FROM cases", engine,
                            parse_dates=["created_at"])
        return len(frame.groupby([frame["created_at"].dt.floor("D"), "workflow", "vendor_site", "channel",
                                  "language"]).size())
    _, naive = timed(baseline)
    # the new day arrives: its cases are inserted and earlier open cases get their solved_at
    new_cases = pd.concat([f for f in late if "workflow" in f.columns])
    solved_updates = pd.concat([f for f in late if "workflow" not in f.columns])
    write_cases(engine, new_cases, settings=settings)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET solved_at = :s WHERE case_id = :i"),
                     [{"s": s.to_pydatetime(), "i": int(i)} for i, s in
                      zip(solved_updates["case_id"], solved_updates["solved_at"], strict=True)])
    result, one_day = timed(refresh_rollup, engine, settings)
    engine.dispose()
    return {"full": full, "naive": naive, "one_day": one_day, "new_cases": len(new_cases),
            "updated": len(solved_updates), "kind": result.kind}


def bench_page(db: Path) -> tuple[float, float]:
    from streamlit.testing.v1 import AppTest

    os.environ["OPS_DB_URL"] = f"sqlite:///{db}"
    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=300)
    _, cold = timed(at.run)
    assert not at.exception, at.exception
    warm = min(timed(at.run)[1] for _ in range(5))
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    config = (SampleConfig.small() if args.small else SampleConfig()).resolved()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result, build = timed(build_sample, folder / "ops.sqlite", config=config)
        print(f"sample build: {result.cases:,} cases in {build:.1f} s "
              f"(generate + write {result.seconds_generate_write:.1f} s, roll-up {result.seconds_rollup:.1f} s)")
        r = bench_refresh(config, folder)
        print(f"roll-up full build: {r['full']:.2f} s; pandas read-all-and-group baseline: {r['naive']:.2f} s "
              f"(roll-up is {r['naive'] / r['full']:.1f}x faster, and computes every measure)")
        print(f"one-day refresh ({r['kind']}): {r['one_day']:.3f} s for {r['new_cases']:,} new cases and "
              f"{r['updated']:,} newly solved; {r['one_day'] / r['full']:.3%} of a full build")
        cold, warm = bench_page(folder / "ops.sqlite")
        print(f"stand-up page script: cold {cold:.2f} s, warm {warm:.3f} s (best of 5)")
        print(f"at {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} cores; "
              f"budgets: build <= 60 s, refresh <= 1 s, page <= 2 s cold / 0.3 s warm")


if __name__ == "__main__":
    main()
