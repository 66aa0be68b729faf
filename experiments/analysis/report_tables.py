"""Every number the report prints, as tables: ``results/report/<name>.parquet`` (torch-free).

The report (``report/report.qmd``, ``experiments.report``) reads these tables and the claims, and
formats them: it computes nothing, bootstraps nothing and imports no torch. One function per table
(or a few related ones); :func:`report_tables` builds them all from the aggregated results. Facts
about the code that need torch (each loss's label, definition and gradient at z = 0; the analytic
gradient curves; the implementations' names) are written beside these by
``experiments.convergence.facts`` and passed in as ``facts``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns
from ..sweep import in_grid
from .amp import amp_breaks, amp_table
from .claims import REFERENCE
from .depth import control_table, depth_table
from .paired import PROBLEM_KEYS, calibration_table
from .rates import effective_rate_table, gradient_scale_table
from .saturation import stuck_shares
from .stats import POOLED, WORSE_BY, percentile_interval, stable_seed
from .summary import BROKEN, best_lr_rows, fixed_lr_table, in_setting, levels_table, shown_setting, steps_or_inf
from .targets import target_rule, target_rule_cells

ACCURACY = "tuned_for_acc"       # the claims behind every accuracy statement (convergence.tuning.SELECTIONS)
# the facts of the code written beside them (experiments.convergence.facts, experiments.overflow.facts)
FACT_TABLES = ["losses", "gradients", "constants", "names"]
# the tables of results/report/, by name (the workflow's outputs; the report reads each)
REPORT_TABLES = [
    "counts", "pool", "coverage", "shown", "convergence_curves", "stuck_curves", "stuck", "mechanism", "speed_levels",
    "accuracy_settings", "accuracy_summary", "depth", "depth_layers", "init_control", "calibration", "mnist1d", "target_check",
    "target_cells", "levels", "search", "edge", "gradient_scale", "effective_rate", "fixed_lr", "saturation",
    "saturation_end", "steps_best", "heatmap", "failures", "failure_counts", "amp", "amp_breaks",
]


def counts(t: dict) -> pd.DataFrame:
    """Runs trained, per stage: the reference stage (cross-entropy, setting the targets), the tune stage,
    the evaluate stage, and the evaluation configurations trained again at their rate of best validation
    accuracy; the reduced-precision runs; the probes. ``total`` sums the training runs."""
    runs, acc = t["runs"], t["accuracy_runs"]
    same = [k for k in columns.RUN_KEYS if k != "lr"]
    merged = acc.merge(runs[same + ["lr"]], on=same, how="left", suffixes=("", "_speed"))
    retrained = int((merged["lr"] != merged["lr_speed"]).sum())
    rows = [("reference", len(t["reference_runs"])), ("tune", len(t["tuning_runs"])), ("evaluate", len(runs)),
            ("retrained for accuracy", retrained)]
    rows.append(("total", sum(n for _, n in rows)))
    rows += [("reduced precision", len(t["amp"])), ("probes", len(t["probes"]))]
    return pd.DataFrame(rows, columns=["stage", "runs"])


def pool(runs: pd.DataFrame) -> pd.DataFrame:
    """The claims' pool (the main grid) per optimiser: its datasets, architectures and settings, and its
    evaluation runs: every optimiser on the same datasets and architectures."""
    rows = []
    for opt, sub in runs.groupby("optimizer", sort=True):
        rows.append(dict(optimizer=opt, datasets=", ".join(sorted(sub["dataset"].unique())),
                         n_datasets=sub["dataset"].nunique(), hidden=", ".join(sorted(sub["hidden"].unique())),
                         settings=len(sub.drop_duplicates(PROBLEM_KEYS)), runs=len(sub)))
    return pd.DataFrame(rows, columns=["optimizer", "datasets", "n_datasets", "hidden", "settings", "runs"])


def coverage(runs: pd.DataFrame) -> pd.DataFrame:
    """Per optimiser, every dataset it trained on, studies included (the pool's are :func:`pool`)."""
    return runs.groupby("optimizer", sort=True)["dataset"].agg(lambda d: ", ".join(sorted(d.unique()))) \
        .rename("datasets").reset_index()


def mechanism(claims: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The mechanism claims (``claims.mechanism_claims``: MSE on sigmoid against binary CE one-vs-rest, the
    factor s(1 - s) alone; MSE on softmax against cross-entropy) beside each arm's reach share (the share
    of its evaluation runs that reached the main target and did not break) over the same runs."""
    rows = claims[claims["claim"].str.startswith("mechanism.")
                  & ~claims["claim"].str.startswith("mechanism.adam_over_sgd.")].copy()
    if rows.empty:
        return rows.assign(reach_subject=[], reach_reference=[], activation=[], logit_scale=[])
    d = runs.assign(_r=np.isfinite(steps_or_inf(runs)).astype(float))
    act, scale, rs, rr = [], [], [], []
    for r in rows.itertuples():
        parts = r.claim.split(".")
        a, s = (parts[3], float(parts[4].removeprefix("scale"))) if len(parts) == 5 else ("all", np.nan)
        sub = d[(d["optimizer"] == r.optimizer) & ((d["dataset"] == r.dataset) | (r.dataset == POOLED))]
        if a != "all":
            sub = sub[(sub["activation"] == a) & (sub["logit_scale"] == s)]
        act.append(a), scale.append(s)
        rs.append(float(sub.loc[sub["loss"] == r.subject, "_r"].mean()))
        rr.append(float(sub.loc[sub["loss"] == r.reference, "_r"].mean()))
    return rows.assign(activation=act, logit_scale=scale, reach_subject=rs, reach_reference=rr)


def speed_levels(claims: pd.DataFrame, levels: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Speed at every target level (claims ``speed_level.*``), pooled over the datasets, beside each arm's
    reach share at that level (``levels.parquet``, the pool's runs)."""
    rows = claims[claims["claim"].str.startswith("speed_level.") & (claims["dataset"] == POOLED)]
    if rows.empty:
        rows = claims[claims["claim"].str.startswith("speed_level.")]
    keys = columns.RUN_KEYS
    lv = levels.merge(runs[keys], on=keys)
    lv = lv.assign(_r=np.isfinite(steps_or_inf(lv)).astype(float))
    reach = lv.groupby(["optimizer", "loss", "level"])["_r"].mean()
    out = rows.assign(level=rows["setting"].str.removeprefix("level ").astype(float))     # claims.level_claims
    return out.assign(
        reach_subject=[float(reach.get((r.optimizer, r.subject, r.level), np.nan)) for r in out.itertuples()],
        reach_reference=[float(reach.get((r.optimizer, r.reference, r.level), np.nan)) for r in out.itertuples()])


def accuracy_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting (``paired.PROBLEM_KEYS``) and loss: its mean test accuracy over seeds minus
    cross-entropy's on the same setting (``difference``), the share of its runs that broke, and the
    seeds: the distribution behind the accuracy claims, one point per setting."""
    if REFERENCE not in set(runs["loss"]):
        return pd.DataFrame(columns=PROBLEM_KEYS + ["loss", "difference", "broken", "seeds"])
    d = runs.assign(_b=runs["status"].isin(BROKEN).astype(float))
    g = d.groupby(PROBLEM_KEYS + ["loss"], dropna=False)
    per = pd.DataFrame({"acc": g["test_acc"].mean(), "broken": g["_b"].mean(), "seeds": g.size()}).reset_index()
    ref = per[per["loss"] == REFERENCE][PROBLEM_KEYS + ["acc"]].rename(columns={"acc": "ref"})
    out = per[per["loss"] != REFERENCE].merge(ref, on=PROBLEM_KEYS)
    out["difference"] = out["acc"] - out["ref"]
    return out[PROBLEM_KEYS + ["loss", "difference", "broken", "seeds"]]


def accuracy_summary(settings: pd.DataFrame) -> pd.DataFrame:
    """:func:`accuracy_settings` summarised per loss, dataset (and "all") and hidden activation (and "all"):
    the settings, the mean and median difference from cross-entropy and the share of settings more than 5
    points worse (descriptive: the claims give the intervals)."""
    rows = []
    for ds in ["all", *sorted(settings["dataset"].unique())]:
        for act in ["all", *sorted(settings["activation"].unique())]:
            sub = settings[((settings["dataset"] == ds) | (ds == "all")) & ((settings["activation"] == act) | (act == "all"))]
            for loss, d in sub.groupby("loss", sort=False):
                rows.append(dict(loss=loss, dataset=ds, activation=act, settings=len(d),
                                 mean=float(d["difference"].mean()), median=float(d["difference"].median()),
                                 share_worse=float((d["difference"] < -WORSE_BY - 1e-9).mean())))
    return pd.DataFrame(rows, columns=["loss", "dataset", "activation", "settings", "mean", "median", "share_worse"])


# Greydanus (2020), MNIST-1D README and paper table: test accuracy of their MLP baseline.
MNIST1D_MLP_BASELINE = 0.68
MNIST1D_PAPER_BUDGET = 6000 * 100     # their steps x batch (mnist1d's train.py defaults)
MNIST1D_TRAIN = 4000                  # the published training split, all of which we train on


def mnist1d(runs: pd.DataFrame) -> pd.DataFrame:
    """Our best MNIST-1D configuration with cross-entropy, chosen on validation accuracy (mean over seeds;
    choosing on the test split would flatter it), and its mean test accuracy over seeds with a 95%
    percentile interval over them, beside the MLP baseline of the MNIST-1D paper and the budgets of both.
    One row (none when MNIST-1D was not swept with cross-entropy)."""
    d = runs[(runs["dataset"] == "mnist1d") & (runs["loss"] == REFERENCE)].dropna(subset=["test_acc"])
    cols = ["activation", "hidden", "optimizer", "learn_scale", "logit_scale", "lr", "seeds", "test_acc",
            "test_acc_low", "test_acc_high", "steps", "batch_size", "epochs", "paper_acc", "paper_budget_ratio"]
    if d.empty:
        return pd.DataFrame(columns=cols)
    keys = ["activation", "hidden", "optimizer", "learn_scale", "logit_scale"]
    best = d.groupby(keys)["final_val_acc"].mean().idxmax()
    chosen = d.set_index(keys).loc[[best]].reset_index()
    est, lo, hi = percentile_interval(chosen["test_acc"].to_numpy(float), np.mean, seed=stable_seed("mnist1d"))
    if len(chosen) < 5:
        lo = hi = np.nan
    steps, batch = int(chosen["steps"].iloc[0]), int(chosen["batch_size"].iloc[0])
    lr = float(chosen["lr"].iloc[0]) if chosen["lr"].nunique() == 1 else np.nan
    return pd.DataFrame([dict(zip(keys, best), lr=lr, seeds=len(chosen), test_acc=est, test_acc_low=lo,
                              test_acc_high=hi, steps=steps, batch_size=batch, epochs=steps * batch / MNIST1D_TRAIN,
                              paper_acc=MNIST1D_MLP_BASELINE,
                              paper_budget_ratio=MNIST1D_PAPER_BUDGET / (steps * batch))], columns=cols)


def search(summary: pd.DataFrame, tuning: pd.DataFrame) -> pd.DataFrame:
    """How the rate searches carried over: of the configurations whose chosen rate reached the target on
    the tuning seeds, how many reached it on fewer than half of their evaluation seeds; and how many rates
    the searches added to the initial grid."""
    chosen = tuning[tuning["chosen"]]
    s = summary.merge(chosen[columns.CONFIG_KEYS + ["search_outcome"]], on=columns.CONFIG_KEYS)
    solved = s[s["search_outcome"] != "unsolved"]
    return pd.DataFrame([dict(configurations=len(chosen), solved=len(solved),
                              missed_on_eval=int((solved["reached_frac"] < 0.5).sum()),
                              rates_added=int((tuning["round"] > 0).sum()))])


def failures(t: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every run of the reference, tune and evaluate stages that broke (NaN/inf or diverged), and the count
    of each status per stage and over all three (``all``), with the runs of each (``runs``)."""
    every = pd.concat([t["reference_runs"].assign(stage="reference"), t["tuning_runs"].assign(stage="tune"),
                       t["runs"].assign(stage="evaluate")], ignore_index=True)
    broke = every[every["status"].isin(BROKEN)][
        ["stage", "dataset", "loss", "activation", "hidden", "optimizer", "logit_scale", "lr", "seed", "status",
         "nonfinite_step", "diverged_step"]]
    tally = every.groupby(["stage", "status"]).size().unstack(fill_value=0).reindex(
        columns=columns.STATUSES, fill_value=0).reindex(["reference", "tune", "evaluate"]).dropna(how="all")
    tally.loc["all"] = tally.sum()
    tally["runs"] = tally.sum(axis=1)
    return broke.reset_index(drop=True), tally.astype(int).reset_index()


def saturation_end(runs: pd.DataFrame) -> pd.DataFrame:
    """The median fraction of saturated sigmoid/tanh hidden units at the end of the sigmoid + MSE runs, with
    a 95% percentile interval over runs (descriptive). One row, empty without such runs."""
    sat = runs[(runs["loss"] == "mse_sigmoid") & runs["activation"].isin(["sigmoid", "tanh"])]["final_saturated_frac"]
    sat = sat.dropna()
    if sat.empty:
        return pd.DataFrame(columns=["runs", "median", "low", "high"])
    est, lo, hi = percentile_interval(sat.to_numpy(float))
    return pd.DataFrame([dict(runs=len(sat), median=est, low=lo, high=hi)])


def report_tables(t: dict[str, pd.DataFrame], cv: dict, facts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every table of :data:`REPORT_TABLES` from the aggregated results ``t`` (runs, accuracy_runs, curves,
    summary, tuning, tuning_runs, reference_runs, layers, init_control, levels, targets, claims, amp,
    probes), the config's ``convergence`` section and the code's ``facts`` (``losses``: each loss's
    gradient norm at z = 0)."""
    runs, curves, summary, tuning, claims = t["runs"], t["curves"], t["summary"], t["tuning"], t["claims"]
    main = runs[in_grid(runs, cv)]
    acc_main = t["accuracy_runs"][in_grid(t["accuracy_runs"], cv)] if len(t["accuracy_runs"]) else t["accuracy_runs"]
    shown = shown_setting(runs)
    best = best_lr_rows(curves, summary)
    no_opt = {k: v for k, v in shown.items() if k != "optimizer"}
    stuck_curves = in_setting(best, no_opt).dropna(subset=["stuck_wrong_frac"])
    stuck_curves = stuck_curves[stuck_curves["loss"].isin([REFERENCE, "mse_softmax", "mse_sigmoid", "bce_ovr"])]
    depth = depth_table(t["layers"])
    layers = t["layers"]
    if len(depth):
        ds = depth["dataset"].iloc[0]
        opt = "sgd" if "sgd" in set(depth["optimizer"]) else depth["optimizer"].iloc[0]
        deepest = layers.loc[layers["dataset"] == ds, "hidden"].map(lambda h: (len(h.split("-")), h)).max()[1]
        depth_layers = layers[(layers["dataset"] == ds) & (layers["optimizer"] == opt) & (layers["hidden"] == deepest)]
    else:
        depth_layers = layers.iloc[:0]
    at_zero = dict(zip(facts["losses"]["loss"], facts["losses"]["grad_norm_at_zero"]))
    sgd = {**shown, "optimizer": "sgd"}
    fixed = fixed_lr_table(tuning)
    fixed.columns = [f"{o} {lr}" for o, lr in fixed.columns]
    picked = summary[(summary["optimizer"] == shown["optimizer"]) & (summary["learn_scale"] == shown["learn_scale"])
                     & (summary["hidden"] == shown["hidden"])]
    broke, tally = failures(t)
    settings = accuracy_settings(acc_main if len(acc_main) else main)
    scales = gradient_scale_table(curves, summary, shown, at_zero)
    check = target_rule(runs, t["targets"])
    check = check.assign(steps=check["dataset"].map(runs.groupby("dataset")["steps"].first())) if len(check) else \
        pd.DataFrame(columns=["dataset", "runs", "reached_frac", "median_budget_share", "cells_left_out", "steps"])
    chosen = tuning[tuning["chosen"]]
    out = {
        "counts": counts(t),
        "pool": pool(main),
        "coverage": coverage(runs),
        "shown": pd.DataFrame([shown]),
        "convergence_curves": in_setting(best, shown),
        "stuck_curves": stuck_curves,
        "stuck": stuck_shares(main, curves),
        "mechanism": mechanism(claims, main),
        "speed_levels": speed_levels(claims, t["levels"], main),
        "accuracy_settings": settings,
        "accuracy_summary": accuracy_summary(settings),
        "depth": depth,
        "depth_layers": depth_layers,
        "init_control": control_table(t["init_control"]),
        "calibration": calibration_table(acc_main, claims, prefix=ACCURACY),
        "mnist1d": mnist1d(t["accuracy_runs"]),
        "target_check": check,
        "target_cells": target_rule_cells(runs, t["targets"]),
        "levels": levels_table(t["levels"]),
        "search": search(summary, tuning),
        "edge": chosen[chosen["search_outcome"] != "interior"].reset_index(drop=True),
        "gradient_scale": scales,
        "effective_rate": (effective_rate_table(tuning, curves, sgd) if "sgd" in set(runs["optimizer"])
                           else pd.DataFrame()),
        "fixed_lr": fixed.reset_index(),
        "saturation": runs.pivot_table(index="loss", columns="activation", values="final_saturated_frac",
                                       aggfunc="median").reset_index(),
        "saturation_end": saturation_end(runs),
        "steps_best": picked[picked["best_scale"]].pivot_table(
            index=["dataset", "loss"], columns="activation", values="steps_to_target_median").reset_index(),
        "heatmap": picked.assign(budget=picked["dataset"].map(runs.groupby("dataset")["steps"].max()),
                                 budget_share=lambda x: x["steps_to_target_median"] / x["budget"]
                                 ).reset_index(drop=True),
        "failures": broke,
        "failure_counts": tally,
        "amp": amp_table(t["amp"]),
        "amp_breaks": amp_breaks(t["amp"]),
    }
    assert list(out) == REPORT_TABLES
    return out

