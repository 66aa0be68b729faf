"""Per-problem tables of a metric, and the test-split metrics of every loss."""

from __future__ import annotations

import pandas as pd

from .. import columns
from .stats import RESAMPLES, POOLED, bootstrap, stable_seed, units

# A setting that every loss meets on the same seeds and data order (its rate is its own, tuned).
PROBLEM_KEYS = [k for k in columns.CONFIG_KEYS if k not in ("loss", "lr")]


def per_problem(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Problems x losses: the mean of ``metric`` over evaluation seeds (runs where it is NaN, i.e.
    broke, left out; a loss with no value on a problem is NaN there). Only problems that were run."""
    return runs.groupby(PROBLEM_KEYS + ["loss"], dropna=False)[metric].mean().unstack("loss")


def _claim(claims: pd.DataFrame, claim: str, dataset: str) -> pd.Series | None:
    """The row of ``claim`` in ``dataset``; pooled, the only row when one dataset has it."""
    c = claims[(claims["claim"] == claim) & (claims["dataset"] == dataset)]
    if dataset == POOLED and c.empty:
        c = claims[claims["claim"] == claim]
        c = c if len(c) == 1 else c.iloc[:0]
    return c.iloc[0] if len(c) else None


CALIBRATION_METRICS = columns.TEST_METRICS + [m for m in columns.TEMPERATURE_METRICS if m != "temperature"]


def calibration_table(runs: pd.DataFrame, claims: pd.DataFrame, dataset: str = POOLED,
                      resamples: int = RESAMPLES, prefix: str = "test") -> pd.DataFrame:
    """Per loss, on the test split (:data:`CALIBRATION_METRICS`: ``_ts`` after temperature scaling), in
    ``dataset`` (or pooled): the median over problems of the mean over seeds with its 95% seed-bootstrap
    interval, and the paired difference from cross-entropy as the claims table states it (claims
    ``<prefix>.<metric>.*``: ``test`` for the runs at the speed-tuned rates, ``tuned_for_acc`` for those at
    the rates of best validation accuracy), over problems (``<metric>_diff``, ``_low``, ``_high``, ``_p``:
    Holm-adjusted; accuracy's is the mean difference over problems, ``<prefix>.test_acc_mean``, the view that
    carries its test) and, for ``test``, paired over test examples (``<metric>_diff_examples``...; accuracy,
    NLL and Brier; the per-example outputs are kept for the speed-tuned runs only)."""
    d = runs if dataset == POOLED else runs[runs["dataset"] == dataset]
    problem = [k for k in PROBLEM_KEYS if k != "dataset"]
    rows = []
    for loss in dict.fromkeys(d["loss"]):
        row = {"loss": loss, "problems": int(per_problem(d[d["loss"] == loss], "test_acc")[loss].notna().sum())}
        for m in CALIBRATION_METRICS:
            if m not in d:
                row.update({f"{m}{x}": float("nan") for x in ("", "_low", "_high")})
                continue
            found = bootstrap(units(d, m, "loss", [loss], problem), "median_of_means",
                              stable_seed("calibration", loss, m), resamples).get(
                dataset if dataset != POOLED or d["dataset"].nunique() > 1 else d["dataset"].iloc[0])
            row[m], row[f"{m}_low"], row[f"{m}_high"] = ((found.estimate, found.ci_low, found.ci_high)
                                                         if found else (float("nan"),) * 3)
            for kind, suffix in ((prefix, "_diff"), ("test_examples" if prefix == "test" else None, "_diff_examples")):
                view = "test_acc_mean" if m == "test_acc" and kind == prefix else m    # accuracy: its tested view
                vals = _claim(claims, f"{kind}.{view}.{loss}_vs_cross_entropy", dataset) if kind else None
                row[f"{m}{suffix}"], row[f"{m}{suffix}_low"], row[f"{m}{suffix}_high"], row[f"{m}{suffix}_p"] = (
                    (vals["estimate"], vals["ci_low"], vals["ci_high"], vals["p_adjusted"]) if vals is not None
                    else (float("nan"),) * 4)
        rows.append(row)
    cols = ["loss", "problems"] + [f"{m}{s}" for m in CALIBRATION_METRICS for s in (
        "", "_low", "_high", *[f"{d}{e}" for d in ("_diff", "_diff_examples") for e in ("", "_low", "_high", "_p")])]
    return pd.DataFrame(rows, columns=cols)
