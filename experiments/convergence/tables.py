"""Build results tables: concatenate per-group files, summarise for the report.

Pure pandas; no plotting and no file writing besides what the caller asks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import columns
from ..stats import bootstrap_ci


def concat_parquet(paths: list[Path | str]) -> pd.DataFrame:
    """Row-concatenate parquet files in the given (stable) order."""
    frames = [pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def steps_or_inf(runs: pd.DataFrame) -> pd.Series:
    """steps_to_target as float with a missed target as +inf (AlgoPerf's convention)."""
    return runs["steps_to_target"].astype("Float64").fillna(np.inf).astype(float)


def ranked(df: pd.DataFrame, steps: str, acc: str, tie: str) -> pd.DataFrame:
    """``df`` best first by the one selection rule of this project (rates, scales): fewer median steps
    to target, then higher median final accuracy, then the smaller value of ``tie``."""
    return df.sort_values([steps, acc, tie], ascending=[True, False, True])


def summary_table(runs: pd.DataFrame, tuning: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per configuration (``columns.CONFIG_KEYS``), aggregated over seeds.

    Steps-to-target statistics count a missed target as +inf, so a median of
    inf means most seeds never reached it; ``reached_frac`` says how many did.
    Quantiles are sample quantiles (inverted CDF): each is a value some seed had.
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
        "reached_frac": g["steps_to_target"].agg(lambda s: s.notna().mean()),
        "steps_to_target_median": g["_t"].agg(q, 0.5),
        "steps_to_target_q25": g["_t"].agg(q, 0.25),
        "steps_to_target_q75": g["_t"].agg(q, 0.75),
        "final_val_acc_median": g["final_val_acc"].agg(q, 0.5),
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


def performance_profile(runs: pd.DataFrame, summary: pd.DataFrame, taus: np.ndarray | None = None,
                        seed: int = 0, resamples: int = 1000) -> pd.DataFrame:
    """Dolan-More performance profile of the losses, each at its own best learning rate and logit
    scale (``summary.best_lr & summary.best_scale``), with a 95% bootstrap band.

    A *problem* is (dataset, activation, hidden, optimizer, learn_scale, seed);
    a loss's cost on it is steps-to-target (inf if missed). With r = cost /
    (best cost of any loss on the problem), the profile is rho(tau) = fraction of
    problems with r <= tau. Problems that no loss solved count in the
    denominator and are solved by none. The band resamples problems in clusters
    of a setting's seeds (seeded), ``resamples`` times: ``ci_low``, ``ci_high``.
    """
    taus = np.unique(np.concatenate([[1.0], np.geomspace(1, 100, 41)])) if taus is None else taus
    best = summary.loc[summary["best_lr"] & summary["best_scale"], columns.CONFIG_KEYS]
    d = runs.merge(best, on=columns.CONFIG_KEYS).assign(_t=lambda x: steps_or_inf(x))
    problem = [k for k in columns.RUN_KEYS if k not in ("loss", "lr", "logit_scale")]
    d["_best"] = d.groupby(problem, dropna=False)["_t"].transform("min")
    with np.errstate(invalid="ignore", divide="ignore"):
        d["_ratio"] = np.where(np.isfinite(d["_t"]), d["_t"].clip(lower=1) / d["_best"].clip(lower=1), np.inf)
    ratios = d.pivot_table(index=problem, columns="loss", values="_ratio", aggfunc="first", dropna=False)
    cluster = [k for k in problem if k != "seed"]
    units = ratios.groupby(level=cluster, dropna=False).indices          # cluster -> row positions
    blocks = list(units.values())
    r = ratios.to_numpy()                                                 # (problems, losses)

    def solved(rows: np.ndarray) -> np.ndarray:                           # (losses, taus)
        return (rows[:, :, None] <= taus[None, None, :]).mean(0)

    from ..stats import bootstrap_rows
    band = bootstrap_rows(np.arange(len(blocks)), lambda idx: solved(r[np.concatenate([blocks[i] for i in idx])]),
                          seed=seed, resamples=resamples)                 # (resamples, losses, taus)
    lo, hi = np.quantile(band, [0.025, 0.975], axis=0)
    est = solved(r)
    rows = [dict(loss=loss, tau=float(t), fraction_solved=float(est[i, j]), problems=len(r),
                 ci_low=float(lo[i, j]), ci_high=float(hi[i, j]))
            for i, loss in enumerate(ratios.columns) for j, t in enumerate(taus)]
    return pd.DataFrame(rows, columns=columns.PROFILE)


def win_shares(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per problem (as in :func:`performance_profile`) and loss, the loss's share of the win: 1/k when it
    is one of k losses with the fewest steps (a tie shares the win), 0 otherwise or when none reached."""
    best = summary.loc[summary["best_lr"] & summary["best_scale"], columns.CONFIG_KEYS]
    d = runs.merge(best, on=columns.CONFIG_KEYS).assign(_t=lambda x: steps_or_inf(x))
    problem = [k for k in columns.RUN_KEYS if k not in ("loss", "lr", "logit_scale")]
    fastest = d.groupby(problem, dropna=False)["_t"].transform("min")
    d["_win"] = (d["_t"] == fastest) & np.isfinite(d["_t"])
    d["share"] = d["_win"] / d.groupby(problem, dropna=False)["_win"].transform("sum").replace(0, 1)
    return d[problem + ["loss", "share"]]


def best_lr_rows(df: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``df`` (runs or curves) at each configuration's best learning rate."""
    best = summary.loc[summary["best_lr"], columns.CONFIG_KEYS]
    return df.merge(best, on=columns.CONFIG_KEYS)


def fixed_lr_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """The fixed-rate view beside the tuned view, on the tuning seeds.

    Rows: loss. Columns: (optimizer, lr) for every rate of the initial grid
    (round 0, tried by every configuration), then (optimizer, "tuned"). Each cell
    is the median, over configurations (all keys but loss, optimizer and lr), of
    the median steps to target over tuning seeds; inf means most configurations
    were not solved at that rate.
    """
    v = "median_steps_to_target"
    grid = tuning[tuning["round"] == 0]
    fixed = grid.pivot_table(index="loss", columns=["optimizer", "lr"], values=v, aggfunc="median")
    tuned = tuning[tuning["chosen"]].pivot_table(index="loss", columns="optimizer", values=v, aggfunc="median")
    parts = {}
    for opt in sorted(tuning["optimizer"].unique()):
        for lr in sorted(grid.loc[grid["optimizer"] == opt, "lr"].unique()):
            parts[(opt, f"{lr:g}")] = fixed[(opt, lr)]
        parts[(opt, "tuned")] = tuned[opt]
    out = pd.DataFrame(parts)
    out.columns.names = ["optimizer", "lr"]
    return out


def check_columns(df: pd.DataFrame, expected: list[str], name: str) -> None:
    """Raise if ``df`` lacks any contract column of table ``name``."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


CONTRACT = {
    "runs": columns.RUNS,
    "summary": columns.SUMMARY,
    "profile": columns.PROFILE,
    "tuning": columns.TUNING,
    "tuning_runs": columns.TUNING_RUNS,
    "claims": columns.CLAIMS,
    "curves": columns.CURVES,
    "layers": columns.LAYERS,
    "literature": columns.LITERATURE,
    "probes": columns.PROBES,
    "thresholds": columns.THRESHOLDS,
    "amp_training": columns.AMP_TRAINING,
    "examples": columns.EXAMPLES,
    "datasets": columns.DATASETS,
}


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


def gradient_scale_table(curves: pd.DataFrame, summary: pd.DataFrame, setting: dict,
                         at_zero: dict[str, float]) -> pd.DataFrame:
    """Per loss, in ``setting``: how large its gradient is when training starts, its tuned rate, and
    their product, the *effective* rate (an SGD step moves the logits by about rate x ||dL/dz||).

    - ``grad_norm_at_zero``: ||dl/dz|| at z = 0, analytic (``at_zero``, from gradients.grad_norm_at_zero);
    - ``grad_norm_step0``: mean_i ||dl_i/dz_i|| measured at step 0, median over runs, 95% bootstrap
      interval (``_low``, ``_high``);
    - ``tuned_lr``: the tuned rate, median over configurations (dataset x activation x architecture),
      with its interval;
    - ``effective_lr``: per configuration, its tuned rate x its median step-0 gradient norm; median over
      configurations, with its interval.
    If losses differed only by the scale of their gradient, tuning would undo it and the effective
    rates would agree even where the tuned rates do not.
    """
    start = in_setting(curves[curves["step"] == 0], setting)
    tuned = in_setting(summary[summary["best_lr"]], setting)
    keys = columns.CONFIG_KEYS
    g0 = start.groupby(keys, dropna=False)["grad_norm_logits"].median().rename("g0")
    per_config = tuned[keys].merge(g0.reset_index(), on=keys)             # lr is a configuration key
    per_config["effective"] = per_config["lr"] * per_config["g0"]
    rows = []
    for loss in dict.fromkeys(tuned["loss"]):
        d = per_config[per_config["loss"] == loss]
        row = {"loss": loss, "grad_norm_at_zero": at_zero.get(loss, np.nan), "configurations": len(d)}
        for name, values in [("grad_norm_step0", start.loc[start["loss"] == loss, "grad_norm_logits"]),
                             ("tuned_lr", d["lr"]), ("effective_lr", d["effective"])]:
            row[name], row[f"{name}_low"], row[f"{name}_high"] = bootstrap_ci(values.to_numpy(dtype=float))
        rows.append(row)
    return pd.DataFrame(rows, columns=["loss", "grad_norm_at_zero", "configurations"] + [
        f"{n}{s}" for n in ("grad_norm_step0", "tuned_lr", "effective_lr") for s in ("", "_low", "_high")])


# A setting that every loss meets on the same seeds and data order (its rate is its own, tuned).
PROBLEM_KEYS = [k for k in columns.CONFIG_KEYS if k not in ("loss", "lr")]


def per_problem(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Problems x losses: the mean of ``metric`` over evaluation seeds (runs where it is NaN, i.e.
    broke, left out; a loss with no value on a problem is NaN there)."""
    return runs.pivot_table(index=PROBLEM_KEYS, columns="loss", values=metric, aggfunc="mean", dropna=False)


def paired_difference(table: pd.DataFrame, loss: str, reference: str, metric: str) -> tuple[np.ndarray, tuple]:
    """``loss`` minus ``reference`` on the problems of a :func:`per_problem` table where both have a value,
    and the median difference with its 95% bootstrap interval (one seed per loss and metric, so the
    report's table and the claims print the same interval)."""
    if reference not in table or loss not in table:
        diff = np.array([])
    else:
        both = table[[loss, reference]].dropna()
        diff = (both[loss] - both[reference]).to_numpy(dtype=float)
    return diff, bootstrap_ci(diff, seed=len(loss) + len(metric))


def calibration_table(runs: pd.DataFrame, reference: str = "cross_entropy") -> pd.DataFrame:
    """Per loss, on the test split (``columns.TEST_METRICS``): the median over problems of the
    mean over seeds, and the paired difference from ``reference`` on the same problems
    (``<metric>_diff``), each with its 95% bootstrap interval (``_low``, ``_high``) over problems."""
    rows = []
    tables = {m: per_problem(runs, m) for m in columns.TEST_METRICS}
    for loss in dict.fromkeys(runs["loss"]):
        row = {"loss": loss, "problems": int(tables["test_acc"][loss].notna().sum())}
        for m, t in tables.items():
            row[m], row[f"{m}_low"], row[f"{m}_high"] = bootstrap_ci(t[loss].to_numpy(dtype=float), seed=len(m))
            row[f"{m}_diff"], row[f"{m}_diff_low"], row[f"{m}_diff_high"] = paired_difference(t, loss, reference, m)[1]
        rows.append(row)
    cols = ["loss", "problems"] + [f"{m}{d}{s}" for m in columns.TEST_METRICS for d in ("", "_diff")
                                   for s in ("", "_low", "_high")]
    return pd.DataFrame(rows, columns=cols)


def layer_ratios(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run (``columns.RUN_KEYS``) with at least two weight layers: its depth (hidden layers), the
    ratio ||dL/dW_1|| / ||dL/dW_L|| (input-side layer over the output layer) at step 0
    (``grad_ratio_init``) and at its last step with a gradient (``grad_ratio_end``), and the mean over
    hidden layers of the saturated fraction at step 0 and at its last logged step."""
    keys = columns.RUN_KEYS
    out_layer = layers.groupby(keys, dropna=False)["layer"].transform("max")      # the run's output layer
    d = layers[(out_layer > 1) & layers["grad_norm"].notna()]
    if d.empty:
        return pd.DataFrame(columns=keys + ["depth", "grad_ratio_init", "grad_ratio_end", "saturated_init",
                                            "saturated_end"])
    first = d[d["layer"] == 1].set_index(keys + ["step"])["grad_norm"]
    last = d[d["layer"] == out_layer[d.index]].set_index(keys + ["step"])["grad_norm"]
    g = (first / last).rename("ratio").reset_index()
    sat = layers.dropna(subset=["saturated_frac"]).groupby(keys + ["step"], dropna=False)["saturated_frac"].mean()
    sat = sat.reset_index()
    out = pd.DataFrame({"grad_ratio_init": g[g["step"] == 0].set_index(keys)["ratio"],
                        "grad_ratio_end": g.sort_values("step").groupby(keys, dropna=False)["ratio"].last()})
    s_run = sat.sort_values("step").groupby(keys, dropna=False)
    out = out.join(pd.DataFrame({"saturated_init": s_run["saturated_frac"].first(),
                                 "saturated_end": s_run["saturated_frac"].last()}))
    out = out.reset_index()
    out.insert(len(keys), "depth", out["hidden"].map(lambda h: len(h.split("-"))))
    return out


def depth_sweeps(layers: pd.DataFrame) -> pd.DataFrame:
    """:func:`layer_ratios` of the datasets swept at more than one depth (a depth study)."""
    r = layer_ratios(layers)
    return r[r.groupby("dataset")["depth"].transform("nunique") > 1]


def depth_table(layers: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, activation, optimizer, loss, depth), where more than one depth was swept for that
    dataset: the medians over runs of :func:`layer_ratios`' columns with 95% bootstrap intervals."""
    r = depth_sweeps(layers)
    rows = []
    for key, sub in r.groupby(["dataset", "activation", "optimizer", "loss", "depth"], sort=True):
        row = dict(zip(["dataset", "activation", "optimizer", "loss", "depth"], key), runs=len(sub))
        for c in ("grad_ratio_init", "grad_ratio_end", "saturated_init", "saturated_end"):
            row[c], row[f"{c}_low"], row[f"{c}_high"] = bootstrap_ci(sub[c].to_numpy(dtype=float), seed=len(c))
        rows.append(row)
    cols = ["dataset", "activation", "optimizer", "loss", "depth", "runs"] + [
        f"{c}{s}" for c in ("grad_ratio_init", "grad_ratio_end", "saturated_init", "saturated_end")
        for s in ("", "_low", "_high")]
    return pd.DataFrame(rows, columns=cols)


def amp_table(amp: pd.DataFrame) -> pd.DataFrame:
    """Reduced-precision training over seeds, per (dtype, implementation, gradient scaler, optimiser,
    logit scale): seeds run, seeds with a non-finite loss or gradient that stopped training, seeds
    where the scaler skipped steps, the median first non-finite step (NaN if none) and the median final
    validation accuracy."""
    keys = ["dtype", "implementation", "grad_scaler", "optimizer", "logit_scale"]
    g = amp.groupby(keys, sort=False, dropna=False)
    out = pd.DataFrame({
        "seeds": g.size(),
        "nonfinite_seeds": g["status"].agg(lambda s: int((s == "nonfinite").sum())),
        "skipped_seeds": g["status"].agg(lambda s: int((s == "skipped").sum())),
        "first_nonfinite_step_median": g["first_nonfinite_step"].agg(
            lambda s: float(s.dropna().median()) if s.notna().any() else np.nan),
        "final_val_acc_median": g["final_val_acc"].median(),
        "lr": g["lr"].first(),
    })
    return out.reset_index()


def effective_rate_table(tuning: pd.DataFrame, curves: pd.DataFrame, setting: dict) -> pd.DataFrame:
    """Every rate the tune stage tried in ``setting``, on the effective-rate axis: per configuration
    and rate, ``effective_lr`` = rate x the configuration's median ||dL/dz|| at step 0 (over evaluation
    runs; step 0 does not depend on the rate) and the median steps to the target on the tuning seeds
    (+inf: most missed), with ``chosen`` marking the tuned rate."""
    keys = [k for k in columns.CONFIG_KEYS if k != "lr"]
    g0 = in_setting(curves[curves["step"] == 0], setting).groupby(keys, dropna=False)["grad_norm_logits"].median()
    t = in_setting(tuning, setting).merge(g0.rename("g0").reset_index(), on=keys)
    t["effective_lr"] = t["lr"] * t["g0"]
    return t[keys + ["lr", "g0", "effective_lr", "median_steps_to_target", "chosen"]].sort_values(keys + ["lr"])


def steps_at(points: pd.DataFrame, effective_lr: float) -> float:
    """Steps to the target at ``effective_lr``, linear in log-log between the two tried rates around it
    (``points``: one configuration's effective_lr and median_steps_to_target); +inf when either
    neighbour missed the target; NaN outside the rates tried."""
    p = points.sort_values("effective_lr")
    x, y = np.log(p["effective_lr"].to_numpy(float)), p["median_steps_to_target"].to_numpy(float)
    t = np.log(effective_lr)
    if len(x) == 0 or t < x[0] - 1e-9 or t > x[-1] + 1e-9:
        return np.nan
    i = int(np.clip(np.searchsorted(x, t), 1, len(x) - 1)) if len(x) > 1 else 0
    if len(x) == 1 or abs(t - x[i]) < 1e-9:
        return float(y[i])
    lo, hi = y[i - 1], y[i]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.inf
    w = (t - x[i - 1]) / (x[i] - x[i - 1])
    return float(np.exp((1 - w) * np.log(lo) + w * np.log(hi)))


def matched_rate_costs(eff: pd.DataFrame, reference: str = "cross_entropy") -> pd.DataFrame:
    """Problems x losses: each loss's steps to the target (tuning seeds) at ``reference``'s tuned
    effective rate on that problem, read off its own tried rates by :func:`steps_at`."""
    problem = [k for k in columns.CONFIG_KEYS if k not in ("loss", "lr")]
    rows = []
    for key, sub in eff.groupby(problem, dropna=False, sort=True):
        ref = sub[(sub["loss"] == reference) & sub["chosen"]]
        if ref.empty:
            continue
        target = float(ref["effective_lr"].iloc[0])
        row = dict(zip(problem, key))
        for loss, pts in sub.groupby("loss"):
            row[loss] = steps_at(pts, target)
        rows.append(row)
    return pd.DataFrame(rows).set_index(problem) if rows else pd.DataFrame()
