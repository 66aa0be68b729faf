"""Every sentence the report writes about a claim, from its row of ``claims.parquet`` (one place).

The analysis (``experiments.analysis.claims``) returns numbers only; here they become words. A
sentence states the estimate, its 95% interval, what it is over (problems x seeds, or test examples),
the test's p-value and the Holm-adjusted one within its family. An interval that contains the value
of no effect is said as "no difference resolved"; a loss faster (or better) than cross-entropy is
said in the same words as one slower (or worse).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..analysis.claims import pooled_row
from ..analysis.stats import ALPHA, MIN_SEEDS, POOLED, min_replicates
from . import names

OPT_LABELS = names.OPTIMIZER_LABELS
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
    return names.loss(loss)


def num(x: float) -> str:
    """A number for a sentence: 3 significant figures, kept (1.00, not 1; 0.980, not 0.98), +inf as ∞."""
    if isinstance(x, float) and math.isnan(x):
        return "–"
    return ("∞" if x > 0 else "−∞") if np.isinf(x) else f"{x:#.3g}".rstrip(".")


def points(x: float) -> str:
    """An accuracy difference in percentage points, signed (0.0 without a sign where it rounds to zero)."""
    if math.isnan(x):
        return "–"
    return "0.0 points" if round(100 * x, 1) == 0 else f"{100 * x:+.1f} points"


def _value(row, x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "–"
    if row["kind"] == "ratio":
        return times(row) if x == row["estimate"] else f"{num(x)}×"
    if row["metric"] == "test_acc" and row["kind"].startswith("difference"):
        return points(x)
    if row["kind"] == "share":
        return f"{x:.0%}"
    return f"{x:+.3f}" if row["kind"].startswith("difference") else num(x)


def _bound(row) -> bool:
    """The estimate is a lower bound (a censored ratio whose misses bind: ``claims.lower_bound``)."""
    b = row.get("lower_bound", False) if hasattr(row, "get") else False
    return bool(b) if b is not None and not (isinstance(b, float) and math.isnan(b)) else False


def times(row) -> str:
    """"≥ 2.35×": a ratio row's estimate, marked where it is a lower bound (``_bound``)."""
    row = row._asdict() if hasattr(row, "_asdict") else row
    return f"{'≥ ' if _bound(row) else ''}{num(row['estimate'])}×"


def fragile(row) -> str:
    """Where a resolved claim rests on one setting (leaving one out moves its estimate across the value of no
    effect), the words that say so, else ""."""
    lo, hi, null = row.get("loo_low", math.nan), row.get("loo_high", math.nan), row.get("null_value", math.nan)
    if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi, null)) or not row.get("p_adjusted", 1) < ALPHA:
        return ""
    if lo <= null <= hi:
        return f"rests on one setting: leaving one out gives {_value(row, lo)} to {_value(row, hi)}"
    return ""


def ends(lo: float, hi: float, null: float | None, fmt) -> tuple[str, str]:
    """An interval's ends as text, each to the precision that keeps it apart from the value of no effect:
    an end that formats like the null but is not the null gets more digits (0.9996 is not "1"), so an end
    printed as the null *is* the null, and a reader sees whether the interval excludes it."""
    def one(x):
        text = fmt(x)
        if null is None or math.isnan(null) or math.isnan(x) or x == null:
            return text
        same = lambda a, b: re.sub(r"[−+-](?=0(\.0+)?\b)", "", a) == re.sub(r"[−+-](?=0(\.0+)?\b)", "", b)  # noqa: E731
        if not same(text, fmt(null)):
            return text
        unit = "×" if text.endswith("×") else ""
        fixed = re.fullmatch(r"([+−-]?)\d+\.(\d+)", text)            # fixed decimals ("+0.002"): more decimals
        sign = "+" if fixed and fixed.group(1) else ""
        for digits in range(2, 12):                                  # more digits, x and null alike, until apart
            if text.endswith(" points"):                             # points: 100 x with more decimals
                a, b = (f"{100 * v:+.{digits}f} points" for v in (x, null))
            elif fixed and fmt is not num:
                a, b = (f"{v:{sign}.{len(fixed.group(2)) + digits - 1}f}" for v in (x, null))
            else:
                a, b = (f"{v:#.{digits + 1}g}".rstrip(".") + unit for v in (x, null))
            if not same(a, b):
                return a
        return text
    return one(lo), one(hi)


def interval(row) -> str:
    if math.isnan(row["ci_low"]):
        if row["seeds"] >= MIN_SEEDS:                 # enough seeds, too few resamples where it is defined
            return (f"no interval: only {int(row.get('replicates', 0))} resamples defined the statistic, fewer "
                    f"than the {min_replicates()} a 5% test needs")
        return f"no interval: {row['seeds']} seeds, fewer than the {MIN_SEEDS} an interval needs"
    null = row["null_value"] if row["kind"] in ("ratio", "difference", "median", "level") else None
    lo, hi = ends(row["ci_low"], row["ci_high"], null, lambda x: _value(row, x))
    return f"95% CI [{lo}, {hi}]"


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


def percent(x: float) -> str:
    """"55%", and "99.6%" or "0.4%" where whole percents would print a share that is not 1 or 0 as 100% or 0%."""
    if math.isnan(x):
        return "–"
    whole = f"{x:.0%}"
    return f"{x:.1%}" if whole in ("100%", "0%") and 0 < x < 1 else whole


def and_list(items: list[str]) -> str:
    """"a, b and c"."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def cap(text: str) -> str:
    """The first letter upper case, the rest as written ("On Gaussian mixture", not str.capitalize's "gaussian")."""
    return text[:1].upper() + text[1:]


def where(row) -> str:
    return "pooled over the datasets" if row["dataset"] == POOLED else f"on {names.dataset(row['dataset'])}"


# the words around a ratio claim, by its id's prefix (the first that matches): {head} is the estimate
RATIO_WORDS = {
    "speed_ratio.": "Under {opt} {where}{setting}, {subject} needed {head} the steps of {reference} to the main target",
    "speed_level.": "Under {opt} {where}{setting}, {subject} needed {head} the steps of {reference} to the target",
    "mechanism.adam_over_sgd.": "{Where}, {subject}'s steps over {reference}'s were {head} as large under Adam as "
                                "under SGD, the median over settings",
    "mechanism.": "Under {opt} {where}{setting}, {subject} needed {head} the steps of {reference}, which shares its "
                  "outputs and targets",
    "effective_rate.": "At cross-entropy's tuned effective rate (SGD, tuning seeds) {where}, {subject} needed {head} "
                       "the steps of {reference}",
    "scale_effect.": "{subject} at its worst logit scale (chosen on the tuning seeds) needed {head} the steps of its "
                     "best scale {where}",
}


def sentence(row: pd.Series | dict) -> str:
    """One Markdown sentence for one claim row."""
    name = getattr(row, "name", "")
    row = pd.Series(row)
    kind, what = row["kind"], ""
    claim_id = str(row["claim"] if "claim" in row else name)           # a row of a table indexed by claim
    tail = []
    if row["n"] and kind in ("ratio", "difference", "share", "median", "level"):
        tail.append(f"{row['n']} settings × up to {row['seeds']} seeds")
    if not math.isnan(row.get("broken", math.nan)) and row.get("broken", 0) > 0:
        tail.append(("under 1%" if row["broken"] < 0.01 else f"{row['broken']:.0%}") + " of its runs broke" + (
            ", counted at chance" if row["metric"] == "test_acc" else
            ", counted as misses" if kind in ("ratio", "share") and row["metric"] in ("steps_to_target", "reached")
            else ", left out (undefined for them)"))
    if kind == "ratio" and row.get("censored", 0) and row["censored"] > 0:
        tail.append(f"in {int(row['censored'])} of the {row['n']} settings the subject's median sat at the budget"
                    + (", so the estimate is a lower bound" if _bound(row) else ", without moving the estimate"))
    if fragile(row):
        tail.append(fragile(row))
    floor = row["p_value"] < 1e-3           # at the bootstrap's resolution: the adjusted value is a bound too
    tested = (f"{p_text(row['p_value'])}; Holm-adjusted, "
              f"{p_text(row['p_adjusted']).replace('p = ', 'p ≤ ') if floor else p_text(row['p_adjusted'])}"
              if not math.isnan(row["p_value"]) else "")
    v = verdict(row)
    head = f"**{_value(row, row['estimate'])}**"
    setting = f" ({row['setting']})" if isinstance(row.get("setting"), str) and row.get("setting") else ""
    opt = OPT_LABELS.get(row["optimizer"], row["optimizer"])
    fields = dict(opt=opt, where=where(row), Where=cap(where(row)), setting=setting, head=head,
                  subject=label(row["subject"]), reference=label(row["reference"]))
    ratio = next((w for prefix, w in RATIO_WORDS.items() if claim_id.startswith(prefix)), None)
    if kind == "ratio" and ratio is not None:
        what = ratio.format(**fields)
    elif kind == "difference":
        rate = ("each at its rate of best validation accuracy" if claim_id.startswith(ACCURACY_CLAIMS + ".")
                else "each at its rate tuned for speed")
        over = ("the mean over settings" if ".test_acc_mean." in claim_id else
                "the median setting, descriptive" if ".test_acc." in claim_id else "the median over settings")
        under = f"under {opt} " if isinstance(row.get("optimizer"), str) and row["optimizer"] else ""
        what = (f"{cap(under + where(row))}, {rate}, {label(row['subject'])} minus {label(row['reference'])} in "
                f"{METRIC_WORDS.get(row['metric'], row['metric'])} ({over}): {head}")
    elif kind == "difference_examples":
        pairs = ("its dataset's pairs of runs" if row["dataset"] == POOLED     # the seeds column sums the datasets'
                 else f"{row['seeds']:,} pairs of runs")
        what = (f"Mean over every run, paired over {row['n']:,} test examples {where(row)} (each example's mean over "
                f"{pairs}; a mean over runs, not the median over settings of the line above), "
                f"{label(row['subject'])} minus {label(row['reference'])} in "
                f"{METRIC_WORDS.get(row['metric'], row['metric'])}: {head}")
        tail = []
    elif kind == "share" and row["metric"] == "test_acc":
        what = (f"{cap(where(row))}, {label(row['subject'])}'s mean test accuracy was more than 5 points below "
                f"{label(row['reference'])}'s in {head} of the settings (descriptive)")
    elif kind == "share":
        what = (f"Under {opt} {where(row)}, {label(row['subject'])} reached the main target in {head} of its runs")
    elif kind == "level":
        what = (f"{cap(where(row))}, {label(row['subject'])}'s fitted temperature (above 1: overconfident, below 1: "
                f"underconfident) "
                f"was {head} (median over settings)")
    elif kind == "median" and row["metric"] == "rms_ratio_init":
        what = (f"{claim_id.split('.')[3]} units, {label(row['subject'])} {where(row)}: the per-entry RMS of "
                f"dL/dW of the first layer over the last hidden layer's at initialisation is {head}")
    elif kind == "median":
        what = (f"{claim_id.split('.')[3]} units, {label(row['subject'])} {where(row)}: "
                f"||dL/dW|| of the first layer over the output layer's "
                f"{'at initialisation' if row['metric'].endswith('init') else 'at the end'} is {head}")
    elif kind == "census":
        return (f"{cap(where(row))}, {row['seeds']} of {row['n']} configurations ({row['estimate']:.0%}) ended "
                f"the rate search with {OUTCOME_WORDS.get(row['subject'], row['subject'])}.")
    elif kind == "simulation":
        return (f"On the {names.dataset(row['dataset'])} test split ({row['n']:,} examples), a perfectly calibrated model with "
                f"cross-entropy's confidences would still show an ECE of **{row['estimate']:.3f}** (95% of "
                f"simulations in [{row['ci_low']:.3f}, {row['ci_high']:.3f}]): the noise floor of the measure.")
    else:
        what = f"{claim_id} {where(row)}: {head}"
    inside = "; ".join(x for x in [interval(row), *[t for t in tail if t], tested, v] if x)
    return f"{what} ({inside})."


def speed_summary(claims: pd.DataFrame, optimizer: str, dataset: str = POOLED, brief: bool = False) -> str:
    """Every loss against cross-entropy under one optimiser, in one sentence: slower, faster (both after
    Holm), and unresolved, each with its ratio and interval; ``brief``: the method said once already."""
    rows = claims[claims["claim"].str.startswith("speed_ratio.") & (claims["optimizer"] == optimizer)
                  & (claims["dataset"] == dataset)]
    if rows.empty:
        return ""
    def item(r):
        return f"{label(r['subject'])} {times(r)} {ratio_interval(r)} (n = {r['n']})"
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
    pool = [names.dataset(d) for d in sorted(set(claims.loc[claims["claim"].isin(rows["claim"])
                                                             & (claims["dataset"] != POOLED), "dataset"]))]
    if brief:
        return (f"Under {OPT_LABELS.get(optimizer, optimizer)}, {where(rows.iloc[0])}, measured and tested alike "
                f"({int(family['p_value'].notna().sum())} tests in its family) — " + " · ".join(parts) + ".")
    return (f"Under {OPT_LABELS.get(optimizer, optimizer)}, {where(rows.iloc[0])}"
            + (f" ({', '.join(pool)})" if pool else "") + ", steps to the "
            f"main target relative to cross-entropy: per setting the ratio of median steps over seeds, a run that "
            f"missed or broke counting as the whole budget, then the median over the n settings where either loss "
            f"reached it on half its seeds (≥: a lower bound); 95% seed-bootstrap intervals, unadjusted; a difference is said only "
            f"where Holm's adjustment over the {int(family['p_value'].notna().sum())} tests of the family (every "
            f"loss, per dataset and pooled) keeps it — " + " · ".join(parts) + ".")


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


def _two(x: float) -> str:
    """A headline number: 3 significant figures, kept ("2.00", not "2")."""
    return "∞" if np.isinf(x) else f"{x:#.3g}".rstrip(".")


def _span(row, fmt=_two, unit: str = "", first: bool = False) -> str:
    """" (95% CI 1.27 to 1.79)" (``first``), else " (1.27 to 1.79)"; "" without an interval; an unbounded
    end in words."""
    if math.isnan(row["ci_low"]):
        return ""
    head = "95% CI " if first else ""
    if np.isinf(row["ci_high"]):
        return f" ({head}from {fmt(row['ci_low'])}{unit}, no upper bound)"
    return f" ({head}{fmt(row['ci_low'])} to {fmt(row['ci_high'])}{unit})"


def _direction(rows: dict) -> str:
    """"slower" / "faster" when every row's ratio is resolved on that side after Holm, else ""."""
    sides = {("slower" if r["estimate"] > 1 else "faster") if r["p_adjusted"] < ALPHA else "" for r in rows.values()}
    return sides.pop() if len(sides) == 1 else ""


def smoke_banner(eval_seeds: int, tuning_seeds: int) -> str:
    """The first screen's warning for a run smaller than a study (fewer evaluation seeds than an interval
    needs, or one tuning seed): a blockquote, else ""."""
    if eval_seeds >= MIN_SEEDS and tuning_seeds >= 2:
        return ""
    why = [f"{eval_seeds} evaluation seed{'s' if eval_seeds != 1 else ''} per dataset (an interval needs "
           f"{MIN_SEEDS})"] if eval_seeds < MIN_SEEDS else []
    why += [f"{tuning_seeds} tuning seed (rates chosen on one seed)"] if tuning_seeds < 2 else []
    return (f"> **A smoke run, not a study.** This run has {' and '.join(why)}: it shows that the pipeline works "
            f"end to end, and its numbers have no intervals or tests. Read them as a check, not as findings; "
            f"`config/config.yaml` is the study.")


def abstract(claims: pd.DataFrame, counts: pd.DataFrame, pool: pd.DataFrame, thresholds: pd.DataFrame,
             seeds: int, level: float = 0.95, accuracy: pd.DataFrame | None = None,
             coverage: pd.DataFrame | None = None, subject: str = "mse_sigmoid", reference: str = "cross_entropy",
             contrast: str | None = "bce_ovr") -> str:
    """The report's abstract (at most 180 words; tests/test_findings.py counts), answering "why not
    ``subject`` instead of ``reference``?": speed per optimiser (a miss counted as the budget; "at least"
    where the misses make the estimate a lower bound) with the reach shares, test accuracy as a
    distribution (its mean with an interval, where the loss comes from by hidden activation, the share of
    settings worse by 5 points, the median; ``accuracy``: ``report_tables.accuracy_summary``), the
    mechanism by its clean contrast (``subject`` against ``contrast``, which shares its outputs), the
    overflow of the naive log(softmax), and what was run (``coverage``: every optimiser's datasets, studies
    included). No ∞ and no "nan": a number without an interval says why first. ``seeds``: evaluation seeds
    per dataset (most)."""
    parts = []
    if seeds < MIN_SEEDS:
        parts.append(f"*With {seeds} evaluation seeds per dataset, fewer than the {MIN_SEEDS} an interval needs, "
                     f"the numbers below have no intervals or tests: read them as a smoke test.*")
    opts = [o for o in ("sgd", "adam") if pooled_row(claims, f"speed_ratio.{subject}_vs_{reference}.{o}") is not None]
    opts += sorted({o for o in claims.loc[claims["claim"].str.startswith(f"speed_ratio.{subject}_vs_{reference}."),
                                          "optimizer"]} - set(opts))
    speed = {o: pooled_row(claims, f"speed_ratio.{subject}_vs_{reference}.{o}") for o in opts}
    pts = lambda x: f"{abs(100 * x):.1f}"                                                     # noqa: E731
    atleast = lambda r: "at least " if _bound(r) else ""                                      # noqa: E731
    if speed:
        way = _direction(speed)
        said = " and ".join(f"{atleast(r)}{_two(r['estimate'])}×{' the steps' if i == 0 else ''} under "
                            f"{OPT_LABELS.get(o, o)}{_span(r, first=i == 0)}" for i, (o, r) in enumerate(speed.items()))
        reach = {o: (pooled_row(claims, f"reach_fraction.{subject}.{o}"), pooled_row(claims, f"reach_fraction.{reference}.{o}"))
                 for o in speed}
        shares = [(a, b) for a, b in reach.values() if a is not None and b is not None]
        reached = ("; it reached the target in " + " and ".join(percent(a["estimate"]) for a, _ in shares)
                   + " of runs against " + " and ".join(percent(b["estimate"]) for _, b in shares)
                   if shares else "")
        tested = any(not math.isnan(r["p_adjusted"]) for r in speed.values())
        name = cap(label(subject))
        parts.append(f"{name} " + (f"learned {way} than {label(reference)}" if way else
                                   f"against {label(reference)}, no difference in speed resolved" if tested else
                                   f"against {label(reference)}")
                     + f": to the same validation accuracy, each at its tuned rate, it needed {said}, a miss "
                       f"counted as the budget" + reached + ".")
    else:
        parts.append(f"{label(subject)} and {label(reference)} were not both in this sweep's pool, so the question "
                     f"is not answered here.")
    mean = pooled_row(claims, f"{ACCURACY_CLAIMS}.test_acc_mean.{subject}_vs_{reference}")
    if mean is not None:
        way = "lower" if mean["estimate"] < 0 else "higher"
        same_side = np.sign(mean["ci_low"]) == np.sign(mean["ci_high"]) == np.sign(mean["estimate"])
        span = (_span({"ci_low": min(abs(mean["ci_low"]), abs(mean["ci_high"])),
                       "ci_high": max(abs(mean["ci_low"]), abs(mean["ci_high"]))}, pts, first=not speed)
                if same_side else _span(mean, lambda x: f"{100 * x:+.1f}".replace("-", "−"), first=not speed))
        text = f"At its most accurate rate its test accuracy was {pts(mean['estimate'])} points {way} on average{span}"
        by = accuracy[(accuracy["loss"] == subject) & (accuracy["dataset"] == "all") & (accuracy["activation"] != "all")] \
            if accuracy is not None and len(accuracy) else None
        if by is not None and len(by) > 1:
            order = by.assign(_o=by["mean"]).sort_values("_o")
            text = (text[:-1] if text.endswith(")") else text + " (") + ("; " if text.endswith(")") else "") + \
                ", ".join(f"{r.activation}{' hidden units' if i == 0 else ''} {signed_points(r.mean)}"
                          for i, r in enumerate(order.itertuples())) + ")"
        worse = pooled_row(claims, f"{ACCURACY_CLAIMS}.test_acc_worse.{subject}_vs_{reference}")
        median = pooled_row(claims, f"{ACCURACY_CLAIMS}.test_acc.{subject}_vs_{reference}")
        if worse is not None:
            text += f", more than 5 points lower in {worse['estimate']:.0%} of settings"
        if median is not None:
            text += f"; the median setting {signed_points(median['estimate'])}"
        parts.append(text + ".")
    if contrast is not None:
        mech = {o: pooled_row(claims, f"mechanism.{subject}_vs_{contrast}.{o}") for o in opts}
        mech = {o: r for o, r in mech.items() if r is not None}
        if mech:
            parts.append(f"Against {label(contrast)} on the same sigmoid outputs, whose gradient lacks only the "
                         f"factor s(1 − s), it needed "
                         + " and ".join(f"{atleast(r)}{_two(r['estimate'])}×{' the steps' if i == 0 else ''} under "
                                        f"{OPT_LABELS.get(o, o)}{_span(r)}" for i, (o, r) in enumerate(mech.items()))
                         + ": the factor's cost.")
    gap = thresholds[(thresholds["axis"] == "gap")] if len(thresholds) else thresholds
    if len(gap):
        classes = min(gap["num_classes"].unique(), key=lambda c: (abs(c - 10), c))
        g = gap[(gap["num_classes"] == classes) & ~gap["autocast"]]
        naive_rows = g[(g["implementation"] == "log_softmax_naive") & g["measured_threshold"].notna()]
        naive = naive_rows.set_index("dtype")["measured_threshold"]
        fused = g[g["implementation"] == "cross_entropy"]
        agrees = "agrees" in naive_rows and naive_rows["agrees"].astype(bool).all()
        if len(naive):
            lo, hi = naive.idxmin(), naive.idxmax()
            parts.append("`log(softmax(z))` broke at a logit gap of "
                         + (f"{naive[lo]:.3g} ({lo}) to {naive[hi]:.3g} ({hi})" if lo != hi else f"{naive[lo]:.3g} ({lo})")
                         + f" with {int(classes)} classes"
                         + (", as IEEE-754 predicts" if agrees else ", not everywhere where IEEE-754 predicts")
                         + ("; F.cross_entropy stayed finite" if len(fused) and
                            fused["measured_threshold"].isna().all() else "") + ".")
    total = counts.set_index("stage")["runs"].get("total")
    if total is not None and len(pool):     # what the numbers above pool (the claims' grid), not all that trained
        order = pool.assign(_o=pool["optimizer"].map({"sgd": 0, "adam": 1}).fillna(2)).sort_values(["_o", "optimizer"])
        per = order.groupby("datasets", sort=False)["optimizer"].agg(lambda o: " and ".join(OPT_LABELS.get(x, x) for x in o))
        listed = lambda ds: and_list([names.dataset(d) for d in ds.split(", ")])                  # noqa: E731
        where_ = (listed(per.index[0]) if len(per) == 1 else
                  "; ".join(f"{listed(ds)} under {o}" for ds, o in per.items()))
        more = coverage is not None and len(coverage) and set(coverage["datasets"]) != set(pool["datasets"])
        parts.append(f"{int(total):,} MLPs trained; the numbers above pool {where_}"
                     + (" (the studies' other data: Setup)" if more else "") + ".")
    elif total is not None:
        parts.append(f"{int(total):,} MLPs trained.")
    return " ".join(parts)


def signed_points(x: float) -> str:
    """"−20.3", "+0.4", "0.0": percentage points, a minus sign that reads as one."""
    return "0.0" if round(100 * x, 1) == 0 else f"{100 * x:+.1f}".replace("-", "−")


def ratio_interval(row) -> str:
    """"[1.21, 1.56]": a ratio claim's 95% interval for a table cell, no end rounded onto 1; "–" without one."""
    if math.isnan(row["ci_low"]):
        return "–"
    return "[{}, {}]".format(*ends(row["ci_low"], row["ci_high"], 1.0, num))


def ratio_cell(row, interval: bool = True, resolved: bool = True) -> str:
    """"≥ 1.28× [1.21, 1.56]†": a ratio claim for a table cell (≥: a lower bound, the subject's median at the
    budget in settings that bind; †: resolved after Holm's adjustment)."""
    text = times(row)
    if interval and not math.isnan(row["ci_low"]):
        text += " " + ratio_interval(row)
    return text + ("†" if resolved and row["p_adjusted"] < ALPHA else "")


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
