"""Synthetic run tables with planted truths, for the analysis (experiments/analysis) to recover.

The design is unbalanced on purpose: a main grid on two datasets (3 activations x 2 optimisers x 2
logit scales x fixed or learned) and a study on a third dataset at two depths (SGD, one scale), a
different number of seeds per dataset, configurations that were never run, seeds missing from some
configurations, runs that miss the budget, runs that diverge, and steps on the training's check grid
(so ties are common).

The model, per dataset d, problem p (a setting), loss l and seed s::

    log T = mu_p + effect[d, l] + v[p, l] + u_s + e_{p,l,s}        (u, e, v normal, mean 0)
    steps = the first check of the training's schedule at or above T; a miss if above the budget
    with probability q_l the run diverges instead (status "diverged": a failure, whatever it reached)
    test_acc = base_p + acc_effect[d, l] + w[p, l] + noise            (NaN when the run diverged)

The truth of each claim follows from the parameters (:func:`truth`): e.g. the per-problem median
steps of a loss is the check at or above exp(mu_p + effect + v + sd * z), z the quantile
0.5 / (1 - q) of the normal (a diverged run counts +inf), and the claim is the median over the
problems that were run of the ratio of two such medians.
"""

from __future__ import annotations

import functools
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


def on_schedule(t: np.ndarray) -> np.ndarray:
    """The first check at or above ``t`` (+inf beyond the budget): monotone, so it commutes with medians."""
    i = np.searchsorted(SCHEDULE, np.asarray(t, dtype=float), side="left")
    return np.where(i < len(SCHEDULE), SCHEDULE[np.minimum(i, len(SCHEDULE) - 1)], np.inf)


@dataclass
class Plant:
    """The parameters of one synthetic sweep (defaults: the design of the module docstring)."""
    losses: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": math.log(0.8),
                                                 "mse_sigmoid": math.log(1.7)})
    # a dataset where the losses' order flips (as label smoothing's ECE does between digits and the mixture)
    flip: dict = field(default_factory=lambda: {"beta": {"hinge": -math.log(0.8) * 2}})
    acc_effect: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": -0.01, "mse_sigmoid": -0.03})
    diverge: dict = field(default_factory=lambda: {"cross_entropy": 0.0, "hinge": 0.02, "mse_sigmoid": 0.08})
    seeds: dict = field(default_factory=lambda: {"alpha": 6, "beta": 5, "gamma": 2})
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
    cfg["q"] = cfg["loss"].map(plant.diverge).to_numpy()
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
    acc = np.where(broke, np.nan, runs["acc"].to_numpy() + rng.normal(0, 0.01, len(runs)))
    runs = runs.assign(lr=0.1, status=np.where(broke, "diverged", np.where(np.isfinite(steps), "ok", "not_reached")),
                       steps_to_target=pd.array(np.where(np.isfinite(steps), steps, np.nan), dtype="Float64")
                       .astype("Int64"),
                       diverged_step=np.where(broke, np.minimum(steps, BUDGET), np.nan),
                       final_val_acc=acc, test_acc=acc, steps=BUDGET).drop(columns=["m", "acc", "q"])
    for c in columns.RUNS:
        if c not in runs:
            runs[c] = np.nan
    return runs, planted


@functools.lru_cache(maxsize=None)
def _z(q: float) -> float:
    return float(sps.norm.ppf(0.5 / (1 - q)))


def median_steps(m: float, q: float, sd: float) -> float:
    """The seed-population median of a configuration's steps (+inf for a divergence), on the check grid."""
    if q >= 0.5:
        return np.inf
    return float(on_schedule(math.exp(m + sd * _z(q))))


def truth(runs: pd.DataFrame, planted: dict, claim: str, dataset: str, subject: str, reference: str,
          optimizer: str | None = None) -> float:
    """The planted value of a claim over the problems actually run (``dataset`` a name or "all")."""
    if "_ran" not in planted:                 # (dataset, optimizer, loss) -> problems run
        keys = runs[["dataset", "optimizer", "loss", "problem"]].drop_duplicates()
        planted["_ran"] = {k: set(g["problem"]) for k, g in keys.groupby(["dataset", "optimizer", "loss"])}

    def ran(loss):
        return set().union(*[v for (d, o, l), v in planted["_ran"].items() if l == loss and
                             dataset in ("all", d) and optimizer in (None, o)])
    both = sorted(ran(subject) & ran(reference))
    if claim == "speed_ratio":
        a = np.array([median_steps(**_steps_args(planted[(i, subject)])) for i in both])
        b = np.array([median_steps(**_steps_args(planted[(i, reference)])) for i in both])
        keep = ~(np.isinf(a) & np.isinf(b))
        return float(np.median(a[keep] / b[keep])) if keep.any() else math.nan
    d = [planted[(i, subject)]["acc"] - planted[(i, reference)]["acc"] for i in both]
    return float(np.median(d)) if d else math.nan


def _steps_args(v: dict) -> dict:
    return {k: v[k] for k in ("m", "q", "sd")}
