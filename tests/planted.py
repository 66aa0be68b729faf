"""Synthetic run tables with planted truths, for the analysis (experiments/analysis) to recover.

The design is unbalanced on purpose: a main grid on two datasets (3 activations x 2 optimisers x 2
logit scales x fixed or learned) and a study on a third dataset at two depths (SGD, one scale), a
different number of seeds per dataset, configurations that were never run, seeds missing from some
configurations, runs that miss the budget, runs that diverge, and steps on the training's check grid
(so ties are common).

The model, per dataset d, problem p (a setting), loss l and seed s::

    log T = mu_p + effect[d, l] + v[p, l] + u_s + e_{p,l,s}        (u, e, v normal, mean 0)
    steps = the first check of the training's schedule at or above T; a miss if above the budget
    with probability q the run diverges instead (status "diverged": a failure, whatever it reached):
    q = 1/2 in a share ``unstable[l]`` of a loss's configurations (breaks cluster there, as in the sweep:
    a rate at the edge of stability breaks on many seeds), q = ``diverge[l]`` elsewhere (isolated breaks)
    test_acc = base_p + acc_effect[d, l] + w[p, l] + noise            (CHANCE when the run diverged,
                                                                       the engine's contract for a broken run)

The truth of each claim follows from the parameters (:func:`truth`): per problem a loss's median steps
in budgets is the check at or above exp(mu_p + effect + v + sd * z) over the budget, z the quantile
0.5 / (1 - q) of the normal, censored at the budget (1: half or more of the seeds miss or break); the
speed claim is the median, over the problems both losses ran where either median is below the budget,
of their ratio. An accuracy claim is the median (or mean) over problems of the difference of expected
accuracies, a break scoring CHANCE.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from experiments import columns
from experiments.sweep import target_schedule

BUDGET = 400
SCHEDULE = target_schedule(BUDGET).astype(float)     # the checks of training
CHANCE = 0.1                                          # what a broken run scores (the engine: its split's chance)


def on_schedule(t: np.ndarray) -> np.ndarray:
    """The first check at or above ``t`` (+inf beyond the budget): monotone, so it commutes with medians."""
    i = np.searchsorted(SCHEDULE, np.asarray(t, dtype=float), side="left")
    return np.where(i < len(SCHEDULE), SCHEDULE[np.minimum(i, len(SCHEDULE) - 1)], np.inf)


@dataclass
class Plant:
    """The parameters of one synthetic sweep (defaults: the design of the module docstring)."""
    # mse_sigmoid is slow enough to miss the budget on many seeds of its slower settings (censored there);
    # focal breaks on half its seeds
    losses: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": math.log(0.8),
                                                 "mse_sigmoid": math.log(5.0), "focal": 0.0})
    # a dataset where the losses' order flips (as label smoothing's ECE does between digits and the mixture)
    flip: dict = field(default_factory=lambda: {"beta": {"hinge": -math.log(0.8) * 2}})
    acc_effect: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": -0.01, "mse_sigmoid": -0.03,
                                                     "focal": 0.0})
    diverge: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": 0.01, "mse_sigmoid": 0.01,
                                                  "focal": 0.5})
    unstable: dict = field(default_factory=lambda: {"cross_entropy": 0.05, "hinge": 0.1, "mse_sigmoid": 0.15,
                                                   "focal": 0.0})
    seeds: dict = field(default_factory=lambda: {"alpha": 8, "beta": 6, "gamma": 2})
    sd_seed: float = 0.15      # u_s: shared by every run of a seed (crossed with settings)
    sd_run: float = 0.25       # e: each run's own
    sd_setting: float = 0.2    # v: a loss's effect varies between settings
    missing_config: float = 0.08
    missing_seed: float = 0.05


def design(plant: Plant) -> pd.DataFrame:
    """The problems: dataset, activation, hidden, optimizer, learn_scale, logit_scale (before any is dropped)."""
    main = [dict(dataset=d, activation=a, hidden="64", optimizer=o, learn_scale=ls, logit_scale=sc)
            for d, a, o, ls, sc in itertools.product(["alpha", "beta"], ["sigmoid", "tanh", "relu"], ["sgd", "adam"],
                                                     [False, True], [1.0, 10.0])]
    study = [dict(dataset="gamma", activation=a, hidden=h, optimizer="sgd", learn_scale=False, logit_scale=1.0)
             for a, h in itertools.product(["sigmoid", "tanh", "relu"], ["64", "64-64-64"])]
    return pd.DataFrame(main + study)


def generate(plant: Plant, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """(runs, parameters): a runs table with ``columns.RUNS`` filled where the analysis reads them, and
    what was planted (per problem and loss: log median ``m``, divergence ``q``, accuracy ``acc``)."""
    problems = design(plant).reset_index(names="problem")
    P, losses = len(problems), list(plant.losses)
    mu = rng.uniform(math.log(20), math.log(80), P)
    base = rng.uniform(0.6, 0.9, P)
    sd = math.hypot(plant.sd_seed, plant.sd_run)
    # configurations: problem x loss, some never run (cross-entropy, the reference, always is)
    cfg = problems.merge(pd.DataFrame({"loss": losses}), how="cross")
    cfg = cfg[(cfg["loss"] == "cross_entropy") | (rng.random(len(cfg)) >= plant.missing_config)].reset_index(drop=True)
    ref = cfg["loss"] == "cross_entropy"
    flip = np.array([plant.flip.get(d, {}).get(l, 0.0) for d, l in zip(cfg["dataset"], cfg["loss"])])
    cfg["m"] = mu[cfg["problem"]] + cfg["loss"].map(plant.losses).to_numpy() + flip + \
        np.where(ref, 0.0, rng.normal(0, plant.sd_setting, len(cfg)))
    cfg["acc"] = base[cfg["problem"]] + cfg["loss"].map(plant.acc_effect).to_numpy() + \
        np.where(ref, 0.0, rng.normal(0, 0.01, len(cfg)))
    cfg["q"] = np.where(rng.random(len(cfg)) < cfg["loss"].map(plant.unstable).to_numpy(), 0.5,
                        cfg["loss"].map(plant.diverge).to_numpy())
    planted = {(int(i), l): dict(m=m, q=q, sd=sd, acc=a)
               for i, l, m, q, a in cfg[["problem", "loss", "m", "q", "acc"]].itertuples(index=False)}
    # runs: configuration x seed of its dataset, some seeds missing
    runs = cfg.merge(pd.DataFrame([(d, s) for d, n in plant.seeds.items() for s in range(n)],
                                  columns=["dataset", "seed"]), on="dataset")
    runs = runs[rng.random(len(runs)) >= plant.missing_seed].reset_index(drop=True)
    u = {d: rng.normal(0, plant.sd_seed, n) for d, n in plant.seeds.items()}
    shared = np.array([u[d][s] for d, s in zip(runs["dataset"], runs["seed"])])
    steps = on_schedule(np.exp(runs["m"].to_numpy() + shared + rng.normal(0, plant.sd_run, len(runs))))
    broke = rng.random(len(runs)) < runs["q"].to_numpy()
    acc = np.where(broke, CHANCE, runs["acc"].to_numpy() + rng.normal(0, 0.01, len(runs)))
    runs = runs.assign(lr=0.1, status=np.where(broke, "diverged", np.where(np.isfinite(steps), "ok", "not_reached")),
                       steps_to_target=pd.array(np.where(np.isfinite(steps), steps, np.nan), dtype="Float64")
                       .astype("Int64"),
                       diverged_step=np.where(broke, np.minimum(steps, BUDGET), np.nan),
                       final_val_acc=acc, test_acc=acc, steps=BUDGET).drop(columns=["m", "acc", "q"])
    for c in columns.RUNS:
        if c not in runs:
            runs[c] = np.nan
    return runs, planted


def censored_median(m: float, q: float, sd: float) -> float:
    """The seed-population median of a run's steps in budgets (a miss or a break at the budget, 1) when its
    log steps are N(m, sd) before the check grid and it breaks with probability q: the first check c with
    (1 - q) P(T <= c) >= 1/2, over the budget; 1 where there is none."""
    if q >= 0.5:
        return 1.0
    c = float(on_schedule(math.exp(m + sd * sps.norm.ppf(0.5 / (1 - q)))))
    return min(c / BUDGET, 1.0)


def truth(runs: pd.DataFrame, planted: dict, claim: str, dataset: str, subject: str, reference: str,
          optimizer: str | None = None, statistic: str = "median") -> float:
    """The planted value of a claim over the problems actually run (``dataset`` a name or "all"):
    ``speed_ratio`` (the median over problems of the ratio of censored medians) or an accuracy difference (``statistic``:
    the median or the mean over problems)."""
    d = runs[(runs["loss"].isin([subject, reference])) & ((runs["dataset"] == dataset) | (dataset == "all"))]
    if optimizer is not None:
        d = d[d["optimizer"] == optimizer]
    n = d.groupby(["problem", "loss"]).size().unstack("loss")
    both = n.dropna()
    if claim == "speed_ratio":
        a = np.array([censored_median(**_steps_args(planted[(int(i), subject)])) for i in both.index])
        b = np.array([censored_median(**_steps_args(planted[(int(i), reference)])) for i in both.index])
        keep = (a < 1) | (b < 1)                 # where both sit at the budget there is no speed to compare
        return float(np.median(a[keep] / b[keep])) if keep.any() else math.nan
    acc = lambda i, arm: (1 - planted[(int(i), arm)]["q"]) * planted[(int(i), arm)]["acc"] + \
        planted[(int(i), arm)]["q"] * CHANCE                                    # noqa: E731
    diff = np.array([acc(i, subject) - acc(i, reference) for i in both.index])
    if not len(diff):
        return math.nan
    return float(np.median(diff) if statistic == "median" else np.mean(diff))


def _steps_args(v: dict) -> dict:
    return {k: v[k] for k in ("m", "q", "sd")}
