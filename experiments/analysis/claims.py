"""The report's headline numbers, as data: ``results/convergence/claims.parquet`` (numbers only).

One row per claim and dataset (a dataset's name, or ``"all"``: pooled over the datasets, each
dataset's seeds resampled on their own). Every number is measured on the evaluation seeds (the
effective-rate view: on the tuning seeds, which chose nothing there), at rates chosen on the tuning
seeds. Each row carries its estimate, the 95% interval and the test of one bootstrap
(:mod:`experiments.analysis.stats`: the interval excludes ``null_value`` exactly when p < 0.05), the
problems and seeds behind it, its *family* and the Holm-adjusted p-value within that family. The
sentences the report prints are written from these rows in ``experiments.report.wording``.

Kinds (``kind``):

- ``ratio`` (null 1): ``subject``'s steps to the main target over ``reference``'s, per problem the
  ratio of their median steps over seeds (+inf: half or more missed or broke), the median over
  problems where either reached;
- ``difference`` (null 0): ``subject`` minus ``reference`` in a test metric, per problem the
  difference of the means over seeds, the median over problems; ``difference_examples``: the same
  metric paired over test examples (each example's mean over the runs both losses finished), the
  mean over examples, resampling test examples: the uncertainty of a finite test split;
- ``share`` (descriptive): the share of runs that reached the main target;
- ``median`` (null 1): a gradient ratio of the depth study;
- ``census`` (descriptive, exact): how the rate searches ended; ``simulation``: the ECE a perfectly
  calibrated model of a test split's size still shows (its noise floor).

No claim names a "fastest" loss: every loss is compared with cross-entropy, the lecture's baseline,
in one family per optimiser, so a loss faster than cross-entropy is a row like one slower.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import columns
from .depth import depth_sweeps
from .paired import PROBLEM_KEYS
from .stats import (ALPHA, POOLED, RESAMPLES, STATISTICS, Estimate, bootstrap, decide, holm, stable_seed,
                    units)
from .summary import best_scales, steps_or_inf
from .targets import CELL

REFERENCE = "cross_entropy"
# test metrics compared with the reference: column, and whether higher is better
TEST_METRICS = {"test_acc": True, "test_nll": False, "test_brier": False, "test_ece": False,
                "test_nll_ts": False, "test_brier_ts": False, "test_ece_ts": False}   # _ts: temperature-scaled
# per-example test outputs (columns.PREDICTION_LISTS) behind a metric, where it is a mean over examples
EXAMPLE_METRICS = {"test_acc": "correct", "test_nll": "nll", "test_brier": "brier"}
ECE_BINS = 15


def _row(claim: str, dataset: str, family: str, kind: str, e: Estimate | None, *, subject="", reference="",
         optimizer="", metric="", test="", estimate=None, ci=(math.nan, math.nan), n=0, seeds=0) -> dict:
    if e is not None:
        estimate, ci, n, seeds = e.estimate, (e.ci_low, e.ci_high), e.problems, e.seeds
        null, p = e.null_value, e.p_value
    else:
        null, p = math.nan, math.nan
    return dict(claim=claim, dataset=dataset, family=family, kind=kind, subject=subject, reference=reference,
                optimizer=optimizer, metric=metric, estimate=float(estimate), ci_low=float(ci[0]),
                ci_high=float(ci[1]), null_value=float(null), n=int(n), seeds=int(seeds),
                test=test if e is not None and not math.isnan(e.p_value) else "", p_value=float(p),
                p_adjusted=math.nan)


def _rows(claim: str, family: str, kind: str, found: dict[str, Estimate], resamples: int, **what) -> list[dict]:
    """The rows of one claim, per dataset and pooled; none where no problem had a value (e.g. neither loss
    reached the target anywhere: there is no speed to compare)."""
    test = f"seed bootstrap ({resamples:,} resamples; interval and test from the same replicates)"
    return [_row(claim, ds, family, kind, e, test=test, **what) for ds, e in found.items() if e.problems > 0]


def speed_claims(runs: pd.DataFrame, resamples: int = RESAMPLES) -> list[dict]:
    """Per optimiser and loss: its steps to the main target over cross-entropy's, every logit-scale
    setting a problem of its own, per dataset and pooled (family ``speed_ratio.<optimizer>``)."""
    out = []
    d = runs.assign(_t=steps_or_inf(runs))
    problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
    for opt, sub in d.groupby("optimizer", sort=True):
        for loss in sorted(set(sub["loss"]) - {REFERENCE}):
            u = units(sub, "_t", "loss", [loss, REFERENCE], problem)
            claim = f"speed_ratio.{loss}_vs_{REFERENCE}.{opt}"
            out += _rows(claim, f"speed_ratio.{opt}", "ratio",
                         bootstrap(u, "ratio_of_medians", stable_seed(claim), resamples), resamples,
                         subject=loss, reference=REFERENCE, optimizer=opt, metric="steps_to_target")
    return out


def learning(df: pd.DataFrame, targets: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of ``df`` in cells where cross-entropy learns (``targets.learns``); all of them without targets."""
    if targets is None or targets.empty:
        return df
    cells = targets.loc[targets["learns"], CELL].drop_duplicates()
    return df.merge(cells, on=CELL)


def reach_claims(runs: pd.DataFrame, resamples: int = RESAMPLES, targets: pd.DataFrame | None = None) -> list[dict]:
    """Per optimiser and loss: the share of evaluation runs that reached the main target (and did not
    break), per dataset and pooled, in the cells where cross-entropy learns (elsewhere the target is
    chance + 10 points, another quantity)."""
    out = []
    runs = learning(runs, targets)
    d = runs.assign(_r=np.isfinite(steps_or_inf(runs)).astype(float))
    problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
    for (opt, loss), sub in d.groupby(["optimizer", "loss"], sort=True):
        claim = f"reach_fraction.{loss}.{opt}"
        u = units(sub, "_r", "loss", [loss], problem)
        out += _rows(claim, "reach", "share", bootstrap(u, "mean", stable_seed(claim), resamples), resamples,
                     subject=loss, optimizer=opt, metric="reached")
    return out


def scale_claims(runs: pd.DataFrame, tuning: pd.DataFrame, resamples: int = RESAMPLES) -> list[dict]:
    """Per loss: the steps at its worst logit scale over those at its best (both chosen on the tuning
    seeds, both at their tuned rates), on the evaluation seeds; only configurations that tried more
    than one scale (one scale tried is no evidence about the scale)."""
    out = []
    keys = [k for k in columns.CONFIG_KEYS if k not in ("lr", "logit_scale")]
    best, worst = best_scales(tuning).rename("best"), best_scales(tuning, worst=True).rename("worst")
    pair = pd.concat([best, worst], axis=1).reset_index()
    pair = pair[pair["best"] != pair["worst"]]
    if pair.empty:
        return out
    d = runs.assign(_t=steps_or_inf(runs)).merge(pair, on=keys)
    d["arm"] = np.select([d["logit_scale"] == d["best"], d["logit_scale"] == d["worst"]], ["best", "worst"], "")
    d = d[d["arm"] != ""]
    problem = [k for k in keys if k not in ("dataset",)]
    for loss, sub in d.groupby("loss", sort=True):
        claim = f"scale_effect.{loss}"
        u = units(sub, "_t", "arm", ["worst", "best"], problem)
        out += _rows(claim, "scale_effect", "ratio", bootstrap(u, "ratio_of_medians", stable_seed(claim), resamples),
                     resamples, subject=loss, reference=loss, metric="steps_to_target")
    return out


def effective_rate_claims(matched: pd.DataFrame | None, resamples: int = RESAMPLES) -> list[dict]:
    """At cross-entropy's tuned effective rate: each loss's steps over cross-entropy's, per tuning seed
    read off its own tried rates (``rates.matched_rate_costs``: one row per problem, loss and seed)."""
    if matched is None or matched.empty:
        return []
    out = []
    problem = [k for k in matched.columns if k not in ("dataset", "loss", "seed", "steps")]
    for loss in sorted(set(matched["loss"]) - {REFERENCE}):
        claim = f"effective_rate.{loss}_vs_{REFERENCE}"
        u = units(matched, "steps", "loss", [loss, REFERENCE], problem)
        out += _rows(claim, "effective_rate", "ratio",
                     bootstrap(u, "ratio_of_medians", stable_seed(claim), resamples), resamples,
                     subject=loss, reference=REFERENCE, optimizer="sgd", metric="steps_to_target")
    return out


def metric_claims(runs: pd.DataFrame, resamples: int = RESAMPLES, prefix: str = "test") -> list[dict]:
    """Per test metric and loss: the paired difference from cross-entropy (family ``<prefix>.<metric>``).
    ``prefix``: ``test`` for the runs at the speed-tuned rates, ``tuned_for_acc`` for those at the rates
    with the best final validation accuracy (``convergence.tuning.SELECTIONS``)."""
    out = []
    losses = sorted(set(runs["loss"]) - {REFERENCE})
    if REFERENCE not in set(runs["loss"]):
        return out
    problem = [k for k in PROBLEM_KEYS if k != "dataset"]
    for metric in TEST_METRICS:
        if metric not in runs or runs[metric].isna().all():
            continue
        for loss in losses:
            claim = f"{prefix}.{metric}.{loss}_vs_{REFERENCE}"
            u = units(runs, metric, "loss", [loss, REFERENCE], problem)
            out += _rows(claim, f"{prefix}.{metric}", "difference",
                         bootstrap(u, "difference_of_means", stable_seed(claim), resamples), resamples,
                         subject=loss, reference=REFERENCE, metric=metric)
    return out


def example_metric_claims(predictions: pd.DataFrame | None, resamples: int = RESAMPLES) -> list[dict]:
    """Per test metric that is a mean over examples (accuracy, NLL, Brier) and loss: the difference from
    cross-entropy paired over test examples. Each example's value is its mean over the evaluation runs
    (problem and seed) that both losses finished; the bootstrap resamples test examples within each
    dataset (the test split is a sample too), family ``test_examples.<metric>``."""
    if predictions is None or predictions.empty or REFERENCE not in set(predictions["loss"]):
        return []
    key = [k for k in columns.RUN_KEYS if k not in ("loss", "lr")]
    out = []
    for metric, col in EXAMPLE_METRICS.items():
        for loss in sorted(set(predictions["loss"]) - {REFERENCE}):
            per_ds = {}
            for ds, sub in predictions[predictions["loss"].isin([loss, REFERENCE])].groupby("dataset", sort=True):
                wide = sub.set_index(key + ["loss"])[col].unstack("loss").dropna()
                if loss not in wide or REFERENCE not in wide or wide.empty:
                    continue
                a = np.stack(wide[loss].to_numpy()).astype(float)            # (runs, examples)
                b = np.stack(wide[REFERENCE].to_numpy()).astype(float)
                per_ds[ds] = ((a - b).mean(0), len(wide))                     # (examples,)
            if not per_ds:
                continue
            claim = f"test_examples.{metric}.{loss}_vs_{REFERENCE}"
            rng = np.random.default_rng(stable_seed(claim))
            reps = {ds: np.array([x[rng.integers(0, len(x), len(x))].mean() for _ in range(resamples)])
                    for ds, (x, _) in per_ds.items()}
            groups = {ds: [ds] for ds in per_ds}
            if len(per_ds) > 1:
                groups[POOLED] = list(per_ds)
            for g, members in groups.items():
                sizes = np.array([len(per_ds[m][0]) for m in members], dtype=float)
                est = float(np.average([per_ds[m][0].mean() for m in members], weights=sizes))
                rr = np.average(np.stack([reps[m] for m in members]), axis=0, weights=sizes)
                lo, hi, p = decide(est, rr, 0.0)
                out.append(_row(claim, g, f"test_examples.{metric}", "difference_examples",
                                Estimate(est, lo, hi, 0.0, p, int(sizes.sum()), sum(per_ds[m][1] for m in members),
                                         resamples),
                                subject=loss, reference=REFERENCE, metric=metric,
                                test=f"paired bootstrap over test examples ({resamples:,} resamples)"))
    return out


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Expected calibration error over the last axis (experiments.convergence.calibration's definition:
    equal-width bins ((b - 1)/bins, b/bins], sum_b n_b/N |acc_b - conf_b|) of (..., N) arrays."""
    b = np.clip(np.ceil(confidence * bins).astype(int), 1, bins) - 1
    n = confidence.shape[-1]
    flat_b = b.reshape(-1, n)
    gap = (correct - confidence).reshape(-1, n)
    out = np.zeros(len(flat_b))
    for i in range(bins):
        out += np.abs(np.where(flat_b == i, gap, 0.0).sum(-1))
    return (out / n).reshape(confidence.shape[:-1])


def ece_floor_claims(predictions: pd.DataFrame | None, draws: int = 50, seed: int = 0,
                     targets: pd.DataFrame | None = None) -> list[dict]:
    """Per dataset: the ECE of a perfectly calibrated model of the test split's size (each example right
    with probability equal to its confidence), with the confidences of cross-entropy's final models in the
    cells where it learns: per model the mean over ``draws`` simulations; the median over models, and
    the 2.5% and 97.5% quantiles over models. A measured ECE near this floor is not evidence of
    miscalibration."""
    if predictions is None or predictions.empty:
        return []
    ref = learning(predictions[predictions["loss"] == REFERENCE], targets)
    ref = ref if len(ref) else predictions
    out = []
    rng = np.random.default_rng(seed)
    for ds, sub in ref.groupby("dataset", sort=True):
        conf = np.stack(sub["confidence"].to_numpy()).astype(float)                  # (models, N)
        sim = ece(np.repeat(conf[:, None, :], draws, 1), (rng.random((len(conf), draws, conf.shape[1]))
                                                          < conf[:, None, :]).astype(float))
        per_model = sim.mean(1)                                                       # (models,)
        lo, med, hi = np.quantile(per_model, [ALPHA / 2, 0.5, 1 - ALPHA / 2])
        out.append(_row("ece_floor", ds, "ece_floor", "simulation", None, subject=REFERENCE, metric="test_ece",
                        estimate=med, ci=(lo, hi), n=conf.shape[1], seeds=len(conf)))
    return out


def search_claims(tuning: pd.DataFrame) -> list[dict]:
    """How each configuration's rate search ended (``tuning.OUTCOMES``), as counts: exact, no interval."""
    chosen = tuning[tuning["chosen"]]
    out = []
    for ds, sub in [*chosen.groupby("dataset", sort=True), (POOLED, chosen)]:
        for outcome, k in sub["search_outcome"].value_counts().items():
            out.append(_row("tuning.search_outcome", ds, "search", "census", None, subject=outcome,
                            estimate=k / len(sub), n=len(sub), seeds=int(k)))
    return out


def depth_claims(layers: pd.DataFrame | None, resamples: int = RESAMPLES) -> list[dict]:
    """Per activation and loss, at the deepest architecture of a depth sweep: ||dL/dW_1|| / ||dL/dW_out||
    at initialisation and at the end (median over seeds; null 1: no shrinkage), and the per-entry RMS
    ratio of layer 1 over the last hidden layer at initialisation (``depth.layer_ratios``), family ``depth``."""
    r = depth_sweeps(layers) if layers is not None and len(layers) else pd.DataFrame()
    if r.empty:
        return []
    out = []
    for (ds, act, opt), sub in r.groupby(["dataset", "activation", "optimizer"], sort=True):
        deep = sub[sub["depth"] == sub["depth"].max()]
        for loss in sorted(set(deep["loss"])):
            for when in ("init", "end"):
                claim = f"depth.grad_ratio_{when}.{ds}.{act}.{opt}.{loss}"
                u = units(deep, f"grad_ratio_{when}", "loss", [loss], ["activation", "hidden", "optimizer",
                                                                        "learn_scale", "logit_scale"])
                found = bootstrap(u, "median", stable_seed(claim), resamples)
                out += _rows(claim, "depth", "median", {k: v for k, v in found.items() if k != POOLED},
                             resamples, subject=loss, optimizer=opt, metric=f"grad_ratio_{when}")
            if deep["rms_ratio_init"].notna().any():       # Glorot & Bengio's per-entry statistic
                claim = f"depth.rms_ratio_init.{ds}.{act}.{opt}.{loss}"
                u = units(deep.dropna(subset=["rms_ratio_init"]), "rms_ratio_init", "loss", [loss],
                          ["activation", "hidden", "optimizer", "learn_scale", "logit_scale"])
                found = bootstrap(u, "median", stable_seed(claim), resamples)
                out += _rows(claim, "depth", "median", {k: v for k, v in found.items() if k != POOLED},
                             resamples, subject=loss, optimizer=opt, metric="rms_ratio_init")
    return out


def pooled_row(claims: pd.DataFrame, claim: str) -> pd.Series | None:
    """The row of ``claim`` over every dataset: its pooled row, or its only row when one dataset has it."""
    rows = claims[claims["claim"] == claim]
    if (rows["dataset"] == POOLED).any():
        return rows[rows["dataset"] == POOLED].iloc[0]
    return rows.iloc[0] if len(rows) == 1 else None


def adjust(claims: pd.DataFrame) -> pd.DataFrame:
    """``p_adjusted``: Holm within each family (the rows of a family with a test)."""
    out = claims.copy()
    for _, idx in out.groupby("family").groups.items():
        out.loc[idx, "p_adjusted"] = holm(out.loc[idx, "p_value"].to_numpy())
    return out


def claims_table(runs: pd.DataFrame, tuning: pd.DataFrame, layers: pd.DataFrame | None = None,
                 matched: pd.DataFrame | None = None, predictions: pd.DataFrame | None = None,
                 resamples: int = RESAMPLES, targets: pd.DataFrame | None = None,
                 accuracy_runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every headline number, one row per claim and dataset (``columns.CLAIMS``), Holm-adjusted within
    families. ``accuracy_runs``: the evaluation runs at the rates of best final validation accuracy
    (their test metrics make the ``tuned_for_acc.*`` claims). ``matched``: steps at cross-entropy's tuned effective rate per problem, loss and tuning
    seed (``rates.matched_rate_costs``); ``predictions``: the final models' per-example test outputs;
    ``targets``: which cells learn (the reach shares and the ECE floor leave the others out)."""
    rows = search_claims(tuning)
    rows += speed_claims(runs, resamples)
    rows += effective_rate_claims(matched, resamples)
    rows += reach_claims(runs, resamples, targets)
    rows += scale_claims(runs, tuning, resamples)
    if "test_acc" in runs:
        rows += metric_claims(runs, resamples)
    if accuracy_runs is not None and "test_acc" in accuracy_runs:
        rows += metric_claims(accuracy_runs, resamples, prefix="tuned_for_acc")
    rows += example_metric_claims(predictions, resamples)
    rows += ece_floor_claims(predictions, targets=targets)
    rows += depth_claims(layers, resamples)
    return adjust(pd.DataFrame(rows, columns=columns.CLAIMS))
