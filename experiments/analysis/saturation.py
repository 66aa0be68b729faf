"""Output saturation on wrong answers: the lecture's mechanism, measured where it acts.

A training example is *stuck* when it is answered wrongly, its true-class output
q_y is below 1/2 and its derivative q_y (1 - q_y) has fallen below ``losses.STUCK_FRACTION`` of its
maximum (q = softmax(z) or sigmoid(z); ``stuck_wrong_frac`` in the curves, measured
on the whole training split at every logged step). Whether a stuck example stops
learning depends on the loss: the gradient of sigmoid + MSE, (2/C)(s - t) s (1 - s),
and of MSE on softmax carry that derivative as a factor; cross-entropy's p - t and
BCE's (s - t)/C do not, so the same examples keep a gradient of order one there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns

from .stats import percentile_interval

# the losses whose gradient is multiplied by the output derivative (the lecture's slow learners)
CARRIES_DERIVATIVE = {"mse_sigmoid", "mse_softmax"}


def stuck_table(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per (optimizer, loss) with an output non-linearity, over the evaluation runs given (pooled over
    datasets, activations and seeds; runs that broke count up to where they broke): runs; the median over
    runs of the final stuck share of training examples (``stuck_end``, with a 95% percentile-bootstrap
    interval over runs: descriptive), of the peak over logged steps (``stuck_peak``) and of the final
    training error (``error_end``); and ``stuck_of_errors``, the stuck examples over all wrong ones at the
    end, summed over runs (the share of the errors left whose gradient the output has switched off)."""
    keys = columns.RUN_KEYS
    c = curves.dropna(subset=["stuck_wrong_frac"])
    if c.empty:
        return pd.DataFrame(columns=["optimizer", "loss", "runs", "stuck_end", "stuck_end_low", "stuck_end_high",
                                     "stuck_peak", "error_end", "stuck_of_errors"])
    per_run = c.sort_values("step").groupby(keys, dropna=False).agg(
        stuck_end=("stuck_wrong_frac", "last"), stuck_peak=("stuck_wrong_frac", "max"),
        acc_end=("train_acc", "last")).reset_index()
    per_run = per_run.merge(runs[keys], on=keys)          # the runs given (one setting, say)
    rows = []
    for (opt, loss), sub in per_run.groupby(["optimizer", "loss"], sort=True):
        est, lo, hi = percentile_interval(sub["stuck_end"].to_numpy(dtype=float), seed=len(loss))
        errors = (1 - sub["acc_end"]).sum()
        rows.append(dict(optimizer=opt, loss=loss, runs=len(sub), stuck_end=float(sub["stuck_end"].median()),
                         stuck_end_low=lo, stuck_end_high=hi, stuck_peak=float(sub["stuck_peak"].median()),
                         error_end=float((1 - sub["acc_end"]).median()),
                         stuck_of_errors=float(sub["stuck_end"].sum() / errors) if errors > 0 else np.nan))
    return pd.DataFrame(rows)
