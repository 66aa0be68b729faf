"""The report's sentences with numbers, computed from the results tables.

Each function takes tables and returns one Markdown sentence (or a short
list of them): the finding that opens a report section. A sentence never does
arithmetic the tables did not; when the data a finding needs were not swept,
the function says so in one line instead of failing, so that every valid
config renders (e.g. one loss, no float32, no 10-class probe, learned scales
only, a linear model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .gradients import gradient_at
from .losses import LOSS_LABELS

# Which probe setting speaks for an implementation when several were run: the
# lecture's (float32, 10 classes, the gap axis, explicit casts), else the nearest.
DTYPE_PREFERENCE = ["float32", "float16", "bfloat16", "float64"]
AXIS_PREFERENCE = ["gap", "max_logit", "lecture"]
NAIVE = ["log_softmax_naive", "softmax_naive", "bce_naive"]   # the lecture's and the other unfused paths
FUSED = ["cross_entropy", "log_softmax_nll", "logsumexp_manual", "bce_logits"]


def label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


def _steps(x: float) -> str:
    return "never (most seeds missed the target)" if not np.isfinite(x) else f"{x:,.0f}"


def absent(what: str, why: str) -> str:
    """The one line a section shows when its data are not in this run."""
    return f"*No {what} in this run: {why}.*"


def lecture_finding(examples: pd.DataFrame) -> str:
    ok = int(examples["matches"].fillna(False).astype(bool).sum())
    n = int(examples["comparable"].sum())
    return (f"**{ok} of {n}** of the lecture's numbers that can be recomputed agree with it at the precision it "
            f"states; {len(examples) - n} come from an unseeded random draw and are compared only as an equality.")


def gradient_finding(grads: pd.DataFrame, runs: pd.DataFrame, logit: float = -10.0) -> str:
    """Analytic gradients at a confidently wrong logit, then what training measured (if sigmoid+MSE ran)."""
    g_mse, g_ce = gradient_at(grads, "mse_sigmoid", logit), gradient_at(grads, "cross_entropy", logit)
    text = (f"With the true-class logit at {logit:g} (other logits 0), the gradient of sigmoid + MSE with respect "
            f"to it is {g_mse:.1e}, against {g_ce:.2f} for cross-entropy: {abs(g_ce / g_mse):,.0f} times smaller.")
    mine = runs[runs["loss"] == "mse_sigmoid"]
    sat = mine[mine["activation"].isin(["sigmoid", "tanh"])]["final_saturated_frac"].dropna()
    if len(sat):
        text += (f" In training, the median fraction of saturated sigmoid/tanh hidden units at the end of the "
                 f"sigmoid + MSE runs was {sat.median():.2g} ({len(sat)} runs).")
    return text


def best_rate_ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """Per loss, at each configuration's best learning rate: the median over configurations of the
    median steps to target (inf: most seeds missed), and how many configurations reached it on most seeds."""
    best = summary[summary["best_lr"]]
    out = best.groupby("loss").agg(steps=("steps_to_target_median", "median"),
                                   configs=("steps_to_target_median", "size"),
                                   solved=("steps_to_target_median", lambda s: int(np.isfinite(s).sum())))
    return out.sort_values(["steps", "solved"], ascending=[True, False])


def convergence_finding(summary: pd.DataFrame) -> str:
    r = best_rate_ranking(summary)
    if len(r) == 1:
        loss, row = r.index[0], r.iloc[0]
        n = int(row["configs"])
        done = (f"needed a median of {row['steps']:,.0f} steps to reach the target" if np.isfinite(row["steps"])
                else "did not reach the target on most seeds")
        return (f"Only **{label(loss)}** was swept, so no loss is compared: at its best learning rate it {done} "
                f"(median over {n} configuration{'s' if n != 1 else ''}).")
    first, last = r.iloc[0], r.iloc[-1]
    if not np.isfinite(first["steps"]):
        return (f"No loss reached the target on most seeds in most configurations, even at its best learning "
                f"rate; {int(r['solved'].sum())} of {int(r['configs'].sum())} configurations reached it.")
    tie = r.index[r["steps"] == first["steps"]].tolist()
    lead = " and ".join(f"**{label(x)}**" for x in tie)
    return (f"At each configuration's best learning rate, {lead} reached the target fastest (median over "
            f"{int(first['configs'])} configurations of the median steps: {_steps(first['steps'])}), and "
            f"**{label(r.index[-1])}** slowest ({_steps(last['steps'])}); {int(last['solved'])} of "
            f"{int(last['configs'])} of its configurations reached the target on most seeds.")


def pick_threshold(thresholds: pd.DataFrame, implementation: str) -> pd.Series | None:
    """The threshold row that speaks for ``implementation``: the lecture's setting (float32, 10
    classes, gap axis, explicit casts) when probed, else the nearest one probed; None if none."""
    t = thresholds[thresholds["implementation"] == implementation]
    if t.empty:
        return None
    rank = pd.DataFrame({
        "autocast": t["autocast"].astype(int),
        "dtype": t["dtype"].map(lambda d: DTYPE_PREFERENCE.index(d) if d in DTYPE_PREFERENCE else 9),
        "classes": (np.log(t["num_classes"].astype(float)) - np.log(10)).abs(),
        "axis": t["axis"].map(lambda a: AXIS_PREFERENCE.index(a) if a in AXIS_PREFERENCE else 9),
    }, index=t.index)
    return t.loc[rank.sort_values(["autocast", "dtype", "classes", "axis"]).index[0]]


def _setting(row: pd.Series) -> str:
    return (f"{row['dtype']}, {int(row['num_classes'])} classes, {row['axis'].replace('_', '-')} axis"
            + (", autocast" if row["autocast"] else ""))


def overflow_finding(thresholds: pd.DataFrame) -> str:
    naive = next((i for i in NAIVE if i in set(thresholds["implementation"])), None)
    parts = []
    if naive is not None:
        row = pick_threshold(thresholds, naive)
        if pd.notna(row["measured_threshold"]):
            parts.append(f"`{naive}` gave its first non-finite value at {row['measured_threshold']:.4g} "
                         f"({_setting(row)}), where IEEE-754 arithmetic predicts {row['predicted_threshold']:.4g}")
        else:
            parts.append(f"`{naive}` stayed finite over the whole probed range ({_setting(row)})")
    fused = thresholds[thresholds["implementation"].isin(FUSED) & thresholds["dtype"].isin(["float32", "float64"])
                       & thresholds["axis"].isin(["gap", "max_logit"])]
    if len(fused):
        parts.append(f"the fused implementations broke in {int(fused['measured_threshold'].notna().sum())} of "
                     f"{len(fused)} float32/float64 settings on the gap and max-logit axes")
    if not parts:
        return absent("naive or fused implementation on the gap or max-logit axis in float32/float64",
                      "the config's overflow.implementations, dtypes and axes leave them out")
    agree = int(thresholds["agrees"].fillna(False).astype(bool).sum())
    text = "; ".join(parts)
    return (text[0].upper() + text[1:] + f". Measured and predicted break points agree in {agree} of "
            f"{len(thresholds)} settings.")


def failure_finding(runs: pd.DataFrame, divergence_factor: float) -> str:
    counts = runs["status"].value_counts()
    n = {s: int(counts.get(s, 0)) for s in ["nonfinite", "diverged", "not_reached", "ok"]}
    return (f"Of {len(runs):,} runs, **{n['nonfinite']:,}** produced NaN/inf, **{n['diverged']:,}** diverged "
            f"(training loss above {divergence_factor:g}× its start), **{n['not_reached']:,}** finished without "
            f"reaching the target accuracy and {n['ok']:,} reached it; every one is a row, and a broken run "
            f"stops updating while the others in its batch train on.")


def summary_findings(runs, summary, profile, thresholds, examples, grads) -> list[str]:
    """The bullets of the report's summary."""
    out = []
    at1 = profile[profile["tau"] == 1.0].set_index("loss")["fraction_solved"]
    if len(at1) > 1:
        top = at1.max()
        leaders = " and ".join(f"**{label(x)}**" for x in at1.index[at1 == top])
        out.append(f"{leaders} solved {top:.0%} of the problems fastest, **{label(at1.idxmin())}** "
                   f"{at1.min():.0%} (performance profile at tau = 1, each loss at its best learning rate; "
                   f"ties count for every loss that tied).")
    out.append(convergence_finding(summary))
    reached = runs.groupby("loss")["steps_to_target"].apply(lambda s: s.notna().mean())
    if {"mse_sigmoid", "cross_entropy"} <= set(reached.index):
        out.append(f"Over all rates, scales and optimisers, sigmoid + MSE reached the target in "
                   f"{reached['mse_sigmoid']:.0%} of its runs and cross-entropy in {reached['cross_entropy']:.0%}.")
    out.append(gradient_finding(grads, runs))
    out.append(overflow_finding(thresholds))
    out.append(lecture_finding(examples))
    return out
