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
- **Score** of a rate: the median over tuning seeds of the steps to the target
  (a missed target counts +inf, as in AlgoPerf); ties, including "no seed
  reached it", go to the higher median final validation accuracy, then to the
  smaller rate. The chosen rate has the best score.
- **Reported**: every configuration at its chosen rate on the evaluation seeds
  (the evaluate stage), and for each configuration whether its chosen rate is
  still at an edge of the rates tried (``at_edge``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import columns
from .tables import ranked, steps_or_inf


def score_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, rate tried): the median over tuning seeds of the steps to target
    (inf when most seeds missed) and of the final validation accuracy, and the seeds behind them."""
    d = runs.assign(_t=steps_or_inf(runs))
    g = d.groupby(columns.CONFIG_KEYS, dropna=False, sort=True)
    out = pd.DataFrame({
        "median_steps_to_target": g["_t"].agg(lambda s: float(np.quantile(s, 0.5, method="inverted_cdf"))),
        "median_final_val_acc": g["final_val_acc"].agg(lambda s: float(np.quantile(s.fillna(-np.inf), 0.5,
                                                                                   method="inverted_cdf"))),
        "tuning_seeds": g.size(),
    }).reset_index()
    return out


def choose(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``chosen`` (the best rate of each configuration) and ``at_edge`` (the chosen
    rate is the smallest or largest rate tried for its configuration)."""
    cfg = [k for k in columns.CONFIG_KEYS if k != "lr"]
    best = ranked(scores, "median_steps_to_target", "median_final_val_acc", "lr") \
        .groupby(cfg, sort=False, dropna=False).head(1).index
    out = scores.copy()
    out["chosen"] = out.index.isin(best)
    lo = out.groupby(cfg, dropna=False)["lr"].transform("min")
    hi = out.groupby(cfg, dropna=False)["lr"].transform("max")
    out["at_edge"] = out["chosen"] & ((out["lr"] == lo) | (out["lr"] == hi)) & (lo < hi)
    out.loc[out["chosen"] & (lo == hi), "at_edge"] = True   # a single rate tried is its own edge
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
        table = choose(score_rates(pd.concat(done, ignore_index=True)))
        new = next_rates(table, s["factor"], bounds, extensions, s["max_extensions"])
        log(f"round {rnd}: {pending.num_runs} runs; {int(table['at_edge'].sum())} of {int(table['chosen'].sum())} "
            f"configurations at an edge, {len(new)} extended")
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


def chosen_rates(tuning: pd.DataFrame) -> dict[tuple, float]:
    """(activation, hidden, optimizer, learn_scale, logit_scale) -> chosen rate, for one (dataset, loss);
    hidden as a tuple of widths (what :func:`experiments.sweep.with_chosen_rates` takes)."""
    rows = tuning[tuning["chosen"]]
    return {(r.activation, _widths(r.hidden), r.optimizer, bool(r.learn_scale), float(r.logit_scale)): float(r.lr)
            for r in rows.itertuples()}


def _widths(name: str) -> tuple[int, ...]:
    """Inverse of ``hidden_name``: "64-32" -> (64, 32); "linear" -> ()."""
    return () if name == "linear" else tuple(int(w) for w in name.split("-"))
