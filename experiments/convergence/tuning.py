"""The learning-rate search of the tune stage: score, choose, extend past an edge.

Protocol (as AlgoPerf writes its tuning rules down):

- **What is tuned**: the learning rate of every configuration (dataset, loss,
  activation, architecture, optimiser, logit scale, scale learned or fixed),
  on the config's ``tuning_seeds`` only; the evaluation seeds never take part.
- **Search space**: the optimiser's grid ``learning_rates.<optimiser>`` (a log
  grid, half a decade apart in the default config), extended one point at a
  time by ``lr_search.factor`` past whichever edge holds the chosen rate, at most
  ``lr_search.max_extensions`` times per configuration and never past
  ``lr_search.bounds.<optimiser>``, until the chosen rate is interior.
- **Score** of a rate: the true median over tuning seeds of the steps to the
  target (a missed target, or a run that broke, counts +inf, as in AlgoPerf), so
  a rate on which half or more of the seeds miss scores +inf and never beats one
  on which all reach; ties, including "no seed reached it", go first to a rate
  that broke on fewer than half its tuning seeds, then to the higher median final
  validation accuracy (a run that broke counting at chance), then to the smaller rate. The chosen rate
  has the best score. (The reference stage, which sets the targets, runs the same
  search with no target: every score ties at +inf and final accuracy decides.)
- **Reported**: every configuration at its chosen rate on the evaluation seeds
  (the evaluate stage), and for each configuration how its search ended
  (``search_outcome``, :data:`OUTCOMES`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import columns
from ..analysis.summary import BROKEN, ranked, steps_or_inf, true_median


# How a configuration's search ended (``search_outcome`` of its chosen row; "" on the other rows):
OUTCOMES = {
    "interior": "the chosen rate has a tried rate on either side",
    "at_bound": "the chosen rate is at an edge of the rates tried, and the next rate past it would leave "
                "lr_search.bounds: the optimum of the stated search space",
    "at_edge": "the chosen rate is at an edge that is not a bound: the search stopped at "
               "lr_search.max_extensions (the optimum may lie outside the rates tried)",
    "unsolved": "no rate tried reached the target on half or more of the tuning seeds (chosen by final "
                "validation accuracy): a category of its own",
}


def score_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, rate tried): the true median over tuning seeds of the steps to target
    (+inf when half or more missed or broke) and of the final validation accuracy, and the seeds behind them."""
    d = runs.assign(_t=steps_or_inf(runs), _a=runs["final_val_acc"].astype(float).fillna(-np.inf),
                    _b=runs["status"].isin(BROKEN).astype(float) if "status" in runs else 0.0)
    g = d.groupby(columns.CONFIG_KEYS, dropna=False, sort=True)
    out = pd.DataFrame({
        "median_steps_to_target": g["_t"].agg(true_median),
        "median_final_val_acc": g["_a"].agg(true_median),
        "tuning_seeds": g.size(),
        "broken_frac": g["_b"].mean(),
    }).reset_index()
    return out


def choose(scores: pd.DataFrame, bounds: dict[str, tuple[float, float]] | None = None,
           factor: float | None = None) -> pd.DataFrame:
    """``scores`` with ``chosen`` (the best rate of each configuration), ``search_outcome`` (on the chosen
    row, one of :data:`OUTCOMES`; with no ``bounds`` given an edge counts as ``at_edge``) and ``at_edge``
    (the outcome is ``at_edge``)."""
    cfg = [k for k in columns.CONFIG_KEYS if k != "lr"]
    best = ranked(scores, "median_steps_to_target", "median_final_val_acc", "lr") \
        .groupby(cfg, sort=False, dropna=False).head(1).index
    out = scores.copy()
    out["chosen"] = out.index.isin(best)
    g = out.groupby(cfg, dropna=False)
    lo, hi = g["lr"].transform("min"), g["lr"].transform("max")
    solved = g["median_steps_to_target"].transform(lambda s: bool(np.isfinite(s).any()))
    at_lo, at_hi = out["lr"] == lo, out["lr"] == hi
    if bounds is not None and factor is not None:
        low_b = out["optimizer"].map(lambda o: bounds[o][0])
        high_b = out["optimizer"].map(lambda o: bounds[o][1])
        # the next rate past the edge would leave the bounds (the same test as next_rates)
        stuck_lo, stuck_hi = out["lr"] / factor < low_b * (1 - 1e-9), out["lr"] * factor > high_b * (1 + 1e-9)
    else:
        stuck_lo = stuck_hi = pd.Series(False, index=out.index)
    edge = (at_lo | at_hi)
    bound = (~at_lo | stuck_lo) & (~at_hi | stuck_hi)       # every edge it sits on is a bound
    outcome = np.select([~solved, edge & bound, edge], ["unsolved", "at_bound", "at_edge"], "interior")
    out["search_outcome"] = np.where(out["chosen"], outcome, "")
    out["at_edge"] = out["search_outcome"] == "at_edge"
    return out


def next_rates(chosen: pd.DataFrame, factor: float, bounds: dict[str, tuple[float, float]],
               extensions: dict[tuple, int], max_extensions: int) -> dict[tuple, float]:
    """Per configuration (a tuple of ``CONFIG_KEYS`` without lr) whose chosen rate sits at an edge:
    the next rate past that edge (rate x factor above, / factor below), if inside the optimiser's
    bounds and the configuration has had fewer than ``max_extensions`` extensions."""
    cfg = [k for k in columns.CONFIG_KEYS if k != "lr"]
    out = {}
    for key, sub in chosen.groupby(cfg, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        if extensions.get(key, 0) >= max_extensions:
            continue
        pick = sub.loc[sub["chosen"], "lr"].iloc[0]
        lo, hi = sub["lr"].min(), sub["lr"].max()
        low_b, high_b = bounds[sub["optimizer"].iloc[0]]
        if pick == hi and pick * factor <= high_b * (1 + 1e-9):
            out[key] = _tidy(pick * factor)
        elif pick == lo and pick / factor >= low_b * (1 - 1e-9):
            out[key] = _tidy(pick / factor)
    return out


def _tidy(lr: float) -> float:
    """Round away float noise from repeated multiplication (12 significant digits)."""
    return float(f"{lr:.12g}") if lr > 0 and math.isfinite(lr) else lr


def search(group, train, lr_search: dict, tuning_seeds: list[int], base_seed: int,
           log=lambda msg: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rate search of one tune group: train its initial grid on the tuning seeds, then, round by
    round, the next rate past the edge of every configuration whose chosen rate sits at one, until
    none does (or the bounds or ``max_extensions`` stop it). Returns (tuning table, tuning runs): one
    row per (configuration, rate tried) with its scores, ``chosen``, ``at_edge`` and the ``round`` it
    was tried in; and every run trained, with its ``round``.

    ``train(group) -> runs`` trains a group's runs (``experiments.convergence.training.train_group``'s runs table);
    injected, so that the search can be tested on a synthetic objective.
    """
    from ..sweep import hidden_name, make_run, with_runs

    s = lr_search
    bounds = {opt: tuple(b) for opt, b in s["bounds"].items()}
    done, extensions, pending, rnd = [], {}, group, 0
    while pending.num_runs:
        runs = train(pending)
        done.append(runs.assign(round=rnd))
        table = choose(score_rates(pd.concat(done, ignore_index=True)), bounds, s["factor"])
        new = next_rates(table, s["factor"], bounds, extensions, s["max_extensions"])
        outcomes = table.loc[table["chosen"], "search_outcome"].value_counts().to_dict()
        log(f"round {rnd}: {pending.num_runs} runs; outcomes so far {outcomes}; {len(new)} extended")
        for key in new:
            extensions[key] = extensions.get(key, 0) + 1
        runs_of = {}
        for i, st in enumerate(group.stacks):
            mine = (group.dataset, group.loss, st.activation, hidden_name(st.hidden), st.optimizer, st.learn_scale)
            runs_of[i] = tuple(make_run(base_seed, group.dataset, st.hidden, key[-1], lr, seed)
                               for key, lr in new.items() if key[:-1] == mine for seed in tuning_seeds)
        pending, rnd = with_runs(group, runs_of), rnd + 1
    runs = pd.concat(done, ignore_index=True)
    first = runs.groupby(columns.CONFIG_KEYS, dropna=False)["round"].min()
    table = table.merge(first.reset_index(), on=columns.CONFIG_KEYS)
    return table[columns.TUNING], runs[columns.TUNING_RUNS]


# The two rate selections made from the same tuning runs (``chosen_rates``' ``selection``):
SELECTIONS = {
    "speed": "fewest median steps to the target on the tuning seeds (then higher median final validation "
             "accuracy, then the smaller rate): the convergence comparison's rate",
    "accuracy": "highest median final validation accuracy on the tuning seeds (a run that broke at chance; a rate "
                "that broke on half or more of them after every other), then the smaller rate, among the rates "
                "the speed search tried: the rate for accuracy and calibration verdicts",
}


def chosen_rates(tuning: pd.DataFrame, selection: str = "speed") -> dict[tuple, float]:
    """(activation, hidden, optimizer, learn_scale, logit_scale) -> chosen rate, for one (dataset, loss);
    hidden as a tuple of widths (what :func:`experiments.sweep.with_chosen_rates` takes). ``selection``:
    one of :data:`SELECTIONS` (``speed``: the ``chosen`` rows of the search)."""
    if selection == "speed":
        rows = tuning[tuning["chosen"]]
    elif selection == "accuracy":
        cfg = [k for k in columns.CONFIG_KEYS if k != "lr"]
        broke = tuning["broken_frac"] >= 0.5 if "broken_frac" in tuning else False
        rows = tuning.assign(_broke=broke).sort_values(["_broke", "median_final_val_acc", "lr"],
                                                       ascending=[True, False, True]) \
            .groupby(cfg, sort=False, dropna=False).head(1)
    else:
        raise ValueError(f"unknown selection {selection!r}; valid: {list(SELECTIONS)}")
    return {(r.activation, _widths(r.hidden), r.optimizer, bool(r.learn_scale), float(r.logit_scale)): float(r.lr)
            for r in rows.itertuples()}


def _widths(name: str) -> tuple[int, ...]:
    """Inverse of ``hidden_name``: "64-32" -> (64, 32); "linear" -> ()."""
    return () if name == "linear" else tuple(int(w) for w in name.split("-"))
