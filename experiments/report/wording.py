"""Every sentence the report writes about a claim, from its row of ``claims.parquet`` (one place).

The analysis (``experiments.analysis.claims``) returns numbers only; here they become words. A
sentence states the estimate, its 95% interval, what it is over (problems x seeds, or test examples),
the test's p-value and the Holm-adjusted one within its family. An interval that contains the value
of no effect is said as "no difference resolved"; a loss faster (or better) than cross-entropy is
said in the same words as one slower (or worse).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..analysis.claims import pooled_row
from ..analysis.stats import ALPHA, POOLED
from ..convergence.losses import LOSS_LABELS

OPT_LABELS = {"sgd": "SGD", "adam": "Adam"}
METRIC_WORDS = {"test_acc": "test accuracy", "test_nll": "test NLL", "test_brier": "Brier score",
                "test_ece": "expected calibration error", "test_nll_ts": "test NLL after temperature scaling",
                "test_brier_ts": "Brier score after temperature scaling",
                "test_ece_ts": "expected calibration error after temperature scaling"}
# The claims behind every accuracy and calibration statement: the runs at the rates of best final
# validation accuracy (experiments.convergence.tuning.SELECTIONS), not the rates tuned for speed.
ACCURACY_CLAIMS = "tuned_for_acc"
OUTCOME_WORDS = {"interior": "an interior optimum", "at_bound": "the optimum at a bound of the search space",
                 "at_edge": "the search stopped at its extension limit with the best rate at an edge",
                 "unsolved": "no rate reaching the target on half or more of the tuning seeds"}


def label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


def num(x: float) -> str:
    """A number for a sentence: 3 significant figures, +inf as ∞."""
    if isinstance(x, float) and math.isnan(x):
        return "–"
    return ("∞" if x > 0 else "−∞") if np.isinf(x) else f"{x:.3g}"


def points(x: float) -> str:
    """An accuracy difference in percentage points, signed."""
    return "–" if math.isnan(x) else f"{100 * x:+.1f} points"


def _value(row, x: float) -> str:
    if row["kind"] == "ratio":
        return f"{num(x)}×"
    if row["metric"] == "test_acc" and row["kind"].startswith("difference"):
        return points(x)
    if row["kind"] == "share":
        return f"{x:.0%}"
    return "–" if math.isnan(x) else (f"{x:+.3f}" if row["kind"].startswith("difference") else num(x))


def interval(row) -> str:
    if math.isnan(row["ci_low"]):
        return f"no interval: {row['seeds']} seeds are too few"
    return f"95% CI [{_value(row, row['ci_low'])}, {_value(row, row['ci_high'])}]"


def p_text(p: float) -> str:
    """"p = 0.012", "p < 0.001" (a bootstrap p-value has no more resolution than 1 / resamples)."""
    return "p = –" if math.isnan(p) else (f"p = {p:.2g}" if p >= 1e-3 else "p < 0.001")


def verdict(row) -> str:
    """How the test came out: '' (no test), or whether the interval excludes no effect, and Holm."""
    if math.isnan(row["p_value"]):
        return ""
    if row["p_value"] >= ALPHA:
        return "no difference resolved"
    held = row["p_adjusted"] < ALPHA
    return "resolved" + ("" if held else f", but not after Holm's adjustment over the {row['family']} family")


def where(row) -> str:
    return "pooled over the datasets" if row["dataset"] == POOLED else f"on {row['dataset']}"


def sentence(row: pd.Series | dict) -> str:
    """One Markdown sentence for one claim row."""
    row = pd.Series(row)
    kind, what = row["kind"], ""
    tail = []
    if row["n"]:
        tail.append(f"{row['n']} problems × up to {row['seeds']} seeds" if kind in ("ratio", "difference", "share",
                                                                                   "median") else "")
    floor = row["p_value"] < 1e-3           # at the bootstrap's resolution: the adjusted value is a bound too
    tested = (f"{p_text(row['p_value'])}; Holm-adjusted, "
              f"{p_text(row['p_adjusted']).replace('p = ', 'p ≤ ') if floor else p_text(row['p_adjusted'])}"
              if not math.isnan(row["p_value"]) else "")
    v = verdict(row)
    head = f"**{_value(row, row['estimate'])}**"
    if kind == "ratio" and np.isinf(row["estimate"]):
        head = (f"**∞×** (it missed the target, or broke, on half or more of the seeds in half or more of the "
                f"{row['n']} settings where either loss reached it)")
    if kind == "ratio" and row["claim"].startswith("speed_ratio."):
        what = (f"Under {OPT_LABELS.get(row['optimizer'], row['optimizer'])} {where(row)}, {label(row['subject'])} "
                f"needed {head} the steps of {label(row['reference'])} to the main target")
    elif kind == "ratio" and row["claim"].startswith("effective_rate."):
        what = (f"At cross-entropy's tuned effective rate (SGD, tuning seeds) {where(row)}, {label(row['subject'])} "
                f"needed {head} the steps of {label(row['reference'])}")
    elif kind == "ratio" and row["claim"].startswith("scale_effect."):
        what = (f"{label(row['subject'])} at its worst logit scale (chosen on the tuning seeds) needed {head} the "
                f"steps of its best scale {where(row)}")
    elif kind == "difference":
        claim_id = str(row["claim"] if "claim" in row else getattr(row, "name", ""))
        rate = ("each at its rate of best validation accuracy" if claim_id.startswith(ACCURACY_CLAIMS + ".")
                else "each at its rate tuned for speed")
        what = (f"{where(row).capitalize()}, {rate}, {label(row['subject'])} minus {label(row['reference'])} in "
                f"{METRIC_WORDS.get(row['metric'], row['metric'])}: {head}")
    elif kind == "difference_examples":
        what = (f"Mean over every run, paired over {row['n']:,} test examples {where(row)} (each example's mean over "
                f"{row['seeds']:,} pairs of runs; a mean over runs, not the median over settings of the line above), "
                f"{label(row['subject'])} minus {label(row['reference'])} in "
                f"{METRIC_WORDS.get(row['metric'], row['metric'])}: {head}")
        tail = []
    elif kind == "share":
        what = (f"Under {OPT_LABELS.get(row['optimizer'], row['optimizer'])} {where(row)}, {label(row['subject'])} "
                f"reached the main target in {head} of its runs")
    elif kind == "median" and row["metric"] == "rms_ratio_init":
        what = (f"{row['claim'].split('.')[3]} units, {label(row['subject'])} {where(row)}: the per-entry RMS of "
                f"dL/dW of the first layer over the last hidden layer's at initialisation is {head}")
    elif kind == "median":
        what = (f"{row['claim'].split('.')[3]} units, {label(row['subject'])} {where(row)}: "
                f"||dL/dW|| of the first layer over the output layer's "
                f"{'at initialisation' if row['metric'].endswith('init') else 'at the end'} is {head}")
    elif kind == "census":
        return (f"{where(row).capitalize()}, {row['seeds']} of {row['n']} configurations ({row['estimate']:.0%}) ended "
                f"the rate search with {OUTCOME_WORDS.get(row['subject'], row['subject'])}.")
    elif kind == "simulation":
        return (f"On the {row['dataset']} test split ({row['n']:,} examples), a perfectly calibrated model with "
                f"cross-entropy's confidences would still show an ECE of **{row['estimate']:.3f}** (95% of "
                f"simulations in [{row['ci_low']:.3f}, {row['ci_high']:.3f}]): the noise floor of the measure.")
    else:
        what = f"{row['claim']} {where(row)}: {head}"
    inside = "; ".join(x for x in [interval(row), *[t for t in tail if t], tested, v] if x)
    return f"{what} ({inside})."


def speed_summary(claims: pd.DataFrame, optimizer: str, dataset: str = POOLED) -> str:
    """Every loss against cross-entropy under one optimiser, in one sentence: slower, faster (both after
    Holm), and unresolved, each with its ratio and interval."""
    rows = claims[claims["claim"].str.startswith("speed_ratio.") & (claims["optimizer"] == optimizer)
                  & (claims["dataset"] == dataset)]
    if rows.empty:
        return ""
    def item(r):
        return f"{label(r['subject'])} {num(r['estimate'])}× [{num(r['ci_low'])}, {num(r['ci_high'])}] (n = {r['n']})"
    family = claims[claims["family"] == rows["family"].iloc[0]]
    sig = rows["p_adjusted"] < ALPHA
    slower = rows[sig & (rows["estimate"] > 1)].sort_values("estimate", ascending=False)
    faster = rows[sig & (rows["estimate"] < 1)].sort_values("estimate")
    rest = rows[~sig].sort_values("estimate")
    parts = []
    if len(slower):
        parts.append("slower than cross-entropy: " + "; ".join(item(r) for _, r in slower.iterrows()))
    if len(faster):
        parts.append("faster than cross-entropy: " + "; ".join(item(r) for _, r in faster.iterrows()))
    else:
        parts.append("faster than cross-entropy: none")
    if len(rest):
        parts.append("not resolved after Holm: " + "; ".join(item(r) for _, r in rest.iterrows()))
    pool = sorted(set(claims.loc[claims["claim"].isin(rows["claim"]) & (claims["dataset"] != POOLED), "dataset"]))
    return (f"Under {OPT_LABELS.get(optimizer, optimizer)}, {where(rows.iloc[0])} ({', '.join(pool)}), steps to the "
            f"main target relative to cross-entropy: per setting the ratio of median steps over seeds, then the "
            f"median over the n settings where either loss reached it (∞ where half or more of the settings "
            f"were missed by the loss; a setting that only cross-entropy missed counts as 0); 95% seed-bootstrap "
            f"intervals, unadjusted; a difference is said only where Holm's adjustment over the "
            f"{int(family['p_value'].notna().sum())} tests of the family (every loss, per dataset and pooled) keeps "
            f"it — " + " · ".join(parts) + ".")


def sentences(claims: pd.DataFrame, prefix: str, dataset: str | None = None) -> list[str]:
    """The sentences of every claim whose id starts with ``prefix`` (optionally of one dataset)."""
    rows = claims[claims["claim"].str.startswith(prefix)]
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    return [sentence(r) for _, r in rows.iterrows()]


def _ci(row, fmt, unit: str = "") -> str:
    """"1.59× (95% CI [1.46, 2])": the estimate with its unit, the interval's ends without."""
    if math.isnan(row["ci_low"]):
        return f"{fmt(row['estimate'])}{unit} (no interval: {row['seeds']} seeds)"
    return f"{fmt(row['estimate'])}{unit} (95% CI [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}])"


def speed_verdicts(claims: pd.DataFrame, optimizer: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """The speed claims of one optimiser over every dataset (pooled rows, or the only dataset's), and of
    them the losses slower than cross-entropy after Holm (slowest first) and faster; None without a test."""
    rows = claims[claims["family"] == f"speed_ratio.{optimizer}"]
    rows = rows[rows["dataset"] == POOLED] if (rows["dataset"] == POOLED).any() else rows
    if rows.empty or rows["p_adjusted"].isna().all():
        return None
    sig = rows["p_adjusted"] < ALPHA
    return (rows, rows[sig & (rows["estimate"] > 1)].sort_values("estimate", ascending=False),
            rows[sig & (rows["estimate"] < 1)])


def abstract(claims: pd.DataFrame, thresholds: pd.DataFrame, n_runs: int, datasets: list[str],
             stuck: dict[str, float] | None = None, level: float = 0.95) -> str:
    """The report's abstract (at most 150 words; tests/test_findings.py counts): its first sentence
    answers "why not MSE?" with sigmoid + MSE's pooled speed ratio and test-accuracy difference against
    cross-entropy, with intervals; then how many losses were slower or faster after Holm, whether the
    lecture's mechanism is what the runs show (``stuck``: per optimiser, the share of sigmoid + MSE's final
    training errors whose output derivative vanished, ``analysis.saturation.stuck_table``), the overflow thresholds of the
    naive log(softmax) on the gap axis against the fused loss, and what was run."""
    two = lambda x: "∞" if np.isinf(x) else f"{x:#.3g}".rstrip(".")  # noqa: E731  ("2.00", not "2")
    signed = lambda x: f"{100 * x:+.1f}".replace("-", "−")  # noqa: E731  (accuracy, in points)
    parts = []
    speed = {o: pooled_row(claims, f"speed_ratio.mse_sigmoid_vs_cross_entropy.{o}") for o in ("sgd", "adam")}
    speed = {o: r for o, r in speed.items() if r is not None}
    acc = pooled_row(claims, f"{ACCURACY_CLAIMS}.test_acc.mse_sigmoid_vs_cross_entropy")
    speed = {o: r for o, r in speed.items() if not math.isnan(r["estimate"])}
    if speed:
        resolved = {o: r["p_adjusted"] < ALPHA for o, r in speed.items()}
        slower = [o for o, r in speed.items() if resolved[o] and r["estimate"] > 1]
        faster = [o for o, r in speed.items() if resolved[o] and r["estimate"] < 1]
        lead = ("Because it learns slower: " if slower and not faster else
                "Not because it learns slower: " if faster and not slower else "")
        said = [f"{two(r['estimate'])}× as many steps as cross-entropy under {OPT_LABELS.get(o, o)}"
                + ("" if math.isnan(r["ci_low"]) else f" (95% CI [{two(r['ci_low'])}, {two(r['ci_high'])}])")
                for o, r in speed.items()]
        said = " and ".join([said[0]] + [x.replace(" as many steps as cross-entropy", "") for x in said[1:]])
        first = (f"{lead}to reach the same validation accuracy ({level:.0%} of the way from chance to tuned "
                 f"cross-entropy's), each at its tuned rate, MSE on sigmoid outputs needed {said}")
        first = first[0].upper() + first[1:]
        if acc is not None:
            first += f", and at its most accurate rate its test accuracy differed by {_ci(acc, signed, ' points')}"
        parts.append(first + ".")
    else:
        parts.append("MSE on sigmoid outputs was not in this sweep, so the question is not answered here.")
    counts, faster, total = [], [], 0
    for opt in ("sgd", "adam"):
        if (found := speed_verdicts(claims, opt)) is None:
            continue
        pooled, slower_rows, faster_rows = found
        counts.append(f"{len(slower_rows)} under {OPT_LABELS.get(opt, opt)}")
        faster += [f"{label(x)} ({OPT_LABELS.get(opt, opt)})" for x in faster_rows["subject"]]
        total = max(total, len(pooled))
    if counts:
        parts.append(f"After Holm's adjustment, {' and '.join(counts)} of the {total} losses compared were slower than "
                     f"cross-entropy; " + (f"faster: {', '.join(faster)}." if faster else "none was faster."))
    stuck = {o: v for o, v in sorted((stuck or {}).items(), key=lambda kv: (kv[0] != "sgd", kv[0]))
             if not math.isnan(v)}
    if stuck:
        fit = ("fit" if min(stuck.values()) >= 0.5 else "do not fit" if max(stuck.values()) < 0.1 else "fit in part")
        parts.append(f"Saturated outputs on wrong answers (the lecture's explanation) {fit}: "
                     + " and ".join(f"{v:.0%} ({OPT_LABELS.get(o, o)})" for o, v in stuck.items())
                     + " of its last errors.")
    gap = thresholds[(thresholds["axis"] == "gap")] if len(thresholds) else thresholds
    if len(gap):
        classes = min(gap["num_classes"].unique(), key=lambda c: (abs(c - 10), c))
        g = gap[(gap["num_classes"] == classes) & ~gap["autocast"]]
        naive_rows = g[(g["implementation"] == "log_softmax_naive") & g["measured_threshold"].notna()]
        naive = naive_rows.set_index("dtype")["measured_threshold"]
        fused = g[g["implementation"] == "cross_entropy"]
        agrees = "agrees" in naive_rows and naive_rows["agrees"].astype(bool).all()
        if len(naive):
            parts.append("`log(softmax(z))` first gave a non-finite loss or gradient at a logit gap of "
                         + ", ".join(f"{v:.3g} ({d})" for d, v in naive.items())
                         + (", as IEEE-754 predicts" if agrees else ", not everywhere where IEEE-754 predicts")
                         + ("; F.cross_entropy stayed finite there" if len(fused) and
                            fused["measured_threshold"].isna().all() else "") + ".")
    parts.append(f"Measured on {n_runs:,} small MLPs on {len(datasets)} dataset{'s' if len(datasets) != 1 else ''}; "
                 "intervals resample evaluation seeds.")
    return " ".join(parts)


def estimate_with_interval(claims: pd.DataFrame, claim_id: str, dataset: str | None = None) -> str:
    """"+1.6 points [+1.0, +2.1]", "2.19× [2, 2.56]": a claim's estimate and 95% interval in its unit
    (accuracy differences in percentage points, ratios with ×), for a table cell."""
    rows = claims[claims["claim"] == claim_id]
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    elif (rows["dataset"] == POOLED).any():
        rows = rows[rows["dataset"] == POOLED]
    if rows.empty:
        return "–"
    r = rows.iloc[0]
    ival = "" if math.isnan(r["ci_low"]) else f" [{_value(r, r['ci_low'])}, {_value(r, r['ci_high'])}]"
    return _value(r, r["estimate"]).replace(" points", "") + ival.replace(" points", "") + \
        (" points" if r["metric"] == "test_acc" and r["kind"].startswith("difference") else "")


def interval_columns(df: pd.DataFrame, col: str, fmt: str = "{:.3f}", scale: float = 1.0) -> pd.Series:
    """``"0.059 [0.054, 0.064]"`` per row from ``col``, ``col_low`` and ``col_high`` (times ``scale``);
    "–" where there is no estimate (e.g. cross-entropy's difference from itself)."""
    def one(r):
        est, lo, hi = (r[col] * scale, r[col + "_low"] * scale, r[col + "_high"] * scale)
        if math.isnan(est):
            return "–"
        return fmt.format(est) + ("" if math.isnan(lo) else f" [{fmt.format(lo)}, {fmt.format(hi)}]")
    return df.apply(one, axis=1) if len(df) else pd.Series(dtype=object)
