"""The report's headline numbers, as data: ``results/convergence/claims.parquet`` (numbers only).

One row per claim and dataset (a dataset's name, or ``"all"``: pooled over the datasets, each
dataset's seeds resampled on their own). Every number is measured on the evaluation seeds (the
effective-rate view: on the tuning seeds, which chose nothing there), at rates chosen on the tuning
seeds. Each row carries its estimate, the 95% interval and the test of one bootstrap
(:mod:`experiments.analysis.stats`: the interval excludes ``null_value`` exactly when p < 0.05), the
problems and seeds behind it, its *family* and the Holm-adjusted p-value within that family. The
sentences the report prints are written from these rows in ``experiments.report.wording``.

Kinds (``kind``):

- ``ratio`` (null 1): ``subject``'s steps to the target over ``reference``'s, counted in budgets with a
  miss or a break at the budget (censored there, as time-to-event data are): per problem the ratio of the
  two arms' true medians over seeds, the median over the problems where either median is below the
  budget. So a loss that misses counts, the estimate stays finite, and where the subject's median sits at
  the budget its ratio is a lower bound (the ``reach`` claims and the ``broken`` column say how often).
  The pooled row takes the median over every dataset's problems: conditional on the grid swept
  (``docs/protocol.md`` says why this measure, and not the expected running time);
- ``difference`` (null 0): ``subject`` minus ``reference`` in a test metric, per problem the
  difference of the means over seeds, the median over problems (``<prefix>.<metric>``). Test accuracy,
  where a run that broke scores chance, is a distribution with a test on its mean over problems
  (``<prefix>.test_acc_mean``, t-calibrated), its median described (``<prefix>.test_acc``, no test: the
  typical setting) and ``share`` (descriptive), the share of problems where the subject is more than 5
  points worse (``<prefix>.test_acc_worse``);
  ``difference_examples``: the same metric paired over test examples (each example's mean over the runs
  both losses ran), the mean over examples, resampling test examples: the uncertainty of a finite test
  split;
- ``share`` (descriptive): the share of runs that reached the main target;
- ``median`` (null 1): a gradient ratio of the depth study; ``level`` (null 1): cross-entropy's fitted
  temperature (above 1: overconfident), the premise a literature verdict checks;
- ``census`` (descriptive, exact): how the rate searches ended; ``simulation``: the ECE a perfectly
  calibrated model of a test split's size still shows (its noise floor).

**Runs that broke** (NaN/inf or diverged) follow one contract: a miss for speed; for accuracy, the
score the engine gives a model that broke (its split's chance, ``experiments.convergence.training``),
so they stay in every accuracy statistic; a metric such a model does not define (NLL, Brier, ECE) is
over the runs that did not break, and every row says which share of its runs broke (``broken``).

**The pool.** The headline claims (speed, reach, mechanism, test metrics) are made on the main grid
only, so that every optimiser is measured on the same datasets and architectures; a study's extra
settings (e.g. the depth study's deeper nets) have claims of their own (``depth``).

No claim names a "fastest" loss: every loss is compared with cross-entropy, the lecture's baseline,
in one family per optimiser, so a loss faster than cross-entropy is a row like one slower.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .. import columns
from .depth import depth_sweeps
from .paired import PROBLEM_KEYS
from .stats import ALPHA, POOLED, RESAMPLES, STATISTICS, Estimate, bootstrap, decide, holm, stable_seed, units
from .summary import BROKEN, best_scales, censored_budgets, steps_or_inf
from .targets import CELL

REFERENCE = "cross_entropy"
# test metrics compared with the reference: column, and whether higher is better
TEST_METRICS = {"test_acc": True, "test_nll": False, "test_brier": False, "test_ece": False,
                "test_nll_ts": False, "test_brier_ts": False, "test_ece_ts": False}   # _ts: temperature-scaled
# per-example test outputs (columns.PREDICTION_LISTS) behind a metric, where it is a mean over examples
EXAMPLE_METRICS = {"test_acc": "correct", "test_nll": "nll", "test_brier": "brier"}
ECE_BINS = 15


def _row(claim: str, dataset: str, family: str, kind: str, e: Estimate | None, *, subject="", reference="",
         optimizer="", metric="", test="", estimate=None, ci=(math.nan, math.nan), n=0, seeds=0, setting="",
         broken=math.nan) -> dict:
    if e is not None:
        estimate, ci, n, seeds = e.estimate, (e.ci_low, e.ci_high), e.problems, e.seeds
        null, p, replicates = e.null_value, e.p_value, e.replicates
        loo, censored, bound = (e.loo_low, e.loo_high), e.censored, e.lower_bound
    else:
        null, p, replicates, loo, censored, bound = math.nan, math.nan, 0, (math.nan, math.nan), 0, False
    return dict(claim=claim, dataset=dataset, family=family, kind=kind, subject=subject, reference=reference,
                optimizer=optimizer, metric=metric, estimate=float(estimate), ci_low=float(ci[0]),
                ci_high=float(ci[1]), null_value=float(null), n=int(n), seeds=int(seeds),
                test=test if e is not None and not math.isnan(e.p_value) else "", p_value=float(p),
                p_adjusted=math.nan, setting=setting, broken=float(broken), replicates=int(replicates),
                loo_low=float(loo[0]), loo_high=float(loo[1]), censored=int(censored), lower_bound=bool(bound))


def broken_shares(df: pd.DataFrame, arm: str, arms: list, problem: list[str]) -> dict[str, float]:
    """Per dataset and pooled: the share of ``df``'s runs of ``arms`` that broke, on the problems every
    arm ran (those a claim keeps)."""
    d = df[df[arm].isin(arms)]
    if d.empty or "status" not in d:
        return {}
    keys = list(dict.fromkeys(["dataset", *problem]))
    full = d.groupby(keys, dropna=False)[arm].transform("nunique") == len(arms)
    d = d[full.to_numpy()]
    bad = d["status"].isin(BROKEN)
    out = {str(ds): float(b.mean()) for ds, b in bad.groupby(d["dataset"])}
    if len(out):
        out[POOLED] = float(bad.mean())
    return out


def _rows(claim: str, family: str, kind: str, found: dict[str, Estimate], resamples: int,
          broken: dict[str, float] | None = None, **what) -> list[dict]:
    """The rows of one claim, per dataset and pooled; none where no problem had a value (e.g. neither loss
    reached the target anywhere: there is no speed to compare)."""
    test = f"seed bootstrap ({resamples:,} resamples; interval and test from the same replicates)"
    broken = broken or {}
    one = len(found) == 1
    return [_row(claim, ds, family, kind, e, test=test, broken=broken.get(ds, broken.get(POOLED, math.nan)
                                                                           if one else math.nan), **what)
            for ds, e in found.items() if e.problems > 0]


def _speed(d: pd.DataFrame, claim: str, family: str, subject: str, reference: str, problem: list[str],
           resamples: int, same_as: str = "", **what) -> list[dict]:
    """The speed rows of ``subject`` against ``reference`` on ``d`` (runs with ``_t``: steps in budgets, a miss
    or a break at the budget), per dataset and pooled. The bootstrap's seed depends on what is measured, not
    on the claim's name (``same_as``: a label of the runs), so a statistic made twice (the main level's speed
    and the speed claim; the whole pool's MSE on softmax against cross-entropy as a speed and as a mechanism
    claim) gets the same interval twice."""
    u = units(d, "_t", "loss", [subject, reference], problem)
    seed = stable_seed("speed", subject, reference, what.get("optimizer", ""), same_as)
    return _rows(claim, family, "ratio", bootstrap(u, "ratio_of_medians", seed, resamples), resamples,
                 broken_shares(d, "loss", [subject, reference], problem), subject=subject, reference=reference,
                 metric="steps_to_target", **what)


def pairs(losses, question: dict | None = None) -> list[tuple[str, str]]:
    """(subject, reference) of the claims comparing losses: every loss against cross-entropy, and the
    config's ``question`` where its reference is another loss (both swept)."""
    out = [(loss, REFERENCE) for loss in sorted(set(losses) - {REFERENCE})]
    if question and question["reference"] != REFERENCE and {question["subject"], question["reference"]} <= set(losses):
        out.append((question["subject"], question["reference"]))
    return out


def speed_claims(runs: pd.DataFrame, resamples: int = RESAMPLES, question: dict | None = None) -> list[dict]:
    """Per optimiser and loss: its steps to the main target over cross-entropy's (and the ``question``'s
    pair), per dataset and pooled (family ``speed_ratio.<optimizer>``); with ``censored`` and
    ``lower_bound`` where its misses bind."""
    out = []
    d = runs.assign(_t=censored_budgets(runs))
    problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
    for opt, sub in d.groupby("optimizer", sort=True):
        for loss, ref in pairs(sub["loss"], question):
            out += _speed(sub, f"speed_ratio.{loss}_vs_{ref}.{opt}", f"speed_ratio.{opt}", loss, ref,
                          problem, resamples, optimizer=opt)
    return out


def level_claims(levels: pd.DataFrame | None, runs: pd.DataFrame, resamples: int = RESAMPLES,
                 main: float | None = None) -> list[dict]:
    """The speed claims at every target level (``levels.parquet``, the same evaluation runs): per optimiser,
    level and loss, the speed ratio against cross-entropy (family ``speed_level.<optimizer>``, claim
    ``speed_level.<level>.<loss>_vs_cross_entropy.<optimizer>``). Only the runs of ``runs`` (the pool)."""
    if levels is None or levels.empty:
        return []
    keys = columns.RUN_KEYS
    d = levels.merge(runs[keys + ["steps"]], on=keys)
    d = d.assign(_t=censored_budgets(d))
    problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
    out = []
    for (opt, level), sub in d.groupby(["optimizer", "level"], sort=True):
        for loss in sorted(set(sub["loss"]) - {REFERENCE}):
            out += _speed(sub, f"speed_level.{level:g}.{loss}_vs_{REFERENCE}.{opt}", f"speed_level.{opt}", loss,
                          REFERENCE, problem, resamples, optimizer=opt, setting=f"level {level:g}",
                          same_as="" if main is not None and np.isclose(level, main) else f"level {level:g}")
    return out


# The lecture's mechanism by the contrast that isolates it: subject and reference share their outputs and
# targets and differ by one factor in the gradient on the logits.
#   MSE on sigmoid vs binary CE one-vs-rest: (2/C)(s - t) s(1 - s) against (1/C)(s - t): the factor 2 s(1 - s),
#   the sigmoid's derivative, alone;
#   MSE on softmax vs cross-entropy: the softmax Jacobian applied to 2(p - t)/C against p - t.
CONTRASTS = {"mse_sigmoid": "bce_ovr", "mse_softmax": "cross_entropy"}


def mechanism_claims(runs: pd.DataFrame, resamples: int = RESAMPLES) -> list[dict]:
    """Per optimiser and contrast (:data:`CONTRASTS`): the speed ratio of subject over reference on the whole
    pool, then per logit scale and hidden activation (``setting``), per dataset and pooled (family
    ``mechanism.<optimizer>``)."""
    d = runs.assign(_t=censored_budgets(runs))
    out = []
    for opt, sub in d.groupby("optimizer", sort=True):
        for subject, reference in CONTRASTS.items():
            if not {subject, reference} <= set(sub["loss"]):
                continue
            base = f"mechanism.{subject}_vs_{reference}.{opt}"
            problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
            out += _speed(sub, base, f"mechanism.{opt}", subject, reference, problem, resamples, optimizer=opt)
            inner = [k for k in problem if k not in ("logit_scale", "activation")]
            for (scale, act), cell in sub.groupby(["logit_scale", "activation"], sort=True):
                setting = f"{act} units, logit scale {scale:g}"
                out += _speed(cell, f"{base}.{act}.scale{scale:g}", f"mechanism.{opt}", subject, reference,
                              inner, resamples, optimizer=opt, setting=setting, same_as=setting)
    return out + optimizer_contrast_claims(d, resamples)


def optimizer_contrast_claims(d: pd.DataFrame, resamples: int = RESAMPLES) -> list[dict]:
    """Does the factor cost more under Adam than under SGD? Per contrast (:data:`CONTRASTS`), per setting
    without the optimiser: (subject / reference under Adam) over (subject / reference under SGD), the median
    over settings, one bootstrap of the seeds for all four arms (``mechanism.adam_over_sgd.*``, null 1)."""
    if not {"sgd", "adam"} <= set(d["optimizer"]):
        return []
    out = []
    problem = [k for k in PROBLEM_KEYS if k not in ("dataset", "optimizer")]
    for subject, reference in CONTRASTS.items():
        sub = d[d["loss"].isin([subject, reference]) & d["optimizer"].isin(["sgd", "adam"])]
        if not {subject, reference} <= set(sub["loss"]):
            continue
        sub = sub.assign(_arm=sub["loss"] + "/" + sub["optimizer"])
        arms = [f"{subject}/adam", f"{reference}/adam", f"{subject}/sgd", f"{reference}/sgd"]
        claim = f"mechanism.adam_over_sgd.{subject}_vs_{reference}"
        u = units(sub, "_t", "_arm", arms, problem)
        out += _rows(claim, "mechanism.adam_over_sgd", "ratio",
                     bootstrap(u, "ratio_of_ratios", stable_seed(claim), resamples), resamples,
                     broken_shares(sub, "_arm", arms, problem), subject=subject, reference=reference,
                     optimizer="adam/sgd", metric="steps_to_target", setting="Adam's ratio over SGD's")
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
                     broken_shares(sub, "loss", [loss], problem), subject=loss, optimizer=opt, metric="reached")
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
    d = runs.assign(_t=censored_budgets(runs)).merge(pair, on=keys)
    d["arm"] = np.select([d["logit_scale"] == d["best"], d["logit_scale"] == d["worst"]], ["best", "worst"], "")
    d = d[d["arm"] != ""]
    problem = [k for k in keys if k not in ("dataset",)]
    for loss, sub in d.groupby("loss", sort=True):
        claim = f"scale_effect.{loss}"
        u = units(sub, "_t", "arm", ["worst", "best"], problem)
        out += _rows(claim, "scale_effect", "ratio", bootstrap(u, "ratio_of_medians", stable_seed(claim), resamples),
                     resamples, broken_shares(sub, "arm", ["worst", "best"], problem), subject=loss, reference=loss,
                     metric="steps_to_target")
    return out


def effective_rate_claims(matched: pd.DataFrame | None, budgets: dict[str, float] | None = None,
                          resamples: int = RESAMPLES) -> list[dict]:
    """At cross-entropy's tuned effective rate: each loss's steps over cross-entropy's, per tuning seed read
    off its own tried rates (``rates.matched_rate_costs``: one row per problem, loss and seed; ``budgets``:
    each dataset's steps, to count in budgets)."""
    if matched is None or matched.empty:
        return []
    out = []
    budget = matched["dataset"].map(budgets or {}).astype(float)
    m = matched.assign(_t=(matched["steps"].astype(float) / budget).clip(upper=1.0))
    problem = [k for k in matched.columns if k not in ("dataset", "loss", "seed", "steps")]
    for loss in sorted(set(matched["loss"]) - {REFERENCE}):
        claim = f"effective_rate.{loss}_vs_{REFERENCE}"
        u = units(m, "_t", "loss", [loss, REFERENCE], problem)
        out += _rows(claim, "effective_rate", "ratio",
                     bootstrap(u, "ratio_of_medians", stable_seed(claim), resamples), resamples,
                     subject=loss, reference=REFERENCE, optimizer="sgd", metric="steps_to_target")
    return out


def metric_claims(runs: pd.DataFrame, resamples: int = RESAMPLES, prefix: str = "test",
                  question: dict | None = None) -> list[dict]:
    """Per test metric and loss: the paired difference from cross-entropy (and the ``question``'s pair;
    family ``<prefix>.<metric>``). ``prefix``: ``test`` for the runs at the speed-tuned rates,
    ``tuned_for_acc`` for those at the rates with the best final validation accuracy
    (``convergence.tuning.SELECTIONS``)."""
    out = []
    if REFERENCE not in set(runs["loss"]):
        return out
    problem = [k for k in PROBLEM_KEYS if k != "dataset"]
    for metric in TEST_METRICS:
        if metric not in runs or runs[metric].isna().all():
            continue
        views = [("", "difference", "difference_of_means")]
        if metric == "test_acc":        # accuracy as a distribution over settings: the mean carries the test
            views = [("", "difference", "median_difference"), ("_mean", "difference", "mean_difference"),
                     ("_worse", "share", "share_worse")]
        for loss, ref in pairs(runs["loss"], question):
            u = units(runs, metric, "loss", [loss, ref], problem)
            broken = broken_shares(runs, "loss", [loss, ref], problem)
            for suffix, kind, stat in views:
                claim = f"{prefix}.{metric}{suffix}.{loss}_vs_{ref}"
                out += _rows(claim, f"{prefix}.{metric}{suffix}", kind,
                             bootstrap(u, stat, stable_seed(claim), resamples), resamples, broken,
                             subject=loss, reference=ref, metric=metric)
            if metric == "test_acc" and runs["optimizer"].nunique() > 1:   # as each paper measured: one optimiser
                for opt, sub in runs.groupby("optimizer", sort=True):
                    claim = f"{prefix}.test_acc_mean.{opt}.{loss}_vs_{ref}"
                    u = units(sub, metric, "loss", [loss, ref], problem)
                    out += _rows(claim, f"{prefix}.test_acc_mean.{opt}", "difference",
                                 bootstrap(u, "mean_difference", stable_seed(claim), resamples), resamples,
                                 broken_shares(sub, "loss", [loss, ref], problem), subject=loss,
                                 reference=ref, optimizer=opt, metric=metric)
    return out


def temperature_claims(runs: pd.DataFrame, resamples: int = RESAMPLES, prefix: str = "tuned_for_acc") -> list[dict]:
    """Cross-entropy's fitted temperature (one T per model on validation, ``calibration.fit_temperature``):
    the median over problems of the mean over seeds, per dataset and pooled, null 1 (T > 1: the model is
    overconfident, its logits too large). The premise of the label-smoothing literature
    (``literature.PAPERS``) is read here (claim ``<prefix>.temperature.cross_entropy``)."""
    d = runs[(runs["loss"] == REFERENCE) & runs["temperature"].notna()] if "temperature" in runs else runs.iloc[:0]
    if d.empty:
        return []
    problem = [k for k in PROBLEM_KEYS if k != "dataset"]
    claim = f"{prefix}.temperature.{REFERENCE}"
    stat = dataclasses.replace(STATISTICS["median_of_means"], null=1.0)
    u = units(d, "temperature", "loss", [REFERENCE], problem)
    return _rows(claim, f"{prefix}.temperature", "level", bootstrap(u, stat, stable_seed(claim), resamples),
                 resamples, broken_shares(runs, "loss", [REFERENCE], problem), subject=REFERENCE, metric="temperature")


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
                ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)            # a broken run has no NLL or Brier
                if not ok.any():
                    continue
                per_ds[ds] = ((a[ok] - b[ok]).mean(0), int(ok.sum()))        # (examples,)
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
    ref = predictions[(predictions["loss"] == REFERENCE)
                      & predictions["confidence"].map(lambda c: bool(np.isfinite(c).all()))]   # broken runs: none
    ref = learning(ref, targets)
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
                 accuracy_runs: pd.DataFrame | None = None, levels: pd.DataFrame | None = None,
                 question: dict | None = None) -> pd.DataFrame:
    """Every headline number, one row per claim and dataset (``columns.CLAIMS``), Holm-adjusted within
    families. ``runs``, ``accuracy_runs``, ``predictions`` and ``levels``: the evaluation runs of the pool
    (the main grid: ``experiments.sweep.in_main_grid``), at the rates tuned for speed and, for
    ``accuracy_runs``, at the rates of best final validation accuracy (their test metrics make the
    ``tuned_for_acc.*`` claims); ``layers``: the depth study's per-layer gradients; ``matched``: steps at
    cross-entropy's tuned effective rate per problem, loss and tuning seed (``rates.matched_rate_costs``);
    ``targets``: which cells learn (the reach shares and the ECE floor leave the others out); ``question``:
    the config's comparison, whose pair is claimed too where its reference is not cross-entropy."""
    budgets = runs.groupby("dataset")["steps"].first().astype(float).to_dict()
    main = float(targets.loc[targets["main"], "level"].iloc[0]) if targets is not None and len(targets) else None
    rows = search_claims(tuning)
    rows += speed_claims(runs, resamples, question)
    rows += level_claims(levels, runs, resamples, main)
    rows += mechanism_claims(runs, resamples)
    rows += effective_rate_claims(matched, budgets, resamples)
    rows += reach_claims(runs, resamples, targets)
    rows += scale_claims(runs, tuning, resamples)
    if "test_acc" in runs:
        rows += metric_claims(runs, resamples, question=question)
    if accuracy_runs is not None and "test_acc" in accuracy_runs:
        rows += metric_claims(accuracy_runs, resamples, prefix="tuned_for_acc", question=question)
        rows += temperature_claims(accuracy_runs, resamples)
    rows += example_metric_claims(predictions, resamples)
    rows += ece_floor_claims(predictions, targets=targets)
    rows += depth_claims(layers, resamples)
    return adjust(pd.DataFrame(rows, columns=columns.CLAIMS))
