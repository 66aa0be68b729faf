"""The claims table on hand-made evaluation runs: schema, estimates, paired tests, ties, 'no difference'."""
import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.convergence.claims import claims_table
from experiments.convergence.tables import summary_table

STEPS = {"cross_entropy": 100, "hinge": 100, "mse_sigmoid": 300}   # hinge ties cross-entropy; MSE 3x slower


def make(problems=6, seeds=5):
    rows, tune = [], []
    for i in range(problems):
        for loss, steps in STEPS.items():
            for scale in (1.0, 10.0):
                key = dict(dataset="d", loss=loss, activation=f"a{i}", hidden="8", optimizer="sgd",
                           learn_scale=False, logit_scale=scale, lr=0.1)
                slow = 2 if scale == 1.0 else 1              # scale 10 is the better one, twice as fast
                for s in range(seeds):
                    rows.append(dict(key, seed=s, steps_to_target=steps * slow, final_val_acc=0.9, status="ok"))
                tune.append(dict(key, median_steps_to_target=steps * slow, median_final_val_acc=0.9, tuning_seeds=2,
                                 chosen=True, at_edge=(i == 0 and loss == "hinge"), round=0))
    runs = pd.DataFrame(rows)
    runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
    return runs, pd.DataFrame(tune)[columns.TUNING]


@pytest.fixture(scope="module")
def claims():
    runs, tuning = make()
    return claims_table(runs, summary_table(runs, tuning), tuning).set_index("claim")


def test_schema_and_every_claim_has_an_interval_around_its_estimate(claims):
    assert list(claims.reset_index().columns) == columns.CLAIMS
    assert claims.index.is_unique
    assert (claims["ci_low"] <= claims["estimate"]).all() and (claims["estimate"] <= claims["ci_high"]).all()
    assert claims["statement"].str.contains("95% CI|of the rates tried").all()


def test_speed_ratio_is_paired_and_tested(claims):
    c = claims.loc["speed_ratio.mse_sigmoid_vs_cross_entropy.sgd"]
    assert c["estimate"] == 3.0 and c["n"] == 12                    # 6 activations x 2 scales, each a problem
    assert c["test"] == "sign test" and c["p_value"] == pytest.approx(2 * 0.5 ** 12)
    assert "needed **3×** the steps of cross-entropy" in c["statement"]
    assert "no difference" not in c["statement"]


def test_best_loss_with_a_tie_says_the_interval_includes_no_difference(claims):
    c = claims.loc["best_loss.sgd"]
    assert c["estimate"] == 1.0 and c["p_value"] == 1.0
    assert "**cross-entropy** and **multi-class hinge** tied for fastest" in c["statement"]
    assert "includes no difference" in c["statement"]
    shares = claims.loc[[f"win_share.{loss}.sgd" for loss in STEPS], "estimate"].to_dict()
    assert shares == {"win_share.cross_entropy.sgd": 0.5, "win_share.hinge.sgd": 0.5, "win_share.mse_sigmoid.sgd": 0.0}


def test_scale_effect_and_reach_and_tuning_edge(claims):
    assert claims.loc["scale_effect.cross_entropy", "estimate"] == 2.0
    assert claims.loc["reach_fraction.mse_sigmoid.sgd", "estimate"] == 1.0
    edge = claims.loc["tuning.at_edge"]
    assert edge["n"] == 36 and edge["estimate"] == pytest.approx(2 / 36)   # hinge, a0, both scales
    assert "**2 of 36**" in edge["statement"]


def test_a_loss_that_never_reaches_is_said_plainly():
    runs, tuning = make(problems=4)
    runs.loc[runs["loss"] == "mse_sigmoid", "steps_to_target"] = pd.NA
    c = claims_table(runs, summary_table(runs, tuning), tuning).set_index("claim")
    s = c.loc["speed_ratio.mse_sigmoid_vs_cross_entropy.sgd"]
    assert s["estimate"] == np.inf and "missed the target on most seeds" in s["statement"]
    assert c.loc["reach_fraction.mse_sigmoid.sgd", "estimate"] == 0.0


def test_test_metric_claims_are_paired_differences_from_cross_entropy():
    """hinge's test accuracy is 0.05 below cross-entropy's on every problem, its ECE 0.02 above on half and
    equal on the rest: the first is resolved, the second's interval reaches 0 and says so."""
    from experiments.convergence.claims import test_metric_claims

    runs, _ = make(problems=8, seeds=2)
    i = runs["activation"].str[1:].astype(int)
    runs["test_acc"] = np.where(runs["loss"] == "hinge", 0.85, 0.9)
    runs["test_ece"] = 0.05 + np.where((runs["loss"] == "hinge") & (i % 2 == 0), 0.02, 0.0)
    runs["test_nll"], runs["test_brier"] = 0.3, 0.2
    got = pd.DataFrame(test_metric_claims(runs)).set_index("claim")
    acc = got.loc["test.test_acc.hinge_vs_cross_entropy"]
    assert acc["estimate"] == pytest.approx(-0.05) and acc["ci_high"] == pytest.approx(-0.05)
    assert acc["n"] == 16                                     # 8 activations x 2 logit scales
    assert "**-5.0%**" in acc["statement"] and "no difference" not in acc["statement"]
    ece = got.loc["test.test_ece.hinge_vs_cross_entropy"]
    assert ece["ci_low"] <= 0 <= ece["ci_high"] and "the interval includes no difference" in ece["statement"]
    assert "test.test_acc.cross_entropy_vs_cross_entropy" not in got.index


def test_depth_claims_read_the_deepest_architecture():
    from experiments.convergence.claims import depth_claims

    base = dict(dataset="d", loss="cross_entropy", activation="sigmoid", optimizer="sgd", learn_scale=False,
                logit_scale=1.0, lr=0.1)
    rows = []
    for hidden, first in [("8", 1.0), ("8-8-8", 0.1)]:
        n = len(hidden.split("-")) + 1
        for seed in range(4):
            for step in (0, 9):
                rows += [dict(base, hidden=hidden, seed=seed, step=step, layer=layer,
                              grad_norm=first if layer == 1 else 1.0, saturated_frac=np.nan) for layer in range(1, n + 1)]
    got = pd.DataFrame(depth_claims(pd.DataFrame(rows))).set_index("claim")
    row = got.loc["depth.grad_ratio_init.d.sigmoid.sgd.cross_entropy"]
    assert row["estimate"] == pytest.approx(0.1) and row["n"] == 4
    assert row["statement"].startswith("3 hidden sigmoid layers on d")
    assert depth_claims(None) == []
