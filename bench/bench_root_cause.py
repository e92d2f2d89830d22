"""Accuracy and speed of ``metrics.root_cause.explain`` on synthetic cubes.

Cases follow the published RiskLoc/Squeeze recipe (re-implemented here, fixed
seed): Weibull-distributed leaf values, a share of zero leaves, relative
forecast noise of 0-25 % applied symmetrically, and 1-3 root causes, each a
value combination over 1-3 dimensions (no two causes on the same cuboid or
sharing a dimension value), whose leaves all move by a common severity
(20-100 % plus the noise level) with a small per-leaf spread. A case is scored
by F1 between the predicted and the true set of combinations (exact match).

A simple Adtributor-style baseline (single dimension, explanatory power +
surprise) runs on the same cases, so figures can be read as ratios.

Run: ``python bench/bench_root_cause.py [--cases 40]``
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.root_cause import explain

Key = frozenset  # a root cause as a frozenset of (dimension, value) pairs


def make_case(rng: np.random.Generator, sizes: tuple[int, ...], *, max_level: int = 3) -> tuple[pd.DataFrame, set[Key]]:
    """One synthetic leaf table and its true root-cause set."""
    dims = [f"d{i}" for i in range(len(sizes))]
    grid = np.array(list(product(*[range(s) for s in sizes])), dtype=np.int64)
    n = len(grid)
    real = rng.weibull(rng.uniform(0.5, 1.0), n) * 100
    real *= rng.uniform(size=n) > rng.uniform(0.0, 0.25)
    noise = rng.uniform(0.0, 0.25)
    pred = real * (1 + rng.normal(0.0, noise, n))
    swap = rng.integers(0, 2, n) == 1
    real, pred = np.where(swap, pred, real), np.where(swap, real, pred)
    real, pred = np.clip(real, 0, None), np.clip(pred, 0, None)

    direction = rng.choice([-1, 1])
    truths: set[Key] = set()
    used_cuboids: set[tuple[int, ...]] = set()
    used_values: set[tuple[int, int]] = set()
    n_causes = int(rng.integers(1, 4))
    attempts = 0
    while len(truths) < n_causes and attempts < 200:
        attempts += 1
        level = int(rng.integers(1, max_level + 1))
        cuboid = tuple(sorted(rng.choice(len(sizes), size=level, replace=False).tolist()))
        values = tuple(int(rng.integers(0, sizes[j])) for j in cuboid)
        if cuboid in used_cuboids or any((j, v) in used_values for j, v in zip(cuboid, values, strict=True)):
            continue
        mask = np.logical_and.reduce([grid[:, j] == v for j, v in zip(cuboid, values, strict=True)])
        if (real[mask] + pred[mask]).sum() == 0:
            continue
        used_cuboids.add(cuboid)
        used_values.update(zip(cuboid, values, strict=True))
        severity = rng.uniform(0.2, 1.0) + noise
        spread = rng.uniform(0.0, 0.1)
        r = rng.normal(severity, spread, int(mask.sum()))
        # Reset the noise inside the cause, then move it by the common ratio.
        if direction < 0:
            real[mask] = np.clip(pred[mask] * (1 - r), 0, None)
        else:
            pred[mask] = np.clip(real[mask] * (1 - r), 0, None)
        truths.add(frozenset((dims[j], f"{dims[j]}_{v}") for j, v in zip(cuboid, values, strict=True)))

    leaves = pd.DataFrame({d: [f"{d}_{v}" for v in grid[:, i]] for i, d in enumerate(dims)})
    leaves["actual"] = real
    leaves["expected"] = pred
    return leaves, truths


def adtributor(leaves: pd.DataFrame, dims: list[str], *, t_ep: float = 0.1, t_eep: float = 0.67) -> set[Key]:
    """Adtributor (Bhagwan et al., NSDI 2014), best single dimension."""
    total_a, total_e = leaves["actual"].sum(), leaves["expected"].sum()
    best: tuple[float, set[Key]] = (-1.0, set())
    for dim in dims:
        g = leaves.groupby(dim, observed=True)[["actual", "expected"]].sum()
        p, q = g["expected"] / total_e, g["actual"] / total_a
        m = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.nan_to_num(p * np.log(p / m)) + np.nan_to_num(q * np.log(q / m))
        surprise = pd.Series(0.5 * np.asarray(terms), index=g.index)
        ep = (g["actual"] - g["expected"]) / (total_a - total_e)
        chosen, cum, score = set(), 0.0, 0.0
        for value in surprise.sort_values(ascending=False).index:
            if ep[value] > t_ep:
                chosen.add(frozenset({(dim, value)}))
                cum += ep[value]
                score += surprise[value]
                if cum > t_eep:
                    break
        if cum > t_eep and score > best[0]:
            best = (score, chosen)
    return best[1]


def f1(pred: set[Key], truth: set[Key]) -> float:
    tp = len(pred & truth)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(pred), tp / len(truth)
    return 2 * precision * recall / (precision + recall)


def as_keys(causes: pd.DataFrame) -> set[Key]:
    return {frozenset(f.items()) for f in causes["filters"]}


def run(sizes: tuple[int, ...], n_cases: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    dims = [f"d{i}" for i in range(len(sizes))]
    scores = {"explain": [], "adtributor": []}
    times = {"explain": [], "adtributor": []}
    for _ in range(n_cases):
        leaves, truth = make_case(rng, sizes)
        t0 = time.perf_counter()
        pred = as_keys(explain(leaves, dims))
        times["explain"].append(time.perf_counter() - t0)
        scores["explain"].append(f1(pred, truth))
        t0 = time.perf_counter()
        base = adtributor(leaves, dims)
        times["adtributor"].append(time.perf_counter() - t0)
        scores["adtributor"].append(f1(base, truth))
    return {
        "leaves": float(np.prod(sizes)),
        "f1": float(np.mean(scores["explain"])),
        "f1_base": float(np.mean(scores["adtributor"])),
        "t": float(np.median(times["explain"])),
        "t_max": float(np.max(times["explain"])),
        "t_base": float(np.median(times["adtributor"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40, help="cases per size (100k uses a quarter)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    settings = [((10, 10, 8, 5, 5), args.cases), ((10, 10, 10, 10, 10), max(args.cases // 4, 2))]
    print(
        f"{'leaves':>8} {'cases':>5} {'F1 explain':>10} {'F1 adtrib.':>10} "
        f"{'s/case':>8} {'max s':>7} {'base s':>7} {'time ratio':>10}"
    )
    for sizes, n_cases in settings:
        r = run(sizes, n_cases, args.seed)
        print(
            f"{int(r['leaves']):>8} {n_cases:>5} {r['f1']:>10.3f} {r['f1_base']:>10.3f} "
            f"{r['t']:>8.3f} {r['t_max']:>7.3f} {r['t_base']:>7.3f} {r['t'] / r['t_base']:>10.1f}"
        )


if __name__ == "__main__":
    main()
