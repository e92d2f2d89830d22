"""``run_scores`` (the runs of days judged together) against a plain day-by-day loop of its documented rule."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.anomalies import RUN_CLIP, RUN_WINDOWS, run_scores


def _naive(resid: np.ndarray, scale: np.ndarray, window: int = 56) -> tuple[np.ndarray, ...]:
    """The rule as the docstring states it, one series and one day at a time."""
    n, s = resid.shape
    lag = max(RUN_WINDOWS)
    z = resid / scale
    gap = np.isnan(z)
    zc = np.where(gap, 0.0, np.clip(z, -RUN_CLIP, RUN_CLIP))
    best, length, mean = np.abs(z), np.ones((n, s), dtype=int), resid.copy()
    for j in range(s):
        for t in range(n):
            rho = 0.0
            if t >= lag + 1:
                rows = [r for r in range(max(t - lag - 1 - window, 0), t - lag - 1) if not (gap[r, j] or gap[r + 1, j])]
                if len(rows) >= 14:
                    num = sum(zc[r + 1, j] * zc[r, j] for r in rows)
                    den = sum(zc[r + 1, j] ** 2 for r in rows)
                    rho = float(np.clip(num / den, 0.0, 0.9)) if den else 0.0
            streak = 0
            while t - streak >= 0 and not gap[t - streak, j] and np.sign(z[t - streak, j]) == np.sign(z[t, j]) \
                    and z[t - streak, j] != 0:
                streak += 1
            for w in RUN_WINDOWS:
                if w > n or t < w - 1 or streak < w:
                    continue
                var = w + 2 * sum((w - k) * rho**k for k in range(1, w))
                score = abs(zc[t - w + 1:t + 1, j].sum()) / np.sqrt(var)
                if score > best[t, j]:
                    best[t, j], length[t, j] = score, w
                    mean[t, j] = resid[t - w + 1:t + 1, j].mean()
    return best, length, mean


@pytest.mark.parametrize("n_days", [10, 40, 71, 72, 120])
def test_run_scores_follow_the_documented_rule(n_days):
    rng = np.random.default_rng(n_days)
    noise = rng.normal(size=(n_days, 6))
    resid = noise.copy()
    resid[:, 1] = np.cumsum(noise[:, 1]) * 0.3 + noise[:, 1]  # residuals that follow each other
    resid[n_days // 2:, 2] += 2.5  # a shift: a run
    resid[rng.random(resid.shape) < 0.05] = np.nan  # missing days
    resid[:, 3] = 0.0  # exactly on expected
    scale = rng.uniform(0.5, 2.0, size=resid.shape)
    got = run_scores(resid, scale)
    want = _naive(resid, scale)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-4, atol=1e-4)
    assert (got[1][:, 2] > 1).any()  # the shifted series is judged as a run somewhere
