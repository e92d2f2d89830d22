"""Stand-up page figures: script run time (first run, cold cache, warm) and charts drawn in Chromium.

Usage::

    python bench/bench_standup.py --db /path/to/sample.sqlite   # reuse a built sample (the default size)
    python bench/bench_standup.py                                # builds the default sample first (~45 s)

Budgets (PRODUCT.md): page script <= 2 s cold and <= 0.3 s warm on the default sample; charts drawn
<= 4 s after navigation in headless Chromium. The machine is shared, so the page's warm time is also
given as a ratio to the Trends page's warm time measured in the same process.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_script(db: Path) -> dict[str, float]:
    """First run in this process (imports + cold cache), a cold-cache run, best-of-5 warm; Trends warm as baseline."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["OPS_DB_URL"] = f"sqlite:///{db}"
    os.environ.pop("OPS_CONFIG", None)
    app = str(ROOT / "app.py")
    at = AppTest.from_file(app, default_timeout=300)
    _, first = timed(at.run)
    assert not at.exception, at.exception
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(app, default_timeout=300)
    _, cold = timed(at.run)
    assert not at.exception, at.exception
    warm = min(timed(at.run)[1] for _ in range(5))
    tv = AppTest.from_file(app, default_timeout=300)
    tv.query_params["tv"] = "1"
    tv.run()
    tv_warm = min(timed(tv.run)[1] for _ in range(5))
    trends = AppTest.from_file(app, default_timeout=300)
    trends.run()
    trends.switch_page("pages/trends.py").run()
    trends_warm = min(timed(trends.run)[1] for _ in range(5))
    return {"first": first, "cold": cold, "warm": warm, "tv_warm": tv_warm, "trends_warm": trends_warm}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_browser(db: Path, *, warm: bool = False) -> dict[str, float]:
    """Seconds from navigation to the charts drawn: first visit (cold server cache) and a later visit; with
    ``warm``, the first visit comes after the readiness probe (``/_stcore/script-health-check``) answered."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = dict(os.environ, OPS_DB_URL=f"sqlite:///{db}")
    env.pop("OPS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--server.fileWatcherType", "none"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.2)
        if warm:  # what a deployment's readiness probe does before it sends the first visitor
            started = time.perf_counter()
            urllib.request.urlopen(f"{url}/_stcore/script-health-check", timeout=300).read()
            out["readiness_probe"] = time.perf_counter() - started
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path, ready in (("desk_first", "/", ".js-plotly-plot .main-svg"),
                                      ("desk_later", "/", ".js-plotly-plot .main-svg"),
                                      ("tv_later", "/?tv=1", '[data-testid="stDataFrame"] canvas')):
                tab = browser.new_page(viewport={"width": 1920, "height": 1080})
                start = time.perf_counter()
                tab.goto(url + path)
                tab.wait_for_selector(ready, timeout=120_000)
                tab.wait_for_function("() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length"
                                      " === 0", timeout=120_000)
                out[name] = time.perf_counter() - start
                tab.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a sample SQLite file (default: build the default sample)")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--browser-only", action="store_true", help="skip the in-process script timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from sample_data import SampleConfig
            from sample_data.build import build_sample

            db = Path(tmp) / "ops.sqlite"
            _, seconds = timed(build_sample, db, config=SampleConfig().resolved())
            print(f"default sample built in {seconds:.1f} s")
        if not args.browser_only:
            s = bench_script(db)
            print(f"stand-up page script: first run in a new process {s['first']:.2f} s (imports included); "
                  f"cold cache {s['cold']:.2f} s; warm {s['warm']:.3f} s (best of 5); TV warm {s['tv_warm']:.3f} s")
            print(f"baseline in the same process: Trends page warm {s['trends_warm']:.3f} s; "
                  f"stand-up warm / Trends warm = {s['warm'] / s['trends_warm']:.1f}x")
        if not args.no_browser:
            b = bench_browser(db)
            print(f"Chromium, navigation -> charts drawn: first visit {b['desk_first']:.2f} s, later visit "
                  f"{b['desk_later']:.2f} s, TV view {b['tv_later']:.2f} s")
            w = bench_browser(db, warm=True)
            print(f"with a readiness probe on /_stcore/script-health-check first ({w['readiness_probe']:.2f} s): "
                  f"first visit {w['desk_first']:.2f} s, later visit {w['desk_later']:.2f} s")
        print(f"at {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}); "
              "budgets: script <= 2 s cold / 0.3 s warm, charts <= 4 s")


if __name__ == "__main__":
    main()
