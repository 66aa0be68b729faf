"""Per-configuration summaries over seeds, the one selection rule, and the setting the figures show."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns


BROKEN = ("nonfinite", "diverged")   # statuses of a run that broke (columns.STATUSES)


def steps_or_inf(runs: pd.DataFrame, steps: str = "steps_to_target") -> pd.Series:
    """Steps to the target as float, +inf for a missed target (AlgoPerf's convention) and for a run
    that broke (NaN/inf or diverged), whatever it reached before: a model that ends broken is not a
    solution, and the Failures section lists it. Every speed statistic reads steps through here."""
    out = runs[steps].astype("Float64").fillna(np.inf).astype(float)
    if "status" in runs:
        out[runs["status"].isin(BROKEN).to_numpy()] = np.inf
    return out


def censored_budgets(runs: pd.DataFrame, steps: str = "steps_to_target") -> pd.Series:
    """Steps to the target in budgets (steps / the run's budget ``steps``), a miss or a run that broke at
    the budget, 1 (:func:`steps_or_inf`'s +inf censored there): the unit of every speed claim, finite, and
    the same for datasets whose budgets differ."""
    return (steps_or_inf(runs, steps) / runs["steps"].astype(float)).clip(upper=1.0)


def true_median(x) -> float:
    """The median as the mean of the two middle values for an even count (np.median), +inf included:
    with half or more of the values +inf it is +inf, so a rate that half the seeds miss never scores
    like one that all reach. (A sample quantile such as numpy's inverted CDF would return the better
    middle value: the best of two seeds.)"""
    return float(np.median(np.asarray(x, dtype=float)))


def ranked(df: pd.DataFrame, steps: str, acc: str, tie: str) -> pd.DataFrame:
    """``df`` best first by the one selection rule of this project (rates, scales): fewer median steps
    to target, then (where ``df`` has ``broken_frac``) a rate that broke on fewer than half its seeds before
    one that broke on half or more, then higher median final accuracy, then the smaller value of ``tie``."""
    if "broken_frac" in df:
        return (df.assign(_broke=df["broken_frac"] >= 0.5)
                .sort_values([steps, "_broke", acc, tie], ascending=[True, True, False, True]).drop(columns="_broke"))
    return df.sort_values([steps, acc, tie], ascending=[True, False, True])


def summary_table(runs: pd.DataFrame, tuning: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per configuration (``columns.CONFIG_KEYS``), aggregated over seeds.

    Steps-to-target statistics count a missed target (or a broken run) as +inf,
    so a median of inf means half or more of the seeds never reached it (a true
    median, :func:`true_median`); ``reached_frac`` says how many did. The
    quartiles are sample quantiles (inverted CDF): each is a value some seed had.
    ``best_lr`` marks, for each configuration without its learning rate, the
    rate with the fewest median steps to target (ties: higher median final
    accuracy, then the smaller rate): the "each loss at its own best rate" view.
    On evaluation runs, each configuration has its one tuned rate, so it is true.
    ``best_scale`` marks, among the best-rate rows of each configuration without
    its logit scale, the scale chosen: from the tune stage's scores when
    ``tuning`` is given (chosen on the tuning seeds, not on these runs), else by
    the same rule as ``best_lr`` on these runs.
    """
    keys = columns.CONFIG_KEYS
    d = runs.assign(_t=steps_or_inf(runs))
    g = d.groupby(keys, sort=True, dropna=False)

    def q(s: pd.Series, p: float) -> float:
        """A sample quantile (inverted CDF): a value some seed actually had, inf included."""
        return float(np.quantile(s.to_numpy(dtype=float), p, method="inverted_cdf"))

    out = pd.DataFrame({
        "seeds": g.size(),
        "reached_frac": g["_t"].agg(lambda s: float(np.isfinite(s).mean())),
        "steps_to_target_median": g["_t"].agg(true_median),
        "steps_to_target_q25": g["_t"].agg(q, 0.25),
        "steps_to_target_q75": g["_t"].agg(q, 0.75),
        "final_val_acc_median": g["final_val_acc"].agg(lambda s: float(s.median())),
        "final_val_acc_q25": g["final_val_acc"].agg(q, 0.25),
        "final_val_acc_q75": g["final_val_acc"].agg(q, 0.75),
    }).reset_index()
    no_lr = [k for k in keys if k != "lr"]
    best = ranked(out, "steps_to_target_median", "final_val_acc_median", "lr") \
        .groupby(no_lr, sort=False, dropna=False).head(1).index
    out["best_lr"] = out.index.isin(best)
    no_scale = [k for k in no_lr if k != "logit_scale"]
    if tuning is not None:
        picked = best_scales(tuning)
        out = out.merge(picked.rename("best_scale_value").reset_index(), on=no_scale, how="left")
        out["best_scale"] = out["best_lr"] & (out["logit_scale"] == out.pop("best_scale_value"))
    else:
        order = ranked(out[out["best_lr"]], "steps_to_target_median", "final_val_acc_median", "logit_scale")
        out["best_scale"] = out.index.isin(order.groupby(no_scale, sort=False, dropna=False).head(1).index)
    return out[columns.SUMMARY]


def best_scales(tuning: pd.DataFrame, worst: bool = False) -> pd.Series:
    """Per configuration without rate and scale: the logit scale whose chosen rate scored best on the
    tuning seeds (fewest median steps, then higher median final accuracy, then the smaller scale);
    with ``worst``, the one that scored worst by the same rule."""
    no_scale = [k for k in columns.CONFIG_KEYS if k not in ("lr", "logit_scale")]
    order = ranked(tuning[tuning["chosen"]], "median_steps_to_target", "median_final_val_acc", "logit_scale")
    g = order.groupby(no_scale, sort=True, dropna=False)
    return (g.tail(1) if worst else g.head(1)).set_index(no_scale)["logit_scale"]


def best_lr_rows(df: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``df`` (runs or curves) at each configuration's best learning rate."""
    best = summary.loc[summary["best_lr"], columns.CONFIG_KEYS]
    return df.merge(best, on=columns.CONFIG_KEYS)


def fixed_lr_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """The fixed-rate view beside the tuned view, on the tuning seeds.

    Rows: (dataset, loss): datasets have budgets of their own, so steps are not pooled across them.
    Columns: (optimizer, lr) for every rate of the initial grid (round 0, tried by every configuration),
    then (optimizer, "tuned"). Each cell is the median, over configurations (all keys but dataset, loss,
    optimizer and lr), of the median steps to target over tuning seeds; inf means half or more of the
    configurations were not solved at that rate.
    """
    v = "median_steps_to_target"
    grid = tuning[tuning["round"] == 0]
    fixed = grid.pivot_table(index=["dataset", "loss"], columns=["optimizer", "lr"], values=v, aggfunc="median")
    tuned = tuning[tuning["chosen"]].pivot_table(index=["dataset", "loss"], columns="optimizer", values=v,
                                                 aggfunc="median")
    parts = {}
    for opt in sorted(tuning["optimizer"].unique()):
        for lr in sorted(grid.loc[grid["optimizer"] == opt, "lr"].unique()):
            parts[(opt, f"{lr:g}")] = fixed[(opt, lr)]
        parts[(opt, "tuned")] = tuned[opt]
    out = pd.DataFrame(parts)
    out.columns.names = ["optimizer", "lr"]
    return out


def shown_setting(runs: pd.DataFrame) -> dict:
    """The setting the report's per-loss figures show, among those swept: SGD, else the first
    optimiser; a fixed scale, else a learned one; the scale nearest 1 (log distance); the architecture
    with the most runs (the main grid's, not a study's extra depths)."""
    opts = sorted(runs["optimizer"].unique())
    learn = bool(runs["learn_scale"].all())              # fixed scales when there are any
    scales = runs.loc[runs["learn_scale"] == learn, "logit_scale"].unique()
    scale = float(min(scales, key=lambda s: (abs(np.log(s)), s)))
    hidden = runs["hidden"].value_counts(sort=True).index[0]
    return {"optimizer": "sgd" if "sgd" in opts else opts[0], "logit_scale": scale, "learn_scale": learn,
            "hidden": hidden}


def in_setting(df: pd.DataFrame, setting: dict) -> pd.DataFrame:
    """Rows of ``df`` in ``setting`` (a dict of column: value)."""
    mask = np.ones(len(df), dtype=bool)
    for k, v in setting.items():
        mask &= (df[k] == v).to_numpy()
    return df[mask]


def levels_table(levels: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, optimiser, loss and target level (``levels.parquet``): the share of evaluation runs
    that reached it (and did not break) and their median steps to it (a true median, +inf when half or
    more missed), over every configuration and seed."""
    d = levels.assign(_t=steps_or_inf(levels))
    g = d.groupby(["dataset", "optimizer", "loss", "level"], sort=True)
    return pd.DataFrame({"runs": g.size(), "reached_frac": g["_t"].agg(lambda s: float(np.isfinite(s).mean())),
                         "steps_median": g["_t"].agg(true_median)}).reset_index()
