"""Targets, AlgoPerf-style: the validation accuracy counted as "reached", set from a tuned baseline.

**Procedure** (``results/convergence/targets.parquet``, column ``how``):

1. The *reference stage* trains cross-entropy, the lecture's baseline, on the **tuning seeds** (never
   the evaluation seeds) in every configuration of the sweep, with the tune stage's rate search scored
   by final validation accuracy alone (no target exists yet): AlgoPerf tunes its baselines for the best
   validation result within the budget.
2. A *cell* is (dataset, architecture, activation, optimiser): what cross-entropy reaches within the
   budget differs several-fold between cells (on MNIST-1D at 400 steps, about 0.52 with ReLU and 0.32
   with sigmoid units), so one target per dataset would make whole cells unsolvable by every loss and
   measure nothing there. Its ``reference_acc`` is the best, over the cell's logit-scale settings, of
   cross-entropy's median final validation accuracy over tuning seeds at its chosen rate.
3. ``chance`` is the validation accuracy of always predicting the most frequent class. Each level l
   of ``convergence.targets.levels`` gives ``target_acc = chance + l x (reference_acc - chance)``: the
   share l of the way from chance to what tuned cross-entropy reaches. ``main`` marks the level that
   rates are tuned for and claims use; the others are reported from the same runs.
4. A cell where the reference is within ``LEARNS_MARGIN`` (10 points) of chance does not learn
   (``learns`` false, e.g. 5 sigmoid layers under SGD): a share of the way to a reference at chance
   would be reached by a model that learned nothing, so there every level's target is chance + 10
   points ("learned something"), and the report lists the cell.

Every loss, logit scale and rate of a cell is held to the same targets, so steps compare at equal
accuracy; a target is a property of the cell, never of the runs it judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import columns

LEARNS_MARGIN = 0.10
CELL = ["dataset", "hidden", "activation", "optimizer"]
HOW = ("cross-entropy tuned for final validation accuracy on the tuning seeds (the reference stage); "
       "reference_acc: the best median final validation accuracy over the cell's logit-scale settings; "
       "target_acc = chance + level x (reference_acc - chance), chance = the most frequent validation class")
HOW_NOT = ("cross-entropy did not learn in this cell (reference within 10 points of chance): target_acc = chance + 0.1 "
           "at every level")


def targets_table(reference: pd.DataFrame, chance: dict[str, float], levels: list[float],
                  main: float) -> pd.DataFrame:
    """One row per (cell, level) (``columns.TARGETS``) from the reference stage's tuning table (chosen
    rows: ``median_final_val_acc``) and each dataset's chance accuracy."""
    chosen = reference[reference["chosen"]]
    ref = chosen.groupby(CELL, sort=True, dropna=False)["median_final_val_acc"].max().rename("reference_acc")
    rows = []
    for cell, acc in ref.items():
        c = float(chance[cell[0]])
        learns = bool(acc >= c + LEARNS_MARGIN)
        for level in sorted(levels):
            target = c + level * (acc - c) if learns else c + LEARNS_MARGIN
            rows.append(dict(zip(CELL, cell), level=float(level), main=bool(np.isclose(level, main)),
                             target_acc=float(target), reference_acc=float(acc), chance=c, learns=learns,
                             how=HOW if learns else HOW_NOT))
    return pd.DataFrame(rows, columns=columns.TARGETS)


@dataclass(frozen=True)
class Targets:
    """What training checks: per cell (hidden name, activation, optimiser) of one dataset, the target
    accuracy of every level (``levels`` ascending; ``main`` one of them)."""
    levels: tuple[float, ...]
    main: float
    acc: dict[tuple[str, str, str], tuple[float, ...]]
    default: tuple[float, ...] | None = None      # for a cell not in ``acc`` (tests, benchmarks)

    @property
    def main_index(self) -> int:
        return self.levels.index(self.main)

    def of(self, hidden: str, activation: str, optimizer: str) -> tuple[float, ...]:
        try:
            return self.acc[(hidden, activation, optimizer)]
        except KeyError:
            if self.default is not None:
                return self.default
            raise KeyError(f"no target for hidden {hidden}, activation {activation}, optimizer {optimizer}: "
                           f"targets.parquet lacks this cell (rerun the reference stage)") from None

    @classmethod
    def from_table(cls, table: pd.DataFrame, dataset: str, main_only: bool = False) -> "Targets":
        """The targets of ``dataset``'s cells; ``main_only``: the main level alone (the tune stage scores
        rates by it, and checking a higher level would keep its runs waiting for nothing)."""
        t = table[(table["dataset"] == dataset) & (table["main"] | (not main_only))].sort_values("level")
        levels = tuple(float(x) for x in dict.fromkeys(t["level"]))
        main = float(t.loc[t["main"], "level"].iloc[0])
        acc = {key: tuple(float(x) for x in sub.sort_values("level")["target_acc"])
               for key, sub in t.groupby(["hidden", "activation", "optimizer"], sort=True)}
        return cls(levels, main, acc)

    @classmethod
    def constant(cls, target_acc: float) -> "Targets":
        """One level, the same accuracy in every cell (tests and benchmarks)."""
        return cls((1.0,), 1.0, {}, (float(target_acc),))


def target_rule_cells(runs: pd.DataFrame, targets: pd.DataFrame, reference: str = "cross_entropy") -> pd.DataFrame:
    """The same check per cell that learns: ``reference``'s evaluation runs there, the share that reached
    the main target and their median steps to it as a share of the budget (+inf: a miss or a break)."""
    from .summary import steps_or_inf, true_median

    main = targets.loc[targets["main"] & targets["learns"], CELL + ["target_acc"]]
    d = runs[runs["loss"] == reference].merge(main, on=CELL, suffixes=("_run", ""))
    d = d.assign(_share=steps_or_inf(d) / d["steps"])
    g = d.groupby(CELL, sort=True)
    return pd.DataFrame({"runs": g.size(), "target_acc": g["target_acc"].first(),
                         "reached_frac": g["_share"].agg(lambda s: float(np.isfinite(s).mean())),
                         "median_budget_share": g["_share"].agg(true_median)}).reset_index()


def target_rule(runs: pd.DataFrame, targets: pd.DataFrame, reference: str = "cross_entropy") -> pd.DataFrame:
    """Per dataset, the check that the main target is reached late in the budget by the tuned baseline:
    of ``reference``'s evaluation runs in cells that learn, the share that reached the main target and
    their median steps to it as a share of the step budget (a miss or a broken run counts as the
    budget's end: +inf), with the cells left out because they do not learn."""
    from .summary import steps_or_inf

    learns = targets.loc[targets["main"], CELL + ["learns"]]
    d = runs[runs["loss"] == reference].merge(learns, on=CELL, how="left")
    d = d.assign(_t=steps_or_inf(d))
    rows = []
    for ds, sub in d.groupby("dataset", sort=True):
        ok = sub[sub["learns"].fillna(False).astype(bool)]
        out = sub[~sub["learns"].fillna(False).astype(bool)]
        frac = float(np.isfinite(ok["_t"]).mean()) if len(ok) else np.nan
        med = float(np.median(ok["_t"] / ok["steps"])) if len(ok) else np.nan
        rows.append(dict(dataset=ds, runs=len(ok), reached_frac=frac, median_budget_share=med,
                         cells_left_out=", ".join(sorted({f"{h} {a} {o}" for h, a, o in
                                                          out[["hidden", "activation", "optimizer"]].itertuples(
                                                              index=False)}))))
    return pd.DataFrame(rows)
