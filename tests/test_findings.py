"""The report's computed sentences: right numbers from small hand-made tables, one line when data are absent."""
import itertools
import re

import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.analysis.amp import amp_breaks
from experiments.analysis.report_tables import mnist1d
from experiments.analysis.summary import in_setting, shown_setting
from experiments.convergence.facts import loss_facts
from experiments.report import findings, wording


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
    assert "slower than cross-entropy: MSE on sigmoid 1.70× [1.40, 2.10]" in text
    assert "faster than cross-entropy: multi-class hinge 0.880× [0.700, 0.950]" in text
    assert "not resolved after Holm: focal 1.10× [0.900, 1.30]" in text and "binary" not in text   # pooled only
    assert "Under Adam" not in text
    assert findings.claim(claims, "speed_ratio.hinge_vs_cross_entropy.sgd").startswith(
        "Under SGD pooled over the datasets, multi-class hinge needed **0.880×** the steps of cross-entropy")
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
    losses = loss_facts(["mse_sigmoid", "cross_entropy"], 10, {})
    saturation = pd.DataFrame([dict(runs=2, median=0.15, low=0.1, high=0.2)])
    g = findings.gradient_finding(losses, saturation, -10.0)
    assert "-9.1e-06, against -1.00" in g and "was 0.15 (descriptive: 95% interval [0.1, 0.2] over 2 runs)" in g
    assert "In training" not in findings.gradient_finding(losses, saturation.iloc[:0], -10.0)
    counts = pd.DataFrame([dict(stage="tune", nonfinite=1, diverged=1, not_reached=1, ok=0, runs=3),
                           dict(stage="evaluate", nonfinite=0, diverged=0, not_reached=0, ok=1, runs=1),
                           dict(stage="all", nonfinite=1, diverged=1, not_reached=1, ok=1, runs=4)])
    f = findings.failure_finding(counts, 10)
    assert f.startswith("Of 4 runs (3 tune, 1 evaluate), **1** produced NaN/inf, **1** diverged (training loss above "
                        "10× its start), **1** finished without reaching the target accuracy and 1 reached it")
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
                               saturated_end=0.0, sigmoid_bound=(1 / (4 * 3 ** 0.5)) ** 5)
                          for act, r in [("sigmoid", 1e-4), ("tanh", 0.5)]
                          for loss in ["cross_entropy", "mse_sigmoid"]])
    text = findings.depth_finding(pd.DataFrame(columns=["claim", "statement"]), depth)
    assert "With 5 hidden layers on MNIST-1D" in text and "sigmoid **0.0001×**" in text and "tanh **0.5×**" in text
    assert "(1/(4√3)) to the power 5 ≈ 6.3e-05" in text
    assert findings.depth_finding(None, depth.iloc[:0]).startswith("*No depth comparison")
    cal = pd.DataFrame([dict(loss="focal", problems=4, test_ece=0.02, test_ece_low=0.01, test_ece_high=0.03),
                        dict(loss="cross_entropy", problems=4, test_ece=0.05, test_ece_low=0.04, test_ece_high=0.06)])
    claims = claim_rows(dict(claim="tuned_for_acc.test_ece.focal_vs_cross_entropy", subject="focal", kind="difference",
                             metric="test_ece", estimate=-0.03, ci_low=-0.05, ci_high=-0.01, null_value=0.0,
                             p_value=0.001, p_adjusted=0.004, family="tuned_for_acc.test_ece", dataset="digits"))
    text = findings.calibration_finding(claims, cal)
    assert text.startswith("Expected calibration error on the test split, cross-entropy: 0.050 (95% CI [0.040, 0.060]")
    assert "Lowest" not in text and "best" not in text          # no loss picked among all, untested
    assert "focal: digits **-0.030**†" in text                  # per dataset, before the pooled value
    few = findings.calibration_finding(claims, cal.assign(test_ece_low=np.nan, test_ece_high=np.nan))
    assert not re.search(r"\bnan\b", few) and "no interval: fewer than 5 seeds" in few
    # chosen on validation: the 3-layer net wins there, though the 1-layer one tests better
    runs = pd.DataFrame([dict(dataset="mnist1d", loss="cross_entropy", activation="relu", hidden=h, optimizer="sgd",
                              learn_scale=False, logit_scale=1.0, lr=0.1, seed=s, test_acc=acc + 0.01 * s,
                              final_val_acc=val, steps=400, batch_size=64)
                         for h, acc, val in [("64", 0.5, 0.4), ("64-64-64", 0.4, 0.45)] for s in range(5)])
    row = mnist1d(runs)
    assert row["hidden"].iloc[0] == "64-64-64" and row["test_acc"].iloc[0] == pytest.approx(0.42)
    text = findings.mnist1d_finding(row)
    assert "hidden layers 64-64-64," in text and "**42.0%**" in text and "**68%**" in text
    assert "Our budget is 23 times shorter than the paper's (6.4 epochs" in text           # 600,000 / 25,600
    full = findings.mnist1d_finding(mnist1d(runs.assign(steps=3000, batch_size=100)))
    assert "The budget is 75 epochs of the paper's 4,000 training signals, 0.5 of the paper's" in full
    three = findings.mnist1d_finding(mnist1d(runs[runs["seed"] < 3]))
    assert "too few seeds for an interval" in three and not re.search(r"\bnan\b", three)
    assert findings.mnist1d_finding(mnist1d(runs.assign(dataset="digits"))).startswith("*No MNIST-1D result")


def test_matched_rate_finding_lists_each_loss():
    claims = claim_rows(
        dict(claim="effective_rate.mse_sigmoid_vs_cross_entropy", subject="mse_sigmoid", estimate=1.6, ci_low=1.4,
             ci_high=2.1, n=6, seeds=3),
        dict(claim="effective_rate.focal_vs_cross_entropy", subject="focal", estimate=0.99, ci_low=np.nan,
             ci_high=np.nan, n=8, seeds=3),
        dict(claim="speed_ratio.focal_vs_cross_entropy.sgd", subject="focal", estimate=1.0, n=8))
    text = findings.matched_rate_finding(claims)
    assert "focal 0.990× (8 settings); MSE on sigmoid 1.60× ([1.40, 2.10], 6 settings)" in text
    assert "3 tuning seeds are too few for an interval" in text
    assert findings.matched_rate_finding(claims.iloc[2:]).startswith("*No comparison at equal effective rate")


def _abstract_claims(speed=1.7, acc=-0.09, p_adjusted=0.004):
    rows = [dict(claim=f"speed_ratio.{loss}_vs_cross_entropy.{opt}", subject=loss, optimizer=opt,
                 family=f"speed_ratio.{opt}", estimate=est, ci_low=est * 0.9, ci_high=est * 1.2,
                 p_value=0.001, p_adjusted=p_adjusted)
            for opt in ("sgd", "adam") for loss, est in [("mse_sigmoid", speed), ("hinge", 0.8), ("bce_ovr", 1.2)]]
    rows += [dict(claim=f"reach_fraction.{loss}.{opt}", subject=loss, optimizer=opt, family="reach", kind="share",
                  metric="reached", estimate=share, null_value=np.nan, p_value=np.nan, p_adjusted=np.nan)
             for opt in ("sgd", "adam") for loss, share in (("mse_sigmoid", 0.6), ("cross_entropy", 0.9))]
    rows += [dict(claim=f"mechanism.mse_sigmoid_vs_bce_ovr.{opt}", subject="mse_sigmoid", reference="bce_ovr",
                  optimizer=opt, family=f"mechanism.{opt}", estimate=e, ci_low=e * 0.95, ci_high=e * 1.1,
                  p_value=0.001, p_adjusted=0.004) for opt, e in (("sgd", 1.28), ("adam", 2.16))]
    common = dict(subject="mse_sigmoid", kind="difference", metric="test_acc", optimizer=None, null_value=0.0)
    rows += [dict(common, claim="tuned_for_acc.test_acc_mean.mse_sigmoid_vs_cross_entropy", family="tuned_for_acc.test_acc_mean",
                  estimate=acc, ci_low=acc - 0.01, ci_high=acc + 0.02, p_value=0.001, p_adjusted=0.004),
             dict(common, claim="tuned_for_acc.test_acc.mse_sigmoid_vs_cross_entropy", family="tuned_for_acc.test_acc",
                  estimate=-0.016, ci_low=-0.021, ci_high=-0.01, p_value=np.nan, p_adjusted=np.nan),
             dict(common, claim="tuned_for_acc.test_acc_worse.mse_sigmoid_vs_cross_entropy", kind="share",
                  family="tuned_for_acc.test_acc_worse", estimate=0.46, ci_low=0.3, ci_high=0.5, p_value=np.nan,
                  p_adjusted=np.nan)]
    return claim_rows(*rows)


ABSTRACT_THRESHOLDS = pd.DataFrame([dict(implementation=i, dtype=d, axis=a, num_classes=10, autocast=False, agrees=True,
                                         measured_threshold=v if i == "log_softmax_naive" else np.nan)
                                    for i in ("log_softmax_naive", "cross_entropy") for a in ("gap", "lecture")
                                    for d, v in [("float16", 8.91), ("bfloat16", 86.8), ("float32", 86.6),
                                                 ("float64", 708.0)]])
COUNTS = pd.DataFrame({"stage": ["total"], "runs": [17_535]})
POOL = pd.DataFrame([dict(optimizer=o, datasets="digits, gaussian_mixture") for o in ("adam", "sgd")])


def test_abstract_answers_first_with_intervals_in_at_most_180_words():
    """The abstract's first sentence answers with MSE's speed ratio and interval under each optimiser and the
    reach shares; then accuracy as a distribution (the mean with its interval, the share of settings 5 points
    worse, the median), the mechanism by its contrast against binary CE, the overflow, what was run: no ∞,
    no "nan", 180 words at most (the claims' sentences give the detail)."""
    text = wording.abstract(_abstract_claims(), COUNTS, POOL, ABSTRACT_THRESHOLDS, 10)
    first = text.split(". ")[0]
    assert first.startswith("MSE on sigmoid learned slower than cross-entropy")
    assert "1.70× the steps under SGD (95% CI 1.53 to 2.04)" in first and "under Adam (1.53 to 2.04)" in first
    assert "reached the target in 60% and 60% of runs against 90% and 90%" in first
    assert "9.0 points lower on average (7.0 to 10.0)" in text
    assert "more than 5 points lower in 46% of settings; the median setting −1.6" in text
    assert "Against binary CE, one-vs-rest on the same sigmoid outputs" in text and "1.28× the steps under SGD" in text
    assert "a logit gap of 8.91 (float16) to 708 (float64) with 10 classes, as IEEE-754 predicts" in text
    assert "17,535 MLPs trained; the numbers above pool digits and Gaussian mixture." in text
    # the pool, not everything trained: a study's extra data is pointed to; pools that differ are said per optimiser
    wider = POOL.assign(datasets=["digits, gaussian_mixture", "digits, gaussian_mixture, mnist1d"])
    assert "pool digits and Gaussian mixture (the studies' other data: Setup)." in wording.abstract(
        _abstract_claims(), COUNTS, POOL, ABSTRACT_THRESHOLDS, 10, coverage=wider)
    assert ("pool digits, Gaussian mixture and MNIST-1D under SGD; digits and Gaussian mixture under Adam." in
            wording.abstract(_abstract_claims(), COUNTS, wider, ABSTRACT_THRESHOLDS, 10)), \
        wording.abstract(_abstract_claims(), COUNTS, wider, ABSTRACT_THRESHOLDS, 10)[-200:]
    assert "∞" not in text and not re.search(r"\bnan\b", text)
    assert "whose gradient lacks only the factor s(1 − s)" in text
    assert len(text.split()) <= 180, len(text.split())

    # the words follow the numbers: a ratio not resolved is not "learned slower", an accuracy interval across 0
    # is said signed, too few seeds are said first, a threshold that disagrees is not "as IEEE-754 predicts"
    unresolved = wording.abstract(_abstract_claims(p_adjusted=0.5, acc=-0.005), COUNTS, POOL,
                                  ABSTRACT_THRESHOLDS.assign(agrees=False), 10)
    assert "no difference in speed resolved" in unresolved and "learned slower" not in unresolved
    assert "(−1.5 to +1.5)" in unresolved and "not everywhere where IEEE-754 predicts" in unresolved
    few = wording.abstract(_abstract_claims().assign(ci_low=np.nan, ci_high=np.nan, p_value=np.nan, p_adjusted=np.nan),
                           COUNTS, POOL, ABSTRACT_THRESHOLDS, 3)
    assert few.startswith("*With 3 evaluation seeds per dataset, fewer than the 5 an interval needs")
    assert not re.search(r"\bnan\b", few) and "95% CI" not in few
    faster = wording.abstract(_abstract_claims(speed=0.7), COUNTS, POOL, ABSTRACT_THRESHOLDS, 10)
    assert faster.startswith("MSE on sigmoid learned faster than cross-entropy")


def test_a_claim_without_an_interval_says_why_seeds_or_resamples():
    """Too few seeds, or enough seeds but too few resamples on which the statistic is defined (a ratio
    whose arms both sit at the budget on most resamples): each sentence gives its own reason."""
    base = dict(claim="speed_ratio.mse_sigmoid_vs_cross_entropy.sgd", subject="mse_sigmoid", optimizer="sgd",
                estimate=1.5, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, p_adjusted=np.nan)
    few_seeds = claim_rows(dict(base, seeds=3, replicates=0)).iloc[0]
    few_reps = claim_rows(dict(base, seeds=10, replicates=12)).iloc[0]
    assert "no interval: 3 seeds, fewer than the 5 an interval needs" in wording.sentence(few_seeds)
    assert "no interval: only 12 resamples defined the statistic, fewer than the 21 a 5% test needs" in \
        wording.sentence(few_reps)


@pytest.mark.parametrize("lo,hi,null,fmt,want", [
    (1.0004, 1.56, 1.0, "num", ("1.0004", "1.56")),         # 3 figures would print the null: more figures
    (0.9996, 1.2, 1.0, "num", ("0.9996", "1.20")),
    (0.97, 1.0, 1.0, "num", ("0.970", "1.00")),              # an end that is the null prints as it
    (-0.00004, 0.01, 0.0, "points", ("-0.004 points", "+1.0 points")),
    (0.5, 2.0, None, "num", ("0.500", "2.00")),
    (-0.000224, 0.002, 0.0, "signed3", ("-0.0002", "+0.002")),  # fixed decimals: one more decimal
])
def test_an_interval_end_is_never_rounded_onto_the_null(lo, hi, null, fmt, want):
    fmt = (lambda x: f"{x:+.3f}") if fmt == "signed3" else getattr(wording, fmt)
    assert wording.ends(lo, hi, null, fmt) == want


def test_a_ratio_cell_marks_a_lower_bound_and_a_resolved_claim():
    """The table cells of ratio claims say what the sentences say: ≥ where the estimate is a lower bound,
    † where Holm resolves it, no interval end rounded onto 1."""
    row = dict(estimate=1.28, ci_low=1.0004, ci_high=1.56, p_adjusted=0.01, lower_bound=True)
    assert wording.ratio_cell(row) == "≥ 1.28× [1.0004, 1.56]†"
    assert wording.ratio_cell(dict(row, lower_bound=False, p_adjusted=0.2), interval=False) == "1.28×"
    assert wording.ratio_interval(dict(row, ci_low=np.nan)) == "–"


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
    breaks = amp_breaks(pd.DataFrame(rows))
    naive = breaks[breaks["implementation"] == "log_softmax_naive"].set_index("dtype")
    assert naive.loc["float16", "first_break"] == 10 and naive.loc["float16", "formats_doing"]
    assert naive.loc["bfloat16", "first_break"] == 100 and not naive.loc["bfloat16", "formats_doing"]
    text = findings.amp_finding(breaks)
    assert ("`log(softmax(z))` broke from logit scale 10 in float16 (where float32 did not: the format's), from "
            "logit scale 100 in bfloat16 (as in float32, so not the format's doing); the float32 control from 100") in text
    assert "`F.cross_entropy` never stopped at a NaN/inf, in any format" in text


def _mechanism(sgd=(1.28, 1.2, 1.5), adam=(2.16, 2.0, 2.3)):
    rows = []
    for opt, (e, lo, hi) in (("sgd", sgd), ("adam", adam)):
        rows.append(dict(claim=f"mechanism.mse_sigmoid_vs_bce_ovr.{opt}", dataset="all", subject="mse_sigmoid",
                         reference="bce_ovr", optimizer=opt, estimate=e, ci_low=lo, ci_high=hi, setting="",
                         activation="all", logit_scale=np.nan, reach_subject=0.6, reach_reference=0.9,
                         p_adjusted=0.004, censored=False, lower_bound=False))
        for act, f, p in (("sigmoid", 1.6, 0.004), ("relu", 0.9, 0.5)):
            rows.append(dict(rows[0 if opt == "sgd" else 3], claim=f"mechanism.mse_sigmoid_vs_bce_ovr.{opt}.{act}.scale1",
                             estimate=e * f, activation=act, logit_scale=1.0, setting=f"{act} units, logit scale 1",
                             reach_subject=0.0 if act == "sigmoid" else 0.9, p_adjusted=p))
    return pd.DataFrame(rows)


def test_mechanism_finding_reads_the_contrast_and_splits_the_gap():
    """Planted: the contrast pooled per optimiser with reach shares; the largest setting with its stuck share
    (few stuck: the factor costs by its size); the setting Holm does not resolve named; Adam against SGD by its
    own claim; the ratios against cross-entropy beside it, said not to multiply."""
    claims = claim_rows(*[dict(claim=f"{c}.{o}", subject=s, optimizer=o, estimate=e, ci_low=e * 0.9, ci_high=e * 1.1,
                               p_value=0.001, p_adjusted=0.004)
                          for o, (a, b, m) in (("sgd", (1.46, 1.1, 1.28)), ("adam", (2.35, 1.05, 2.16)))
                          for c, s, e in (("speed_ratio.mse_sigmoid_vs_cross_entropy", "mse_sigmoid", a),
                                          ("speed_ratio.bce_ovr_vs_cross_entropy", "bce_ovr", b),
                                          ("mechanism.mse_sigmoid_vs_bce_ovr", "mse_sigmoid", m))],
                        dict(claim="mechanism.adam_over_sgd.mse_sigmoid_vs_bce_ovr", subject="mse_sigmoid",
                             optimizer=None, estimate=1.69, ci_low=1.5, ci_high=1.9, p_value=0.001, p_adjusted=0.004,
                             null_value=1.0))
    stuck = pd.DataFrame([dict(scope="activation and scale", loss="mse_sigmoid", optimizer="adam",
                               activation="sigmoid", logit_scale=1.0, stuck_of_errors=0.04)])
    text = findings.mechanism_finding(claims, _mechanism(), stuck)
    assert "MSE on sigmoid over binary CE, one-vs-rest" in text and "under SGD **1.28×** [1.20, 1.50]" in text
    assert "reaching the target in 60% of runs against 90%" in text
    assert "largest with sigmoid units, logit scale 1 under Adam (3.46×; reached in 0% of runs against 90%)" in text
    assert "4% of its remaining training errors are stuck" in text and "through its size" in text
    assert "Not resolved after Holm: relu units, logit scale 1 under SGD (1.15×); relu units, logit scale 1 " \
           "under Adam (1.94×)." in text
    assert "Adam against SGD on the same settings and seeds. Pooled over the datasets" in text and "1.69" in text
    assert "against cross-entropy sigmoid + MSE needed 1.46× (SGD) and 2.35× (Adam)" in text
    assert "binary CE itself 1.10× (SGD) and 1.05× (Adam)" in text and "do not multiply" in text
    saturated = findings.mechanism_finding(claims, _mechanism(), stuck.assign(stuck_of_errors=0.6))
    assert "60% of its remaining training errors are stuck" in saturated and "through its size" not in saturated
    assert findings.mechanism_finding(claims, _mechanism().iloc[:0]).startswith("*No contrast")


def test_stuck_finding_gives_every_setting_each_threshold_and_the_peak():
    rows = [dict(optimizer="sgd", loss=l, scope="every setting", dataset="all", logit_scale=np.nan, activation="all",
                 runs=240, error_end=0.2, stuck_end=0.02, stuck_of_errors=v, stuck_of_errors_strict=v / 2,
                 stuck_of_errors_loose=min(1, v * 1.5), stuck_peak=0.15, peak_step_share=0.05)
            for l, v in (("mse_sigmoid", 0.39), ("bce_ovr", 0.18), ("cross_entropy", 0.29))]
    rows += [dict(rows[0], scope="logit scale", logit_scale=s, stuck_of_errors=v) for s, v in ((1.0, 0.08), (10.0, 0.57))]
    constants = pd.DataFrame({"name": ["stuck_fraction.stuck_wrong_frac"], "value": [0.1], "meaning": [""]})
    text = findings.stuck_finding(pd.DataFrame(rows), constants)
    assert "**39%** of sigmoid + MSE's training errors at the end were stuck over every setting" in text
    assert "(20% at the strict threshold, 58% at the loose one; 8% at logit scale 1, 57% at logit scale 10)" in text
    assert "against binary CE, one-vs-rest 18% and cross-entropy 29%" in text
    assert "peaked at a median 15.0% of the training examples, 5% of the way through the budget" in text
    assert findings.stuck_finding(pd.DataFrame(rows[1:]), constants).startswith("*No output-saturation")


def test_accuracy_finding_per_dataset_then_pooled_with_activation():
    claims = claim_rows(*[dict(claim=f"tuned_for_acc.{k}.mse_sigmoid_vs_cross_entropy", subject="mse_sigmoid",
                               kind="share" if k.endswith("worse") else "difference", metric="test_acc", dataset=ds,
                               estimate=e, ci_low=e - 0.01, ci_high=e + 0.01, null_value=0.0)
                          for ds in ("digits", "all") for k, e in (("test_acc_mean", -0.09), ("test_acc", -0.016),
                                                                   ("test_acc_worse", 0.46))])
    summary = pd.DataFrame([dict(loss="mse_sigmoid", dataset="all", activation=a, settings=16, mean=m, median=md,
                                 share_worse=w) for a, m, md, w in (("all", -0.09, -0.016, 0.46),
                                                                     ("sigmoid", -0.2, -0.199, 0.9), ("relu", 0.0, 0.0004, 0.1))])
    text = findings.accuracy_finding(claims, summary)
    assert text.index("digits: mean **-9.0 points**") < text.index("pooled: mean **-9.0 points**")
    assert "46% of settings more than 5 points worse, median -1.6 points" in text
    assert "sigmoid units: median -19.9 points, mean -20.0 points, 90% of 16 settings" in text
    assert findings.accuracy_finding(claims.iloc[:0], summary).startswith("*No accuracy comparison")


def test_levels_finding_reads_each_level():
    levels = pd.DataFrame([dict(subject="mse_sigmoid", optimizer=o, level=lv, estimate=e)
                           for o, es in (("sgd", (2.0, 1.46, 1.46)), ("adam", (3.4, 4.8, 2.35)))
                           for lv, e in zip((0.5, 0.8, 0.95), es)])
    text = findings.levels_finding(levels)
    assert "levels 0.5 / 0.8 / 0.95" in text and "under SGD 2.00× / 1.46× / 1.46×; under Adam 3.40× / 4.80× / 2.35×" in text
    assert findings.levels_finding(levels[levels["level"] == 0.95]).startswith("*No speed at more than one")


def test_shares_never_round_to_all_or_none_names_keep_their_case_and_bounds_are_marked():
    """A referee's read found "100%" for 239 of 240 runs, "On gaussian mixture" (str.capitalize lowercases
    the rest) and lower bounds printed bare in the prose."""
    from experiments.report.wording import cap, percent, times
    assert [percent(x) for x in (239 / 240, 1.0, 1 / 240, 0.0, 0.55)] == ["99.6%", "100%", "0.4%", "0%", "55%"]
    assert cap("on Gaussian mixture") == "On Gaussian mixture" and cap("") == ""
    assert times({"estimate": 2.352941, "lower_bound": True}) == "≥ 2.35×"
    assert times({"estimate": 1.4, "lower_bound": False}) == "1.40×"
