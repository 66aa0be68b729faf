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
    out = pd.DataFrame(rows, columns=cols)
    # what a sigmoid layer can pass back at most: its slope (at most 1/4) times the gain 1/sqrt(3) of
    # U(+-1/sqrt(n)) weights, per hidden layer
    out["sigmoid_bound"] = (1 / (4 * np.sqrt(3))) ** out["depth"].astype(float)
    return out


CONTROL = ["dataset", "activation", "hidden", "loss", "runs", "default", "log_prior", "change", "ce_default",
           "ce_log_prior", "inflated", "explained", "mean_output_error"]
SAME = 1.25          # two step-0 ratios within this factor of each other count as the same


def control_table(control: pd.DataFrame) -> pd.DataFrame:
    """The depth study's control (``results/convergence/init_control.parquet``, written by
    ``experiments.convergence.init_control``) at each dataset's deepest architecture, per (dataset,
    activation, hidden, loss): the median over runs of the step-0 ratio ||dL/dW_1|| / ||dL/dW_out|| with the
    default output bias and with the log-prior one, their ratio (``change``), cross-entropy's two medians
    beside them, whether the default ratio differs from cross-entropy's by more than :data:`SAME`
    (``inflated``) and whether the log-prior one then agrees with cross-entropy's within it (``explained``:
    the difference was the mean-error inflation of the output layer's gradient), and the median mean output
    error at the default bias."""
    if control.empty:
        return pd.DataFrame(columns=CONTROL)
    keys = ["dataset", "activation", "hidden", "loss"]
    wide = control.pivot_table(index=keys, columns="output_bias", values="grad_ratio_init", aggfunc="median")
    default = control[control["output_bias"] == "default"]
    out = wide.reindex(columns=["default", "log_prior"]).assign(
        runs=default.groupby(keys).size(), mean_output_error=default.groupby(keys)["mean_output_error"].median())
    out["change"] = out["log_prior"] / out["default"]
    out = out.reset_index()
    depth = out["hidden"].map(lambda h: len(h.split("-")))
    out = out[depth == depth.groupby(out["dataset"]).transform("max")]
    ce = out[out["loss"] == "cross_entropy"].set_index(["dataset", "activation", "hidden"])
    at = out.set_index(["dataset", "activation", "hidden"]).index
    out["ce_default"] = ce["default"].reindex(at).to_numpy()
    out["ce_log_prior"] = ce["log_prior"].reindex(at).to_numpy()
    near = lambda a, b: np.abs(np.log(a / b)) < np.log(SAME)      # noqa: E731
    out["inflated"] = ~near(out["default"], out["ce_default"]) & (out["loss"] != "cross_entropy")
    out["explained"] = out["inflated"] & near(out["log_prior"], out["ce_log_prior"])
    return out[CONTROL].reset_index(drop=True)
