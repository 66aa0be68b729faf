"""The output-saturation table on planted curves: exact counts, medians and shares, unbalanced runs."""
import numpy as np
import pandas as pd
import pytest

from experiments.analysis.saturation import stuck_table


def _curves():
    """mse_sigmoid: 3 runs under SGD, stuck share rising to 0.30 / 0.20 / 0.10 at the end (errors 0.4 each);
    one of them broke at step 5 (its curve stops there, at its peak 0.5). cross_entropy: 2 runs, no stuck
    example at the end. hinge (no output non-linearity): NaN, left out. A run not in ``runs`` is left out."""
    base = dict(dataset="d", activation="relu", hidden="8", optimizer="sgd", learn_scale=False, logit_scale=1.0,
                lr=0.1)
    rows = []
    for seed, (end, steps) in enumerate([(0.30, 10), (0.20, 10), (0.10, 5)]):
        for step in range(0, steps + 1, 5):
            stuck = {0: 0.05, 5: 0.5 if steps == 5 else 0.15, 10: end}[step]
            if steps == 5 and step == 5:
                stuck = 0.5
            rows.append(dict(base, loss="mse_sigmoid", seed=seed, step=step, stuck_wrong_frac=stuck, train_acc=0.6))
    for seed in range(2):
        rows += [dict(base, loss="cross_entropy", seed=seed, step=s, stuck_wrong_frac=v, train_acc=a)
                 for s, v, a in [(0, 0.1, 0.1), (10, 0.0, 0.9)]]
    rows += [dict(base, loss="hinge", seed=0, step=s, stuck_wrong_frac=np.nan, train_acc=0.9) for s in (0, 10)]
    rows += [dict(base, loss="cross_entropy", seed=7, step=0, stuck_wrong_frac=0.9, train_acc=0.1)]
    curves = pd.DataFrame(rows)
    runs = curves[curves["seed"] != 7].drop_duplicates(["loss", "seed"])
    return runs, curves


def test_stuck_table_on_planted_curves():
    runs, curves = _curves()
    t = stuck_table(runs, curves).set_index("loss")
    assert list(t.index) == ["cross_entropy", "mse_sigmoid"]                  # hinge has no such output
    ms = t.loc["mse_sigmoid"]
    assert ms["runs"] == 3 and ms["stuck_end"] == pytest.approx(0.3)          # ends 0.30, 0.20 and 0.5 (broke)
    assert ms["stuck_peak"] == pytest.approx(0.3)                             # peaks 0.30, 0.20, 0.5
    assert ms["stuck_of_errors"] == pytest.approx((0.3 + 0.2 + 0.5) / (3 * 0.4))
    assert ms["stuck_end_low"] <= 0.3 <= ms["stuck_end_high"]
    ce = t.loc["cross_entropy"]
    assert ce["runs"] == 2 and ce["stuck_end"] == 0 and ce["stuck_of_errors"] == 0     # seed 7 not a run
    assert ce["error_end"] == pytest.approx(0.1)


def test_stuck_table_without_the_column_is_empty():
    runs, curves = _curves()
    assert stuck_table(runs, curves.assign(stuck_wrong_frac=np.nan)).empty
