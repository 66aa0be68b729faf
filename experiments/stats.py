"""Intervals and tests for the report's claims (scipy; torch-free).

- :func:`bootstrap_ci`: a percentile bootstrap 95% interval of a statistic over
  independent units (problems), ``scipy.stats.bootstrap`` with a seeded
  generator and 2,000 resamples. Percentile, not BCa: the statistics here are
  medians of values that may be +inf (a missed target), where BCa's jackknife
  is undefined.
- :func:`sign_test`: a paired two-sided sign test (exact binomial,
  ``scipy.stats.binomtest``) of "a is below b" over units, ties left out; it
  needs no distributional assumption and copes with +inf.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

RESAMPLES = 2000
LEVEL = 0.95


def bootstrap_ci(values, statistic=np.median, seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """(estimate, low, high) of ``statistic`` over the units in ``values`` (1-D), with a 95% percentile
    bootstrap interval. With fewer than two distinct values the interval is the estimate itself."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return (np.nan, np.nan, np.nan)
    est = float(statistic(x))
    if len(np.unique(x)) < 2:
        return (est, est, est)
    with np.errstate(invalid="ignore"):   # scipy's standard error of a sample holding +inf
        res = sps.bootstrap((x,), statistic, n_resamples=resamples, confidence_level=LEVEL, method="percentile",
                            vectorized=False, rng=np.random.default_rng(seed))
    return (est, float(res.confidence_interval.low), float(res.confidence_interval.high))


def bootstrap_rows(frame_values: np.ndarray, statistic, seed: int = 0, resamples: int = RESAMPLES) -> np.ndarray:
    """Resample the rows (units) of ``frame_values`` (units x items) and apply ``statistic`` (rows -> array);
    returns (resamples, ...) for bands such as a performance profile's."""
    rng = np.random.default_rng(seed)
    n = len(frame_values)
    return np.stack([statistic(frame_values[rng.integers(0, n, n)]) for _ in range(resamples)])


def sign_test(a, b) -> tuple[int, int, float]:
    """Paired sign test over units: (units where a < b, units where a > b, two-sided p); ties left out."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    wins, losses = int((a[keep] < b[keep]).sum()), int((a[keep] > b[keep]).sum())
    if wins + losses == 0:
        return wins, losses, 1.0
    return wins, losses, float(sps.binomtest(wins, wins + losses, 0.5).pvalue)
