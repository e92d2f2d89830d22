"""Chart export speed: cold start, warm PNG per chart vs a new-browser-per-call baseline, 10-slide deck.

Run: python bench/bench_export.py [--baseline-runs 3] [--warm-runs 20] [--no-cli]

Budgets (PRODUCT.md): <= 0.5 s per PNG once warm; a 10-slide deck <= 10 s.
The baseline (plain ``plotly.io.to_image``, which starts a browser per call) runs first, in the
same process, before the shared browser exists; timings on a shared 2-core machine are noisy,
so the ratio is the figure to compare across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import charts
from charts import BAD, BAND, NEUTRAL, PALETTE, ChartMeta, Slide, build_deck, decorate, to_png

WARM_BUDGET_S = 0.5
DECK_BUDGET_S = 10.0


def kpi_line() -> tuple[go.Figure, ChartMeta]:
    """A daily KPI with its expected band over 90 days, one planted spike."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2024-03-01", periods=90, freq="D")
    expected = np.where(days.day_of_week >= 5, 7000.0, 12000.0)
    observed = expected * rng.normal(1, 0.04, len(days))
    observed[-10] *= 1.8
    fig = go.Figure([
        go.Scatter(x=days, y=expected * 0.88, name="Expected (low)", line={"width": 0}, showlegend=False),
        go.Scatter(x=days, y=expected * 1.12, name="Expected range", fill="tonexty", fillcolor=BAND, line={"width": 0}),
        go.Scatter(x=days, y=observed, name="Incoming", line={"color": PALETTE[0]}),
    ])
    fig.update_layout(xaxis_title="Day", yaxis_title="Incoming")
    meta = ChartMeta("Incoming cases per day", subtitle="Workflow: brand impersonation · All sites",
                     unit="cases", source="ops_daily_volume", as_of=dt.date(2024, 5, 29))
    return fig, meta


def site_bars() -> tuple[go.Figure, ChartMeta]:
    sites = ["Manila", "Lisbon", "Hyderabad", "Austin", "Dublin", "Krakow"]
    values = [4.1, 6.8, 5.2, 3.9, 4.4, 12.5]
    fig = go.Figure(go.Bar(x=sites, y=values, name="AHT", marker_color=[NEUTRAL] * 5 + [BAD]))
    fig.update_layout(xaxis_title="Vendor site", yaxis_title="AHT")
    return fig, ChartMeta("AHT by vendor site", unit="minutes", source="ops_daily_volume", as_of=dt.date(2024, 5, 29))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_weekly_cli() -> None:
    """The scheduled job: `python -m reports.weekly` on the small sample, cold (new process) and in-process warm."""
    import subprocess
    import tempfile

    from loaders import load_settings
    from reports.weekly import build_weekly_deck, load_weekly_data
    from sample_data import SampleConfig
    from sample_data.build import build_sample

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.sqlite"
        build_sample(db, config=SampleConfig.small(seed=7, end=dt.date(2026, 6, 30)))
        url = f"sqlite:///{db}"
        argv = [sys.executable, "-m", "reports.weekly", "--from", "2026-06-01", "--to", "2026-06-30",
                "--out", str(Path(tmp) / "weekly.pptx"), "--url", url]
        root = Path(__file__).resolve().parents[1]
        cold = timed(lambda: subprocess.run(argv, cwd=root, check=True, capture_output=True))
        print(f"CLI weekly deck, new process (imports + roll-up refresh + browser start + 11 slides): {cold:.2f} s")
        settings = load_settings(environ={}).with_url(url)
        load_s = timed(lambda: load_weekly_data(settings, dt.date(2026, 6, 1), dt.date(2026, 6, 30)))
        data = load_weekly_data(settings, dt.date(2026, 6, 1), dt.date(2026, 6, 30), refresh=False)
        build_s = timed(lambda: build_weekly_deck(data))
        print(f"CLI weekly deck, warm browser: load + refresh {load_s:.2f} s, 9 charts + pptx {build_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=20)
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line weekly deck timings")
    args = parser.parse_args()

    ok, message = charts.browser_status()
    print(f"browser: {message}")
    if not ok:
        sys.exit(1)
    charts_under_test = {"kpi line + band": kpi_line(), "bars by vendor site": site_bars()}
    line_fig, line_meta = charts_under_test["kpi line + band"]
    decorated = decorate(line_fig, line_meta)

    baseline = [
        timed(lambda: pio.to_image(decorated, format="png", width=1600, height=900, scale=2))
        for _ in range(args.baseline_runs)
    ]
    baseline_s = statistics.median(baseline)
    print(f"baseline, new browser per call (plotly.io.to_image), median of {len(baseline)}: {baseline_s:.3f} s")

    cold = timed(lambda: to_png(line_fig, line_meta))
    print(f"cold start (browser start + first PNG): {cold:.3f} s")

    worst = 0.0
    for name, (fig, meta) in charts_under_test.items():
        runs = [timed(lambda fig=fig, meta=meta: to_png(fig, meta)) for _ in range(args.warm_runs)]
        warm = statistics.median(runs)
        worst = max(worst, warm)
        print(f"warm PNG 3200x1800, {name}, median of {len(runs)}: {warm:.3f} s "
              f"(max {max(runs):.3f} s; {baseline_s / warm:.1f}x faster than baseline)")

    specs = [
        Slide(*(kpi_line() if i % 2 == 0 else site_bars()), f"Takeaway {i + 1}", key_numbers=[("Cases", "12,480")])
        for i in range(10)
    ]
    deck_s = timed(lambda: build_deck(specs, title="Weekly review", subtitle="Identity Ops · bench",
                                      definitions={"Incoming": "cases created", "AHT": "handle time"}))
    print(f"10-slide deck (10 PNGs + pptx): {deck_s:.2f} s")

    if not args.no_cli:
        bench_weekly_cli()

    print(f"budget warm PNG <= {WARM_BUDGET_S} s: {'OK' if worst <= WARM_BUDGET_S else 'MISSED'} ({worst:.3f} s)")
    deck_verdict = "OK" if deck_s <= DECK_BUDGET_S else "MISSED"
    print(f"budget 10-slide deck <= {DECK_BUDGET_S} s: {deck_verdict} ({deck_s:.2f} s)")


if __name__ == "__main__":
    main()
