"""Published results beside ours: ``results/literature.parquet``.

Each entry of :data:`PAPERS` states one published claim in a line, the setting
it was measured in, the row of our claims table (``experiments.analysis.claims``) that
measures the closest thing here, and what the claim predicts for that number:

- ``("below", t)`` / ``("above", t)``: the claim predicts our estimate below / above t;
- ``("within", a, b)``: it predicts the estimate in [a, b] (e.g. "comparable": a small band around 0).

The verdict reads our 95% interval: **agree** when it lies wholly where the claim
predicts, **disagree** when wholly on the other side, **inconclusive** when it
straddles the boundary; **not comparable** when the settings differ in what the
claim is about (said in ``reason``), and **not measured** when the loss or setting
was not swept in this run.

Claims about the same number have bands that exclude each other, so one interval
cannot agree with both: Golik's "worse" is more than 2 points below cross-entropy,
Janocha & Czarnecki's "close" within 2 points of it. (Golik's band was "below 0"
until a review found that both verdicts agreed on the same -0.7 points; it was
moved to exclude Janocha's before the rerun whose numbers the report shows, and
the accuracy verdicts changed selection at the same time.) Each verdict names the rate selection its
number comes from (``selection``, ``experiments.convergence.tuning.SELECTIONS``):
accuracy and calibration verdicts read the runs at the rate of best final
validation accuracy (``tuned_for_acc.*`` claims), not the rate tuned for speed;
speed verdicts read the speed selection; the depth verdict reads initialisation.
"""

from __future__ import annotations

import math

import pandas as pd

from .. import columns
from .claims import pooled_row

PAPERS = [
    dict(paper="Golik, Doetsch & Ney 2013",
         claim="From a random start, squared error on softmax outputs trains to a worse result than cross-entropy "
               "(it can match it when started from a cross-entropy-trained net).",
         their_setting="DNN acoustic models for speech recognition (thousands of tied states), SGD.",
         our_claim="tuned_for_acc.test_acc.mse_softmax_vs_cross_entropy", expect=("below", -0.02),
         our_setting="MSE on softmax minus cross-entropy, test accuracy, every problem of the sweep (random start; "
                     "\"worse\": more than 2 points below, so that it excludes Janocha & Czarnecki's \"close\"; "
                     "worse by less than 2 points is \"close\", not \"worse\")."),
    dict(paper="Glorot & Bengio 2010",
         claim="The quadratic cost has more plateaus than the log-likelihood (cross-entropy) cost: training with it "
               "is slower.",
         their_setting="MLPs of up to 5 hidden layers of 1,000 units on Shapeset-3x2, MNIST, CIFAR-10; SGD.",
         our_claim="speed_ratio.mse_softmax_vs_cross_entropy.sgd", expect=("above", 1.0),
         our_setting="Steps to the target, MSE on softmax over cross-entropy, SGD at tuned rates (ratio)."),
    dict(paper="Glorot & Bengio 2010",
         claim="With the standard initialisation, back-propagated gradients shrink towards the input, yet the "
               "weight gradients stay of roughly the same size across layers.",
         their_setting="tanh MLPs of 5 hidden layers, standard U[-1/sqrt(n), 1/sqrt(n)] initialisation, at the "
                       "start of training; histograms of the weight gradients of each hidden layer.",
         our_claim="depth.rms_ratio_init.mnist1d.tanh.sgd.cross_entropy", expect=("within", 0.5, 2.0),
         selection="none (initialisation)",
         our_setting="5 tanh layers on MNIST-1D, the same initialisation, at step 0: the per-entry RMS of dL/dW "
                     "of layer 1 over that of the last hidden layer, as they compared layers (\"roughly the "
                     "same\": within a factor 2)."),
    dict(paper="Janocha & Czarnecki 2017",
         claim="Squared (L2) loss on softmax outputs is a sound classification objective, reaching accuracy close "
               "to log loss.",
         their_setting="MLPs and a convnet on MNIST and CIFAR-10, Adam; 13 losses compared.",
         our_claim="tuned_for_acc.test_acc.mse_softmax_vs_cross_entropy", expect=("within", -0.02, 0.02),
         our_setting="MSE on softmax minus cross-entropy, test accuracy (\"close\": within 2 points)."),
    dict(paper="Hui & Belkin 2021",
         claim="The square loss on logits (rescaled for many classes) classifies as accurately as cross-entropy "
               "or better.",
         their_setting="Tuned architectures on NLP, speech and vision benchmarks (10 to 1,000+ classes).",
         our_claim="tuned_for_acc.test_acc.mse_logits_vs_cross_entropy", expect=("above", -0.01),
         comparable=False,
         why_not="Their budgets are long (tens to hundreds of epochs), where the square loss catches up late; ours "
                 "are a few epochs, and k = M = 1 tests no rescaling.",
         our_setting="Square loss on logits (k = 1, M = 1) minus cross-entropy, test accuracy (\"as accurate\": "
                     "not more than 1 point worse)."),
    dict(paper="Lin et al. 2017",
         claim="Focal loss lets a dense one-stage detector train despite extreme foreground-background imbalance, "
               "beating cross-entropy.",
         their_setting="RetinaNet on COCO: per-class sigmoid focal loss with alpha = 0.25, ~1:1,000 imbalance.",
         our_claim="tuned_for_acc.test_acc.focal_vs_cross_entropy", expect=("above", 0.0), comparable=False,
         why_not="Our classes are balanced and our focal loss is the softmax form without alpha: few easy "
                 "negatives to down-weight.",
         our_setting="Softmax focal loss (gamma 2) minus cross-entropy, test accuracy, balanced classes."),
    dict(paper="Müller, Kornblith & Hinton 2019",
         claim="Label smoothing improves calibration: a lower expected calibration error than hard targets.",
         their_setting="ResNets and Transformers on CIFAR-100, ImageNet and WMT; ECE with 15 bins.",
         our_claim="tuned_for_acc.test_ece.cross_entropy_ls_vs_cross_entropy", expect=("below", 0.0),
         our_setting="Label-smoothed minus plain cross-entropy, ECE (15 bins) on the test split, before "
                     "temperature scaling (as they compare; after it: Appendix B)."),
]


def _unit(our_claim: str | None) -> tuple[float, str]:
    """(scale, unit) in which a claim's numbers are read: accuracy differences in percentage points."""
    return (100.0, " points") if our_claim and ".test_acc." in our_claim else (1.0, "")


def band(expect: tuple, our_claim: str | None = None) -> str:
    """What a claim predicts for our estimate, in words and in its unit: "below -2 points",
    "within [-2, 2] points", "above 1"."""
    k, unit = _unit(our_claim)
    if expect[0] in ("below", "above"):
        return f"{expect[0]} {k * expect[1]:g}{unit}"
    if expect[0] == "within":
        return f"within [{k * expect[1]:g}, {k * expect[2]:g}]{unit}"
    raise ValueError(f"unknown expectation {expect!r}")


def selection(our_claim: str) -> str:
    """The rate selection behind a claim id: ``accuracy`` for ``tuned_for_acc.*``, ``speed`` for the others
    measured at tuned rates."""
    return "accuracy" if our_claim.startswith("tuned_for_acc.") else "speed"


def verdict(expect: tuple, lo: float, hi: float, our_claim: str | None = None) -> tuple[str, str]:
    """(verdict, why) of an interval [lo, hi] against what a claim predicts (words in the claim's unit)."""
    kind, where = expect[0], band(expect, our_claim)
    k, unit = _unit(our_claim)
    shown = f"[{k * lo:.3g}, {k * hi:.3g}]{unit}"
    if kind in ("below", "above"):
        t = expect[1]
        inside, outside = (hi < t, lo > t) if kind == "below" else (lo > t, hi < t)
    else:
        a, b = expect[1:]
        inside, outside = a <= lo and hi <= b, hi < a or lo > b
    if inside:
        return "agree", f"the whole 95% interval {shown} lies inside the band ({where}), as the claim predicts"
    if outside:
        side = ("above" if lo > expect[1] else "below") if kind in ("below", "above") else \
            ("below" if hi < expect[1] else "above")
        return "disagree", f"the whole 95% interval {shown} lies {side} the band ({where})"
    return "inconclusive", f"the 95% interval {shown} reaches both inside and outside the band ({where})"


def short_reason(row: pd.Series) -> str:
    """A verdict's reason in a few words for the report's main table: where the interval lies against the
    band, or why the settings are not comparable (the full ``reason`` has the numbers)."""
    reason = str(row["reason"])
    for key, short in (("lies inside", "interval inside the band"), ("lies above", "interval above the band"),
                       ("lies below", "interval below the band"), ("reaches both", "interval across the band's edge")):
        if key in reason and row["verdict"] != "not comparable":
            return short
    return reason.split(" (Our measurement:")[0]


def literature_table(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per entry of :data:`PAPERS` (``columns.LITERATURE``), our number from ``claims``."""
    rows = []
    for p in PAPERS:
        row = {k: p[k] for k in ("paper", "claim", "their_setting", "our_claim", "our_setting")}
        row.update(selection=p.get("selection", selection(p["our_claim"])), band=band(p["expect"], p["our_claim"]))
        c = pooled_row(claims, p["our_claim"])
        if c is None:
            row.update(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, verdict="not measured",
                       reason="the loss or setting it needs was not swept in this run")
        else:
            row.update(estimate=float(c["estimate"]), ci_low=float(c["ci_low"]), ci_high=float(c["ci_high"]))
            v, why = verdict(p["expect"], row["ci_low"], row["ci_high"], p["our_claim"])
            if math.isnan(row["ci_low"]):
                v, why = "inconclusive", "no interval: too few seeds (experiments.analysis.stats.MIN_SEEDS)"
            if not p.get("comparable", True):
                v, why = "not comparable", p["why_not"] + f" (Our measurement: {why}.)"
            row.update(verdict=v, reason=why)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns.LITERATURE)
