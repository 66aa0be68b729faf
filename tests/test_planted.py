"""The analysis recovers planted truths (tests/planted.py): synthetic sweeps with known effects, an
unbalanced design (a study on a third dataset at two depths), configurations never run, missing seeds,
misses, divergences and ties, through the real aggregation (experiments.analysis: summary, profile,
claims, tuning's score). No torch, no training."""
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

from planted import Plant, censored_median, generate, truth
from experiments import columns
from experiments.analysis.claims import claims_table, metric_claims, speed_claims
from experiments.analysis.profile import performance_profile
from experiments.analysis.stats import MIN_SEEDS, POOLED
from experiments.analysis.summary import summary_table
from experiments.convergence.tuning import choose, score_rates

REPLICATES = 200
RESAMPLES = 1000


def _replicate(r: int) -> list[dict]:
    """One planted sweep through the claims: each tested speed and accuracy claim's interval, test and
    planted value, and the share of its runs that broke, planted and realised."""
    runs, planted = generate(Plant(), np.random.default_rng(10_000 + r))
    rows = []
    for c in speed_claims(runs, RESAMPLES) + metric_claims(runs, RESAMPLES):
        kind = "speed_ratio" if c["kind"] == "ratio" else c["metric"]
        if kind not in ("speed_ratio", "test_acc"):
            continue
        stat = "mean" if ".test_acc_mean" in c["family"] else "median"
        opt = c["optimizer"] or None                      # speed, and accuracy per optimiser ("" pooled over them)
        t = truth(runs, planted, kind, c["dataset"], c["subject"], c["reference"], opt, statistic=stat)
        mine = runs[runs["loss"].isin([c["subject"], c["reference"]]) & (
            (runs["dataset"] == c["dataset"]) | (c["dataset"] == POOLED))]
        if opt is not None:
            mine = mine[mine["optimizer"] == opt]
        mine = mine[mine.groupby("problem")["loss"].transform("nunique") == 2]     # problems both losses ran
        rows.append(dict(claim=c["claim"], family=c["family"], kind=c["kind"], dataset=c["dataset"], truth=t,
                         estimate=c["estimate"], low=c["ci_low"], high=c["ci_high"], p=c["p_value"],
                         null=c["null_value"], broken=c["broken"],
                         realised=mine["status"].isin(["diverged", "nonfinite"]).mean()))
    return rows


def _coverage() -> pd.DataFrame:
    """Per claim and dataset over ``REPLICATES`` planted sweeps: how often its interval held the truth
    (replicates spread over the machine's cores: each is independent)."""
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        out = pd.DataFrame([row for rows in pool.map(_replicate, range(REPLICATES)) for row in rows])
    out["covered"] = (out["low"] <= out["truth"]) & (out["truth"] <= out["high"])
    return out


@pytest.fixture(scope="module")
def coverage():
    return _coverage()


# focal breaks on exactly half its seeds: its median steps sit exactly at the budget, where a sample median
# of 6 or 10 seeds jumps between a finite value and the budget (no interval can cover a discontinuity);
# its accuracy (mean) carries the check that broken runs are counted
TESTED = r"speed_ratio\.(?:hinge|mse_sigmoid)_|test\.test_acc_mean\.(?!sgd\.|adam\.)"
# the accuracy claims per optimiser (each literature verdict reads its paper's optimiser): half the problems
PER_OPTIMISER = r"test\.test_acc_mean\.(?:sgd|adam)\."


@pytest.mark.slow
def test_headline_intervals_cover_the_planted_value_90_to_99_percent(coverage):
    """Each tested speed and test-accuracy claim, per dataset with enough seeds and pooled, over 200 sweeps:
    speed counting misses and breaks at the budget, accuracy counting a break at chance."""
    with_interval = coverage[coverage["claim"].str.contains(TESTED)].dropna(subset=["low"])
    rate = with_interval.groupby(["claim", "dataset"])["covered"].agg(["mean", "size"])
    assert (rate["size"] >= REPLICATES * 0.9).all(), rate          # (a claim is made where its problems ran)
    assert set(rate.index.get_level_values("dataset")) == {"alpha", "beta", POOLED}
    assert any("focal" in c for c in rate.index.get_level_values("claim"))
    bad = rate[(rate["mean"] < 0.90) | (rate["mean"] > 0.99)]
    assert bad.empty, f"coverage outside [0.90, 0.99]:\n{bad}\n{rate}"


@pytest.mark.slow
def test_per_optimiser_accuracy_intervals_cover_at_least_80_percent(coverage):
    """The per-optimiser accuracy claims stand on half the problems (12 per dataset here, 6 to 8 seeds), and
    hinge and MSE break in isolated runs (1%) beside clustered ones: in a sample where no isolated break
    happened the resamples carry none of their variance, and the interval misses the planted mean that
    counts them (measured 0.85 to 0.97 over 150 to 200 sweeps; pooled over both optimisers, 0.94 to 0.99).
    The bound here is what docs/protocol.md states for them: at least 80%, at most 99%."""
    rate = coverage[coverage["claim"].str.contains(PER_OPTIMISER)].dropna(subset=["low"]).groupby(
        ["claim", "dataset"])["covered"].agg(["mean", "size"])
    assert len(rate) >= 12 and (rate["size"] >= REPLICATES * 0.9).all(), rate
    bad = rate[(rate["mean"] < 0.80) | (rate["mean"] > 0.99)]
    assert bad.empty, f"coverage outside [0.80, 0.99]:\n{bad}\n{rate}"


@pytest.mark.slow
def test_misses_are_counted_and_the_headline_stays_finite(coverage):
    """mse_sigmoid misses the budget on most seeds of its slower settings: its planted speed ratio holds
    settings censored at the budget, and every estimate and interval end stays finite."""
    runs, planted = generate(Plant(), np.random.default_rng(10_000))
    censored = [censored_median(**{k: v[k] for k in ("m", "q", "sd")}) >= 1 for (i, loss), v in planted.items()
                if loss == "mse_sigmoid"]
    assert 0.1 < np.mean(censored) < 0.9                          # the censoring is at work, not everywhere
    speed = coverage[coverage["claim"].str.startswith("speed_ratio.")].dropna(subset=["low"])
    assert np.isfinite(speed[["estimate", "low", "high"]].to_numpy()).all()


@pytest.mark.slow
def test_a_loss_that_breaks_on_half_its_seeds_is_counted_not_dropped(coverage):
    """focal breaks on half its seeds and is otherwise as accurate as cross-entropy: every claim on it is
    made on every dataset, its accuracy difference carries the broken runs at chance (about -0.3, covered
    above; about 0 had they been dropped), and each row's broken share is the share of its runs (both
    arms, the problems both ran) that broke, exactly."""
    focal = coverage[coverage["claim"].str.contains("focal")]
    assert set(focal["dataset"]) >= {"alpha", "beta", POOLED}
    np.testing.assert_allclose(coverage["broken"], coverage["realised"], atol=1e-12)
    focal = focal[focal["dataset"] != "gamma"]                    # (2 seeds: no interval, a noisy estimate)
    acc = focal[focal["claim"].str.startswith("test.test_acc_mean.")]
    assert (acc["estimate"] < -0.1).all()      # dropping its broken runs would leave about 0 (no planted effect)
    speed = focal[focal["kind"] == "ratio"]
    assert (speed["estimate"] > 1.5).mean() > 0.9                 # half its runs at the budget: slow, finite


@pytest.mark.slow
def test_too_few_seeds_give_no_interval(coverage):
    """gamma has 2 seeds (< MIN_SEEDS): its estimate stands alone, without an interval or a test."""
    assert Plant().seeds["gamma"] < MIN_SEEDS
    gamma = coverage[coverage["dataset"] == "gamma"]
    assert len(gamma) and gamma["low"].isna().all() and gamma["p"].isna().all()


@pytest.mark.slow
def test_interval_and_test_agree_on_every_claim(coverage):
    """p < 0.05 exactly when the interval excludes the null (one procedure for both)."""
    d = coverage.dropna(subset=["p"])
    excluded = (d["null"] < d["low"]) | (d["null"] > d["high"])
    assert ((d["p"] < 0.05) == excluded).all()
    assert excluded.any() and (~excluded).any()                # both cases occur


@pytest.mark.slow
def test_per_dataset_claims_show_an_effect_that_flips(coverage):
    """hinge is planted 0.8x cross-entropy's steps on alpha and 1.25x on beta: the per-dataset estimates say
    so, most intervals excluding 1 on the side planted, where the pooled claim blurs it."""
    hinge = coverage[coverage["claim"] == "speed_ratio.hinge_vs_cross_entropy.sgd"]
    est = hinge.groupby("dataset")["estimate"].median()
    assert est["alpha"] < 0.9 and est["beta"] > 1.1 and 0.9 < est[POOLED] < 1.1
    by = hinge.set_index("dataset")
    assert (by.loc["alpha", "high"] < 1).mean() > 0.5 and (by.loc["beta", "low"] > 1).mean() > 0.5


def test_profile_counts_exactly_the_problems_that_were_run():
    runs, _ = generate(Plant(), np.random.default_rng(7))
    profile = performance_profile(runs, summary_table(runs), resamples=50)
    problem = ["dataset", "activation", "hidden", "optimizer", "learn_scale", "seed"]
    distinct = len(runs.drop_duplicates(problem))
    # the full product of the levels would count the study's datasets at every main-grid activation x optimiser
    product = np.prod([runs[k].nunique() for k in problem])
    assert product > distinct
    assert (profile["problems"] == distinct).all()
    # at tau = infinity-ish every solved problem counts: the share is at most the share of problems a loss ran
    last = profile[profile["tau"] == profile["tau"].max()].set_index("loss")["fraction_solved"]
    for loss, frac in last.items():
        ran = len(runs[runs["loss"] == loss].drop_duplicates(problem))
        assert frac <= ran / distinct + 1e-12


def _tuning_runs(steps_by_rate: dict[float, list], status_by_rate: dict[float, list] | None = None) -> pd.DataFrame:
    rows = []
    for lr, steps in steps_by_rate.items():
        for seed, s in enumerate(steps):
            status = (status_by_rate or {}).get(lr, ["ok"] * len(steps))[seed]
            rows.append(dict(dataset="alpha", loss="hinge", activation="relu", hidden="64", optimizer="sgd",
                             learn_scale=False, logit_scale=1.0, lr=lr, seed=seed,
                             steps_to_target=s, final_val_acc=0.9, status=status if s is not None else "not_reached"))
    runs = pd.DataFrame(rows).reindex(columns=columns.RUNS)
    runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
    return runs


@pytest.mark.parametrize("seeds", [2, 3, 4, 5])
def test_tuning_picks_the_stable_rate_over_a_fast_unstable_one(seeds):
    """Rate 1.0 reaches the target in 5 steps on one seed and misses on the rest; rate 0.3 reaches it in 40 on
    every seed: 0.3 is chosen (a median over seeds where half or more missed is +inf)."""
    runs = _tuning_runs({1.0: [5] + [None] * (seeds - 1), 0.3: [40] * seeds, 0.1: [90] * seeds})
    chosen = choose(score_rates(runs))
    assert chosen.loc[chosen["chosen"], "lr"].tolist() == [0.3]
    # half missing (2 of 4) still scores +inf
    assert np.isinf(score_rates(_tuning_runs({1.0: [5, 5, None, None]}))["median_steps_to_target"]).all()


def test_tuning_counts_a_run_that_broke_as_a_miss():
    """Rate 1.0 reaches the target fast and then diverges on two of three seeds: a failure, not a solution."""
    runs = _tuning_runs({1.0: [5, 5, 5], 0.3: [40, 40, 40]}, {1.0: ["diverged", "nonfinite", "ok"]})
    chosen = choose(score_rates(runs))
    assert chosen.loc[chosen["chosen"], "lr"].tolist() == [0.3]


def test_claims_table_on_a_planted_sweep():
    """The whole claims table: families with Holm inside them, counts exact, nothing named fastest."""
    runs, _ = generate(Plant(), np.random.default_rng(3))
    tuning = score_rates(runs).pipe(choose)
    claims = claims_table(runs, tuning, resamples=200)
    assert list(claims.columns) == columns.CLAIMS
    assert not claims["claim"].str.contains("best_loss|win_share").any()
    assert (claims.loc[claims["p_value"].notna(), "p_adjusted"] >= claims.loc[claims["p_value"].notna(),
                                                                                "p_value"] - 1e-12).all()
    census = claims[(claims["claim"] == "tuning.search_outcome") & (claims["dataset"] == POOLED)]
    assert census["seeds"].sum() == census["n"].iloc[0] == int(tuning["chosen"].sum())
    reach = claims[(claims["claim"] == "reach_fraction.cross_entropy.sgd") & (claims["dataset"] == "alpha")]
    alpha = runs[(runs["loss"] == "cross_entropy") & (runs["optimizer"] == "sgd") & (runs["dataset"] == "alpha")]
    per_problem = alpha.assign(r=alpha["status"].eq("ok")).groupby("problem")["r"].mean()
    assert reach["estimate"].iloc[0] == pytest.approx(per_problem.mean())
    assert claims.loc[claims["family"] == "reach", "null_value"].isna().all()
