"""Bootstrap intervals cover a known value at about the stated rate; the sign test against the binomial."""
import math

import numpy as np
import pytest

from experiments.stats import bootstrap_ci, bootstrap_rows, sign_test


def test_bootstrap_interval_covers_a_known_mean_at_about_95_percent():
    rng = np.random.default_rng(2026)
    trials, covered = 300, 0
    for i in range(trials):
        x = rng.normal(1.0, 2.0, size=40)
        _, lo, hi = bootstrap_ci(x, statistic=np.mean, seed=i, resamples=400)
        covered += lo <= 1.0 <= hi
    # percentile intervals run a little narrow at n = 40: about 93-95%; 300 trials give +-2.5 points
    assert 0.89 <= covered / trials <= 0.98, covered / trials


def test_bootstrap_is_seeded_handles_infinity_and_degenerate_samples():
    x = [3.0, 5.0, np.inf, 4.0, 6.0, np.inf, 2.0]
    assert bootstrap_ci(x, seed=1) == bootstrap_ci(x, seed=1)
    est, lo, hi = bootstrap_ci(x)
    assert est == 5.0 and lo <= est <= hi and hi == np.inf
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_bootstrap_rows_resamples_units():
    out = bootstrap_rows(np.arange(5), lambda idx: np.array([len(set(idx))]), resamples=50)
    assert out.shape == (50, 1) and out.min() >= 1 and out.max() <= 5 and out.min() < 5


def test_sign_test_matches_the_binomial():
    a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    b = [2, 3, 4, 5, 6, 7, 8, 9, 10, 10]          # a below b 9 times, one tie
    wins, losses, p = sign_test(a, b)
    assert (wins, losses) == (9, 0)
    assert p == pytest.approx(2 * 0.5 ** 9)
    assert sign_test([1, np.inf], [np.inf, 2])[:2] == (1, 1)
    assert sign_test([1, 1], [1, 1]) == (0, 0, 1.0)
