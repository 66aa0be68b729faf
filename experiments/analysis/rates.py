"""Gradient scale and the effective learning rate (rate x ||dL/dz|| at step 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns
from .stats import percentile_interval as bootstrap_ci
from .summary import in_setting


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
    rates would agree even where the tuned rates do not: ``tuned_spread`` and ``effective_spread`` are the
    largest median over the smallest, over the losses with both.
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
    out = pd.DataFrame(rows, columns=["loss", "grad_norm_at_zero", "configurations"] + [
        f"{n}{s}" for n in ("grad_norm_step0", "tuned_lr", "effective_lr") for s in ("", "_low", "_high")])
    ok = out.dropna(subset=["tuned_lr", "effective_lr"])
    spread = lambda c: float(ok[c].max() / ok[c].min()) if len(ok) > 1 else np.nan      # noqa: E731
    return out.assign(tuned_spread=spread("tuned_lr"), effective_spread=spread("effective_lr"))


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


# two effective rates closer than this (relative) are the same rate: the step-0 gradient norm is measured,
# and its last digits differ between a CPU and a GPU
SAME_RATE = 1e-6


def steps_at(points: pd.DataFrame, effective_lr: float, value: str = "median_steps_to_target") -> float:
    """Steps to the target at ``effective_lr``, read off one configuration's tried rates (``points``:
    ``effective_lr`` and ``value``, +inf where the target was missed):

    - at a tried rate (within ``SAME_RATE``): its value, whatever its neighbours did;
    - between two tried rates that both reached: linear in log-log between them;
    - between a rate that reached and one that missed: the value of the nearer one (log distance), so the
      answer moves continuously with a measured gradient norm instead of jumping to +inf;
    - outside the rates tried: NaN (not measured).
    """
    p = points.sort_values("effective_lr")
    x, y = np.log(p["effective_lr"].to_numpy(float)), p[value].to_numpy(float)
    t = float(np.log(effective_lr))
    tol = np.log1p(SAME_RATE)
    if len(x) == 0:
        return np.nan
    near = np.flatnonzero(np.abs(x - t) <= tol)
    if near.size:
        return float(y[near[0]])
    if t < x[0] or t > x[-1]:
        return np.nan
    i = int(np.searchsorted(x, t))                                         # x[i - 1] < t < x[i]
    lo, hi = y[i - 1], y[i]
    w = (t - x[i - 1]) / (x[i] - x[i - 1])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return float(lo if w <= 0.5 else hi)
    return float(np.exp((1 - w) * np.log(lo) + w * np.log(hi)))


def matched_rate_costs(tuning: pd.DataFrame, tuning_runs: pd.DataFrame, curves: pd.DataFrame, setting: dict,
                       reference: str = "cross_entropy") -> pd.DataFrame:
    """One row per problem (a configuration without loss and rate, in ``setting``), loss and tuning seed:
    ``steps``, that seed's steps to the target (+inf: missed or broke) at ``reference``'s tuned effective
    rate on the problem, read off the loss's own tried rates by :func:`steps_at` (each rate's effective
    rate: rate x the configuration's median ||dL/dz|| at step 0 over evaluation runs)."""
    from .summary import steps_or_inf

    keys = [k for k in columns.CONFIG_KEYS if k != "lr"]
    problem = [k for k in keys if k != "loss"]
    g0 = in_setting(curves[curves["step"] == 0], setting).groupby(keys, dropna=False)["grad_norm_logits"].median()
    t = in_setting(tuning, setting).merge(g0.rename("g0").reset_index(), on=keys)
    ref = t[(t["loss"] == reference) & t["chosen"]].assign(at=lambda d: d["lr"] * d["g0"]).set_index(problem)["at"]
    r = in_setting(tuning_runs, setting).merge(g0.rename("g0").reset_index(), on=keys)
    r = r.assign(effective_lr=r["lr"] * r["g0"], _t=steps_or_inf(r))
    rows = []
    for key, sub in r.groupby(keys + ["seed"], dropna=False, sort=True):
        where = tuple(v for k, v in zip(keys, key) if k != "loss")
        if where not in ref.index:
            continue
        rows.append(dict(zip(keys + ["seed"], key), steps=steps_at(sub, float(ref.loc[where]), value="_t")))
    return pd.DataFrame(rows, columns=keys + ["seed", "steps"])
