"""Per-layer weight gradients of the depth study."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns
from .stats import percentile_interval as bootstrap_ci


def layer_ratios(layers: pd.DataFrame) -> pd.DataFrame:
    """Per run (``columns.RUN_KEYS``) with at least two weight layers: its depth (hidden layers), the
    ratio ||dL/dW_1|| / ||dL/dW_L|| (input-side layer over the output layer) at step 0
    (``grad_ratio_init``) and at its last step with a gradient (``grad_ratio_end``), and the mean over
    hidden layers of the saturated fraction at step 0 and at its last logged step. With two or more hidden
    layers, Glorot & Bengio's statistic too: the per-entry RMS of the weight gradient,
    ||dL/dW_l|| / sqrt(entries of W_l), of layer 1 over the last hidden layer's (layer L - 1, the output
    layer left out) at step 0 (``rms_ratio_init``; NaN with one hidden layer)."""
    keys = columns.RUN_KEYS
    out_layer = layers.groupby(keys, dropna=False)["layer"].transform("max")      # the run's output layer
    d = layers[(out_layer > 1) & layers["grad_norm"].notna()]
    if d.empty:
        return pd.DataFrame(columns=keys + ["depth", "grad_ratio_init", "grad_ratio_end", "rms_ratio_init",
                                            "saturated_init", "saturated_end"])
    first = d[d["layer"] == 1].set_index(keys + ["step"])["grad_norm"]
    last = d[d["layer"] == out_layer[d.index]].set_index(keys + ["step"])["grad_norm"]
    g = (first / last).rename("ratio").reset_index()
    sat = layers.dropna(subset=["saturated_frac"]).groupby(keys + ["step"], dropna=False)["saturated_frac"].mean()
    sat = sat.reset_index()
    out = pd.DataFrame({"grad_ratio_init": g[g["step"] == 0].set_index(keys)["ratio"],
                        "grad_ratio_end": g.sort_values("step").groupby(keys, dropna=False)["ratio"].last()})
    d0 = d[(d["step"] == 0) & (out_layer[d.index] > 2)]
    rms = (d0["grad_norm"] / np.sqrt(d0["weights"].astype(float))).to_numpy()
    d0 = d0.assign(rms=rms)
    first_rms = d0[d0["layer"] == 1].set_index(keys)["rms"]
    last_hidden = d0[d0["layer"] == out_layer[d0.index] - 1].set_index(keys)["rms"]
    out = out.join((first_rms / last_hidden).rename("rms_ratio_init"))
    s_run = sat.sort_values("step").groupby(keys, dropna=False)
    out = out.join(pd.DataFrame({"saturated_init": s_run["saturated_frac"].first(),
                                 "saturated_end": s_run["saturated_frac"].last()}))
    out = out.reset_index()
    out.insert(len(keys), "depth", out["hidden"].map(lambda h: len(h.split("-"))))
    return out


def depth_sweeps(layers: pd.DataFrame) -> pd.DataFrame:
    """:func:`layer_ratios` of the datasets swept at more than one depth (a depth study)."""
    r = layer_ratios(layers)
    return r[r.groupby("dataset")["depth"].transform("nunique") > 1]


def depth_table(layers: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, activation, optimizer, loss, depth), where more than one depth was swept for that
    dataset: the medians over runs of :func:`layer_ratios`' columns with 95% bootstrap intervals."""
    r = depth_sweeps(layers)
    rows = []
    for key, sub in r.groupby(["dataset", "activation", "optimizer", "loss", "depth"], sort=True):
        row = dict(zip(["dataset", "activation", "optimizer", "loss", "depth"], key), runs=len(sub))
        for c in ("grad_ratio_init", "grad_ratio_end", "saturated_init", "saturated_end"):
            row[c], row[f"{c}_low"], row[f"{c}_high"] = bootstrap_ci(sub[c].to_numpy(dtype=float), seed=len(c))
        rows.append(row)
    cols = ["dataset", "activation", "optimizer", "loss", "depth", "runs"] + [
        f"{c}{s}" for c in ("grad_ratio_init", "grad_ratio_end", "saturated_init", "saturated_end")
        for s in ("", "_low", "_high")]
    return pd.DataFrame(rows, columns=cols)
