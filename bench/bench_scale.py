"""Scale figures on PostgreSQL: roll-up full build, one-day refresh and the stand-up page at millions of cases.

Run: ``python bench/bench_scale.py --cases 3000000 30000000`` (each size gets its own throwaway database on the
server named by ``--pg`` / ``OPS_TEST_PG_URL``, dropped at the end; ``--keep`` keeps it).

For each size it prints, from the same run:

* load time (``COPY`` through ``loaders.write_cases``);
* roll-up full build (``INSERT … SELECT … GROUP BY`` run by PostgreSQL);
* a naive baseline: read every case into pandas and group there (in a child process, so its memory is its own);
* the one-day refresh after a new day of cases arrives (new rows + earlier cases getting their ``solved_at``);
* the stand-up page's script run time (cold, warm) and the peak RSS of the app process running it (a child
  process driving ``app.py`` through Streamlit's AppTest).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders import Settings, create_cases_table, make_engine, refresh_rollup, write_cases  # noqa: E402
from sample_data import SampleConfig, generate_cases  # noqa: E402
from sample_data.generate import expected_total_cases  # noqa: E402

END = date(2026, 6, 30)
# The children report their own peak RSS from /proc (VmHWM). ``getrusage(RUSAGE_SELF).ru_maxrss`` is wrong here:
# Linux carries the pre-exec high-water mark over ``execve``, so a child started by this (large) process would
# report this process's size, which grows with the cases it generated.
_PEAK_RSS = """
def peak_rss_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
_CHILD_PAGE = _PEAK_RSS + """
import json, os, sys, time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=1800)
t = time.perf_counter(); at.run(); cold = time.perf_counter() - t
assert not at.exception, at.exception
warm = []
for _ in range(3):
    t = time.perf_counter(); at.run(); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": min(warm), "rss_mb": peak_rss_mb(), "tiles": len(at.metric)}))
"""
_CHILD_NAIVE = _PEAK_RSS + """
import json, sys, time
import pandas as pd, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
t = time.perf_counter()
parts = list(pd.read_sql("SELECT created_at, solved_at, workflow, vendor_site, channel, language, route, "
                         "handle_time_s, sla_hours FROM cases", engine, chunksize=1_000_000))
cases = pd.concat(parts, ignore_index=True)
del parts
keys = ["workflow", "vendor_site", "channel", "language"]
created = cases.groupby([cases["created_at"].dt.floor("D"), *keys]).agg(
    incoming=("route", "size"), incoming_manual=("route", lambda r: (r == "manual").sum()))
solved = cases[cases["solved_at"].notna()]
age = (solved["solved_at"] - solved["created_at"]).dt.total_seconds() / 3600
solved = solved.assign(age=age, in_sla=age <= solved["sla_hours"], manual=solved["route"] == "manual")
done = solved.groupby([solved["solved_at"].dt.floor("D"), *keys]).agg(
    solved=("age", "size"), solved_manual=("manual", "sum"), age_at_solve_h=("age", "sum"),
    solved_in_sla=("in_sla", "sum"), handle_time_s=("handle_time_s", "sum"))
rows = len(created.join(done, how="outer"))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows,
                  "rss_mb": peak_rss_mb()}))
"""


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - began


def _child(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _apply_solved(engine: sa.Engine, updates: pd.DataFrame) -> None:
    """Earlier cases get their ``solved_at`` (COPY into a temp table, one UPDATE … FROM)."""
    buf = io.StringIO()
    updates[["case_id", "solved_at"]].to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE late_solved (case_id BIGINT, solved_at TIMESTAMP)")
            with cur.copy("COPY late_solved FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
            cur.execute("UPDATE cases SET solved_at = l.solved_at FROM late_solved l WHERE cases.case_id = l.case_id")
        raw.commit()
    finally:
        raw.close()


def bench_size(admin_url: str, n_cases: int, *, keep: bool, baseline_max: int) -> dict:
    base = SampleConfig(seed=7, end=END)
    per_day = base.cases_per_day * n_cases / expected_total_cases(base)
    config = SampleConfig(seed=7, end=END, cases_per_day=per_day)
    name = f"ops_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    out: dict = {"target": n_cases}
    try:
        settings = Settings(url=url)
        engine = make_engine(url)
        create_cases_table(engine, settings, drop=True)
        cutoff = datetime.combine(END, datetime.min.time())
        new_parts, late_parts, written = [], [], 0
        began = time.perf_counter()
        for chunk in generate_cases(config):
            early = chunk[chunk["created_at"] < cutoff].copy()
            solved_late = early["solved_at"] >= cutoff
            late_parts.append(early.loc[solved_late, ["case_id", "solved_at"]])
            early.loc[solved_late, "solved_at"] = pd.NaT
            written += write_cases(engine, early, settings=settings)
            new_parts.append(chunk[chunk["created_at"] >= cutoff])
        out["load_s"] = time.perf_counter() - began
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE cases")
        _, out["full_s"] = timed(refresh_rollup, engine, settings, full=True)
        if n_cases <= baseline_max:
            out["naive"] = _child(_CHILD_NAIVE, url)
        new_cases, late = pd.concat(new_parts), pd.concat(late_parts)
        write_cases(engine, new_cases, settings=settings)
        _apply_solved(engine, late)
        result, out["one_day_s"] = timed(refresh_rollup, engine, settings)
        out.update(cases=written + len(new_cases), new_cases=len(new_cases), newly_solved=len(late),
                   refresh_kind=result.kind)
        engine.dispose()
        out["page"] = _child(_CHILD_PAGE, str(ROOT / "app.py"),
                             env={"OPS_DB_URL": url, "OPS_CONFIG": "", "PYTHONPATH": str(ROOT)})
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[3_000_000, 30_000_000])
    parser.add_argument("--pg", default=os.environ.get("OPS_TEST_PG_URL",
                                                     "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--baseline-max", type=int, default=30_000_000,
                        help="skip the pandas baseline above this many cases (it needs several GB)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()
    print(f"bench_scale on PostgreSQL, {os.cpu_count()} cores, {datetime.now():%Y-%m-%d %H:%M}", flush=True)
    for n in args.cases:
        r = bench_size(args.pg, n, keep=args.keep, baseline_max=args.baseline_max)
        print(f"\n== {r['cases']:,} cases ==")
        print(f"load (COPY via write_cases): {r['load_s']:.1f} s")
        print(f"roll-up full build: {r['full_s']:.1f} s")
        naive = r.get("naive")
        if naive and "seconds" in naive:
            print(f"naive read-all-into-pandas-and-group: {naive['seconds']:.1f} s, peak RSS {naive['rss_mb']:,.0f} MB "
                  f"(roll-up full build is {naive['seconds'] / r['full_s']:.1f}x faster)")
        else:
            print(f"naive baseline: {naive.get('error') if naive else 'skipped (--baseline-max)'}")
        print(f"one-day refresh ({r['refresh_kind']}): {r['one_day_s']:.2f} s for {r['new_cases']:,} new cases and "
              f"{r['newly_solved']:,} newly solved ({r['one_day_s'] / r['full_s']:.2%} of a full build)")
        page = r["page"]
        if "cold" in page:
            print(f"stand-up page script: cold {page['cold']:.2f} s (includes the incremental refresh), "
                  f"warm {page['warm']:.3f} s; app process peak RSS {page['rss_mb']:,.0f} MB "
                  f"(this bench process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)")
        else:
            print(f"stand-up page failed: {page.get('error')}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
