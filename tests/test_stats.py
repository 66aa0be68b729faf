"""The seed bootstrap: interval and test agree by construction, seeds resampled jointly (pairing kept),
Holm's adjustment against hand-computed values, the fast median against numpy's."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from experiments.analysis.stats import (MIN_SEEDS, POOLED, STATISTICS, _median, bootstrap, decide, holm,
                                        percentile_interval, stable_seed, t_calibration, units)


def test_interval_is_the_set_of_nulls_the_test_keeps():
    rng = np.random.default_rng(0)
    reps = rng.normal(size=1999)
    lo, hi, _ = decide(0.0, reps, 0.0)
    for null in np.concatenate([np.linspace(-4, 4, 401), [lo, hi, np.nextafter(lo, -9), np.nextafter(hi, 9)]]):
        l2, h2, p = decide(0.0, reps, float(null))
        assert (l2, h2) == (lo, hi)
        assert (p < 0.05) == (null < lo or null > hi), null
    assert decide(1.0, np.full(100, 1.0), 1.0)[2] == 1.0               # every replicate at the null
    assert decide(2.0, np.full(100, 2.0), 1.0)[2] == pytest.approx(0.01)  # none: 1 / B
    assert all(math.isnan(v) for v in decide(np.nan, reps, 0.0))


def test_the_test_and_the_interval_agree_at_every_number_of_replicates():
    """With B defined replicates (the rest NaN: a statistic undefined on a resample) the smallest p is 1/B:
    at B <= 20 a null outside [min, max] would get p >= 0.05 beside an interval that excludes it. There no
    interval or p is given (the claims table's replicates column says why); above, they agree for every null."""
    from experiments.analysis.stats import min_replicates

    rng = np.random.default_rng(1)
    assert min_replicates(0.05) == 21
    for B in range(1, 70):
        reps = np.concatenate([rng.normal(size=B), np.full(2000 - B, np.nan)])
        for null in (-10.0, 10.0, float(np.median(reps[:B])), float(reps[0])):
            lo, hi, p = decide(0.0, reps, null)
            if B < 21:
                assert all(math.isnan(v) for v in (lo, hi, p)), B
            else:
                assert (p < 0.05) == (null < lo or null > hi), (B, null, lo, hi, p)


def _frame(seeds=6, effect=2.0, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    shared = rng.normal(0, 0.5, seeds)                                 # a seed's effect, shared by both arms
    for p in range(8):
        for s in range(seeds):
            for arm, eff in (("a", effect), ("b", 1.0)):
                rows.append(dict(dataset="d", problem=p, arm=arm, seed=s,     # steps in budgets: below 1
                                 v=0.05 * eff * math.exp(shared[s] + rng.normal(0, noise))))
    return pd.DataFrame(rows)


def test_seeds_are_resampled_jointly_so_a_shared_seed_effect_cancels():
    """The seed effect is large (sd 0.5 in log) but shared by both arms: the paired ratio is tight."""
    u = units(_frame(), "v", "arm", ["a", "b"], ["problem"])
    got = bootstrap(u, "ratio_of_medians", seed=1, resamples=500)["d"]
    assert 1.8 < got.ci_low < 2.0 < got.ci_high < 2.2 and got.p_value < 0.05
    assert got.problems == 8 and got.seeds == 6


def test_too_few_seeds_give_the_estimate_alone_and_pools_combine_strata():
    d = pd.concat([_frame(seeds=MIN_SEEDS - 1), _frame(seeds=MIN_SEEDS).assign(dataset="e")])
    got = bootstrap(units(d, "v", "arm", ["a", "b"], ["problem"]), "ratio_of_medians", seed=2, resamples=300)
    assert math.isnan(got["d"].ci_low) and math.isnan(got["d"].p_value) and not math.isnan(got["d"].estimate)
    assert not math.isnan(got["e"].ci_low) and not math.isnan(got[POOLED].ci_low)
    assert got[POOLED].problems == 16


def test_bootstrap_is_seeded():
    u = units(_frame(), "v", "arm", ["a", "b"], ["problem"])
    assert bootstrap(u, "ratio_of_medians", seed=3, resamples=100) == bootstrap(u, "ratio_of_medians", seed=3,
                                                                                   resamples=100)
    assert stable_seed("test.x.hinge") != stable_seed("test.x.focal")   # names of equal length differ


def test_holm_against_hand_computed_values():
    got = holm(np.array([0.01, 0.04, 0.03, np.nan]))
    assert got[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(got[3])
    assert holm(np.array([0.5, 0.9])) == pytest.approx([1.0, 1.0])


def test_fast_median_equals_numpys_nanmedian_with_infinities():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 9, 7))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[rng.random(x.shape) < 0.15] = np.inf
    x[0, 0, :] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmedian(x, axis=-1)
    assert np.allclose(_median(x), want, equal_nan=True)


def test_percentile_interval_covers_a_known_mean():
    rng = np.random.default_rng(2026)
    covered = sum(lo <= 1.0 <= hi for lo, hi in
                  (percentile_interval(rng.normal(1.0, 2.0, 40), np.mean, seed=i, resamples=400)[1:]
                   for i in range(300)))
    assert 0.89 <= covered / 300 <= 0.98
    assert percentile_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_speed_ratio_counts_a_miss_at_the_budget_and_drops_a_problem_both_missed():
    """Values in budgets, a miss at 1: per problem the ratio of medians (a censored subject gives a lower
    bound), NaN where both medians sit at the budget (no speed to compare), the median over the rest."""
    stat = STATISTICS["ratio_of_medians"]
    a = np.array([[1.0, 1.0, 0.2], [0.1, 0.1, 0.1], [1.0, 1.0, 1.0]])      # (problems, seeds)
    b = np.array([[0.2, 0.2, 0.2], [0.05, 0.05, 0.05], [1.0, 1.0, 0.5]])
    per = stat.combine(stat.within(a), stat.within(b))
    assert per[:2] == pytest.approx([5.0, 2.0]) and math.isnan(per[2])
    assert float(stat.across(per[None, :])[0]) == pytest.approx(3.5)


def test_accuracy_views_mean_median_and_share_worse():
    """Per problem the difference of means over seeds; the mean and the median over problems, and the share
    of problems more than 5 points worse (a tie at exactly -5 points is not worse)."""
    a = np.array([[0.5, 0.5], [0.9, 0.9], [0.80, 0.80]])
    b = np.array([[0.9, 0.9], [0.9, 0.9], [0.85, 0.85]])
    per = {k: STATISTICS[k].combine(STATISTICS[k].within(a), STATISTICS[k].within(b))
           for k in ("mean_difference", "median_difference", "share_worse")}
    assert STATISTICS["mean_difference"].across(per["mean_difference"][None])[0] == pytest.approx(-0.15)
    assert STATISTICS["median_difference"].across(per["median_difference"][None])[0] == pytest.approx(-0.05)
    assert STATISTICS["share_worse"].across(per["share_worse"][None])[0] == pytest.approx(1 / 3)
    assert STATISTICS["median_difference"].null is None and STATISTICS["share_worse"].null is None


def test_t_calibration_is_the_t_quantile_over_z_at_welch_degrees_of_freedom():
    """One stratum of S seeds: t_{S-1}/z; two strata: between the smaller and the summed degrees of freedom."""
    from scipy.stats import norm, t
    rng = np.random.default_rng(5)
    one = [rng.normal(size=(500, 8))]
    assert t_calibration(one, [5]) == pytest.approx(t.ppf(0.975, 4) / norm.ppf(0.975))
    two = [rng.normal(size=(500, 8)), rng.normal(size=(500, 8))]
    got = t_calibration(two, [5, 11])
    assert t.ppf(0.975, 14) / norm.ppf(0.975) < got < t.ppf(0.975, 4) / norm.ppf(0.975)
    assert t_calibration([rng.normal(size=(500, 8))], [1000]) == pytest.approx(1.0, abs=2e-3)


def test_two_runs_in_one_unit_raise_instead_of_keeping_the_last():
    d = _frame()
    with pytest.raises(ValueError, match="rows share a unit"):
        units(pd.concat([d, d.iloc[:1]]), "v", "arm", ["a", "b"], ["problem"])
