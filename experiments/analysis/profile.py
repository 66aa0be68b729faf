"""The Dolan-More performance profile of the losses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns
from .summary import steps_or_inf


def performance_profile(runs: pd.DataFrame, summary: pd.DataFrame, taus: np.ndarray | None = None,
                        seed: int = 0, resamples: int = 1000) -> pd.DataFrame:
    """Dolan-More performance profile of the losses, each at its own best learning rate and logit
    scale (``summary.best_lr & summary.best_scale``), with a 95% bootstrap band.

    A *problem* is (dataset, activation, hidden, optimizer, learn_scale, seed), one that was run (never
    a combination of levels that no run has); a loss's cost on it is its steps to the target (+inf if
    missed or broken, :func:`summary.steps_or_inf`). With r = cost / (best cost of any loss on the
    problem), the profile is rho(tau) = the fraction of problems with r <= tau. Problems that no loss
    solved, or that a loss did not run, count in the denominator and are solved by none there. The band
    resamples seed ids with replacement within each dataset (the real units, as the claims do,
    ``experiments.analysis.stats``), ``resamples`` times: ``ci_low``, ``ci_high``.
    """
    taus = np.unique(np.concatenate([[1.0], np.geomspace(1, 100, 41)])) if taus is None else taus
    best = summary.loc[summary["best_lr"] & summary["best_scale"], columns.CONFIG_KEYS]
    d = runs.merge(best, on=columns.CONFIG_KEYS).assign(_t=lambda x: steps_or_inf(x))
    problem = [k for k in columns.RUN_KEYS if k not in ("loss", "lr", "logit_scale")]
    d["_best"] = d.groupby(problem, dropna=False)["_t"].transform("min")
    with np.errstate(invalid="ignore", divide="ignore"):
        d["_ratio"] = np.where(np.isfinite(d["_t"]), d["_t"].clip(lower=1) / d["_best"].clip(lower=1), np.inf)
    ratios = d.set_index(problem + ["loss"])["_ratio"].unstack("loss")     # (problems run, losses)
    r = ratios.to_numpy(dtype=float)
    keys = ratios.index.to_frame(index=False)
    # row positions of each (dataset, seed): the blocks a replicate draws, per dataset
    blocks = {ds: [np.flatnonzero(((keys["dataset"] == ds) & (keys["seed"] == s)).to_numpy())
                   for s in sorted(sub["seed"].unique())] for ds, sub in keys.groupby("dataset", sort=True)}

    def solved(rows: np.ndarray) -> np.ndarray:                           # (losses, taus); NaN: not run
        return (np.nan_to_num(rows, nan=np.inf)[:, :, None] <= taus[None, None, :]).mean(0)

    rng = np.random.default_rng(seed)
    band = np.stack([solved(r[np.concatenate([b[i] for b in blocks.values()
                                              for i in rng.integers(0, len(b), len(b))])])
                     for _ in range(resamples)])                          # (resamples, losses, taus)
    lo, hi = np.quantile(band, [0.025, 0.975], axis=0)
    est = solved(r)
    rows = [dict(loss=loss, tau=float(t), fraction_solved=float(est[i, j]), problems=len(r),
                 ci_low=float(lo[i, j]), ci_high=float(hi[i, j]))
            for i, loss in enumerate(ratios.columns) for j, t in enumerate(taus)]
    return pd.DataFrame(rows, columns=columns.PROFILE)
