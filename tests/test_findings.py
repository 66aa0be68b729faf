"""The report's computed sentences: right numbers from small hand-made tables, one line when data are absent."""
import itertools

import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.analysis.summary import in_setting, shown_setting
from experiments.report import findings, wording

from experiments.convergence.gradients import logit_gradients


def claim_rows(*rows) -> pd.DataFrame:
    """Claims-table rows with the columns a row of kind ``ratio`` would have."""
    base = dict(dataset="all", family="speed_ratio.sgd", kind="ratio", reference="cross_entropy", optimizer="sgd",
                metric="steps_to_target", null_value=1.0, n=12, seeds=10, test="seed bootstrap")
    return pd.DataFrame([{**base, **r} for r in rows]).reindex(columns=columns.CLAIMS)


def test_convergence_finding_says_faster_and_slower_alike():
    claims = claim_rows(
        dict(claim="speed_ratio.mse_sigmoid_vs_cross_entropy.sgd", subject="mse_sigmoid", estimate=1.7, ci_low=1.4,
             ci_high=2.1, p_value=0.001, p_adjusted=0.003),
        dict(claim="speed_ratio.hinge_vs_cross_entropy.sgd", subject="hinge", estimate=0.88, ci_low=0.7,
             ci_high=0.95, p_value=0.01, p_adjusted=0.02),
        dict(claim="speed_ratio.focal_vs_cross_entropy.sgd", subject="focal", estimate=1.1, ci_low=0.9,
             ci_high=1.3, p_value=0.3, p_adjusted=0.3),
        dict(claim="speed_ratio.bce_ovr_vs_cross_entropy.sgd", subject="bce_ovr", estimate=1.2, ci_low=1.01,
             ci_high=1.5, p_value=0.04, p_adjusted=0.08, dataset="digits"))
    text = findings.convergence_finding(claims)
    assert "slower than cross-entropy: MSE on sigmoid 1.7× [1.4, 2.1]" in text
    assert "faster than cross-entropy: multi-class hinge 0.88× [0.7, 0.95]" in text
    assert "not resolved after Holm: focal 1.1× [0.9, 1.3]" in text and "binary" not in text   # pooled only
    assert "Under Adam" not in text
    assert findings.claim(claims, "speed_ratio.hinge_vs_cross_entropy.sgd").startswith(
        "Under SGD pooled over the datasets, multi-class hinge needed **0.88×** the steps of cross-entropy")
    assert findings.claim(claims, "nope") is None
    one = wording.sentence(claims.iloc[3])
    assert "on digits" in one and "resolved, but not after Holm" in one
    none = findings.convergence_finding(claims.iloc[:0])
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
    assert text.startswith("`log(softmax(z))` gave its first non-finite value at 11.1 (float16, 2 classes, gap axis)")
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
    assert "-9.1e-06, against -1.00" in g and "was 0.15 (descriptive: 95% interval [0.1, 0.2] over 2 runs)" in g
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
    runs = pd.DataFrame([{"optimizer": o, "learn_scale": ls, "logit_scale": s, "hidden": "64"}
                         for o in optimizers for ls in learn for s in scales])
    # a study's extra architectures (fewer runs) are not the one shown
    runs = pd.concat([runs, runs.iloc[:1].assign(hidden="64-64-64")], ignore_index=True)
    setting = shown_setting(runs)
    assert setting == {**expected, "hidden": "64"}
    assert len(in_setting(runs, setting)) == 1


def test_depth_calibration_and_mnist1d_findings():
    depth = pd.DataFrame([dict(dataset="mnist1d", activation=act, optimizer="sgd", loss=loss, depth=5, runs=10,
                               grad_ratio_init=r, grad_ratio_init_low=r / 2, grad_ratio_init_high=r * 2,
                               grad_ratio_end=r, grad_ratio_end_low=r / 2, grad_ratio_end_high=r * 2,
                               saturated_end=0.0)
                          for act, r in [("sigmoid", 1e-4), ("tanh", 0.5)]
                          for loss in ["cross_entropy", "mse_sigmoid"]])
    text = findings.depth_finding(pd.DataFrame(columns=["claim", "statement"]), depth)
    assert "With 5 hidden layers on mnist1d" in text and "sigmoid **0.0001×**" in text and "tanh **0.5×**" in text
    assert f"(1/(4√3)) to the power 5 ≈ {(1 / (4 * 3 ** 0.5)) ** 5:.1e}" in text and "6.3e-05" in text
    assert findings.depth_finding(None, depth.iloc[:0]).startswith("*No depth comparison")
    cal = pd.DataFrame([dict(loss="focal", problems=4, test_ece=0.02, test_ece_low=0.01, test_ece_high=0.03),
                        dict(loss="cross_entropy", problems=4, test_ece=0.05, test_ece_low=0.04, test_ece_high=0.06)])
    claims = claim_rows(dict(claim="tuned_for_acc.test_ece.focal_vs_cross_entropy", subject="focal", kind="difference",
                             metric="test_ece", estimate=-0.03, ci_low=-0.05, ci_high=-0.01, null_value=0.0,
                             p_value=0.001, p_adjusted=0.004, family="tuned_for_acc.test_ece", dataset="digits"))
    text = findings.calibration_finding(claims, cal)
    assert text.startswith("Expected calibration error on the test split, cross_entropy: 0.050")
    assert "Lowest" not in text and "best" not in text          # no loss picked among all, untested
    assert "focal: digits **-0.030**" in text                   # per dataset, before the pooled value
    # chosen on validation: the 3-layer net wins there, though the 1-layer one tests better
    runs = pd.DataFrame([dict(dataset="mnist1d", loss="cross_entropy", activation="relu", hidden=h, optimizer="sgd",
                              learn_scale=False, logit_scale=1.0, seed=s, test_acc=acc + 0.01 * s, final_val_acc=val,
                              steps=400, batch_size=64)
                         for h, acc, val in [("64", 0.5, 0.4), ("64-64-64", 0.4, 0.45)] for s in range(3)])
    text = findings.mnist1d_finding(runs)
    assert "hidden layers 64-64-64," in text and "**41.0%**" in text and "**68%**" in text
    assert "Our budget is 23 times shorter than the paper's (6.4 epochs" in text           # 600,000 / 25,600
    full = findings.mnist1d_finding(runs.assign(steps=3000, batch_size=100))
    assert "The budget is 75 epochs of the paper's 4,000 training signals, 0.5 of the paper's" in full
    assert findings.mnist1d_finding(runs.assign(dataset="digits")).startswith("*No MNIST-1D result")


def test_matched_rate_finding_lists_each_loss():
    claims = claim_rows(
        dict(claim="effective_rate.mse_sigmoid_vs_cross_entropy", subject="mse_sigmoid", estimate=1.6, ci_low=1.4,
             ci_high=2.1, n=6, seeds=3),
        dict(claim="effective_rate.focal_vs_cross_entropy", subject="focal", estimate=0.99, ci_low=np.nan,
             ci_high=np.nan, n=8, seeds=3),
        dict(claim="speed_ratio.focal_vs_cross_entropy.sgd", subject="focal", estimate=1.0, n=8))
    text = findings.matched_rate_finding(claims)
    assert "focal 0.99× (8 problems); mse_sigmoid 1.6× ([1.4, 2.1], 6 problems)" in text
    assert "3 tuning seeds are too few for an interval" in text
    assert findings.matched_rate_finding(claims.iloc[2:]).startswith("*No comparison at equal effective rate")


def test_abstract_answers_first_with_intervals_in_at_most_150_words():
    """The abstract's first sentence names MSE with its ratio and interval under each optimiser swept; a
    loss faster than cross-entropy is named; the overflow sentence reads the gap axis only and says "loss
    or gradient"; 150 words at most, with every loss and format present."""
    rows = [dict(claim=f"speed_ratio.{loss}_vs_cross_entropy.{opt}", subject=loss, optimizer=opt,
                 family=f"speed_ratio.{opt}", estimate=est, ci_low=est * 0.9, ci_high=est * 1.2,
                 p_value=0.001, p_adjusted=0.004)
            for opt in ("sgd", "adam") for loss, est in [("mse_sigmoid", 1.7), ("hinge", 0.8), ("focal", 1.3),
                                                         ("mse_softmax", 2.1), ("bce_ovr", 1.2), ("squared_hinge", 1.5),
                                                         ("mse_logits", 3.0), ("cross_entropy_ls", 1.05)]]
    rows.append(dict(claim="tuned_for_acc.test_acc.mse_sigmoid_vs_cross_entropy", subject="mse_sigmoid",
                     family="tuned_for_acc.test_acc",
                     kind="difference", metric="test_acc", optimizer=None, estimate=-0.016, ci_low=-0.021,
                     ci_high=-0.01, p_value=0.001, p_adjusted=0.004))
    claims = claim_rows(*rows)
    thresholds = pd.DataFrame([dict(implementation=i, dtype=d, axis=a, num_classes=10, autocast=False, agrees=True,
                                    measured_threshold=v if i == "log_softmax_naive" else np.nan)
                               for i in ("log_softmax_naive", "cross_entropy") for a in ("gap", "lecture")
                               for d, v in [("float16", 8.91), ("bfloat16", 86.8), ("float32", 86.6), ("float64", 708.0)]])
    text = wording.abstract(claims, thresholds, 14_652, ["digits", "gaussian_mixture"], {"sgd": 0.62, "adam": 0.81})
    first = text.split(". ")[0]
    assert "MSE on sigmoid" in first and "1.70× as many steps as cross-entropy under SGD (95% CI [1.53, 2.04])" in first
    assert "2.04])" in first and "under Adam" in first and "−1.6 points (95% CI [−2.1, −1.0])" in text
    assert "faster: multi-class hinge (SGD), multi-class hinge (Adam)" in text
    assert "`log(softmax(z))` first gave a non-finite loss or gradient at a logit gap of 8.91 (float16)" in text
    assert "F.cross_entropy stayed finite there" in text
    assert "(the lecture's explanation) fit: 62% (SGD) and 81% (Adam) of its last errors" in text
    assert len(text.split()) <= 150, len(text.split())

    # the words follow the numbers: a ratio not resolved is not "because it learns slower", a small stuck
    # share is not "fits", a threshold that disagrees with IEEE-754 is not "as IEEE-754 predicts"
    unresolved = claims.assign(p_adjusted=0.5)
    text = wording.abstract(unresolved, thresholds.assign(agrees=False), 100, ["digits"], {"sgd": 0.05}, level=0.8)
    assert text.startswith("To reach the same validation accuracy (80% of the way") and "Because" not in text
    assert "do not fit: 5% (SGD)" in text and "not everywhere where IEEE-754 predicts" in text
    assert "fit in part: 30% (SGD)" in wording.abstract(claims, thresholds, 100, ["digits"], {"sgd": 0.3})
    faster = claims.assign(estimate=np.where(claims["family"].str.startswith("speed"), 0.7, claims["estimate"]))
    assert wording.abstract(faster, thresholds, 100, ["digits"]).startswith("Not because it learns slower")


def test_amp_finding_tells_the_format_from_float32():
    """Planted: the naive loss breaks from scale 10 in float16 (float32 only from 100: the format's), from 100
    in bfloat16 (as float32); one seed of two breaking is half; scaler runs are left out; the fused loss
    never breaks."""
    rows = []
    for impl, dtype, scale, seed in itertools.product(["log_softmax_naive", "cross_entropy"],
                                                      ["float32", "float16", "bfloat16"], [1.0, 10.0, 100.0], [0, 1]):
        start = {"float16": 10.0, "bfloat16": 100.0, "float32": 100.0}[dtype]
        bad = impl == "log_softmax_naive" and scale >= start and (seed == 0 or scale == 100.0)
        rows.append(dict(implementation=impl, dtype=dtype, logit_scale=scale, seed=seed, optimizer="sgd",
                         grad_scaler=False, status="nonfinite" if bad else "ok"))
        if dtype == "float16":
            rows.append(dict(rows[-1], grad_scaler=True, status="nonfinite"))       # ignored
    text = findings.amp_finding(pd.DataFrame(rows))
    assert ("`log(softmax(z))` broke from logit scale 10 in float16 (where float32 did not: the format's), from "
            "logit scale 100 in bfloat16 (as in float32, so not the format's doing); the float32 control from 100") in text
    assert "`F.cross_entropy` never stopped at a NaN/inf, in any format" in text


def test_output_saturation_finding_follows_the_numbers():
    """Few stuck errors: "not the lecture's mechanism", and with a larger gap under Adam but no larger
    stuck share there, the Adam gap is called unexplained; most errors stuck and more under Adam: the
    mechanism is at work and consistent with the gap; no speed claims: no sentence about Adam."""
    def table(sgd, adam):
        return pd.DataFrame([dict(optimizer=o, loss=loss, runs=30, stuck_end=0.01, stuck_end_low=0.005,
                                  stuck_end_high=0.02, stuck_peak=0.1, error_end=0.1,
                                  stuck_of_errors=share if loss == "mse_sigmoid" else 0.05)
                             for o, share in (("sgd", sgd), ("adam", adam)) for loss in ("cross_entropy", "mse_sigmoid")])
    claims = claim_rows(*[dict(claim=f"speed_ratio.mse_sigmoid_vs_cross_entropy.{o}", subject="mse_sigmoid",
                               optimizer=o, estimate=e, ci_low=e * 0.9, ci_high=e * 1.1, p_value=0.001,
                               p_adjusted=0.002) for o, e in (("sgd", 1.44), ("adam", 3.6))])
    few = findings.output_saturation_finding(table(0.07, 0.07), claims)
    assert "so its slowness here is not the lecture's mechanism" in few
    assert "larger under Adam (3.6× against 1.44× under SGD), but its stuck share is not larger" in few
    most = findings.output_saturation_finding(table(0.6, 0.8), claims)
    assert "the lecture's mechanism is at work" in most and "consistent with this mechanism" in most
    assert "gap to cross-entropy" not in findings.output_saturation_finding(table(0.6, 0.8))
    part = findings.output_saturation_finding(table(0.3, 0.2), claims)
    assert "accounts for part" in part
    assert findings.output_saturation_finding(table(0.3, 0.2).query("loss != 'mse_sigmoid'")).startswith("*No")
