"""Output saturation on wrong answers: the lecture's mechanism, measured where it acts.

A training example is *stuck* when it is answered wrongly, its true-class output q_y is below 1/2 and
its derivative q_y (1 - q_y) has fallen below a fraction f of its maximum 1/4 (q = softmax(z) or
sigmoid(z)); the curves hold the share of training examples stuck at every logged step, at three
thresholds (``columns.STUCK_COLUMNS``: f = 0.1, the main one; 0.01, strict; 0.5, loose). Whether a stuck
example stops learning depends on the loss: the gradient of sigmoid + MSE, (2/C)(s - t) s (1 - s),
and of MSE on softmax carry that derivative as a factor; cross-entropy's p - t and BCE's (s - t)/C do
not, so the same examples keep a gradient of order one there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns

THRESHOLDS = {"stuck_wrong_frac": "0.1", "stuck_wrong_frac_strict": "0.01", "stuck_wrong_frac_loose": "0.5"}
SCOPES = {                     # the rows of stuck_shares: every setting, per logit scale, per setting
    "every setting": [],
    "logit scale": ["logit_scale"],
    "activation and scale": ["logit_scale", "activation"],          # pooled over the datasets
    "setting": ["dataset", "logit_scale", "activation"],
}
STUCK_SHARES = ["optimizer", "loss", "scope", "dataset", "logit_scale", "activation", "runs", "error_end",
                "stuck_end", "stuck_of_errors", "stuck_of_errors_strict", "stuck_of_errors_loose", "stuck_peak",
                "peak_step_share"]


def per_run(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run of ``runs`` with a stuck measure: at its last logged step (where it broke, for a run
    that broke) the training error and the stuck share at each threshold; the peak of the main stuck share
    over training and when it came, as a share of the budget."""
    keys = columns.RUN_KEYS
    c = curves.dropna(subset=["stuck_wrong_frac"]).merge(runs[keys + ["steps"]], on=keys)
    if c.empty:
        return pd.DataFrame(columns=keys + ["error_end", *THRESHOLDS, "stuck_peak", "peak_step_share"])
    c = c.sort_values("step")
    g = c.groupby(keys, dropna=False, sort=False)
    end = g.tail(1).set_index(keys)
    peak = c.loc[g["stuck_wrong_frac"].idxmax()].set_index(keys)
    out = pd.DataFrame({"error_end": 1 - end["train_acc"],
                        **{k: end[k] for k in THRESHOLDS if k in end},
                        "stuck_peak": peak["stuck_wrong_frac"],
                        "peak_step_share": peak["step"] / peak["steps"]})
    return out.reset_index()


def stuck_shares(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per optimiser and loss with an output non-linearity, over the evaluation runs given, at each scope
    of :data:`SCOPES` (every setting; per logit scale; per dataset, logit scale and hidden activation):
    runs; the median training error at the end (``error_end``); the median stuck share at the end
    (``stuck_end``); ``stuck_of_errors``: the stuck examples over all wrong ones at the end, summed over
    runs (the share of the errors left whose gradient the output has switched off), at each threshold
    (``_strict``: f = 0.01, ``_loose``: f = 0.5); the median over runs of the peak stuck share and of when
    it came (``peak_step_share``: the step over the budget). Descriptive: counts and medians."""
    r = per_run(runs, curves)
    rows = []
    for scope, extra in SCOPES.items():
        for key, sub in r.groupby(["optimizer", "loss", *extra], sort=True, dropna=False):
            where = dict(zip(["optimizer", "loss", *extra], key))
            errors = sub["error_end"].sum()
            share = {f"stuck_of_errors{suffix}": (float(sub[c].sum() / errors) if errors > 0 else np.nan)
                     for c, suffix in (("stuck_wrong_frac", ""), ("stuck_wrong_frac_strict", "_strict"),
                                       ("stuck_wrong_frac_loose", "_loose"))}
            rows.append(dict(scope=scope, dataset=where.get("dataset", "all"),
                             logit_scale=where.get("logit_scale", np.nan), activation=where.get("activation", "all"),
                             optimizer=where["optimizer"], loss=where["loss"], runs=len(sub),
                             error_end=float(sub["error_end"].median()), stuck_end=float(sub["stuck_wrong_frac"].median()),
                             stuck_peak=float(sub["stuck_peak"].median()),
                             peak_step_share=float(sub["peak_step_share"].median()), **share))
    return pd.DataFrame(rows, columns=STUCK_SHARES)
