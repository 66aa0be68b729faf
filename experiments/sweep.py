"""Expand a validated config into runs, stacks and groups (torch-free).

- A *run* is one training of one model.
- A *stack* is a set of runs that share dataset, loss, activation, architecture,
  optimiser and whether the logit scale is learned. They train together as one
  batched model, weights stacked along a leading run axis; they differ in logit
  scale, learning rate and seed. The trainer splits a stack into chunks sized
  to the device (``sizing.stack_chunk_size``).
- A *group* is one Snakemake job: every stack of one (dataset, loss), so a job
  pays process start-up and ``import torch`` once for many stacks; with
  ``max_group_runs`` set, split into jobs of at most that many runs
  (``<dataset>.<loss>.<part>``), stacks split where they must be.
- Three *phases*: ``reference`` groups (one per dataset) hold cross-entropy, the
  baseline that sets the targets (experiments.analysis.targets), in every
  configuration of the dataset x initial learning rate x tuning seed; ``tune``
  groups (experiments.convergence.tuning) hold every logit scale x initial
  learning rate x tuning seed (a configuration's rates never straddle two jobs,
  since its search extends them); ``eval`` groups hold every logit scale x
  evaluation seed, their rates left NaN until the job reads the rates the tune
  stage chose (:func:`with_chosen_rates`).

The sweep is the union of *grids*: the main grid (the axes under
``convergence``) and each *study* under ``convergence.studies``, a grid whose
axes left out take the main grid's values (e.g. the depth study: MNIST-1D at 1,
3 and 5 hidden layers, fixed logit scale 1). A configuration in several grids
is trained once.

Seeds are derived, never drawn: a run's seed is a hash of the base seed, the
dataset, the architecture and its replicate id, so it does not depend on which
group or chunk trains it. Losses, activations, optimisers, logit scales and
learning rates deliberately do not enter it: runs that differ only in those
start from the same weights and see the same minibatches (a paired comparison).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any printable parts (same on every machine)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def hidden_name(hidden: tuple[int, ...]) -> str:
    """(64, 64) -> "64-64"; () -> "linear"."""
    return "-".join(map(str, hidden)) or "linear"


@dataclass(frozen=True)
class Run:
    logit_scale: float  # initial value when the scale is learned
    lr: float
    seed: int           # replicate id from the config
    torch_seed: int     # derived: initial weights and data order


@dataclass(frozen=True)
class Stack:
    dataset: str
    loss: str
    activation: str
    hidden: tuple[int, ...]
    optimizer: str
    learn_scale: bool
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Group:
    name: str                   # "<dataset>.<loss>" or "<dataset>.<loss>.<part>", also a file name
    dataset: str
    loss: str
    steps: int
    batch_size: int
    log_points: int
    loss_params: dict
    stacks: tuple[Stack, ...]
    train_metric_examples: int | None = None   # training metrics on a fixed subsample of this many (None: all)

    @property
    def num_runs(self) -> int:
        return sum(len(s.runs) for s in self.stacks)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Group":
        d = dict(d)
        d["stacks"] = tuple(
            Stack(**{**s, "hidden": tuple(s["hidden"]), "runs": tuple(Run(**r) for r in s["runs"])})
            for s in d["stacks"])
        return cls(**d)


PHASES = ("reference", "tune", "eval")
# The reference and tune stages keep no curves (only each run's final metrics and status), so they log
# (evaluate the whole training set: loss, for the divergence check) at this many points, the evaluate
# stage at convergence.log_points: about a quarter of the tune stage's cost saved (MNIST-1D, measured).
SEARCH_LOG_POINTS = 8
REFERENCE_LOSS = "cross_entropy"   # the baseline whose tuned accuracy sets the targets
# The axes of a grid, in the order a stack's key is built.
AXES = ("datasets", "losses", "activations", "hidden_layers", "optimizers", "learn_logit_scale", "logit_scales")


def grids(cv: dict) -> dict[str, dict]:
    """The grids of the sweep by name: "main" (the axes under ``convergence``), then each study,
    its axes left out taken from the main grid."""
    main = {a: cv[a] for a in AXES}
    return {"main": main, **{name: {**main, **study} for name, study in (cv.get("studies") or {}).items()}}


def axis_values(cv: dict, axis: str) -> list:
    """Every value an axis takes in any grid, in first-seen order (e.g. all datasets swept)."""
    out: list = []
    for g in grids(cv).values():
        out += [v for v in g[axis] if v not in out]
    return out


def in_grid(runs, cv: dict, name: str = "main"):
    """A boolean mask over ``runs`` (a table with the run keys): the rows inside grid ``name`` (``"main"``:
    the axes under ``convergence``; else a study's). The main grid is the claims' pool: every optimiser on
    the same datasets and architectures, a study's extra settings outside it."""
    g = grids(cv)[name]
    mask = runs["dataset"].isin(g["datasets"]) & runs["loss"].isin(g["losses"])
    mask &= runs["activation"].isin(g["activations"]) & runs["optimizer"].isin(g["optimizers"])
    mask &= runs["hidden"].isin([hidden_name(tuple(h)) for h in g["hidden_layers"]])
    mask &= runs["learn_scale"].astype(bool).isin([bool(x) for x in g["learn_logit_scale"]])
    mask &= runs["logit_scale"].astype(float).isin([float(x) for x in g["logit_scales"]])
    return mask.to_numpy()


def _configurations(cv: dict, dataset: str, loss: str | None) -> dict[tuple, list[float]]:
    """(activation, hidden, optimizer, learn_scale) -> logit scales, over every grid holding (dataset, loss)
    (``loss`` None: every grid holding the dataset, whatever its losses)."""
    out: dict[tuple, list[float]] = {}
    for g in grids(cv).values():
        if dataset not in g["datasets"] or (loss is not None and loss not in g["losses"]):
            continue
        for act, hidden, opt, learn in itertools.product(
                g["activations"], g["hidden_layers"], g["optimizers"], g["learn_logit_scale"]):
            scales = out.setdefault((act, tuple(hidden), opt, bool(learn)), [])
            scales += [float(s) for s in g["logit_scales"] if float(s) not in scales]
    return out


def groups_from_config(cfg: dict, phase: str = "eval") -> dict[str, Group]:
    """All groups of one phase of the convergence sweep, keyed by name, in a stable order."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; valid: {list(PHASES)}")
    cv = cfg["convergence"]
    out: dict[str, Group] = {}
    pairs = ([(d, REFERENCE_LOSS) for d in axis_values(cv, "datasets")] if phase == "reference" else
             itertools.product(axis_values(cv, "datasets"), axis_values(cv, "losses")))
    for dataset, loss in pairs:
        stacks = []
        for (act, hidden, opt, learn), scales in _configurations(
                cv, dataset, None if phase == "reference" else loss).items():
            rates = cv["learning_rates"][opt] if phase != "eval" else [math.nan]
            seeds = cv["eval_seeds"] if phase == "eval" else cv["tuning_seeds"]
            runs = tuple(make_run(cfg["seed"], dataset, hidden, scale, lr, seed)
                         for scale, lr, seed in itertools.product(scales, rates, seeds))
            stacks.append(Stack(dataset, loss, act, hidden, opt, learn, runs))
        if not stacks:
            continue
        # a tuning configuration (one scale: every rate x seed) stays in one job
        unit = (lambda s: len(cv["learning_rates"][s.optimizer]) * len(cv["tuning_seeds"])) if phase != "eval" \
            else (lambda s: 1)
        parts = _split(stacks, cv.get("max_group_runs"), unit)
        for i, part in enumerate(parts):
            name = f"{dataset}.{loss}" if len(parts) == 1 else f"{dataset}.{loss}.{i}"
            out[name] = Group(
                name=name, dataset=dataset, loss=loss, steps=budget(cv, dataset), batch_size=cv["batch_size"],
                log_points=cv["log_points"] if phase == "eval" else min(cv["log_points"], SEARCH_LOG_POINTS),
                loss_params=dict(cv["loss_params"]), stacks=tuple(part),
                train_metric_examples=cv.get("train_metric_examples"))
    return out


def log_schedule(steps: int, points: int) -> np.ndarray:
    """Step 0, then ``points`` steps spaced geometrically in [1, steps] (dense early)."""
    geo = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return np.concatenate([[0], geo])


def target_schedule(steps: int) -> np.ndarray:
    """Steps at which validation accuracy is checked against the targets: every step to 20, then every
    2 steps, then about 5% apart, and ``steps``. A check at s follows the previous one by 1 step up to
    20 and by at most max(2, 5% of s) after, so ``steps_to_target`` (the first check at or above the
    target; the check before was below it) is exact up to 20 and within max(2 steps, 5%) after. (Accuracy
    is not monotone: a brief excursion above the target between two checks goes unseen.)"""
    out, s = [0], 0
    while s < steps:
        s = min(steps, s + (1 if s < 20 else max(2, int(0.05 * s))))
        out.append(s)
    return np.asarray(out)


def budget(cv: dict, dataset: str) -> int:
    """The step budget of ``dataset``: ``convergence.steps``, one integer or a mapping per dataset."""
    steps = cv["steps"]
    return int(steps[dataset] if isinstance(steps, dict) else steps)


def make_run(base_seed: int, dataset: str, hidden, scale: float, lr: float, seed: int) -> Run:
    """A run; its torch seed derives from the base seed, dataset, architecture and replicate only."""
    return Run(float(scale), float(lr), int(seed),
               derive_seed(base_seed, dataset, hidden_name(tuple(hidden)), "replicate", seed))


def with_runs(group: Group, runs_of: dict[int, tuple[Run, ...]]) -> Group:
    """``group`` with the runs of stack ``i`` replaced by ``runs_of[i]``; stacks left without runs dropped."""
    stacks = tuple(dataclasses.replace(s, runs=tuple(runs_of.get(i, ()))) for i, s in enumerate(group.stacks))
    return dataclasses.replace(group, stacks=tuple(s for s in stacks if s.runs))


def with_chosen_rates(group: Group, rate_of: dict[tuple, float]) -> Group:
    """An eval group with each run's rate set to its configuration's chosen rate.

    ``rate_of`` maps (activation, hidden, optimizer, learn_scale, logit_scale) to a rate.
    """
    def rate(s: Stack, r: Run) -> float:
        key = (s.activation, tuple(s.hidden), s.optimizer, s.learn_scale, r.logit_scale)
        if key not in rate_of:
            raise KeyError(f"{group.name}: no chosen rate for configuration {key}")
        return float(rate_of[key])
    return with_runs(group, {i: tuple(dataclasses.replace(r, lr=rate(s, r)) for r in s.runs)
                             for i, s in enumerate(group.stacks)})


def _split(stacks: list[Stack], cap: int | None, unit=lambda stack: 1) -> list[list[Stack]]:
    """Pack stacks, in order, into parts of at most ``cap`` runs (a longer stack is cut, but only
    between blocks of ``unit(stack)`` runs; a block longer than ``cap`` makes a part of its own)."""
    if cap is None:
        return [stacks]
    pieces = []
    for s in stacks:
        piece = max(unit(s), cap // unit(s) * unit(s))
        pieces += [dataclasses.replace(s, runs=s.runs[i:i + piece]) for i in range(0, len(s.runs), piece)]
    parts: list[list[Stack]] = [[]]
    for p in pieces:
        if parts[-1] and sum(len(s.runs) for s in parts[-1]) + len(p.runs) > cap:
            parts.append([])
        parts[-1].append(p)
    return parts


def sweep_table(cfg: dict):
    """One row per run of every phase (the reference and tune stages' initial grids; eval runs with lr
    NaN until tuned): its phase, group, stack number, keys and derived seed (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for phase in PHASES:
        for g in groups_from_config(cfg, phase).values():
            for i, s in enumerate(g.stacks):
                for r in s.runs:
                    rows.append(dict(phase=phase, group=g.name, stack=f"{g.name}.{i}", dataset=g.dataset, loss=g.loss,
                                     activation=s.activation, hidden=hidden_name(s.hidden), optimizer=s.optimizer,
                                     learn_scale=s.learn_scale, logit_scale=r.logit_scale, lr=r.lr, seed=r.seed,
                                     torch_seed=r.torch_seed))
    return pd.DataFrame(rows)
