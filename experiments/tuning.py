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

from . import columns


def _steps(runs: pd.DataFrame) -> pd.Series:
    return runs["steps_to_target"].astype("Float64").fillna(np.inf).astype(float)


def score_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, rate tried): the median over tuning seeds of the steps to target
    (inf when most seeds missed) and of the final validation accuracy, and the seeds behind them."""
    d = runs.assign(_t=_steps(runs))
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
    ranked = scores.sort_values(["median_steps_to_target", "median_final_val_acc", "lr"],
                                ascending=[True, False, True])
    best = ranked.groupby(cfg, sort=False, dropna=False).head(1).index
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
