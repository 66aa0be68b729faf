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
from .stats import bootstrap_ci

# Which probe setting speaks for an implementation when several were run: the
# lecture's (float32, 10 classes, the gap axis, explicit casts), else the nearest.
DTYPE_PREFERENCE = ["float32", "float16", "bfloat16", "float64"]
AXIS_PREFERENCE = ["gap", "max_logit", "lecture"]
NAIVE = ["log_softmax_naive", "softmax_naive", "bce_naive"]   # the lecture's and the other unfused paths
FUSED = ["cross_entropy", "log_softmax_nll", "logsumexp_manual", "bce_logits"]


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
        _, lo, hi = bootstrap_ci(sat.to_numpy())
        text += (f" In training, the median fraction of saturated sigmoid/tanh hidden units at the end of the "
                 f"sigmoid + MSE runs was {sat.median():.2g} (95% CI [{lo:.2g}, {hi:.2g}], {len(sat)} runs).")
    return text


def effective_rate_finding(scales: pd.DataFrame, label=lambda loss: loss) -> str:
    """What the gradient-scale table (tables.gradient_scale_table) says: the smallest and largest
    gradient at the start, and whether the tuned rates undo the difference (the effective rates)."""
    d = scales.dropna(subset=["grad_norm_step0", "tuned_lr", "effective_lr"])
    if len(d) < 2:
        return absent("comparison of gradient scales", "fewer than two losses have tuned rates in this setting")
    ci = lambda r, c: f"{r[c]:.2g} [{r[c + '_low']:.2g}, {r[c + '_high']:.2g}]"   # noqa: E731
    lo, hi = d.loc[d["grad_norm_step0"].idxmin()], d.loc[d["grad_norm_step0"].idxmax()]
    spread = lambda c: d[c].max() / d[c].min()                                        # noqa: E731
    return (f"At step 0 the gradient with respect to the logits is smallest for {label(lo['loss'])} "
            f"({ci(lo, 'grad_norm_step0')}; {lo['grad_norm_at_zero']:.2g} at z = 0) and largest for "
            f"{label(hi['loss'])} ({ci(hi, 'grad_norm_step0')}; {hi['grad_norm_at_zero']:.2g} at z = 0). Their "
            f"tuned rates are {ci(lo, 'tuned_lr')} and {ci(hi, 'tuned_lr')}, so their effective rates (rate x "
            f"gradient scale) are {ci(lo, 'effective_lr')} and {ci(hi, 'effective_lr')}. Across all "
            f"{len(d)} losses the largest median tuned rate is {spread('tuned_lr'):.2g} times the smallest, the "
            f"largest median effective rate {spread('effective_lr'):.2g} times the smallest (ratios of medians; "
            f"each median's 95% interval is in the table): "
            + ("tuning compensates most of the difference in gradient scale."
               if spread("effective_lr") < spread("tuned_lr") / 3 else
               "tuning does not simply undo the difference in gradient scale."))


def claim(claims: pd.DataFrame, claim_id: str) -> str | None:
    """The sentence of one claim (``results/convergence/claims.parquet``), or None if it was not made."""
    row = claims[claims["claim"] == claim_id]
    return None if row.empty else str(row["statement"].iloc[0])


def convergence_finding(claims: pd.DataFrame) -> str:
    """Which loss was fastest under each optimiser, with its margin and interval (the best_loss claims)."""
    said = [str(x) for x in claims.loc[claims["claim"].str.startswith("best_loss."), "statement"]]
    if said:
        return " ".join(said)
    return absent("comparison of losses", "only one loss was swept, or none reached the target")


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
    """Counts per status over ``runs`` (tuning and evaluation runs together when ``stage`` is a column)."""
    counts = runs["status"].value_counts()
    n = {x: int(counts.get(x, 0)) for x in ["nonfinite", "diverged", "not_reached", "ok"]}
    stages = ""
    if "stage" in runs:
        per = runs["stage"].value_counts()
        stages = " (" + ", ".join(f"{int(per[x]):,} {x}" for x in ["tune", "evaluate"] if x in per) + ")"
    return (f"Of {len(runs):,} runs{stages}, **{n['nonfinite']:,}** produced NaN/inf, **{n['diverged']:,}** "
            f"diverged (training loss above {divergence_factor:g}× its start), **{n['not_reached']:,}** finished "
            f"without reaching the target accuracy and {n['ok']:,} reached it; every one is a row, and a broken "
            f"run stops updating while the others in its batch train on.")


def summary_findings(claims, thresholds, examples, grads, runs) -> list[str]:
    """The bullets of the report's summary: convergence from the claims table (each with its interval),
    then the analytic gradients, the overflow thresholds and the lecture (exact values, no sampling)."""
    best = claims.loc[claims["claim"].str.startswith("best_loss."), "statement"].astype(str).tolist()
    out = best or [convergence_finding(claims)]
    for opt in ("sgd", "adam"):
        for c in (f"speed_ratio.mse_sigmoid_vs_cross_entropy.{opt}", f"reach_fraction.mse_sigmoid.{opt}",
                  f"reach_fraction.cross_entropy.{opt}"):
            if (text := claim(claims, c)) is not None:
                out.append(text)
    if (text := claim(claims, "tuning.at_edge")) is not None:
        out.append(text)
    out.append(gradient_finding(grads, runs))
    out.append(overflow_finding(thresholds))
    out.append(lecture_finding(examples))
    return out
