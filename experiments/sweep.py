"""Expand a validated config into runs and batched groups (torch-free).

A *run* is one training of one model. Runs that share dataset, loss,
activation and architecture form a *group*: they train together as one batched
model in one Snakemake job, stacked along a leading run axis. A group holds at
most ``max_group_size`` runs; bigger sets are split into numbered chunks.

Seeds are derived, never drawn: a run's seed is a hash of the base seed, the
dataset and its replicate id, so it does not depend on which group trains it.
Losses, activations, logit scales and learning rates deliberately do not enter
it: runs that differ only in those start from the same weights and see the
same minibatches (a paired comparison).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any printable parts (same on every machine)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Run:
    dataset: str
    loss: str
    activation: str
    logit_scale: float
    lr: float
    seed: int          # replicate id from the config
    torch_seed: int    # derived: initial weights and data order


@dataclass(frozen=True)
class Group:
    name: str                   # e.g. "digits.cross_entropy.relu.0"; a file name
    dataset: str
    loss: str
    activation: str
    hidden: tuple[int, ...]
    steps: int
    batch_size: int
    log_points: int
    target_acc: float
    runs: tuple[Run, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["runs"] = [asdict(r) for r in self.runs]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Group":
        d = dict(d)
        d["hidden"] = tuple(d["hidden"])
        d["runs"] = tuple(Run(**r) for r in d["runs"])
        return cls(**d)


def groups_from_config(cfg: dict) -> dict[str, Group]:
    """All groups of the convergence sweep, keyed by name, in a stable order."""
    cv = cfg["convergence"]
    out: dict[str, Group] = {}
    for dataset, loss, act in itertools.product(cv["datasets"], cv["losses"], cv["activations"]):
        runs = [
            Run(dataset, loss, act, float(scale), float(lr), int(seed),
                derive_seed(cfg["seed"], dataset, "replicate", seed))
            for scale, lr, seed in itertools.product(cv["logit_scales"], cv["learning_rates"], cv["seeds"])
        ]
        size = cv["max_group_size"]
        for i in range(0, len(runs), size):
            name = f"{dataset}.{loss}.{act}.{i // size}"
            out[name] = Group(
                name=name, dataset=dataset, loss=loss, activation=act,
                hidden=tuple(cv["hidden"]), steps=cv["steps"], batch_size=cv["batch_size"],
                log_points=cv["log_points"], target_acc=float(cv["target_acc"][dataset]),
                runs=tuple(runs[i:i + size]),
            )
    return out
