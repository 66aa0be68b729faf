"""Summary over seeds, the performance profile, gradient scales, test metrics, depth and the effective-rate
view (experiments.analysis), on hand-made runs."""
import math

import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.analysis.profile import performance_profile
from experiments.analysis.summary import best_lr_rows, fixed_lr_table, summary_table
from experiments.convergence.tuning import choose, score_rates


def make_runs(rows):
    """rows: (loss, lr, seed, steps_to_target or None, final_val_acc)."""
    base = dict(dataset="d", activation="relu", hidden="64", optimizer="sgd", learn_scale=False, logit_scale=1.0)
    df = pd.DataFrame([dict(base, loss=l, lr=lr, seed=s, steps_to_target=t, final_val_acc=a)
                       for l, lr, s, t, a in rows])
    df["steps_to_target"] = df["steps_to_target"].astype("Int64")
    return df


RUNS = make_runs([
    # loss A: lr 0.1 reaches at 10, 20, 30; lr 1.0 at 5, 5, never
    ("A", 0.1, 0, 10, 0.9), ("A", 0.1, 1, 20, 0.9), ("A", 0.1, 2, 30, 0.9),
    ("A", 1.0, 0, 5, 0.8), ("A", 1.0, 1, 5, 0.8), ("A", 1.0, 2, None, 0.5),
    # loss B: only lr 0.1, reaches at 20, 40, never
    ("B", 0.1, 0, 20, 0.9), ("B", 0.1, 1, 40, 0.9), ("B", 0.1, 2, None, 0.4),
])


def test_summary_statistics_count_missed_as_infinite():
    s = summary_table(RUNS).set_index(["loss", "lr"])
    assert list(summary_table(RUNS).columns) == columns.SUMMARY
    a1 = s.loc[("A", 1.0)]
    assert a1["reached_frac"] == pytest.approx(2 / 3)
    assert a1["steps_to_target_median"] == 5
    assert a1["steps_to_target_q75"] == math.inf
    b = s.loc[("B", 0.1)]
    assert b["steps_to_target_median"] == 40
    assert b["steps_to_target_q25"] == 20
    assert s.loc[("A", 0.1), "steps_to_target_median"] == 20


def test_best_lr_is_fewest_median_steps():
    s = summary_table(RUNS).set_index(["loss", "lr"])
    assert bool(s.loc[("A", 1.0), "best_lr"]) and not bool(s.loc[("A", 0.1), "best_lr"])
    assert bool(s.loc[("B", 0.1), "best_lr"])
    assert set(best_lr_rows(RUNS, summary_table(RUNS))["lr"]) == {1.0, 0.1}


def test_performance_profile_by_hand():
    """Problems are seeds 0, 1, 2. A at lr 1.0: 5, 5, inf. B: 20, 40, inf.
    Best per problem: 5, 5, (none). Ratios A: 1, 1, inf; B: 4, 8, inf."""
    prof = performance_profile(RUNS, summary_table(RUNS), taus=np.array([1.0, 4.0, 8.0, 100.0]))
    got = prof.pivot(index="tau", columns="loss", values="fraction_solved")
    np.testing.assert_allclose(got["A"].to_numpy(), [2 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(got["B"].to_numpy(), [0, 1 / 3, 2 / 3, 2 / 3])
    assert (prof["problems"] == 3).all()
    assert list(prof.columns) == columns.PROFILE


def test_profile_band_resamples_seeds_and_narrows_with_more_of_them():
    """The band resamples seed ids (the random units): copies of RUNS under new seed ids give more seeds of the
    same three kinds, and a narrower band around the same estimate."""
    def profile_of(copies):
        many = pd.concat([RUNS.assign(seed=RUNS["seed"] + 3 * i) for i in range(copies)], ignore_index=True)
        return performance_profile(many, summary_table(many), taus=np.array([1.0, 8.0]),
                                   resamples=300).set_index(["loss", "tau"])

    few, lots = profile_of(2), profile_of(30)
    for prof in (few, lots):
        assert (prof["ci_low"] <= prof["fraction_solved"]).all() and (prof["fraction_solved"] <= prof["ci_high"]).all()
    assert few.loc[("B", 8.0), "fraction_solved"] == pytest.approx(lots.loc[("B", 8.0), "fraction_solved"])
    width = lambda p: p.loc[("B", 8.0), "ci_high"] - p.loc[("B", 8.0), "ci_low"]  # noqa: E731
    assert 0 < width(lots) < width(few)


def test_best_scale_comes_from_the_tuning_scores_not_the_reported_runs():
    two = pd.concat([RUNS[RUNS["lr"] == 0.1].assign(logit_scale=s) for s in (1.0, 10.0)], ignore_index=True)
    tuning = choose(score_rates(two)).assign(round=0)
    tuning.loc[tuning["logit_scale"] == 10.0, "median_steps_to_target"] = 1.0     # scale 10 wins on tuning seeds
    s = summary_table(two, tuning)
    assert set(s.loc[s["best_scale"], "logit_scale"]) == {10.0}
    assert set(summary_table(two).loc[lambda d: d["best_scale"], "logit_scale"]) == {1.0}   # by the runs: a tie, smaller


def test_fixed_lr_table_beside_tuned_rate_by_hand():
    # a second configuration (activation tanh) where A is slower at 0.1 and never reaches at 1.0
    tanh = make_runs([("A", 0.1, s, 50, 0.9) for s in range(3)] + [("A", 1.0, s, None, 0.3) for s in range(3)]
                     + [("B", 0.1, s, 60, 0.9) for s in range(3)]).assign(activation="tanh")
    tuning = choose(score_rates(pd.concat([RUNS, tanh], ignore_index=True))).assign(round=0)
    t = fixed_lr_table(tuning)
    assert list(t.columns) == [("sgd", "0.1"), ("sgd", "1"), ("sgd", "tuned")]
    # A at 0.1: medians 20 (relu) and 50 (tanh) -> 35; at 1.0: 5 and inf -> inf; tuned: 5 (relu, lr 1.0) and 50 -> 27.5
    assert t.loc[("d", "A")].tolist() == [35.0, math.inf, 27.5]
    # B was only run at 0.1: medians 40 and 60
    assert t.loc[("d", "B"), ("sgd", "0.1")] == 50.0 and math.isnan(t.loc[("d", "B"), ("sgd", "1")])
    # another dataset (another budget) is a row of its own, never pooled with d
    other = choose(score_rates(pd.concat([RUNS, tanh], ignore_index=True).assign(dataset="e"))).assign(round=0)
    both = fixed_lr_table(pd.concat([tuning, other], ignore_index=True))
    assert list(both.index) == [("d", "A"), ("d", "B"), ("e", "A"), ("e", "B")]


def test_gradient_scale_table_multiplies_each_configurations_rate_by_its_start_gradient():
    from experiments import columns
    from experiments.report.findings import effective_rate_finding
    from experiments.analysis.rates import gradient_scale_table

    base = {"dataset": "d", "hidden": "64", "optimizer": "sgd", "learn_scale": False, "logit_scale": 1.0}
    configs = [("ce", "relu", 0.1, [1.0, 1.2]), ("ce", "tanh", 0.2, [0.8, 1.0]),
               ("mse", "relu", 10.0, [0.01, 0.03]), ("mse", "tanh", 30.0, [0.02, 0.02])]
    curves, summary = [], []
    for loss, act, lr, g0 in configs:
        keys = dict(base, loss=loss, activation=act, lr=lr)
        summary.append(dict(keys, best_lr=True))
        for seed, g in enumerate(g0):
            curves += [dict(keys, seed=seed, step=0, grad_norm_logits=g), dict(keys, seed=seed, step=5, grad_norm_logits=9.0)]
    curves, summary = pd.DataFrame(curves), pd.DataFrame(summary)
    assert set(columns.CONFIG_KEYS) <= set(summary.columns)
    t = gradient_scale_table(curves, summary, base, {"ce": 0.95, "mse": 0.02}).set_index("loss")
    # per configuration: rate x median step-0 norm; then the median over configurations
    assert t.loc["ce", "effective_lr"] == pytest.approx(np.median([0.1 * 1.1, 0.2 * 0.9]))
    assert t.loc["mse", "effective_lr"] == pytest.approx(np.median([10 * 0.02, 30 * 0.02]))
    assert t.loc["ce", "grad_norm_step0"] == pytest.approx(1.0) and t.loc["mse", "tuned_lr"] == pytest.approx(20.0)
    assert t.loc["mse", "grad_norm_at_zero"] == 0.02 and (t["configurations"] == 2).all()
    assert (t["effective_lr_low"] <= t["effective_lr"]).all() and (t["effective_lr"] <= t["effective_lr_high"]).all()
    text = effective_rate_finding(t.reset_index())
    # tuned rates differ 100x (0.15 vs 20), effective rates 2.5x (0.155 vs 0.4): tuning undoes the scale
    assert "smallest for mse" in text and "largest for ce" in text and "compensates" in text


def _test_runs(values: dict) -> pd.DataFrame:
    """Evaluation runs on two problems (activations) x two seeds; ``values[loss]`` gives per (problem, seed)
    (test_acc, test_ece), the other test metrics derived from them."""
    rows = []
    for loss, per in values.items():
        for (act, seed), (acc, ece) in per.items():
            rows.append(dict(dataset="d", loss=loss, activation=act, hidden="64", optimizer="sgd", learn_scale=False,
                             logit_scale=1.0, lr=0.1 if loss == "cross_entropy" else 0.3, seed=seed, test_acc=acc,
                             test_ece=ece, test_nll=1 - acc, test_brier=2 * ece))
    return pd.DataFrame(rows)


def test_calibration_table_is_median_of_problem_means_and_the_claims_difference():
    from experiments.analysis.claims import adjust, metric_claims
    from experiments.analysis.paired import calibration_table

    runs = _test_runs({
        "cross_entropy": {("relu", 0): (0.8, 0.10), ("relu", 1): (0.9, 0.20), ("tanh", 0): (0.6, 0.30), ("tanh", 1): (0.6, 0.30)},
        "focal": {("relu", 0): (0.7, 0.05), ("relu", 1): (0.7, 0.05), ("tanh", 0): (0.5, np.nan), ("tanh", 1): (0.7, 0.10)},
    })
    claims = adjust(pd.DataFrame(metric_claims(runs, resamples=100), columns=columns.CLAIMS))
    t = calibration_table(runs, claims, resamples=100).set_index("loss")
    # cross-entropy: problem means acc 0.85 (relu) and 0.6 (tanh) -> median 0.725; ece 0.15 and 0.3 -> 0.225
    assert t.loc["cross_entropy", "test_acc"] == pytest.approx(0.725)
    assert t.loc["cross_entropy", "test_ece"] == pytest.approx(0.225)
    assert math.isnan(t.loc["cross_entropy", "test_ece_diff"])          # no claim compares it with itself
    # focal: acc 0.7 and 0.6; ece 0.05 and 0.10 (a broken run's NaN left out of its mean)
    assert t.loc["focal", "test_acc"] == pytest.approx(0.65)
    assert t.loc["focal", "test_ece"] == pytest.approx(0.075)
    # paired differences per problem: acc -0.15 and 0 -> median -0.075; ece -0.10 and -0.20 -> -0.15: the claims'
    # accuracy's difference is the tested view, the mean over problems (two problems: as their median)
    mean = claims[claims["claim"] == "test.test_acc_mean.focal_vs_cross_entropy"].iloc[0]
    assert t.loc["focal", "test_acc_diff"] == pytest.approx(-0.075) == mean["estimate"]
    assert t.loc["focal", "test_acc_diff_p"] == pytest.approx(mean["p_adjusted"], nan_ok=True)
    row = claims[claims["claim"] == "test.test_ece.focal_vs_cross_entropy"].iloc[0]
    assert t.loc["focal", "test_ece_diff"] == pytest.approx(-0.15) == row["estimate"]
    assert t.loc["focal", "problems"] == 2


def test_layer_ratios_and_depth_table_by_hand():
    from experiments.analysis.depth import depth_table, layer_ratios

    base = dict(dataset="d", loss="cross_entropy", activation="sigmoid", optimizer="sgd", learn_scale=False,
                logit_scale=1.0, lr=0.1)
    rows = []
    for seed, (g_init, g_end) in enumerate([((1.0, 4.0), (2.0, 4.0)), ((3.0, 4.0), (1.0, 1.0))]):
        for step, g in [(0, g_init), (5, g_end), (10, (np.nan, np.nan))]:    # no gradient at the last step
            rows += [dict(base, hidden="8", seed=seed, step=step, layer=1, weights=320, grad_norm=g[0],
                          saturated_frac=0.1 * seed),
                     dict(base, hidden="8", seed=seed, step=step, layer=2, weights=80, grad_norm=g[1],
                          saturated_frac=np.nan)]
    # 40 inputs, 8-8 hidden, 10 classes: W_1 has 320 entries, W_2 64, W_3 80
    deep = [dict(base, hidden="8-8", seed=0, step=step, layer=layer, weights=n, grad_norm=g, saturated_frac=0.5)
            for step in (0, 5) for layer, n, g in ((1, 320, 4.0), (2, 64, 1.0), (3, 80, 1.0))]
    layers = pd.DataFrame(rows + deep)
    r = layer_ratios(layers).set_index(["hidden", "seed"])
    assert r.loc[("8", 0), "grad_ratio_init"] == pytest.approx(0.25)
    assert r.loc[("8", 0), "grad_ratio_end"] == pytest.approx(0.5)      # the last step with a gradient
    assert r.loc[("8", 1), "grad_ratio_init"] == pytest.approx(0.75)
    assert r.loc[("8", 1), "saturated_end"] == pytest.approx(0.1)
    assert r.loc[("8-8", 0), "depth"] == 2
    # Glorot & Bengio's per-entry RMS, layer 1 over the last hidden layer (the output layer left out)
    assert r.loc[("8-8", 0), "rms_ratio_init"] == pytest.approx((4.0 / np.sqrt(320)) / (1.0 / 8.0))
    assert r.loc[("8-8", 0), "grad_ratio_init"] == pytest.approx(4.0)
    assert np.isnan(r.loc[("8", 0), "rms_ratio_init"])                  # one hidden layer: no such ratio
    t = depth_table(layers).set_index("depth")
    assert t.loc[1, "grad_ratio_init"] == pytest.approx(0.5) and t.loc[1, "runs"] == 2   # median of 0.25, 0.75
    assert t.loc[2, "saturated_end"] == pytest.approx(0.5)
    assert depth_table(layers[layers["hidden"] == "8"]).empty                           # one depth: no comparison


def test_effective_rate_view_by_hand():
    """Two losses on one problem: B's gradient at step 0 is a tenth of cross-entropy's, so its rates sit a
    decade lower on the effective-rate axis; at cross-entropy's tuned effective rate each tuning seed's steps
    are read off B's own tried rates."""
    from experiments.analysis.rates import effective_rate_table, matched_rate_costs, steps_at

    base = dict(dataset="d", activation="relu", hidden="64", optimizer="sgd", learn_scale=False, logit_scale=1.0)
    grid = [("cross_entropy", 0.1, [40, 40, 40], False), ("cross_entropy", 1.0, [10, 12, 8], True),
            ("B", 1.0, [100, 100, 100], False), ("B", 10.0, [25, 30, None], True),
            ("C", 0.01, [None] * 3, False), ("C", 0.1, [None] * 3, True)]
    tuning = pd.DataFrame([dict(base, loss=l, lr=lr, median_steps_to_target=np.median([x or np.inf for x in st]),
                                chosen=c) for l, lr, st, c in grid])
    tuning_runs = pd.DataFrame([dict(base, loss=l, lr=lr, seed=100 + i, steps_to_target=x,
                                     status="ok" if x else "not_reached")
                                for l, lr, st, _ in grid for i, x in enumerate(st)])
    tuning_runs["steps_to_target"] = tuning_runs["steps_to_target"].astype("Int64")
    curves = pd.DataFrame([dict(base, loss=l, lr=0.5, seed=s, step=0, grad_norm_logits=g)
                           for l, g in [("cross_entropy", 1.0), ("B", 0.1), ("C", 1.0)] for s in range(3)])
    eff = effective_rate_table(tuning, curves, {"optimizer": "sgd"})
    assert eff.set_index(["loss", "lr"]).loc[("B", 10.0), "effective_lr"] == pytest.approx(1.0)
    # cross-entropy's tuned effective rate is 1.0 x 1.0; B's tried effective rates are 0.1 and 1.0: each seed's
    # own steps at 1.0 (a miss stays a miss); C's tried rates stop at 0.1: not measured there
    costs = matched_rate_costs(tuning, tuning_runs, curves, {"optimizer": "sgd"}).set_index(["loss", "seed"])["steps"]
    assert costs.loc["cross_entropy"].tolist() == [10.0, 12.0, 8.0]
    assert costs.loc["B"].tolist() == [25.0, 30.0, np.inf]
    assert costs.loc["C"].isna().all()
    # halfway (in log) between 0.1 (100 steps) and 1.0 (median 30 steps): sqrt(100 x 30)
    pts = eff[eff["loss"] == "B"]
    assert steps_at(pts, 10 ** -0.5) == pytest.approx(math.sqrt(100 * 30))
    assert np.isnan(steps_at(pts, 2.0))
    # between a rate that missed and one that reached: the nearer one's value, not +inf
    with_miss = pts.assign(median_steps_to_target=[np.inf, 30.0])
    assert steps_at(with_miss, 10 ** -0.4) == 30.0 and steps_at(with_miss, 10 ** -0.6) == np.inf


def test_steps_at_a_tried_rate_is_its_value_whatever_the_neighbours():
    """The effective rate is a measured gradient norm times a rate: its last digits differ between a CPU and a
    GPU. Just above (or below) a tried rate the answer is that rate's value, not +inf from the next one
    (which gave 1.24 on a CPU and +inf on a GPU for one claim before)."""
    from experiments.analysis.rates import steps_at

    pts = pd.DataFrame({"effective_lr": [0.1, 1.0], "median_steps_to_target": [30.0, np.inf]})
    for wobble in (1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-7):
        assert steps_at(pts, 0.1 * wobble) == 30.0
    assert np.isnan(steps_at(pts, 0.1 * (1 - 1e-3)))


def test_levels_table_counts_misses_and_broken_runs():
    from experiments.analysis.summary import levels_table

    base = dict(dataset="d", optimizer="sgd", loss="A", activation="relu", hidden="64", learn_scale=False,
                logit_scale=1.0, lr=0.1)
    rows = [dict(base, seed=s, level=lv, steps_to_target=t, status=st)
            for s, st in enumerate(["ok", "ok", "diverged", "ok"])
            for lv, t in [(0.5, 2 + s), (0.95, [10, 20, 5, None][s])]]
    lv = pd.DataFrame(rows).astype({"steps_to_target": "Int64"})
    t = levels_table(lv).set_index("level")
    assert t.loc[0.5, "reached_frac"] == 0.75 and t.loc[0.5, "steps_median"] == 4.0      # 2, 3, inf, 5
    assert t.loc[0.95, "reached_frac"] == 0.5 and t.loc[0.95, "steps_median"] == np.inf   # 10, 20, inf, inf
