"""The stuck shares on planted curves: exact counts, shares and peaks per scope, unbalanced runs, every
threshold."""
import numpy as np
import pandas as pd
import pytest

from experiments.analysis.saturation import per_run, stuck_shares


def _curves():
    """mse_sigmoid: 3 runs under SGD, stuck share rising to 0.30 / 0.20 / 0.10 at the end (errors 0.4 each);
    one of them broke at step 5 (its curve stops there, at its peak 0.5); the strict threshold counts half
    as many, the loose one twice. cross_entropy: 2 runs, no stuck example at the end. hinge (no output
    non-linearity): NaN, left out. A run not in ``runs`` is left out. One mse_sigmoid run at logit scale 10."""
    base = dict(dataset="d", activation="relu", hidden="8", optimizer="sgd", learn_scale=False, logit_scale=1.0,
                lr=0.1, steps=10)
    rows = []
    for seed, (end, steps) in enumerate([(0.30, 10), (0.20, 10), (0.10, 5)]):
        for step in range(0, steps + 1, 5):
            stuck = {0: 0.05, 5: 0.5 if steps == 5 else 0.15, 10: end}[step]
            rows.append(dict(base, loss="mse_sigmoid", seed=seed, step=step, stuck_wrong_frac=stuck,
                             stuck_wrong_frac_strict=stuck / 2, stuck_wrong_frac_loose=stuck * 2, train_acc=0.6))
    rows += [dict(r, seed=9, logit_scale=10.0, stuck_wrong_frac=0.4) for r in rows[:3]]
    for seed in range(2):
        rows += [dict(base, loss="cross_entropy", seed=seed, step=s, stuck_wrong_frac=v, stuck_wrong_frac_strict=v,
                      stuck_wrong_frac_loose=v, train_acc=a) for s, v, a in [(0, 0.1, 0.1), (10, 0.0, 0.9)]]
    rows += [dict(base, loss="hinge", seed=0, step=s, stuck_wrong_frac=np.nan, train_acc=0.9) for s in (0, 10)]
    rows += [dict(base, loss="cross_entropy", seed=7, step=0, stuck_wrong_frac=0.9, train_acc=0.1)]
    curves = pd.DataFrame(rows)
    runs = curves[curves["seed"] != 7].drop_duplicates(["loss", "seed", "logit_scale"])
    return runs, curves.drop(columns="steps")


def test_stuck_shares_on_planted_curves():
    runs, curves = _curves()
    t = stuck_shares(runs, curves)
    every = t[t["scope"] == "every setting"].set_index("loss")
    assert list(every.index) == ["cross_entropy", "mse_sigmoid"]               # hinge has no such output
    ms = every.loc["mse_sigmoid"]
    assert ms["runs"] == 4                                                    # seeds 0-2 and the scale-10 run
    assert ms["stuck_end"] == pytest.approx(0.35)                             # the median of 0.30, 0.20, 0.5 (broke), 0.4
    assert ms["stuck_of_errors"] == pytest.approx((0.3 + 0.2 + 0.5 + 0.4) / (4 * 0.4))
    assert ms["stuck_of_errors_strict"] == pytest.approx((0.15 + 0.1 + 0.25 + 0.15) / (4 * 0.4))
    assert ms["stuck_of_errors_loose"] == pytest.approx((0.6 + 0.4 + 1.0 + 0.6) / (4 * 0.4))
    ce = every.loc["cross_entropy"]
    assert ce["runs"] == 2 and ce["stuck_end"] == 0 and ce["stuck_of_errors"] == 0     # seed 7 not a run
    assert ce["error_end"] == pytest.approx(0.1)
    scales = t[(t["scope"] == "logit scale") & (t["loss"] == "mse_sigmoid")].set_index("logit_scale")
    assert scales.loc[1.0, "runs"] == 3 and scales.loc[10.0, "stuck_of_errors"] == pytest.approx(1.0)
    settings = t[t["scope"] == "setting"]
    assert set(settings["dataset"]) == {"d"} and set(settings["activation"]) == {"relu"}


def test_the_peak_and_when_it_came():
    runs, curves = _curves()
    r = per_run(runs, curves).set_index(["loss", "seed", "logit_scale"])
    assert r.loc[("mse_sigmoid", 2, 1.0), "stuck_peak"] == pytest.approx(0.5)          # at step 5 of 10, where it broke
    assert r.loc[("mse_sigmoid", 2, 1.0), "peak_step_share"] == pytest.approx(0.5)
    assert r.loc[("mse_sigmoid", 0, 1.0), "peak_step_share"] == pytest.approx(1.0)     # 0.30 at the end
    assert r.loc[("cross_entropy", 0, 1.0), "peak_step_share"] == 0.0


def test_stuck_shares_without_the_column_are_empty():
    runs, curves = _curves()
    assert stuck_shares(runs, curves.assign(stuck_wrong_frac=np.nan)).empty
