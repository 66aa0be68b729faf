"""Reduced-precision training, summarised: the table of ``results/overflow/amp_training.parquet`` over seeds
and the logit scale at which each format first broke (``experiments.overflow.amp`` trains the runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def amp_table(amp: pd.DataFrame) -> pd.DataFrame:
    """Reduced-precision training over seeds, per (dtype, implementation, gradient scaler, optimiser,
    logit scale): seeds run, seeds with a non-finite loss or gradient that stopped training, seeds
    where the scaler skipped steps, the median first non-finite step (NaN if none) and the median final
    validation accuracy."""
    keys = ["dtype", "implementation", "grad_scaler", "optimizer", "logit_scale"]
    g = amp.groupby(keys, sort=False, dropna=False)
    out = pd.DataFrame({
        "seeds": g.size(),
        "nonfinite_seeds": g["status"].agg(lambda s: int((s == "nonfinite").sum())),
        "skipped_seeds": g["status"].agg(lambda s: int((s == "skipped").sum())),
        "first_nonfinite_step_median": g["first_nonfinite_step"].agg(
            lambda s: float(s.dropna().median()) if s.notna().any() else np.nan),
        "final_val_acc_median": g["final_val_acc"].median(),
        "lr": g["lr"].first(),
    })
    return out.reset_index()


def amp_breaks(amp: pd.DataFrame) -> pd.DataFrame:
    """Per implementation and format, over the runs without a gradient scaler (SGD and Adam together): the
    smallest logit scale at which half or more of the seeds of an optimiser stopped at a NaN/inf
    (``first_break``, NaN: never), beside the float32 control's (``control``: the same implementation
    without autocast). A format that breaks where float32 does not is the format's doing
    (``formats_doing``)."""
    d = amp[~amp["grad_scaler"].astype(bool)]
    cols = ["implementation", "dtype", "first_break", "control", "formats_doing"]
    if d.empty or "float32" not in set(d["dtype"]):
        return pd.DataFrame(columns=cols)
    broke = (d.assign(bad=d["status"] == "nonfinite").groupby(["implementation", "dtype", "optimizer", "logit_scale"])
             ["bad"].mean() >= 0.5).reset_index()
    first = broke[broke["bad"]].groupby(["implementation", "dtype"])["logit_scale"].min()
    rows = []
    for impl in dict.fromkeys(d["implementation"]):
        control = float(first.get((impl, "float32"), np.nan))
        for dtype in dict.fromkeys(d["dtype"]):
            s = float(first.get((impl, dtype), np.nan))
            rows.append(dict(implementation=impl, dtype=dtype, first_break=s, control=control,
                             formats_doing=bool(dtype != "float32" and not np.isnan(s)
                                                and (np.isnan(control) or s < control))))
    return pd.DataFrame(rows, columns=cols)
