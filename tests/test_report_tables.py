"""The report's tables (experiments.analysis.report_tables) on hand-made and planted runs: exact counts,
the claims' pool, the reach shares beside the mechanism's ratios, accuracy per setting, the failure tally
and the depth control's verdicts. No torch, no training."""
import numpy as np
import pandas as pd
import pytest

from planted import Plant, generate
from experiments import columns
from experiments.analysis.claims import claims_table
from experiments.analysis.depth import control_table
from experiments.analysis.report_tables import (accuracy_settings, accuracy_summary, counts, failures, mechanism,
                                                pool, speed_levels)
from experiments.analysis.stats import POOLED
from experiments.convergence.tuning import choose, score_rates


@pytest.fixture(scope="module")
def planted():
    runs, _ = generate(Plant(losses={"cross_entropy": 0.0, "bce_ovr": 0.0, "mse_sigmoid": np.log(2.0)},
                             acc_effect={"cross_entropy": 0.0, "bce_ovr": 0.0, "mse_sigmoid": -0.05},
                             diverge={"cross_entropy": 0.0, "bce_ovr": 0.0, "mse_sigmoid": 0.1},
                             unstable={"cross_entropy": 0.0, "bce_ovr": 0.0, "mse_sigmoid": 0.0}),
                       np.random.default_rng(5))
    return runs


def test_counts_every_stage_and_the_retrained_runs():
    runs = pd.DataFrame([dict(zip(columns.RUN_KEYS, ["d", "ce", "relu", "8", "sgd", False, 1.0, 0.1, s]))
                         for s in range(4)])
    acc = runs.assign(lr=[0.1, 0.3, 0.3, 0.1])                       # two runs retrained at another rate
    t = counts({"runs": runs, "accuracy_runs": acc, "reference_runs": runs.iloc[:3], "tuning_runs": runs,
                "amp": runs.iloc[:2], "probes": runs.iloc[:1]}).set_index("stage")["runs"]
    assert t["retrained for accuracy"] == 2 and t["total"] == 3 + 4 + 4 + 2
    assert t["reduced precision"] == 2 and t["probes"] == 1


def test_pool_lists_each_optimisers_datasets(planted):
    main = planted[planted["dataset"] != "gamma"]
    p = pool(main).set_index("optimizer")
    assert p.loc["sgd", "datasets"] == p.loc["adam", "datasets"] == "alpha, beta"
    assert p.loc["sgd", "runs"] == (main["optimizer"] == "sgd").sum()


def test_mechanism_gives_each_arms_reach_share_beside_the_ratio(planted):
    main = planted[planted["dataset"] != "gamma"]
    claims = claims_table(main, choose(score_rates(main)), resamples=100)
    m = mechanism(claims, main)
    row = m[(m["optimizer"] == "sgd") & (m["dataset"] == POOLED) & (m["activation"] == "all")].iloc[0]
    sgd = main[main["optimizer"] == "sgd"]
    reached = lambda d: (d["status"] == "ok").mean()          # noqa: E731  (planted: ok = reached, not broken)
    assert row["reach_subject"] == pytest.approx(reached(sgd[sgd["loss"] == "mse_sigmoid"]))
    assert row["reach_reference"] == pytest.approx(reached(sgd[sgd["loss"] == "bce_ovr"]))
    assert row["estimate"] > 1.5                                      # planted 2x, misses at the budget
    cell = m[(m["activation"] == "relu") & (m["logit_scale"] == 10.0) & (m["dataset"] == "alpha")
             & (m["optimizer"] == "adam")].iloc[0]
    sub = main[(main["activation"] == "relu") & (main["logit_scale"] == 10.0) & (main["dataset"] == "alpha")
               & (main["optimizer"] == "adam")]
    assert cell["reach_subject"] == pytest.approx(reached(sub[sub["loss"] == "mse_sigmoid"]))


def test_accuracy_per_setting_counts_a_broken_run_at_chance(planted):
    s = accuracy_settings(planted)
    key = s.iloc[0]
    where = np.ones(len(planted), bool)
    for k in ("dataset", "activation", "hidden", "optimizer", "learn_scale", "logit_scale"):
        where &= (planted[k] == key[k]).to_numpy()
    mine = planted[where & (planted["loss"] == key["loss"]).to_numpy()]
    ref = planted[where & (planted["loss"] == "cross_entropy").to_numpy()]
    assert key["difference"] == pytest.approx(mine["test_acc"].mean() - ref["test_acc"].mean())
    assert key["broken"] == pytest.approx((mine["status"] == "diverged").mean()) and key["seeds"] == len(mine)
    summary = accuracy_summary(s)
    everything = summary[(summary["loss"] == "mse_sigmoid") & (summary["dataset"] == "all") & (summary["activation"] == "all")]
    d = s.loc[s["loss"] == "mse_sigmoid", "difference"]
    assert everything["mean"].iloc[0] == pytest.approx(d.mean()) and everything["settings"].iloc[0] == len(d)
    assert everything["share_worse"].iloc[0] == pytest.approx((d < -0.05).mean())


def test_speed_levels_read_the_claims_with_reach_at_each_level():
    keys = dict(dataset="d", activation="relu", hidden="8", learn_scale=False, logit_scale=1.0, lr=0.1)
    runs = pd.DataFrame([dict(keys, loss=l, optimizer="sgd", seed=s) for l in ("cross_entropy", "mse_sigmoid")
                         for s in range(4)])
    levels = pd.concat([runs.assign(level=lv, steps_to_target=pd.array([5, None, 5, 5] * 2, dtype="Int64"),
                                    status=["ok", "not_reached", "ok", "ok"] * 2) for lv in (0.5, 0.95)])
    claims = pd.DataFrame([dict(claim=f"speed_level.{lv:g}.mse_sigmoid_vs_cross_entropy.sgd", dataset=POOLED,
                                subject="mse_sigmoid", reference="cross_entropy", optimizer="sgd", estimate=2.0,
                                setting=f"level {lv:g}")
                           for lv in (0.5, 0.95)]).reindex(columns=columns.CLAIMS)
    t = speed_levels(claims, levels, runs)
    assert sorted(t["level"]) == [0.5, 0.95] and (t["reach_subject"] == 0.75).all()


def test_failures_tally_each_stage_and_all():
    base = dict(zip(columns.RUN_KEYS, ["d", "ce", "relu", "8", "sgd", False, 1.0, 0.1, 0]))
    mk = lambda statuses: pd.DataFrame([dict(base, status=s, nonfinite_step=None, diverged_step=None)  # noqa: E731
                                        for s in statuses])
    broke, tally = failures({"reference_runs": mk(["ok"]), "tuning_runs": mk(["diverged", "nonfinite", "ok"]),
                             "runs": mk(["not_reached", "ok"])})
    assert list(broke["stage"]) == ["tune", "tune"]
    t = tally.set_index("stage")
    assert t.loc["all", "runs"] == 6 and t.loc["tune", "diverged"] == 1 and t.loc["all", "ok"] == 3


def test_init_control_verdicts_follow_the_numbers():
    """bce_ovr starts 3x below cross-entropy's ratio and moves to it at the log prior: inflated and explained;
    mse_sigmoid starts 3x below and stays: inflated, not explained; only the deepest net is kept."""
    rows = []
    for hidden, depth_scale in (("64", 10.0), ("64-64-64", 1.0)):
        for loss, default, prior in (("cross_entropy", 0.3, 0.3), ("bce_ovr", 0.1, 0.31), ("mse_sigmoid", 0.1, 0.1)):
            for seed in range(3):
                rows += [dict(dataset="d", loss=loss, activation="sigmoid", hidden=hidden, logit_scale=1.0, seed=seed,
                              output_bias=b, grad_ratio_init=v * depth_scale, mean_output_error=0.45 if b == "default" else 0.0)
                         for b, v in (("default", default), ("log_prior", prior))]
    t = control_table(pd.DataFrame(rows)).set_index("loss")
    assert set(t["hidden"]) == {"64-64-64"}
    assert t.loc["bce_ovr", "inflated"] and t.loc["bce_ovr", "explained"]
    assert t.loc["mse_sigmoid", "inflated"] and not t.loc["mse_sigmoid", "explained"]
    assert not t.loc["cross_entropy", "inflated"] and t.loc["bce_ovr", "mean_output_error"] == pytest.approx(0.45)
