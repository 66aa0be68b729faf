"""Figures for the report (seaborn/matplotlib). Each function returns a Figure
and never reads or writes files."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import columns
from ..convergence.losses import LOSS_LABELS
from ..overflow.probe import AXES


def convergence_figure(curves: pd.DataFrame, metric: str = "val_acc"):
    """``metric`` against step (log axis), a line per loss, with the band between the
    lowest and highest seed; panels: dataset (columns) x activation (rows).
    Pass curves already narrowed to one setting per loss (e.g. its best learning rate)."""
    d = curves.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    d["step + 1"] = d["step"] + 1
    g = sns.relplot(data=d, x="step + 1", y=metric, hue="loss", hue_order=[v for v in LOSS_LABELS.values()
                                                                            if v in set(d["loss"])],
                    col="dataset", row="activation", kind="line", errorbar=("pi", 100),
                    height=2.3, aspect=1.5, facet_kws={"sharey": True})
    g.set(xscale="log")
    g.set_axis_labels("step + 1", metric.replace("_", " "))
    return g.figure


def profile_figure(profile: pd.DataFrame):
    """Dolan-More performance profile: fraction of problems each loss solves within
    a factor tau of the fastest loss (higher and further left is better), with its
    bootstrap band (``ci_low``, ``ci_high``) shaded."""
    d = profile.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.lineplot(data=d, x="tau", y="fraction_solved", hue="loss", drawstyle="steps-post", ax=ax)
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    for loss, sub in d.groupby("loss", sort=False):
        ax.fill_between(sub["tau"], sub["ci_low"], sub["ci_high"], step="post", alpha=0.15, lw=0,
                        color=colours.get(loss, "0.5"))
    ax.set_xscale("log")
    ax.set_xlabel("tau (steps-to-target relative to the fastest loss)")
    ax.set_ylabel("fraction of problems solved")
    ax.set_ylim(0, 1.02)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title=None, frameon=False)
    fig.tight_layout()
    return fig


OUTCOME_COLOURS = {"loss and gradient finite": "#4c72b0", "gradient non-finite": "#dd8452",
                   "loss non-finite": "#c44e52"}


def overflow_figure(probes: pd.DataFrame):
    """Finiteness map: one panel per implementation (rows) and probe axis (columns);
    in each, a strip per dtype marking whether loss and gradient are finite at each axis value."""
    d = probes.copy()
    d["outcome"] = "loss and gradient finite"
    d.loc[d["loss_finite"] & ~d["grad_finite"], "outcome"] = "gradient non-finite"
    d.loc[~d["loss_finite"], "outcome"] = "loss non-finite"
    impls = list(dict.fromkeys(d["implementation"]))
    axes_present = [a for a in AXES if a in set(d["axis"])] + sorted(set(d["axis"]) - set(AXES))
    dtypes = [t for t in ("float16", "bfloat16", "float32", "float64") if t in set(d["dtype"])]
    fig, axes = plt.subplots(len(impls), len(axes_present), figsize=(3.7 * len(axes_present), 1.45 * len(impls) + 0.6),
                             sharex="col", sharey=True, squeeze=False)
    for i, impl in enumerate(impls):
        for j, axis in enumerate(axes_present):
            ax = axes[i][j]
            sub = d[(d["implementation"] == impl) & (d["axis"] == axis)]
            for outcome, colour in OUTCOME_COLOURS.items():
                pts = sub[sub["outcome"] == outcome]
                ax.scatter(pts["logit_gap"], pts["dtype"].map(dtypes.index), c=colour, marker="|", s=40,
                           linewidths=1.2, label=outcome)
            ax.set_xscale("log")
            ax.set_yticks(range(len(dtypes)), dtypes, fontsize=7)
            ax.set_ylim(-0.6, len(dtypes) - 0.4)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(AXES.get(axis, axis), fontsize=9)
            if j == 0:
                ax.set_ylabel(impl, fontsize=8)
            if i == len(impls) - 1:
                ax.set_xlabel("axis value v", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def relative_error_figure(probes: pd.DataFrame):
    """Relative error of each finite loss against the exact value, against the axis value,
    one panel per dtype, a line per implementation (non-finite points are left out)."""
    d = probes[probes["loss_finite"]].copy()
    d["relative error"] = d["relative_error"].clip(lower=1e-17)
    g = sns.relplot(data=d, x="logit_gap", y="relative error", hue="implementation", col="dtype",
                    col_wrap=2, kind="line", height=2.4, aspect=1.5, facet_kws={"sharey": True})
    g.set(xscale="log", yscale="log")
    g.set_axis_labels("logit gap v", "relative error")
    return g.figure


def gradient_figure(grads: pd.DataFrame):
    """d loss / d z_y against the true-class logit z_y (other logits 0), a line per loss."""
    d = grads.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.lineplot(data=d, x="true_logit", y="grad", hue="loss", ax=ax)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylim(-1.2, 0.6)  # the square losses on raw logits grow linearly past this window
    ax.set_xlabel("true-class logit z_y (all other logits 0)")
    ax.set_ylabel("d loss / d z_y")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title=None, frameon=False)
    fig.tight_layout()
    return fig


def grad_norm_figure(curves: pd.DataFrame):
    """Mean ||d loss / d z|| during training (log axes), a line per loss, panels per dataset."""
    d = curves.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    d["step + 1"] = d["step"] + 1
    g = sns.relplot(data=d, x="step + 1", y="grad_norm_logits", hue="loss", col="dataset", kind="line",
                    errorbar=("pi", 100), height=2.8, aspect=1.4)
    g.set(xscale="log", yscale="log")
    g.set_axis_labels("step + 1", "mean ||dl/dz||")
    return g.figure


def steps_heatmap_figure(summary: pd.DataFrame):
    """Median steps to target (log colour scale; blank = most seeds never reached it)
    over loss x activation, one panel per dataset and logit scale."""
    import numpy as np
    from matplotlib.colors import LogNorm

    d = summary.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    d["steps"] = d["steps_to_target_median"].replace(np.inf, np.nan)
    keys = list(d.groupby(["dataset", "logit_scale"]).groups)
    datasets = sorted({k[0] for k in keys})
    scales = sorted({k[1] for k in keys})
    finite = d["steps"].dropna()
    norm = LogNorm(vmin=max(1, finite.min()), vmax=max(2, finite.max())) if len(finite) else None
    fig, axes = plt.subplots(len(datasets), len(scales), figsize=(2.6 * len(scales) + 1.5, 2.9 * len(datasets)),
                             squeeze=False, sharey=True)
    for i, ds in enumerate(datasets):
        for j, sc in enumerate(scales):
            ax = axes[i][j]
            sub = d[(d["dataset"] == ds) & (d["logit_scale"] == sc)]
            grid = sub.pivot_table(index="loss", columns="activation", values="steps", aggfunc="min",
                                   dropna=False)
            if grid.isna().all().all():  # seaborn cannot colour an all-empty grid
                ax.text(0.5, 0.5, "target never reached", ha="center", va="center", transform=ax.transAxes)
                ax.set_title(f"{ds}, scale {sc:g}", fontsize=9)
                ax.set_xticks([])
                continue
            sns.heatmap(grid, ax=ax, norm=norm, cmap="viridis_r", cbar=(j == len(scales) - 1),
                        cbar_kws={"label": "median steps"}, linewidths=0.3, linecolor="white")
            ax.set_title(f"{ds}, scale {sc:g}", fontsize=9)
            ax.set_xlabel("")
            ax.set_ylabel("" if j else "loss")
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def depth_figure(layers: pd.DataFrame):
    """Per layer (1 = nearest the input), ||dL/dW|| at step 0 and at the last logged step with a gradient,
    median over runs with its 95% interval; panels: activation (columns) x when (rows), a line per loss.
    Pass the rows of one dataset, optimiser and architecture."""
    d = layers.dropna(subset=["grad_norm"]).copy()
    last = d.groupby(columns.RUN_KEYS, dropna=False)["step"].transform("max") if len(d) else d["step"]
    d["when"] = np.where(d["step"] == 0, "initialisation", np.where(d["step"] == last, "end of training", None))
    d = d.dropna(subset=["when"])
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    g = sns.relplot(data=d, x="layer", y="grad_norm", hue="loss",
                    hue_order=[v for v in LOSS_LABELS.values() if v in set(d["loss"])],
                    col="activation", row="when", row_order=["initialisation", "end of training"], kind="line",
                    estimator="median", errorbar=("ci", 95), n_boot=200, seed=0, marker="o", height=2.4, aspect=1.2,
                    facet_kws={"sharey": False})
    _log_y_where_positive(g, d, "grad_norm", ["when", "activation"])
    g.set_titles("{col_name}, {row_name}")
    g.set_axis_labels("layer (1 = input side)", "||dL/dW|| (minibatch)")
    return g.figure


def effective_rate_figure(eff: pd.DataFrame):
    """Median steps to the target (tuning seeds) against the effective rate (rate x ||dL/dz|| at step 0),
    a line per loss, a panel per dataset (columns) and activation (rows); the tuned rate of each loss
    marked; a missed target is a gap in its line. Pass one optimiser's rows (``tables.effective_rate_table``)."""
    d = eff.copy()
    d["loss"] = d["loss"].map(LOSS_LABELS).fillna(d["loss"])
    d["steps"] = d["median_steps_to_target"].where(np.isfinite(d["median_steps_to_target"]))
    order = [v for v in LOSS_LABELS.values() if v in set(d["loss"])]
    g = sns.relplot(data=d, x="effective_lr", y="steps", hue="loss", hue_order=order, col="dataset",
                    row="activation", kind="line", marker="o", markersize=3, height=2.3, aspect=1.4,
                    facet_kws={"sharey": False})
    for (act, ds), ax in g.axes_dict.items():
        chosen = d[(d["activation"] == act) & (d["dataset"] == ds) & d["chosen"]]
        ax.scatter(chosen["effective_lr"], chosen["steps"], s=40, facecolors="none", edgecolors="black", zorder=3)
    g.set(xscale="log")
    _log_y_where_positive(g, d, "steps", ["activation", "dataset"])
    g.set_titles("{col_name}, {row_name}")
    g.set_axis_labels("effective rate (rate × ||dL/dz|| at step 0)", "steps to target (median)")
    return g.figure


def _log_y_where_positive(g, d: pd.DataFrame, y: str, facets: list[str]) -> None:
    """A log y axis on every panel of ``g`` that holds a positive value of ``y`` (matplotlib refuses a log
    axis with none: e.g. a panel where every run missed the target); the others stay linear and empty."""
    for key, ax in g.axes_dict.items():
        key = key if isinstance(key, tuple) else (key,)
        sel = np.ones(len(d), dtype=bool)
        for col, value in zip(facets, key):
            sel &= (d[col] == value).to_numpy()
        if (d.loc[sel, y] > 0).any():
            ax.set_yscale("log")
