"""The report's computed sentences: right numbers from small hand-made tables, one line when data are absent."""
import numpy as np
import pandas as pd
import pytest

from experiments import findings, tables
from experiments.gradients import logit_gradients



def test_convergence_finding_reads_the_claims_table():
    claims = pd.DataFrame({"claim": ["tuning.at_edge", "best_loss.sgd", "best_loss.adam"],
                           "statement": ["edge", "Under SGD, X was fastest.", "Under Adam, Y was fastest."]})
    assert findings.convergence_finding(claims) == "Under SGD, X was fastest. Under Adam, Y was fastest."
    assert findings.claim(claims, "tuning.at_edge") == "edge" and findings.claim(claims, "nope") is None
    none = findings.convergence_finding(claims.iloc[:1])
    assert none.startswith("*No comparison of losses in this run")


def thresholds(rows):
    base = dict(autocast=False, axis="gap", num_classes=10, measured_threshold=np.nan, predicted_threshold=1.0,
                agrees=True)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_pick_threshold_prefers_the_lectures_setting_then_the_nearest():
    t = thresholds([dict(implementation="log_softmax_naive", dtype="float64", measured_threshold=700),
                    dict(implementation="log_softmax_naive", dtype="float32", num_classes=100, measured_threshold=80),
                    dict(implementation="log_softmax_naive", dtype="float32", num_classes=10, autocast=True),
                    dict(implementation="log_softmax_naive", dtype="float32", num_classes=2, measured_threshold=88)])
    assert findings.pick_threshold(t, "log_softmax_naive")["measured_threshold"] == 88   # 10/2 < 100/10
    assert findings.pick_threshold(t, "cross_entropy") is None
    only64 = t.iloc[[0]]
    assert findings.pick_threshold(only64, "log_softmax_naive")["dtype"] == "float64"


def test_overflow_finding_names_its_setting_and_survives_missing_implementations():
    t = thresholds([dict(implementation="log_softmax_naive", dtype="float16", num_classes=2, measured_threshold=11.1,
                         predicted_threshold=11.09),
                    dict(implementation="cross_entropy", dtype="float32"),
                    dict(implementation="cross_entropy", dtype="float64", agrees=False)])
    text = findings.overflow_finding(t)
    assert text.startswith("`log_softmax_naive` gave its first non-finite value at 11.1 (float16, 2 classes, gap axis)")
    assert "predicts 11.09" in text and "broke in 0 of 2 float32/float64 settings" in text
    assert text.endswith("agree in 2 of 3 settings.")
    nothing = findings.overflow_finding(thresholds([dict(implementation="mse_softmax", dtype="float16")]))
    assert nothing.startswith("*No naive or fused implementation")


def test_gradient_and_failure_and_lecture_findings():
    grads = logit_gradients()
    runs = pd.DataFrame({"loss": ["mse_sigmoid"] * 3 + ["cross_entropy"], "activation": ["sigmoid"] * 4,
                         "final_saturated_frac": [0.1, 0.2, np.nan, 0.0],
                         "status": ["ok", "diverged", "nonfinite", "not_reached"]})
    g = findings.gradient_finding(grads, runs)
    assert "-9.1e-06, against -1.00" in g and "was 0.15 (95% CI [0.1, 0.2], 2 runs)" in g
    assert "In training" not in findings.gradient_finding(grads, runs[runs["loss"] == "cross_entropy"])
    f = findings.failure_finding(runs, 10)
    assert f.startswith("Of 4 runs, **1** produced NaN/inf, **1** diverged (training loss above 10× its start), "
                        "**1** finished without reaching the target accuracy and 1 reached it")
    staged = findings.failure_finding(runs.assign(stage=["tune", "tune", "tune", "evaluate"]), 10)
    assert staged.startswith("Of 4 runs (3 tune, 1 evaluate), **1** produced NaN/inf")
    ex = pd.DataFrame({"matches": [True, False, None], "comparable": [True, True, False]})
    assert findings.lecture_finding(ex).startswith("**1 of 2** of the lecture's numbers")


@pytest.mark.parametrize("optimizers,learn,scales,expected", [
    (["adam", "sgd"], [False, True], [0.1, 1.0, 10.0], {"optimizer": "sgd", "logit_scale": 1.0, "learn_scale": False}),
    (["adam"], [True], [0.1, 100.0], {"optimizer": "adam", "logit_scale": 0.1, "learn_scale": True}),
    (["sgd"], [False], [3.0, 0.5], {"optimizer": "sgd", "logit_scale": 0.5, "learn_scale": False}),
])
def test_shown_setting_is_one_that_was_swept(optimizers, learn, scales, expected):
    runs = pd.DataFrame([{"optimizer": o, "learn_scale": ls, "logit_scale": s}
                         for o in optimizers for ls in learn for s in scales])
    setting = tables.shown_setting(runs)
    assert setting == expected
    assert len(tables.in_setting(runs, setting)) == 1
