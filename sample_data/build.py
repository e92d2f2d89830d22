"""Write the seeded sample into a database and build its roll-up.

``python -m sample_data.build`` writes the default sample (≥ 3 million cases) to the default SQLite file;
``--small`` writes the quick one used by tests and the browser suite.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from loaders import SAMPLE_DB_PATH, Settings, create_cases_table, make_engine, refresh_rollup, write_cases
from sample_data.generate import SampleConfig, expected_total_cases, generate_cases, holidays, incidents

__all__ = ["BuildResult", "build_sample", "events_file", "ground_truth_path", "sample_events"]


@dataclass(frozen=True)
class BuildResult:
    path: Path | None
    cases: int
    seconds_generate_write: float
    seconds_rollup: float


def ground_truth_path(db_path: Path) -> Path:
    """Where the ground truth of a sample database is written (beside it)."""
    return db_path.with_name(f"{db_path.stem}.ground_truth.csv")


def events_file(db_path: Path) -> Path:
    """Where a sample database's known events are written (beside it, where the dashboard looks for a SQLite
    source's events: ``metrics.events.events_paths``)."""
    return db_path.with_name(f"{db_path.stem}.events.csv")


def sample_events(config: SampleConfig) -> pd.DataFrame:
    """The sample's holidays as an events CSV's rows (``start, end, name, workflow, vendor_site``).

    Each covers its holiday and the day after: the generator makes a closed site's manual solves wait for the
    next day, so that catch-up day is abnormal by construction and known, not news.
    """
    h = holidays(config)
    start = pd.to_datetime(h["day"])
    return pd.DataFrame({"start": start.dt.strftime("%Y-%m-%d"),
                         "end": (start + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d"),
                         "name": h["name"].astype(str), "workflow": None, "vendor_site": h["vendor_site"]})


def write_sample(url: str, *, config: SampleConfig, settings: Settings | None = None,
                 progress: Callable[[float, str], None] | None = None) -> BuildResult:
    """Write the sample's cases into any database URL (table created or replaced), then build the roll-up."""
    say = progress or (lambda _f, _m: None)
    settings = (settings or Settings(url=url)).with_url(url)
    engine = make_engine(url)
    try:
        create_cases_table(engine, settings, drop=True)
        total, written, began = max(expected_total_cases(config), 1), 0, time.perf_counter()
        for chunk in generate_cases(config):
            written += write_cases(engine, chunk, settings=settings)
            say(min(0.9 * written / total, 0.9), f"writing cases: {written:,} of ~{total:,}")
        seconds_write = time.perf_counter() - began
        say(0.92, "building the daily roll-up")
        rolled = refresh_rollup(engine, settings, full=True)
        say(1.0, "sample ready")
    finally:
        engine.dispose()
    return BuildResult(None, written, seconds_write, rolled.seconds)


def build_sample(path: Path = SAMPLE_DB_PATH, *, config: SampleConfig | None = None,
                 progress: Callable[[float, str], None] | None = None) -> BuildResult:
    """Build the sample SQLite database at ``path`` atomically (a half-built file never replaces a good one).

    Parameters
    ----------
    path : Path
        Target file; the ground truth (:func:`ground_truth_path`) and the known events (:func:`events_file`) are
        written beside it.
    config : SampleConfig, optional
        Defaults to the full sample (≥ 2 years, ≥ 3 million cases) ending yesterday.
    progress : callable, optional
        ``progress(fraction, message)``.
    """
    config = (config or SampleConfig()).resolved()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_builds(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        result = write_sample(f"sqlite:///{partial}", config=config, progress=progress)
        engine = make_engine(f"sqlite:///{partial}")
        with engine.connect() as conn:  # keep the file compact and the planner informed
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
        incidents(config).to_csv(ground_truth_path(path), index=False)
        sample_events(config).to_csv(events_file(path), index=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BuildResult(path, result.cases, result.seconds_generate_write, result.seconds_rollup)


def _forget_dead_builds(path: Path) -> None:
    """Remove the half-built files a killed build left beside ``path`` (their process is gone); a build still
    running in another process keeps its own."""
    for stale in path.parent.glob(f".{path.name}.*.partial"):
        pid = stale.name[len(path.name) + 2:-len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DB_PATH, help="SQLite file to write")
    parser.add_argument("--small", action="store_true", help="the quick sample used by tests")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: yesterday, UTC)")
    args = parser.parse_args(argv)
    config = (SampleConfig.small(seed=args.seed, end=args.end) if args.small
              else SampleConfig(seed=args.seed, end=args.end))
    result = build_sample(args.out, config=config,
                          progress=lambda f, m: print(f"{f:5.0%}  {m}", flush=True))
    print(f"{result.cases:,} cases → {result.path} "
          f"(write {result.seconds_generate_write:.1f} s, roll-up {result.seconds_rollup:.1f} s)")


if __name__ == "__main__":
    main()
