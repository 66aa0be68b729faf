"""Figures for the report (seaborn/matplotlib). Each function returns a Figure
and never reads or writes files.

Every figure is drawn at the size the report shows it: at most :data:`WIDTH` inches
wide at :data:`DPI` dots per inch (760 px, inside the 800 px text column of both
renders), its smallest text :data:`FONT_PT` points (13.9 px drawn). The browser test
checks that no figure is shown below 0.65 of its drawn width, so text stays at least
9 px on screen. Every loss has one colour and one place in every legend
(:func:`loss_colour`, in the order of the losses table the workflow wrote, ``names.LOSS_LABELS``);
the built-ins' colours are Paul Tol's "muted" scheme, which stays distinct under the common
colour-vision deficiencies, and any other loss takes the next colour of :data:`EXTRA_COLORS`
in that order, so a user's own loss has one colour in every figure too.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import columns
from . import names, wording

WIDTH = 7.6      # inches: 760 px at DPI
DPI = 100
FONT_PT = 10     # the smallest text in any figure

# one colour per loss (Tol's muted scheme; cross-entropy, the reference, in the darkest)
LOSS_COLORS = {
    "cross_entropy": "#332288", "cross_entropy_ls": "#88CCEE", "bce_ovr": "#44AA99", "mse_softmax": "#117733",
    "mse_sigmoid": "#CC6677", "mse_logits": "#999933", "hinge": "#DDCC77", "squared_hinge": "#882255",
    "focal": "#AA4499",
}
# losses beyond the built-ins, in the losses table's order (Tol's "light" and "dark" schemes, then greys)
EXTRA_COLORS = ["#EE8866", "#77AADD", "#BBCC33", "#AAAA00", "#FFAABB", "#99DDFF", "#44BB99", "#EEDD88", "#004488",
                "#BB5566", "#DDAA33", "#555555", "#999999", "#BBBBBB"]
DATASET_MARKERS = ["o", "s", "D", "P", "X", "*"]   # no triangle: a triangle marks an estimate off the axis
_RC = {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": FONT_PT, "axes.titlesize": FONT_PT,
       "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT, "ytick.labelsize": FONT_PT,
       "legend.fontsize": FONT_PT, "legend.title_fontsize": FONT_PT, "figure.titlesize": FONT_PT + 1}


def _styled(fn):
    """Draw ``fn``'s figure under the report's sizes (the text's size is fixed when it is drawn)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # not plt.rc_context: leaving it restores rcParams["backend"], and where the backend was still
        # to be resolved (a notebook kernel) that switches backends and closes every open figure, so the
        # figure is never shown
        saved = {k: plt.rcParams[k] for k in _RC}
        plt.rcParams.update(_RC)
        try:
            return fn(*args, **kwargs)
        finally:
            plt.rcParams.update(saved)
    return wrapper


def loss_colour(loss: str) -> str:
    """One colour per loss in every figure: a built-in's own, else the next of :data:`EXTRA_COLORS` in the
    losses table's order (a name the table lacks comes after every one it holds)."""
    if loss in LOSS_COLORS:
        return LOSS_COLORS[loss]
    others = [x for x in names.LOSS_LABELS if x not in LOSS_COLORS]
    i = others.index(loss) if loss in others else len(others) + sum(map(ord, loss))
    return EXTRA_COLORS[i % len(EXTRA_COLORS)]


def loss_order(losses) -> list[str]:
    """The losses given (keys), in the losses table's order, any it lacks after them by name."""
    keys = set(losses)
    return [k for k in names.LOSS_LABELS if k in keys] + sorted(keys - set(names.LOSS_LABELS))


def loss_palette(losses) -> dict[str, str]:
    """``{label: colour}`` for the losses given (keys or labels), in the losses table's order."""
    by_label = {names.loss(k): k for k in names.LOSS_LABELS}
    keys = [by_label.get(x, x) for x in losses]
    return {names.loss(k): loss_colour(k) for k in loss_order(keys)}


def _labelled(d: pd.DataFrame) -> pd.DataFrame:
    """Losses and datasets by their names, as the tables show them."""
    d = d.copy()
    d["loss"] = d["loss"].map(names.loss)
    if "dataset" in d:
        d["dataset"] = d["dataset"].map(names.dataset)
    return d


def _legend_below(g, ax=None, ncol: int = 3) -> None:
    """The loss legend under the panels, in columns: it takes no width from them. ``g``: a seaborn grid
    (its figure's legend), else the legend of ``ax``."""
    if ax is not None:
        sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -0.18), ncol=ncol, title=None, frameon=False)
        return
    g.tight_layout()
    handles = g.legend.legend_handles if g.legend is not None else []
    labels = [t.get_text() for t in g.legend.get_texts()] if g.legend is not None else []
    if g.legend is not None:
        g.legend.remove()
    for ax_ in g.axes.flat:
        if ax_.get_legend() is not None:
            ax_.get_legend().remove()
    if handles:
        g.figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False)


def _note_empty(ax, why: str) -> None:
    """A panel with nothing to draw says so, in words, instead of staying blank."""
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True, color="0.3")


def _relplot_size(ncol: int, height: float = 2.1) -> dict:
    """``height`` and ``aspect`` for a seaborn grid of ``ncol`` columns that spans :data:`WIDTH` (less room
    for the axis labels)."""
    return {"height": height, "aspect": (WIDTH - 0.6) / ncol / height}


# --- the three headline figures -----------------------------------------------------------------

def _forest(ax, rows: pd.DataFrame, order: list[str], null: float, log: bool, scale: float = 1.0) -> None:
    """One line per loss (``order``, top down): the pooled estimate (all datasets) with its 95% interval,
    and each dataset's estimate as a small marker; the value of no effect dashed. An interval that is
    unbounded is drawn to the panel's edge with an arrow."""
    if not (rows["dataset"] == "all").any() and rows["dataset"].nunique() == 1:
        rows = rows.assign(dataset="all")      # one dataset: its own estimate and interval are the pooled ones
    if log:                                    # a ratio of 0 (only cross-entropy missed) sits at the left edge
        rows = rows.assign(**{c: rows[c].astype(float).where(rows[c].astype(float) > 0, np.nan)
                              for c in ("estimate", "ci_low")})
    datasets = sorted(d for d in rows["dataset"].unique() if d != "all")
    ys = {loss: i for i, loss in enumerate(order)}
    finite = (rows[["estimate", "ci_low", "ci_high"]].astype(float).replace([np.inf, -np.inf], np.nan) * scale).to_numpy()
    if not np.isfinite(finite).any():          # nothing finite to place (e.g. every estimate ∞): a range round null
        finite = np.array([null / 2, null * 2] if log else [null - 1, null + 1])
    lo_all, hi_all = np.nanmin(finite), np.nanmax(finite)
    unbounded = np.isinf(rows[["estimate", "ci_high"]].to_numpy(dtype=float)).any()
    if log:
        lo_all, hi_all = min(lo_all, null) / 1.15, max(hi_all, null) * (1.6 if unbounded else 1.15)
    else:
        pad = 0.08 * max(hi_all - lo_all, 1e-9)
        lo_all, hi_all = min(lo_all, null) - pad, max(hi_all, null) + pad
    ax.axvline(null, color="0.5", lw=1, ls="--", zorder=0)
    for _, r in rows.iterrows():
        if r["subject"] not in ys:
            continue
        y, colour = ys[r["subject"]], loss_colour(r["subject"])
        est, lo, hi = (r["estimate"] * scale, r["ci_low"] * scale, r["ci_high"] * scale)
        if r["dataset"] == "all" and lo == np.inf:      # no finite end at all: only the edge marker
            ax.plot(hi_all, y, ">", color=colour, ms=8, mec="black", zorder=3, clip_on=False)
        elif r["dataset"] == "all" and np.isnan(lo) and np.isnan(hi):     # no interval (too few seeds): the point
            if np.isfinite(est):
                ax.plot(est, y, "o", color=colour, ms=8, mec="black", mew=0.8, zorder=3)
        elif r["dataset"] == "all":
            hi_drawn = min(hi, hi_all) if np.isfinite(hi) else hi_all
            lo_drawn = max(lo, lo_all) if np.isfinite(lo) else lo_all
            if np.isfinite(lo) or np.isfinite(hi):
                ax.plot([lo_drawn, hi_drawn], [y, y], color=colour, lw=2.4, solid_capstyle="butt", zorder=2)
            if not np.isfinite(hi):      # unbounded above: an arrow to the panel's edge
                ax.annotate("", xy=(hi_all, y), xytext=(lo_drawn, y),
                            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.4, "shrinkA": 0, "shrinkB": 0})
            if np.isfinite(est):         # a lower bound (the subject's median at the budget where it binds): ▶
                ax.plot(est, y, ">" if wording._bound(r) else "o", color=colour, ms=8, mec="black", mew=0.8, zorder=3)
            else:
                ax.plot(hi_all, y, ">", color=colour, ms=8, mec="black", zorder=3)
        elif np.isfinite(est):
            m = DATASET_MARKERS[datasets.index(r["dataset"]) % len(DATASET_MARKERS)]
            ax.plot(est, y - 0.28, m, color=colour, ms=5, alpha=0.85, mec="none", zorder=2)
    ax.set_yticks(range(len(order)), [names.loss(x) for x in order])
    ax.set_ylim(len(order) - 0.5, -0.7)
    if log:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ratio_ticks(lo_all, hi_all)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(lo_all, hi_all)
    ax.grid(axis="x", color="0.9", lw=0.6)


# ratio ticks: powers of two, and between them where the range is short
NICE_RATIOS = sorted({m * 2.0 ** k for k in range(-6, 9) for m in (1.0, 1.25, 1.5)})


def ratio_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Ticks for a log ratio axis over [lo, hi]: the powers of two inside, and where fewer than two fit,
    the 1.25 and 1.5 multiples too, so a short range still reads (at least two labelled ticks)."""
    powers = [t for t in 2.0 ** np.arange(-6, 9) if lo <= t <= hi]
    if len(powers) >= 2:
        return powers[:: max(1, -(-len(powers) // most))]
    nice = [t for t in NICE_RATIOS if lo <= t <= hi]
    if len(nice) >= 2:
        return nice[:: max(1, -(-len(nice) // most))]
    return spread_ticks(lo, hi)


def spread_ticks(lo: float, hi: float, n: int = 3) -> list[float]:
    """``n`` ticks spread evenly (in log) inside [lo, hi], each with the fewest significant figures that keep
    them inside and apart."""
    raw = np.geomspace(lo, hi, n + 2)[1:-1]
    for digits in range(2, 8):
        ticks = [float(f"{t:.{digits}g}") for t in raw]
        if len(set(ticks)) == n and all(lo <= t <= hi for t in ticks):
            return ticks
    return [float(t) for t in raw]


def _dataset_key(fig, datasets: list[str], extra: list | None = None) -> None:
    handles = [plt.Line2D([], [], marker="o", color="0.2", ms=8, mec="black", ls="-", lw=2.4,
                          label="all datasets: estimate and 95% interval")]
    handles += [plt.Line2D([], [], marker=DATASET_MARKERS[i % len(DATASET_MARKERS)], color="0.4", ls="none", ms=5,
                           label=names.dataset(d)) for i, d in enumerate(datasets)]
    handles += extra or []
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(handles)),
               frameon=False)


@_styled
def _against_cross_entropy(claims: pd.DataFrame) -> pd.Series:
    """The claims against cross-entropy (a question's other pair is left to its own sentences)."""
    return claims["reference"].fillna("cross_entropy").eq("cross_entropy") if "reference" in claims else \
        pd.Series(True, index=claims.index)


def _bold(ax, loss: str | None) -> None:
    """The question's loss in bold among the row labels of a forest."""
    for t in ax.get_yticklabels():
        if loss is not None and t.get_text() == names.loss(loss):
            t.set_fontweight("bold")


def speed_forest_figure(claims: pd.DataFrame, highlight: str | None = None):
    """Steps to the main target relative to cross-entropy, per loss (rows) and optimiser (panels): the
    pooled ratio with its 95% seed-bootstrap interval and each dataset's ratio; 1 = as fast, 2 = twice
    the steps (a run that missed counting as the budget); a last panel gives each loss's reach share per
    optimiser, so a ratio resting on runs that seldom reached reads as such. Input: the claims table
    (families ``speed_ratio.<optimizer>`` and ``reach``); ``highlight``: the question's loss, in bold."""
    d = claims[claims["family"].str.startswith("speed_ratio.") & _against_cross_entropy(claims)]
    opts = [o for o in ("sgd", "adam") if o in set(d["optimizer"])] + sorted(set(d["optimizer"]) - {"sgd", "adam"})
    order = loss_order(set(d["subject"]) | {"cross_entropy"})
    reach = claims[(claims["family"] == "reach") & (claims["dataset"] == "all")]
    reach = reach if len(reach) else claims[claims["family"] == "reach"]
    fig, axes = plt.subplots(1, max(1, len(opts)) + 1, figsize=(WIDTH, 0.3 * len(order) + 1.3), sharey=True,
                             squeeze=False, gridspec_kw={"width_ratios": [3] * max(1, len(opts)) + [1.6]})
    for ax, opt in zip(axes[0], opts):
        _forest(ax, d[d["optimizer"] == opt], order, null=1.0, log=True)
        ax.set_title(names.optimizer(opt))
        ax.set_xlabel("steps / cross-entropy's")
    if not opts:
        _note_empty(axes[0][0], "no loss but cross-entropy was trained: nothing to compare")
        axes[0][0].set_yticks(range(len(order)), [names.loss(x) for x in order])
    ax = axes[0][-1]
    ys = {loss: i for i, loss in enumerate(order)}
    reach_marks = {opt: ("o" if j == 0 else "x" if j == 1 else "+") for j, opt in enumerate(opts)}
    shift = {opt: 0.36 * (j - (len(opts) - 1) / 2) for j, opt in enumerate(opts)}   # side by side, never on top
    for opt in opts:
        r = reach[(reach["optimizer"] == opt) & reach["subject"].isin(order)]
        ax.plot(100 * r["estimate"], [ys[x] + shift[opt] for x in r["subject"]], reach_marks[opt], color="0.2",
                mfc="none", ms=7, mew=1.6, ls="none")
    ax.set_xlim(-5, 105)
    ax.set_xticks([0, 50, 100])
    ax.set_title("reached (%)")
    ax.set_xlabel("% of runs")
    ax.grid(axis="x", color="0.9", lw=0.6)
    bounds = d[(d["dataset"] == "all") & d["lower_bound"].fillna(False).astype(bool)] if "lower_bound" in d else d.iloc[:0]
    _dataset_key(fig, sorted(x for x in d["dataset"].unique() if x != "all"),
                 [plt.Line2D([], [], marker=m, color="0.2", mfc="none", ms=7, mew=1.6, ls="none",
                             label=f"reached, {names.optimizer(o)}")
                  for o, m in reach_marks.items()]
                 + ([plt.Line2D([], [], marker=">", color="0.2", mec="black", ms=8, ls="none",
                                label="at least (misses bind)")] if len(bounds) else []))
    _bold(axes[0][0], highlight)
    fig.tight_layout()
    return fig


@_styled
def test_forest_figure(claims: pd.DataFrame, prefix: str = "tuned_for_acc", highlight: str | None = None):
    """Test accuracy (percentage points) and expected calibration error against cross-entropy, per loss:
    the pooled difference with its 95% seed-bootstrap interval and each dataset's difference (claims
    ``<prefix>.*``: by default the runs at the rates of best validation accuracy); ``highlight``: the
    question's loss, in bold."""
    panels = [(f"{prefix}.test_acc_mean", "Δ test accuracy (points, mean)", 100.0),
              (f"{prefix}.test_ece", "Δ calibration error (ECE)", 1.0)]
    d = claims[claims["family"].isin([f for f, _, _ in panels]) & _against_cross_entropy(claims)]
    order = loss_order(set(d["subject"]))
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 0.3 * max(1, len(order)) + 1.1), sharey=True, squeeze=False)
    for ax, (fam, label, scale) in zip(axes[0], panels):
        sub = d[d["family"] == fam]
        if len(sub):
            _forest(ax, sub, order, null=0.0, log=False, scale=scale)
        else:
            _note_empty(ax, "no test metric: no evaluation run finished")
        ax.set_xlabel(label)
    axes[0][0].set_title("higher is better")
    axes[0][1].set_title("lower is better")
    _dataset_key(fig, sorted(x for x in d["dataset"].unique() if x != "all"))
    _bold(axes[0][0], highlight)
    fig.tight_layout()
    return fig


# number formats in Okabe & Ito's colours, apart from the losses' (and a marker each)
DTYPE_COLORS = {"float16": "#E69F00", "bfloat16": "#D55E00", "float32": "#0072B2", "float64": "#000000"}
DTYPE_MARKERS = {"float16": "o", "bfloat16": "s", "float32": "D", "float64": "P"}


@_styled
def overflow_threshold_figure(thresholds: pd.DataFrame, grid_max: float):
    """Where each implementation first returns a non-finite loss or gradient on the gap axis (the target
    logit v below the rest), per format: a filled marker at the measured break, an open marker with an
    arrow at the grid's end where it stayed finite up to ``grid_max``. Pass one class count, no autocast."""
    d = thresholds[thresholds["axis"] == "gap"]
    impls = list(dict.fromkeys(d["implementation"]))
    dtypes = [t for t in DTYPE_COLORS if t in set(d["dtype"])]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.34 * max(1, len(impls)) + 1.0))
    for i, impl in enumerate(impls):
        for j, dt in enumerate(dtypes):
            r = d[(d["implementation"] == impl) & (d["dtype"] == dt)]
            if r.empty:
                continue
            y = i + (j - (len(dtypes) - 1) / 2) * 0.16
            v = r["measured_threshold"].iloc[0]
            if np.isfinite(v):
                ax.plot(v, y, DTYPE_MARKERS[dt], color=DTYPE_COLORS[dt], ms=7, mec="black", mew=0.6)
            else:
                ax.plot(grid_max, y, ">", color=DTYPE_COLORS[dt], ms=7, mfc="white", mew=1.5)
    ax.set_xscale("log")
    ax.axvline(grid_max, color="0.7", lw=0.8, ls=":")
    ax.set_yticks(range(len(impls)), [names.implementation(i) for i in impls])
    ax.set_ylim(len(impls) - 0.5, -0.5)
    ax.set_xlabel("logit gap v at which loss or gradient first stops being finite")
    handles = [plt.Line2D([], [], marker=DTYPE_MARKERS[t], color=DTYPE_COLORS[t], ls="none", mec="black", ms=7,
                          label=t) for t in dtypes]
    handles.append(plt.Line2D([], [], marker=">", color="0.3", mfc="white", ls="none", ms=7,
                              label=f"finite up to {grid_max:g} (the grid's end)"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    ax.grid(axis="x", color="0.9", lw=0.6)
    fig.tight_layout()
    return fig


# --- section figures ----------------------------------------------------------------------------

@_styled
def convergence_figure(curves: pd.DataFrame, metric: str = "val_acc"):
    """``metric`` against step (log axis), a line per loss, with the band between the
    lowest and highest seed; panels: dataset (columns) x activation (rows); a panel with no run
    says so. Pass curves already narrowed to one setting per loss (e.g. its best learning rate)."""
    d = _labelled(curves)
    d["step + 1"] = d["step"] + 1
    pal = loss_palette(d["loss"].unique())
    ncol = max(1, d["dataset"].nunique())
    g = sns.relplot(data=d, x="step + 1", y=metric, hue="loss", hue_order=list(pal), palette=pal,
                    col="dataset", row="activation", kind="line", errorbar=("pi", 100),
                    facet_kws={"sharey": True, "sharex": False, "margin_titles": True, "legend_out": False}, **_relplot_size(ncol, 1.7))
    g.set(xscale="log")
    g.set_titles(col_template="{col_name}", row_template="{row_name}")
    for (act, ds), ax in g.axes_dict.items():
        if not len(d[(d["activation"] == act) & (d["dataset"] == ds)]):
            _note_empty(ax, f"no {act} run on {ds}\nin this setting")
    g.set_axis_labels("step + 1", metric.replace("_", " "))
    _legend_below(g)
    return g.figure


@_styled
def profile_figure(profile: pd.DataFrame):
    """Dolan-More performance profile: fraction of problems each loss solves within
    a factor tau of the fastest loss (higher and further left is better), with its
    bootstrap band (``ci_low``, ``ci_high``) shaded."""
    d = _labelled(profile)
    pal = loss_palette(d["loss"].unique())
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    sns.lineplot(data=d, x="tau", y="fraction_solved", hue="loss", hue_order=list(pal), palette=pal,
                 drawstyle="steps-post", ax=ax)
    for loss, sub in d.groupby("loss", sort=False):
        ax.fill_between(sub["tau"], sub["ci_low"], sub["ci_high"], step="post", alpha=0.15, lw=0,
                        color=pal.get(loss, "0.5"))
    ax.set_xscale("log")
    ax.set_xlabel("τ (steps to the target relative to the fastest loss)")
    ax.set_ylabel("fraction of problems solved")
    ax.set_ylim(0, 1.02)
    _legend_below(None, ax=ax)
    fig.tight_layout()
    return fig


OUTCOME_COLOURS = {"loss and gradient finite": "#4c72b0", "gradient non-finite": "#dd8452",
                   "loss non-finite": "#c44e52"}


@_styled
def overflow_figure(probes: pd.DataFrame):
    """Finiteness map: one panel per implementation (rows) and probe axis (columns);
    in each, a strip per dtype marking whether loss and gradient are finite at each axis value."""
    d = probes.copy()
    d["outcome"] = "loss and gradient finite"
    d.loc[d["loss_finite"] & ~d["grad_finite"], "outcome"] = "gradient non-finite"
    d.loc[~d["loss_finite"], "outcome"] = "loss non-finite"
    impls = list(dict.fromkeys(d["implementation"]))
    known = ["gap", "max_logit", "lecture"]
    axes_present = [a for a in known if a in set(d["axis"])] + sorted(set(d["axis"]) - set(known))
    dtypes = [t for t in ("float16", "bfloat16", "float32", "float64") if t in set(d["dtype"])]
    fig, axes = plt.subplots(len(impls), len(axes_present), figsize=(WIDTH, 1.25 * len(impls) + 0.9),
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
            ax.set_yticks(range(len(dtypes)), [t.replace("float", "f") for t in dtypes])
            ax.set_ylim(-0.6, len(dtypes) - 0.4)
            if i == 0:
                ax.set_title({"gap": "logit gap", "max_logit": "max logit", "lecture": "lecture's scale"}.get(axis, axis))
            if j == len(axes_present) - 1:
                ax.yaxis.set_label_position("right")
                ax.set_ylabel(names.implementation(impl), rotation=0, ha="left", va="center")
            if i == len(impls) - 1:
                ax.set_xlabel("axis value v")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


@_styled
def relative_error_figure(probes: pd.DataFrame):
    """Relative error of each finite loss against the exact value, against the axis value,
    one panel per dtype, a line per implementation (non-finite points are left out)."""
    d = probes[probes["loss_finite"]].copy()
    d["relative error"] = d["relative_error"].clip(lower=1e-17)
    d["implementation"] = d["implementation"].map(names.implementation)
    return _log_lines(d, "logit_gap", "relative error", "implementation", "dtype", ("logit gap v", "relative error"),
                      2, 2.0, col_wrap=2, facet_kws={"sharey": True, "legend_out": False})


def _log_lines(d: pd.DataFrame, x: str, y: str, hue: str, col: str, axis_labels: tuple[str, str], ncol: int,
               height: float, **kw):
    """Lines of ``y`` against ``x`` on log-log axes, a line per ``hue``, a panel per ``col`` titled by its
    value, the legend below."""
    g = sns.relplot(data=d, x=x, y=y, hue=hue, col=col, kind="line", **kw, **_relplot_size(ncol, height))
    g.set(xscale="log", yscale="log")
    g.set_titles("{col_name}")
    _legend_below(g)
    g.set_axis_labels(*axis_labels)
    return g.figure


@_styled
def gradient_figure(grads: pd.DataFrame):
    """d loss / d z_y against the true-class logit z_y (other logits 0), a line per loss."""
    d = _labelled(grads)
    pal = loss_palette(d["loss"].unique())
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    sns.lineplot(data=d, x="true_logit", y="grad", hue="loss", hue_order=list(pal), palette=pal, ax=ax)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylim(-1.2, 0.6)  # the square losses on raw logits grow linearly past this window
    ax.set_xlabel("true-class logit z_y (all other logits 0)")
    ax.set_ylabel("d loss / d z_y")
    _legend_below(None, ax=ax)
    fig.tight_layout()
    return fig


@_styled
def grad_norm_figure(curves: pd.DataFrame):
    """Mean ||d loss / d z|| during training (log axes), a line per loss, panels per dataset."""
    d = _labelled(curves)
    d["step + 1"] = d["step"] + 1
    pal = loss_palette(d["loss"].unique())
    return _log_lines(d, "step + 1", "grad_norm_logits", "loss", "dataset", ("step + 1", "mean ||dl/dz||"),
                      max(1, d["dataset"].nunique()), 2.4, hue_order=list(pal), palette=pal, errorbar=("pi", 100),
                      facet_kws={"sharex": False, "legend_out": False})


@_styled
def stuck_figure(curves: pd.DataFrame):
    """The share of training examples answered wrongly whose true-class output derivative has vanished
    (``stuck_wrong_frac``) over training, a line per loss (median over runs, band: interquartile range),
    a panel per dataset (rows) and optimiser (columns); losses on raw logits have no such output."""
    d = _labelled(curves.dropna(subset=["stuck_wrong_frac"]))
    d["step + 1"] = d["step"] + 1
    d["optimizer"] = d["optimizer"].map(names.optimizer)
    d["stuck (% of examples)"] = 100 * d["stuck_wrong_frac"]
    pal = loss_palette(d["loss"].unique())
    n_col = max(1, d["optimizer"].nunique())
    g = sns.relplot(data=d, x="step + 1", y="stuck (% of examples)", hue="loss", hue_order=list(pal), palette=pal,
                    row="dataset", col="optimizer", kind="line", estimator="median", errorbar=("pi", 50),
                    facet_kws={"sharex": False, "legend_out": False},
                    **_relplot_size(n_col, 1.6))
    g.set(xscale="log")
    g.set_titles(template="{row_name}, {col_name}")
    for ax in g.axes.flat:
        if not ax.get_lines():
            _note_empty(ax, "not swept")
    _legend_below(g)
    g.set_axis_labels("step + 1", "")
    g.figure.supylabel("wrong and stuck (% of training examples)", fontsize=FONT_PT)
    return g.figure


@_styled
def steps_heatmap_figure(summary: pd.DataFrame):
    """Median steps to target as a share of the dataset's budget (``budget_share``, so that datasets of
    different budgets share one colour scale; blank = half or more of the seeds missed it or broke) over
    loss x activation, one panel per (dataset, logit scale) that was trained: a row per dataset, its scales
    side by side."""
    d = _labelled(summary)
    d["share"] = 100 * d["budget_share"].replace(np.inf, np.nan)
    scales = {ds: sorted(g.unique()) for ds, g in d.groupby("dataset")["logit_scale"]}  # only what was trained
    datasets = sorted(scales, key=str.lower)
    slots = {(ds, sc): (i, j) for i, ds in enumerate(datasets) for j, sc in enumerate(scales[ds])}
    nrow, ncol = max(1, len(datasets)), max([1] + [len(v) for v in scales.values()])
    order = list(loss_palette(set(d["loss"])))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 0.3 * len(order) * nrow + 0.9 * nrow + 0.6),
                             squeeze=False, sharey=True, layout="constrained")
    for i, j in set(np.ndindex(nrow, ncol)) - set(slots.values()):
        axes[i][j].set_visible(False)                    # a scale this dataset did not train: not a panel
    for (ds, sc), (i, j) in slots.items():
        ax = axes[i][j]
        sub = d[(d["dataset"] == ds) & (d["logit_scale"] == sc)]
        grid = sub.pivot_table(index="loss", columns="activation", values="share", aggfunc="min",
                               dropna=False).reindex(order)
        ax.set_title(f"{ds}, logit scale {sc:g}")
        if grid.isna().all().all():  # seaborn cannot colour an all-empty grid
            _note_empty(ax, "no loss reached the target\n(half or more seeds missed or broke)")
            ax.set_xticks([])
            continue
        sns.heatmap(grid, ax=ax, vmin=0, vmax=100, cmap="viridis_r", cbar=False, linewidths=0.3, linecolor="white",
                    annot=True, fmt=".0f", annot_kws={"fontsize": FONT_PT})
        ax.set_xlabel("")
        ax.set_ylabel("")
    sm = plt.cm.ScalarMappable(norm=plt.Normalize(0, 100), cmap="viridis_r")
    fig.colorbar(sm, ax=axes.ravel().tolist(), orientation="horizontal", fraction=0.04, pad=0.02, aspect=40,
                 label="median steps to target, % of the dataset's budget")
    return fig


@_styled
def depth_figure(layers: pd.DataFrame):
    """Per layer (1 = nearest the input), ||dL/dW|| at step 0 and at the last logged step with a gradient,
    median over runs with its 95% interval; panels: activation (columns) x when (rows), a line per loss.
    Pass the rows of one dataset, optimiser and architecture."""
    d = layers.dropna(subset=["grad_norm"]).copy()
    last = d.groupby(columns.RUN_KEYS, dropna=False)["step"].transform("max") if len(d) else d["step"]
    d["when"] = np.where(d["step"] == 0, "initialisation", np.where(d["step"] == last, "end of training", None))
    d = _labelled(d.dropna(subset=["when"]))
    pal = loss_palette(d["loss"].unique())
    g = sns.relplot(data=d, x="layer", y="grad_norm", hue="loss", hue_order=list(pal), palette=pal,
                    col="activation", row="when", row_order=["initialisation", "end of training"], kind="line",
                    estimator="median", errorbar=("ci", 95), n_boot=200, seed=0, marker="o",
                    facet_kws={"sharey": False, "margin_titles": True, "legend_out": False},
                    **_relplot_size(max(1, d["activation"].nunique()), 2.0))
    _log_y_where_positive(g, d, "grad_norm", ["when", "activation"])
    g.set_titles(col_template="{col_name}", row_template="{row_name}")
    g.set_axis_labels("layer (1 = input side)", "||dL/dW||")
    _legend_below(g)
    return g.figure


@_styled
def effective_rate_figure(eff: pd.DataFrame):
    """Median steps to the target (tuning seeds) against the effective rate (rate x ||dL/dz|| at step 0),
    a line per loss, a panel per dataset (columns) and activation (rows); the tuned rate of each loss
    marked; a missed target is a gap in its line. Pass one optimiser's rows (``tables.effective_rate_table``)."""
    d = _labelled(eff)
    d["steps"] = d["median_steps_to_target"].where(np.isfinite(d["median_steps_to_target"]))
    pal = loss_palette(d["loss"].unique())
    g = sns.relplot(data=d, x="effective_lr", y="steps", hue="loss", hue_order=list(pal), palette=pal,
                    col="dataset", row="activation", kind="line", marker="o", markersize=3,
                    facet_kws={"sharey": False, "margin_titles": True, "legend_out": False},
                    **_relplot_size(max(1, d["dataset"].nunique()), 1.9))
    for (act, ds), ax in g.axes_dict.items():
        chosen = d[(d["activation"] == act) & (d["dataset"] == ds) & d["chosen"]]
        ax.scatter(chosen["effective_lr"], chosen["steps"], s=40, facecolors="none", edgecolors="black", zorder=3)
        if not d.loc[(d["activation"] == act) & (d["dataset"] == ds), "steps"].notna().any():
            _note_empty(ax, "no rate reached\nthe target")
    g.set(xscale="log")
    _log_y_where_positive(g, d, "steps", ["activation", "dataset"])
    g.set_titles(col_template="{col_name}", row_template="{row_name}")
    g.set_axis_labels("rate × ||dL/dz|| at step 0", "steps to target")
    _legend_below(g)
    return g.figure


def _plain_log_ticks(ax, axis: str = "y") -> None:
    """Major ticks only on a log axis (matplotlib labels minor ticks of a short range: 3.7×10², 3.65×10², ...),
    at 1, 2 and 5 per decade; where fewer than two of those fall inside the axis (a range within a factor
    of 2 or so), three ticks spread over it, labelled to 2 significant figures: every panel reads."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    inside = [m * 10.0 ** k for k in range(-12, 13) for m in (1, 2, 5) if lo <= m * 10.0 ** k <= hi]
    if lo > 0 and np.log10(hi / lo) > 3:            # many decades: the decades alone (1, 2, 5 would go unlabelled)
        a.set_major_locator(LogLocator(base=10, numticks=6))
    elif len(inside) >= 2:
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
    else:
        ticks = spread_ticks(lo, hi)
        a.set_major_locator(FixedLocator(ticks))
        a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


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
            _plain_log_ticks(ax)


ACTIVATION_COLORS = {"sigmoid": "#0072B2", "tanh": "#E69F00", "relu": "#009E73", "gelu": "#CC79A7",
                     "identity": "#000000"}      # Okabe & Ito's colours: the hidden activations, apart from the losses'


@_styled
def accuracy_distribution_figure(settings: pd.DataFrame, claims: pd.DataFrame, prefix: str = "tuned_for_acc"):
    """Test accuracy minus cross-entropy's, one point per setting (``accuracy_settings``: the mean over
    seeds, a broken run at chance), per loss (rows) and dataset (panels), coloured by hidden activation;
    the mean over settings from the claims (``<prefix>.test_acc_mean``) as a black bar; dashed: no
    difference; dotted: 5 points worse."""
    datasets = sorted(settings["dataset"].unique())
    order = loss_order(set(settings["loss"]))
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(WIDTH, 0.34 * max(1, len(order)) + 1.2),
                             sharey=True, sharex=True, squeeze=False)
    rng = np.random.default_rng(0)                   # the jitter only spreads points along the row
    ys = {loss: i for i, loss in enumerate(order)}
    acts = [a for a in ACTIVATION_COLORS if a in set(settings["activation"])] + sorted(
        set(settings["activation"]) - set(ACTIVATION_COLORS))
    for ax, ds in zip(axes[0], datasets):
        sub = settings[settings["dataset"] == ds]
        for act in acts:
            a = sub[sub["activation"] == act]
            y = a["loss"].map(ys).to_numpy(float) + rng.uniform(-0.25, 0.25, len(a))
            ax.scatter(100 * a["difference"], y, s=10, alpha=0.75, color=ACTIVATION_COLORS.get(act, "0.5"),
                       label=f"{act} units", linewidths=0)
        means = claims[(claims["claim"].str.startswith(f"{prefix}.test_acc_mean.")) & (claims["dataset"] == ds)]
        for r in means.itertuples():
            if r.subject in ys:
                ax.plot([100 * r.estimate] * 2, [ys[r.subject] - 0.38, ys[r.subject] + 0.38], color="black", lw=2)
        ax.axvline(0, color="0.5", ls="--", lw=1)
        ax.axvline(-5, color="0.5", ls=":", lw=1)
        ax.set_title(names.dataset(ds))
        ax.set_xlabel("Δ test accuracy (points)")
        ax.grid(axis="x", color="0.9", lw=0.6)
    axes[0][0].set_yticks(range(len(order)), [names.loss(x) for x in order])
    axes[0][0].set_ylim(len(order) - 0.5, -0.5)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="black", lw=2))
    labels.append("mean over settings")
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(labels)),
               frameon=False, markerscale=1.5)
    fig.tight_layout()
    return fig
