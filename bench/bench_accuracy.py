"""Accuracy of the product's detector on a labelled benchmark, side by side with a textbook STL + MAD-z baseline.

The benchmark is generated here (seeded, nothing read from the repository's sample): daily case-volume
series of 15 to 5,000 cases a day with a weekly and a yearly pattern, growth or decline, public holidays
(known events, passed to both methods as the stand-up passes them), over-dispersed noise (negative
binomial, 5-14 % coefficient of variation at high volume), and planted anomalies of five kinds:

==========  ==================================================================  ==================
kind        what is planted                                                     its window
==========  ==================================================================  ==================
spike       1-2 days at +40-150 % (and at least 6 noise sd)                     the days + 2
drop        1-3 days at -40-90 % (at least 6 noise sd where that fits)          the days + 2
level       a lasting step up +30-80 % (at least 5 noise sd), or down as much  14 days from onset
ramp        a linear climb to +50-120 % (or decline as much) over 7-21 days   the climb + 14
dead        the feed stops: 0 cases for 1-7 days                                the days + 3
==========  ==================================================================  ==================

Steps and ramps go up from below the series' base level and down from above it, so a series stays in its range.
Every day is judged with only the data up to it (the product's scores are causal by construction; the
baseline refits on each day's trailing 8 weeks). Flagged days a day or less apart on one series form one
**alarm**. An alarm overlapping an anomaly's window is a true alarm and finds that anomaly; any other alarm
is a false alarm. Holidays and their catch-up day are never flagged by either method and never count.

* precision = true alarms / alarms; recall = anomalies found / anomalies; F1 their harmonic mean;
* false alarms per series-quarter (judged days / 91.25 per series);
* recall per kind.

The baseline is the textbook recipe: at each day, a robust statsmodels STL (period 7) on the trailing 56
days including that day, and a flag when the day's residual is more than 3.5 robust z (1.4826 x MAD of the
window's residuals) from their median.

Run: ``python bench/bench_accuracy.py`` (48 series x 2 years, ~1 min with the baseline);
``--series N``, ``--seed S`` for another draw, ``--no-baseline`` for the product only.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.anomalies import score_frame

KINDS = ("spike", "drop", "level", "ramp", "dead")
WARMUP = 35            # days before any anomaly is planted or any flag counts
HOLIDAYS = ((1, 1), (1, 6), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26))


@dataclass(frozen=True)
class Planted:
    series: str
    kind: str
    start: int   # row of the first anomalous day
    end: int     # row of the last anomalous day (the climb's last day for a ramp, the onset for a level)
    window_end: int
    size: float  # relative change planted


def _holiday_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """Holidays and their catch-up day (the next day), as a boolean mask over the rows."""
    md = list(zip(index.month, index.day, strict=True))
    hol = np.array([d in HOLIDAYS for d in md])
    return hol | np.r_[False, hol[:-1]]


def events(index: pd.DatetimeIndex) -> pd.DataFrame:
    """The known events both methods get: each holiday with its catch-up day."""
    md = list(zip(index.month, index.day, strict=True))
    days = index[[d in HOLIDAYS for d in md]]
    return pd.DataFrame({"start": days, "end": days + pd.Timedelta(days=1), "name": "holiday"})


def generate(n_series: int, n_days: int, seed: int) -> tuple[pd.DataFrame, list[Planted]]:
    """The labelled series (one column each) and what was planted in them."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n_days, freq="D")
    t = np.arange(n_days)
    hol = _holiday_rows(index)
    first_hol = np.r_[hol[0], hol[1:] & ~hol[:-1]]
    cols, planted = {}, []
    for j in range(n_series):
        name = f"s{j:03d}"
        base = float(np.exp(rng.uniform(np.log(15), np.log(5000))))
        weekly = np.r_[rng.uniform(0.9, 1.15, 5), rng.uniform(0.25, 0.8, 2)]
        weekly = weekly / weekly.mean()
        yearly = 1 + rng.uniform(0, 0.25) * np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 2 * np.pi))
        growth = (1 + rng.uniform(-0.2, 0.5)) ** (t / 365.25)
        mu = base * weekly[index.day_of_week] * yearly * growth
        mu = np.where(first_hol, mu * rng.uniform(0.1, 0.4), mu)
        mu = np.where(hol & ~first_hol, mu * rng.uniform(1.1, 1.5), mu)
        k = rng.uniform(50, 400)  # negative-binomial dispersion: variance mu + mu^2 / k
        sd = np.sqrt(mu + mu**2 / k)
        factor = np.ones(n_days)
        pos = WARMUP + int(rng.integers(10, 40))
        while pos < n_days - 25:
            kind = KINDS[int(rng.integers(len(KINDS)))]
            rel_sd = float(np.median(sd[pos:pos + 7] / mu[pos:pos + 7]))
            if kind == "spike":
                length, size = int(rng.integers(1, 3)), max(rng.uniform(0.4, 1.5), 6 * rel_sd)
                factor[pos:pos + length] *= 1 + size
                end, wend = pos + length - 1, pos + length + 1
            elif kind == "drop":
                length = int(rng.integers(1, 4))
                size = -min(0.9, max(rng.uniform(0.4, 0.9), 6 * rel_sd))
                factor[pos:pos + length] *= 1 + size
                end, wend = pos + length - 1, pos + length + 1
            elif kind == "level":
                size = max(rng.uniform(0.3, 0.8), 5 * rel_sd)
                if factor[pos - 1] >= 1:  # steps keep the level near its base: down from above it
                    size = -min(0.8, max(size / (1 + size), 5 * rel_sd))
                factor[pos:] *= 1 + size
                end, wend = pos, pos + 13
            elif kind == "ramp":
                length, size = int(rng.integers(7, 22)), rng.uniform(0.5, 1.2)
                if factor[pos - 1] >= 1:
                    size = -size / (1 + size)
                factor[pos:pos + length] *= 1 + size * np.arange(1, length + 1) / length
                factor[pos + length:] *= 1 + size
                end, wend = pos + length - 1, pos + length + 13
            else:
                length, size = int(rng.integers(1, 8)), -1.0
                factor[pos:pos + length] = 0.0
                end, wend = pos + length - 1, pos + length + 2
            wend = min(wend, n_days - 1)
            if not hol[pos:end + 1].any():
                planted.append(Planted(name, kind, pos, end, wend, float(size)))
            else:  # an anomaly on a holiday is masked by the known event: undo it, plant no label
                factor[pos:] = factor[pos - 1] if pos else 1.0
            pos = wend + int(rng.integers(25, 70))
        m = mu * factor
        p = k / (k + np.maximum(m, 1e-9))
        y = np.where(m > 0, rng.negative_binomial(k, p), 0).astype(float)
        cols[name] = y
    return pd.DataFrame(cols, index=index), planted


def product_flags(values: pd.DataFrame, ev: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The product's verdicts (``metrics.anomalies.score_frame``, as the panel calls it) and its seconds."""
    t0 = time.perf_counter()
    scores = score_frame(values, volume=values, kinds={c: "count" for c in values.columns}, events=ev)
    return scores.flagged, time.perf_counter() - t0


def baseline_flags(values: pd.DataFrame, hol: np.ndarray, *, window: int = 56,
                   z: float = 3.5) -> tuple[np.ndarray, float]:
    """Textbook STL + MAD-z, refitted on every day's trailing ``window`` days including the day."""
    from statsmodels.tsa.seasonal import STL

    t0 = time.perf_counter()
    arr = values.to_numpy(dtype=float)
    flags = np.zeros(arr.shape, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(arr.shape[1]):
            for t in range(WARMUP, arr.shape[0]):
                if hol[t]:
                    continue
                w = arr[max(0, t - window + 1):t + 1, j]
                resid = np.asarray(STL(w, period=7, robust=True).fit().resid)
                med = np.median(resid)
                mad = 1.4826 * np.median(np.abs(resid - med))
                flags[t, j] = mad > 0 and abs(resid[-1] - med) / mad > z
    return flags, time.perf_counter() - t0


def alarms(flags: np.ndarray, *, gap: int = 1) -> list[tuple[int, int, int]]:
    """(column, first row, last row) of each run of flags at most ``gap`` days apart."""
    out = []
    for j in range(flags.shape[1]):
        rows = np.flatnonzero(flags[:, j])
        if rows.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(rows) > gap + 1)
        starts = np.r_[rows[0], rows[breaks + 1]]
        ends = np.r_[rows[breaks], rows[-1]]
        out += [(j, int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
    return out


def evaluate(flags: np.ndarray, values: pd.DataFrame, planted: list[Planted], hol: np.ndarray) -> dict:
    """Event-level precision, recall, F1, false alarms per series-quarter and recall per kind."""
    flags = flags.copy()
    flags[:WARMUP] = False
    flags[hol] = False
    col = {c: j for j, c in enumerate(values.columns)}
    windows: dict[int, list[Planted]] = {}
    for p in planted:
        windows.setdefault(col[p.series], []).append(p)
    found: set[Planted] = set()
    true_alarms = false_alarms = 0
    for j, a, b in alarms(flags):
        hit = [p for p in windows.get(j, []) if a <= p.window_end and b >= p.start]
        found.update(hit)
        true_alarms += bool(hit)
        false_alarms += not hit
    n_alarms = true_alarms + false_alarms
    precision = true_alarms / n_alarms if n_alarms else 1.0
    recall = len(found) / len(planted) if planted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    quarters = values.shape[1] * (len(values) - WARMUP) / 91.25
    per_kind = {k: (sum(p in found for p in planted if p.kind == k), sum(p.kind == k for p in planted))
                for k in KINDS}
    return {"precision": precision, "recall": recall, "f1": f1, "false_per_quarter": false_alarms / quarters,
            "alarms": n_alarms, "per_kind": per_kind}


def _row(name: str, r: dict, seconds: float) -> str:
    kinds = " | ".join(f"{f}/{n} ({f / n:.0%})" if n else "-" for f, n in r["per_kind"].values())
    return (f"| {name} | {r['f1']:.2f} | {r['precision']:.2f} | {r['recall']:.2f} | {r['false_per_quarter']:.2f} "
            f"| {kinds} | {seconds:.2f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=48)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    values, planted = generate(args.series, args.days, args.seed)
    hol = _holiday_rows(values.index)
    ev = events(values.index)
    print(f"{args.series} series x {args.days} days, seed {args.seed}: {len(planted)} planted anomalies "
          f"({', '.join(f'{k} {sum(p.kind == k for p in planted)}' for k in KINDS)}); "
          f"mean volume {values.mean().min():,.0f}-{values.mean().max():,.0f} cases a day")
    print()
    print("| method | F1 | precision | recall | false alarms / series-quarter | "
          + " | ".join(KINDS) + " | seconds |")
    print("|---" * (7 + len(KINDS)) + "|")
    flags, secs = product_flags(values, ev)
    print(_row("product (metrics.anomalies.score_frame)", evaluate(flags, values, planted, hol), secs))
    if not args.no_baseline:
        flags, secs = baseline_flags(values, hol)
        print(_row("baseline: STL + MAD-z 3.5, trailing 56 days", evaluate(flags, values, planted, hol), secs))


if __name__ == "__main__":
    main()
