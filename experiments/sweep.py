"""Expand a validated config into runs, stacks and groups (torch-free).

- A *run* is one training of one model.
- A *stack* is a set of runs that share dataset, loss, activation, architecture,
  optimiser and whether the logit scale is learned. They train together as one
  batched model, weights stacked along a leading run axis; they differ in logit
  scale, learning rate and seed. The trainer splits a stack into chunks sized
  to the device (``training.stack_chunk_size``).
- A *group* is one Snakemake job: every stack of one (dataset, loss), so a job
  pays process start-up and ``import torch`` once for many stacks; with
  ``max_group_runs`` set, split into jobs of at most that many runs
  (``<dataset>.<loss>.<part>``), stacks split where they must be.

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
from dataclasses import asdict, dataclass


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
    target_acc: float
    loss_params: dict
    stacks: tuple[Stack, ...]

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


def groups_from_config(cfg: dict) -> dict[str, Group]:
    """All groups of the convergence sweep, keyed by name, in a stable order."""
    cv = cfg["convergence"]
    out: dict[str, Group] = {}
    for dataset, loss in itertools.product(cv["datasets"], cv["losses"]):
        stacks = []
        for act, hidden, opt, learn in itertools.product(
                cv["activations"], cv["hidden_layers"], cv["optimizers"], cv["learn_logit_scale"]):
            runs = tuple(
                Run(float(scale), float(lr), int(seed),
                    derive_seed(cfg["seed"], dataset, hidden_name(tuple(hidden)), "replicate", seed))
                for scale, lr, seed in itertools.product(
                    cv["logit_scales"], cv["learning_rates"][opt], cv["seeds"]))
            stacks.append(Stack(dataset, loss, act, tuple(hidden), opt, bool(learn), runs))
        parts = _split(stacks, cv.get("max_group_runs"))
        for i, part in enumerate(parts):
            name = f"{dataset}.{loss}" if len(parts) == 1 else f"{dataset}.{loss}.{i}"
            out[name] = Group(
                name=name, dataset=dataset, loss=loss, steps=cv["steps"], batch_size=cv["batch_size"],
                log_points=cv["log_points"], target_acc=float(cv["target_acc"][dataset]),
                loss_params=dict(cv["loss_params"]), stacks=tuple(part))
    return out


def _split(stacks: list[Stack], cap: int | None) -> list[list[Stack]]:
    """Pack stacks, in order, into parts of at most ``cap`` runs (a longer stack is cut)."""
    if cap is None:
        return [stacks]
    pieces = [dataclasses.replace(s, runs=s.runs[i:i + cap]) for s in stacks for i in range(0, len(s.runs), cap)]
    parts: list[list[Stack]] = [[]]
    for piece in pieces:
        if parts[-1] and sum(len(s.runs) for s in parts[-1]) + len(piece.runs) > cap:
            parts.append([])
        parts[-1].append(piece)
    return parts


def sweep_table(cfg: dict):
    """One row per run: its group, stack number, keys and derived seed (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for g in groups_from_config(cfg).values():
        for i, s in enumerate(g.stacks):
            for r in s.runs:
                rows.append(dict(group=g.name, stack=f"{g.name}.{i}", dataset=g.dataset, loss=g.loss,
                                 activation=s.activation, hidden=hidden_name(s.hidden), optimizer=s.optimizer,
                                 learn_scale=s.learn_scale, logit_scale=r.logit_scale, lr=r.lr, seed=r.seed,
                                 torch_seed=r.torch_seed))
    return pd.DataFrame(rows)
