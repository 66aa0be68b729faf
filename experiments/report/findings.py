"""The report's sentences with numbers, written from the tables the workflow made.

Each function takes tables (the claims, ``results/report/*.parquet``) and returns one Markdown
sentence (or a short list of them): the finding that opens a report section. A sentence formats
numbers a table holds and compares them with the thresholds its words name; it computes none (the
workflow did: ``experiments.analysis.report_tables``). When the data a finding needs were not swept,
the function says so in one line instead of failing, so that every valid config renders (e.g. one
loss, no float32, no 10-class probe, learned scales only, a linear model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.claims import REFERENCE, pooled_row
from ..analysis.stats import MIN_SEEDS, POOLED
from . import names, wording

# Which probe setting speaks for an implementation when several were run: the
# lecture's (float32, 10 classes, the gap axis, explicit casts), else the nearest.
DTYPE_PREFERENCE = ["float32", "float16", "bfloat16", "float64"]
AXIS_PREFERENCE = ["gap", "max_logit", "lecture"]
NAIVE = ["log_softmax_naive", "softmax_naive", "bce_naive"]   # the lecture's and the other unfused paths
FUSED = ["cross_entropy", "log_softmax_nll", "logsumexp_manual", "bce_logits"]
label = names.loss
OPT = names.OPTIMIZER_LABELS


def absent(what: str, why: str) -> str:
    """The one line a section shows when its data are not in this run."""
    return f"*No {what} in this run: {why}.*"


def ci(row, col: str, fmt: str = "{:.3g}") -> str:
    """"0.059 [0.054, 0.064]" from ``col``, ``col_low`` and ``col_high`` of a table row."""
    return fmt.format(row[col]) + ("" if np.isnan(row[col + "_low"]) else
                                   f" [{fmt.format(row[col + '_low'])}, {fmt.format(row[col + '_high'])}]")


def lecture_finding(examples: pd.DataFrame) -> str:
    ok = int(examples["matches"].fillna(False).astype(bool).sum())
    n = int(examples["comparable"].sum())
    return (f"**{ok} of {n}** of the lecture's numbers that can be recomputed agree with it at the precision it "
            f"states; {len(examples) - n} come from an unseeded random draw and are compared only as an equality.")


def gradient_finding(losses: pd.DataFrame, saturation: pd.DataFrame, logit: float) -> str:
    """Analytic gradients at a confidently wrong logit (``losses.grad_when_wrong``), then what training
    measured of the hidden units' saturation (``saturation_end``), if sigmoid + MSE ran."""
    g = losses.set_index("loss")["grad_when_wrong"]
    if not {"mse_sigmoid", "cross_entropy"} <= set(g.index):
        return absent("gradient comparison", "the losses table lacks sigmoid + MSE or cross-entropy")
    g_mse, g_ce = g["mse_sigmoid"], g["cross_entropy"]
    text = (f"With the true-class logit at {logit:g} (other logits 0), the gradient of sigmoid + MSE with respect "
            f"to it is {g_mse:.1e}, against {g_ce:.2f} for cross-entropy: about {float(f'{abs(g_ce / g_mse):.2g}'):,.0f} "
            f"times smaller.")
    if "bce_ovr" in g.index and g["bce_ovr"] != 0:    # the clean contrast: the same sigmoid outputs, without s(1 - s)
        factor = float(f"{abs(g['bce_ovr'] / g_mse):.2g}")
        text += (f" Binary CE one-vs-rest on the same outputs gives {g['bce_ovr']:.2f}: s(1 − s) alone is a factor "
                 f"of about {factor:,.0f}, the classes' averaging the other {abs(g_ce / g['bce_ovr']):.0f}.")
    if len(saturation):
        s = saturation.iloc[0]
        text += (f" In training, the median fraction of saturated sigmoid/tanh hidden units at the end of the "
                 f"sigmoid + MSE runs was {s['median']:.2g} (descriptive: 95% interval [{s['low']:.2g}, "
                 f"{s['high']:.2g}] over {int(s['runs'])} runs).")
    return text


def _ratio_ci(r) -> str:
    """"**≥ 2.16×** [2.00, 2.31]": a ratio row's estimate ("≥" where it is a lower bound) and interval."""
    return f"**{wording.times(r)}**" + ("" if np.isnan(r["ci_low"]) else " " + wording.ratio_interval(r))


def mechanism_finding(claims: pd.DataFrame, mechanism: pd.DataFrame, stuck: pd.DataFrame | None = None) -> str:
    """The factor s(1 - s) by the contrast that isolates it (claims ``mechanism.*``): MSE on sigmoid against
    binary CE one-vs-rest (the same sigmoid outputs and targets; the gradients on the logits differ by the
    factor 2 s (1 - s) alone), and MSE on softmax against cross-entropy (the softmax Jacobian), per optimiser
    pooled and per dataset, with the reach shares; where the contrast is largest and where it is not resolved;
    how much of the largest is saturation (``stuck``: the stuck share of the errors left there); whether it
    costs more under Adam (``mechanism.adam_over_sgd.*``, one bootstrap); beside the speed against
    cross-entropy, which it does not decompose."""
    rows = mechanism[mechanism["activation"] == "all"]
    if rows.empty:
        return absent("contrast that isolates the mechanism", "MSE on sigmoid with binary CE, or MSE on softmax "
                                                              "with cross-entropy, was not swept")
    out = []
    for (subject, reference), sub in rows.groupby(["subject", "reference"], sort=False):
        items = []
        for opt in [o for o in ("sgd", "adam") if o in set(sub["optimizer"])]:
            r = sub[(sub["optimizer"] == opt)]
            pooled = r[r["dataset"] == POOLED] if (r["dataset"] == POOLED).any() else r.iloc[:1]
            if pooled.empty:
                continue
            p = pooled.iloc[0]
            per = "; ".join(f"{names.dataset(x.dataset)} {wording.times(x)}" for x in r.itertuples()
                            if x.dataset != POOLED)
            items.append(f"under {OPT.get(opt, opt)} {_ratio_ci(p)}" + (f" ({per})" if per and len(r) > 1 else "")
                         + f", reaching the target in {wording.percent(p['reach_subject'])} of runs against "
                         f"{wording.percent(p['reach_reference'])}")
        fine = mechanism[(mechanism["subject"] == subject) & (mechanism["activation"] != "all")
                         & (mechanism["dataset"] == POOLED)]
        extremes = ""
        if len(fine) > 1:
            hi = fine.loc[fine["estimate"].idxmax()]
            unresolved = fine[~(fine["p_adjusted"] < 0.05)]
            extremes = (f" It is largest with {hi['setting']} under {OPT.get(hi['optimizer'], hi['optimizer'])} "
                        f"({wording.times(hi)}; reached in "
                        f"{wording.percent(hi['reach_subject'])} of runs against {wording.percent(hi['reach_reference'])})")
            if stuck is not None and len(stuck):
                st = stuck[(stuck["scope"] == "activation and scale") & (stuck["loss"] == subject)
                           & (stuck["optimizer"] == hi["optimizer"]) & (stuck["activation"] == hi["activation"])
                           & (stuck["logit_scale"] == hi["logit_scale"])]
                if len(st) and not np.isnan(st["stuck_of_errors"].iloc[0]):
                    share = st["stuck_of_errors"].iloc[0]
                    factor = "s(1 − s)" if subject == "mse_sigmoid" else "p(1 − p)"
                    extremes += (f", where {share:.0%} of its remaining training errors are stuck (saturated)"
                                 + (f": few, so there the factor costs through its size ({factor} ≤ 1/4 on every "
                                    f"example) rather than through saturation" if share < 0.1 else ""))
            extremes += "."
            if len(unresolved):
                extremes += (" Not resolved after Holm: " + "; ".join(
                    f"{r.setting} under {OPT.get(r.optimizer, r.optimizer)} ({wording.times(r)})"
                    for r in unresolved.itertuples()) + ".")
        out.append(f"{wording.cap(label(subject))} over {label(reference)}, steps to the target "
                   f"(pooled, 95% seed-bootstrap interval; ≥: a lower bound, the subject's median at the budget in "
                   f"settings that bind): " + "; ".join(items) + "." + extremes)
    both = pooled_row(claims, "mechanism.adam_over_sgd.mse_sigmoid_vs_bce_ovr")
    if both is not None:
        out.append("Adam against SGD on the same settings and seeds. " + wording.sentence(both))
    speed = {o: pooled_row(claims, f"speed_ratio.mse_sigmoid_vs_cross_entropy.{o}") for o in ("sgd", "adam")}
    bce = {o: pooled_row(claims, f"speed_ratio.bce_ovr_vs_cross_entropy.{o}") for o in ("sgd", "adam")}
    told = [o for o in ("sgd", "adam") if speed[o] is not None and bce[o] is not None]
    if told:
        out.append("Beside it, against cross-entropy sigmoid + MSE needed "
                   + " and ".join(f"{wording.times(speed[o])} ({OPT[o]})" for o in told)
                   + ", binary CE itself "
                   + " and ".join(f"{wording.times(bce[o])} ({OPT[o]})" for o in told)
                   + ": each a median over its own settings, so the ratios do not multiply; the contrast with binary "
                     "CE is the part the sigmoid outputs alone do not explain.")
    return " ".join(out)


def stuck_finding(stuck: pd.DataFrame, constants: pd.DataFrame) -> str:
    """The stuck share (``analysis.saturation.stuck_shares``) over every setting, per logit scale, its peak
    and when, and at the other two thresholds: sigmoid + MSE beside binary CE and cross-entropy."""
    every = stuck[stuck["scope"] == "every setting"].set_index(["optimizer", "loss"])
    if not any(l == "mse_sigmoid" for _, l in every.index):
        return absent("output-saturation measure", "sigmoid + MSE was not swept")
    frac = constants.set_index("name")["value"].get("stuck_fraction.stuck_wrong_frac", 0.1)
    parts = []
    for opt in [o for o in ("sgd", "adam") if (o, "mse_sigmoid") in every.index]:
        m = every.loc[(opt, "mse_sigmoid")]
        others = [f"{label(l)} {every.loc[(opt, l), 'stuck_of_errors']:.0%}" for l in ("bce_ovr", "cross_entropy")
                  if (opt, l) in every.index]
        scales = stuck[(stuck["scope"] == "logit scale") & (stuck["optimizer"] == opt) & (stuck["loss"] == "mse_sigmoid")]
        by_scale = ", ".join(f"{r.stuck_of_errors:.0%} at logit scale {r.logit_scale:g}" for r in scales.itertuples())
        parts.append(f"under {OPT.get(opt, opt)}, **{m['stuck_of_errors']:.0%}** of sigmoid + MSE's training errors "
                     f"at the end were stuck over every setting ({m['stuck_of_errors_strict']:.0%} at the strict "
                     f"threshold, {m['stuck_of_errors_loose']:.0%} at the loose one; {by_scale}), against "
                     + " and ".join(others) + f"; its stuck share peaked at a median {m['stuck_peak']:.1%} of the "
                     f"training examples, {m['peak_step_share']:.0%} of the way through the budget")
    return (f"Where the mechanism acts: an example is *stuck* when it is answered wrongly and its true-class output "
            f"q is below 1/2 with derivative q(1 − q) below {frac:g} of its maximum (strict: 0.01; loose: 0.5). "
            + "; ".join(wording.cap(p) if i == 0 else p for i, p in enumerate(parts))
            + ". Stuck errors are not the lecture's mechanism by themselves: cross-entropy and binary CE have them "
              "too, but their gradient there does not carry the vanished factor; the contrast above measures what "
              "the factor costs.")


def effective_rate_finding(scales: pd.DataFrame) -> str:
    """What the gradient-scale table (``analysis.rates.gradient_scale_table``) says: the smallest and largest
    gradient at the start, and whether the tuned rates undo the difference (the effective rates)."""
    d = scales.dropna(subset=["grad_norm_step0", "tuned_lr", "effective_lr"])
    if len(d) < 2:
        return absent("comparison of gradient scales", "fewer than two losses have tuned rates in this setting")
    lo, hi = d.loc[d["grad_norm_step0"].idxmin()], d.loc[d["grad_norm_step0"].idxmax()]
    tuned, effective = float(d["tuned_spread"].iloc[0]), float(d["effective_spread"].iloc[0])
    return (f"At step 0 the gradient with respect to the logits is smallest for {label(lo['loss'])} "
            f"({ci(lo, 'grad_norm_step0', '{:.2g}')}; {lo['grad_norm_at_zero']:.2g} at z = 0) and largest for "
            f"{label(hi['loss'])} ({ci(hi, 'grad_norm_step0', '{:.2g}')}; {hi['grad_norm_at_zero']:.2g} at z = 0). "
            f"Their tuned rates are {ci(lo, 'tuned_lr', '{:.2g}')} and {ci(hi, 'tuned_lr', '{:.2g}')}, so their "
            f"effective rates (rate × gradient scale) are {ci(lo, 'effective_lr', '{:.2g}')} and "
            f"{ci(hi, 'effective_lr', '{:.2g}')}. Across all {len(d)} losses the largest median tuned rate is "
            f"{tuned:.2g} times the smallest, the largest median effective rate {effective:.2g} times the smallest "
            f"(each median's 95% interval is in the table): "
            + ("tuning compensates most of the difference in gradient scale." if effective < tuned / 3 else
               "tuning does not simply undo the difference in gradient scale."))


def claim(claims: pd.DataFrame, claim_id: str, dataset: str | None = None) -> str | None:
    """The sentence of one claim (``results/convergence/claims.parquet``) over every dataset (or of
    ``dataset``), or None if it was not made."""
    if dataset is None:
        row = pooled_row(claims, claim_id)
    else:
        rows = claims[(claims["claim"] == claim_id) & (claims["dataset"] == dataset)]
        row = rows.iloc[0] if len(rows) else None
    return None if row is None else wording.sentence(row)


def speed_pointer(claims: pd.DataFrame) -> str:
    """The summary's line on speed: which losses were slower or faster than cross-entropy after Holm, per
    optimiser, by name (their ratios and intervals are in Figure 1)."""
    out = []
    for opt in ("sgd", "adam"):
        if (found := wording.speed_verdicts(claims, opt)) is None:
            continue
        _, slower, faster = found
        out.append(f"Under {OPT.get(opt, opt)}, slower than cross-entropy after Holm's adjustment: "
                   f"{', '.join(map(label, slower['subject'])) or 'none'}; faster: "
                   f"{', '.join(map(label, faster['subject'])) or 'none'} (Figure 1 gives each ratio "
                   "with its interval).")
    return " ".join(out) or convergence_finding(claims)


def convergence_finding(claims: pd.DataFrame) -> str:
    """Every loss against cross-entropy under each optimiser, pooled (the speed_ratio claims)."""
    datasets = set(claims.loc[claims["claim"].str.startswith("speed_ratio."), "dataset"])
    where = POOLED if POOLED in datasets else next(iter(datasets), POOLED)
    said = []
    for opt in ("sgd", "adam"):
        said.append(wording.speed_summary(claims, opt, where, brief=any(said)))
    said = [x for x in said if x]
    if said:
        return " ".join(said)
    return absent("comparison of losses", "cross-entropy or a second loss was not swept, or neither reached the "
                                          "target anywhere")


def levels_finding(levels: pd.DataFrame, subject: str = "mse_sigmoid") -> str:
    """How ``subject``'s speed against cross-entropy depends on the target level (``speed_levels``)."""
    d = levels[levels["subject"] == subject]
    if d["level"].nunique() < 2:
        return absent("speed at more than one target level", f"{label(subject)} or a second level was not swept")
    parts = [f"under {OPT.get(opt, opt)} " + " / ".join(wording.times(r) for r in sub.sort_values("level").itertuples())
             for opt, sub in d.groupby("optimizer", sort=False)]
    lv = " / ".join(f"{x:g}" for x in sorted(d["level"].unique()))
    return (f"The answer depends on the target: {label(subject)} over cross-entropy at levels {lv} of the way "
            "from chance to tuned cross-entropy, " + "; ".join(parts) + " (≥: a lower bound; the table gives each interval and the "
            "reach shares; rates were tuned for the main level).")


def accuracy_finding(claims: pd.DataFrame, summary: pd.DataFrame, subject: str = "mse_sigmoid") -> str:
    """Test accuracy of ``subject`` against cross-entropy as a distribution over settings: per dataset then
    pooled, the mean (with its interval and test), the share of settings more than 5 points worse and the
    median, and where the bad settings are (per hidden activation, descriptive)."""
    rows = claims[claims["claim"] == f"{wording.ACCURACY_CLAIMS}.test_acc_mean.{subject}_vs_cross_entropy"]
    if rows.empty:
        return absent("accuracy comparison", f"{label(subject)} or cross-entropy was not evaluated")
    rows = rows.assign(pooled=rows["dataset"] == POOLED).sort_values(["pooled", "dataset"])
    parts = []
    for r in rows.itertuples():
        worse = pooled_row(claims[claims["dataset"] == r.dataset],
                           f"{wording.ACCURACY_CLAIMS}.test_acc_worse.{subject}_vs_cross_entropy")
        median = pooled_row(claims[claims["dataset"] == r.dataset],
                            f"{wording.ACCURACY_CLAIMS}.test_acc.{subject}_vs_cross_entropy")
        lo, hi = wording.ends(r.ci_low, r.ci_high, 0.0, wording.points)
        parts.append(f"{'pooled' if r.pooled else names.dataset(r.dataset)}: mean **{wording.points(r.estimate)}**"
                     + ("" if np.isnan(r.ci_low) else f" [{lo}, {hi}]")
                     + (f", {worse['estimate']:.0%} of settings more than 5 points worse" if worse is not None else "")
                     + (f", median {wording.points(median['estimate'])}" if median is not None else ""))
    by_act = summary[(summary["loss"] == subject) & (summary["dataset"] == "all") & (summary["activation"] != "all")]
    acts = "; ".join(f"{r.activation} units: median {wording.points(r.median)}, mean {wording.points(r.mean)}, "
                     f"{r.share_worse:.0%} of {int(r.settings)} settings more than 5 points worse"
                     for r in by_act.itertuples())
    return (f"{wording.cap(label(subject))} minus cross-entropy in test accuracy, each at its rate "
            f"of best validation accuracy, over settings (a run that broke counts at chance; the mean carries the "
            f"test, the median and the share are descriptive): " + "; ".join(parts) + "."
            + (f" By hidden activation (pooled): {acts}." if acts else ""))


def search_finding(claims: pd.DataFrame, search: pd.DataFrame | None = None) -> str:
    """How the rate searches ended, over every dataset (the tuning.search_outcome census), and (``search``)
    how many configurations tuned to a rate that reaches the target missed it on most evaluation seeds."""
    rows = claims[(claims["claim"] == "tuning.search_outcome") & (claims["dataset"] == POOLED)]
    if rows.empty:
        rows = claims[claims["claim"] == "tuning.search_outcome"]
    if rows.empty:
        return absent("rate search", "no configuration was tuned")
    n = int(rows["n"].iloc[0])
    parts = [f"**{int(r['seeds'])}** ({r['estimate']:.0%}) with {wording.OUTCOME_WORDS.get(r['subject'], r['subject'])}"
             for _, r in rows.sort_values("seeds", ascending=False).iterrows()]
    out = f"Of {n} tuned configurations, " + "; ".join(parts) + "."
    if search is not None and len(search):
        s = search.iloc[0]
        out += (f" Of the {int(s['solved'])} whose chosen rate reached the target on the tuning seeds, "
                f"{int(s['missed_on_eval'])} reached it on fewer than half of their evaluation seeds; "
                f"{int(s['rates_added']):,} rates were added to the initial grid.")
    return out


def target_finding(rule: pd.DataFrame) -> str:
    """Whether tuned cross-entropy reaches the main target late in each dataset's budget (``target_check``)."""
    if rule.empty:
        return absent("target check", "cross-entropy was not evaluated")
    parts = [f"{names.dataset(r.dataset)}: {r.reached_frac:.0%} of {r.runs} runs, median at {r.median_budget_share:.0%} "
             f"of {int(r.steps):,} steps" + (f" (not learning, left out: {r.cells_left_out})" if r.cells_left_out else "")
             for r in rule.itertuples()]
    return ("Tuned cross-entropy on the evaluation seeds reached its main target in — " + "; ".join(parts)
            + ". AlgoPerf's rule asks that the baseline reach it, late in the budget: at least 80% of runs and a "
              "median of at least 25% of the budget.")


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
            parts.append(f"`{names.implementation(naive)}` gave its first non-finite value at {row['measured_threshold']:.4g} "
                         f"({_setting(row)}), where IEEE-754 arithmetic predicts {row['predicted_threshold']:.4g}")
        else:
            parts.append(f"`{names.implementation(naive)}` stayed finite over the whole probed range ({_setting(row)})")
    fused = thresholds[thresholds["implementation"].isin(FUSED) & thresholds["dtype"].isin(["float32", "float64"])
                       & thresholds["axis"].isin(["gap", "max_logit"])]
    if len(fused):
        parts.append(f"the fused implementations broke in {int(fused['measured_threshold'].notna().sum())} of "
                     f"{len(fused)} float32/float64 settings on the gap and max-logit axes")
    if not parts:
        return absent("naive or fused implementation on the gap or max-logit axis in float32/float64",
                      "the config's overflow.implementations, dtypes and axes leave them out")
    predicted = thresholds[thresholds["rule"] != "not_predicted"] if "rule" in thresholds else thresholds
    agree = int(predicted["agrees"].fillna(False).astype(bool).sum())
    text = "; ".join(parts)
    unpredicted = len(thresholds) - len(predicted)
    return (wording.cap(text) + f". Measured and predicted break points agree in {agree} of "
            f"{len(predicted)} settings" + (f"; {unpredicted} settings of registered losses were measured "
                                           f"without a prediction" if unpredicted else "") + ".")


def amp_finding(breaks: pd.DataFrame) -> str:
    """Reduced-precision training, per loss implementation (``analysis.amp.amp_breaks``): the smallest logit
    scale at which half or more of the seeds (without a gradient scaler, under either optimiser) stopped at a
    non-finite value, per autocast format, beside the float32 control's."""
    if breaks.empty:
        return absent("reduced-precision comparison", "the float32 control or every run without a scaler is missing")
    parts = []
    for impl, sub in breaks.groupby("implementation", sort=False):
        control = float(sub["control"].iloc[0])
        said = []
        for r in sub[sub["dtype"].isin(["float16", "bfloat16"])].itertuples():
            if np.isnan(r.first_break):
                said.append(f"never in {r.dtype}")
            else:
                said.append(f"from logit scale {r.first_break:g} in {r.dtype} ("
                            + ("where float32 did not: the format's" if r.formats_doing else
                               "as in float32, so not the format's doing") + ")")
        if np.isnan(control) and all(x.startswith("never") for x in said):
            parts.append(f"`{names.implementation(impl)}` never stopped at a NaN/inf, in any format (whether it still "
                         f"learned at large scales is the table's last columns)")
            continue
        parts.append(f"`{names.implementation(impl)}` broke " + ", ".join(said)
                     + (f"; the float32 control from {control:g}" if not np.isnan(control) else
                        "; the float32 control never"))
    return ("Training under autocast, the loss receiving its logits in the half format, half or more of the seeds "
            "stopped at a NaN/inf (without a gradient scaler, under SGD or Adam): " + "; ".join(parts) + ".")


def failure_finding(counts: pd.DataFrame, divergence_factor: float) -> str:
    """Counts per status over the stages (``failure_counts``: a row per stage and ``all``)."""
    by = counts.set_index("stage")
    total = by.loc["all"]
    stages = ", ".join(f"{int(r['runs']):,} {stage}" for stage, r in by.drop(index="all").iterrows())
    return (f"Of {int(total['runs']):,} runs ({stages}), **{int(total['nonfinite']):,}** produced NaN/inf, "
            f"**{int(total['diverged']):,}** diverged (training loss above {divergence_factor:g}× its start), "
            f"**{int(total['not_reached']):,}** finished without reaching the target accuracy and "
            f"{int(total['ok']):,} reached it. Every one is a row: a run that broke stops updating while the "
            f"others in its batch train on, counts as a miss for speed and at chance for accuracy.")


def summary_findings(claims, thresholds, examples, subject: str = "mse_sigmoid") -> list[str]:
    """The bullets of the report's summary: every loss against cross-entropy per optimiser (pooled,
    faster and slower said alike), how often the question's ``subject`` and cross-entropy reached the
    target, the rate searches, then the overflow thresholds (where probed) and the lecture (exact values,
    no sampling)."""
    out = [speed_pointer(claims)]
    opt = "sgd" if (claims["optimizer"] == "sgd").any() else (claims["optimizer"].dropna().iloc[0] if len(claims) else "")
    for c in (f"reach_fraction.{subject}.{opt}", f"reach_fraction.{REFERENCE}.{opt}"):
        if (text := claim(claims, c)) is not None:
            out.append(text)
    out.append(search_finding(claims))
    if len(thresholds):
        out.append(overflow_finding(thresholds))
    out.append(lecture_finding(examples))
    return out


def depth_finding(claims: pd.DataFrame, depth: pd.DataFrame) -> str:
    """Glorot & Bengio's question: does the weight gradient shrink towards the input with depth, per
    activation, and does the loss change it (cross-entropy against sigmoid + MSE), under SGD."""
    if depth.empty:
        return absent("depth comparison", "no dataset was swept at more than one depth")
    d = depth[depth["optimizer"] == ("sgd" if "sgd" in set(depth["optimizer"]) else depth["optimizer"].iloc[0])]
    deepest = int(d["depth"].max())
    dataset, opt = d["dataset"].iloc[0], d["optimizer"].iloc[0]

    def ratio(act: str, loss: str, when: str) -> str | None:
        """The claims table's number (one bootstrap for the report), else the depth table's."""
        c = claims[claims["claim"] == f"depth.grad_ratio_{when}.{dataset}.{act}.{opt}.{loss}"]
        if len(c):
            r = c.iloc[0]
            return (f"{r['estimate']:.3g} (" + (f"95% CI [{r['ci_low']:.3g}, {r['ci_high']:.3g}]" if not np.isnan(r["ci_low"])
                                                else "no interval: too few seeds") + ")")
        row = d[(d["activation"] == act) & (d["depth"] == deepest) & (d["loss"] == loss)]
        if row.empty:
            return None
        r, c = row.iloc[0], f"grad_ratio_{when}"
        return f"{r[c]:.3g}" + ("" if np.isnan(r[c + "_low"]) else f" (95% CI [{r[c + '_low']:.3g}, {r[c + '_high']:.3g}])")

    parts = [f"{act} **{text.replace(' (', '×** (', 1)}" for act in dict.fromkeys(d["activation"])
             if (text := ratio(act, "cross_entropy", "init")) is not None]
    out = (f"With {deepest} hidden layers on {names.dataset(dataset)} ({OPT.get(opt, opt)}, cross-entropy), the first "
           f"layer's weight gradient at initialisation is, relative to the output layer's: " + "; ".join(parts) + ".")
    sig = d[(d["activation"] == "sigmoid") & (d["depth"] == deepest)].set_index("loss")
    if {"cross_entropy", "mse_sigmoid"} <= set(sig.index):
        ce, ms = sig.loc["cross_entropy"], sig.loc["mse_sigmoid"]
        out += (f" At the end of training the sigmoid ratio is {ratio('sigmoid', 'cross_entropy', 'end')} with "
                f"cross-entropy and {ratio('sigmoid', 'mse_sigmoid', 'end')} with sigmoid + MSE, with "
                f"{ce['saturated_end']:.0%} and {ms['saturated_end']:.0%} of the sigmoid units saturated (medians "
                f"over runs).")
        out += (f" Saturation is not needed for this: the sigmoid's slope is at most 1/4, and weights drawn "
                f"from U(±1/√n) pass back a gradient scaled by about 1/√3, so each sigmoid layer keeps at most "
                f"1/(4√3) ≈ 0.14 of it; over {deepest} layers, (1/(4√3)) to the power {deepest} ≈ "
                f"{ce['sigmoid_bound']:.1e}, the order measured (sigmoid outputs sit near 1/2, so "
                f"the forward activations do not shrink to compensate). tanh has slope 1 at 0 and its activations "
                f"shrink with its gradients, which is why its weight gradients stay comparable across layers.")
    return out


def init_control_finding(control: pd.DataFrame) -> str:
    """The control of the depth study (``analysis.depth.control_table``): at each dataset's deepest
    architecture, per activation, the step-0 ratio of the sigmoid-output losses against cross-entropy's,
    with the default output bias and at the log class prior, and whether the difference is the mean-error
    inflation (``inflated`` and ``explained``)."""
    if control.empty:
        return absent("initialisation control", "no dataset was swept at more than one depth")
    sig = [x for x in ("bce_ovr", "mse_sigmoid") if x in set(control["loss"])]
    if "cross_entropy" not in set(control["loss"]) or not sig:
        return absent("initialisation control", "cross-entropy or a sigmoid-output loss was not in the depth study")
    mine = control[control["loss"].isin(sig)]
    err = float(mine["mean_output_error"].median())
    several = control["dataset"].nunique() > 1
    parts = []
    for (ds, act, hidden), sub in control.groupby(["dataset", "activation", "hidden"], sort=False):
        s = sub.set_index("loss")
        if "cross_entropy" not in s.index:
            continue
        ce = s.loc["cross_entropy"]
        said = " and ".join(f"{label(x)} {s.loc[x, 'default']:.3g} → {s.loc[x, 'log_prior']:.3g}" for x in sig
                            if x in s.index)
        where = f"{len(hidden.split('-'))} {act} layers" + (f" ({names.dataset(ds)})" if several else "")
        parts.append(f"{where}: {said} (cross-entropy {ce['default']:.3g} → {ce['log_prior']:.3g})")
    names_ = " and ".join(label(x) for x in sig)
    if not mine["inflated"].any():
        verdict = f"at the default bias {names_} already start where cross-entropy does, so there is nothing to explain."
    elif mine.loc[mine["inflated"], "explained"].all():
        verdict = ("the loss-dependence of the ratio at initialisation is the mean-error inflation of the output "
                   "layer's gradient, not a vanishing gradient of MSE" + (
                       ": BCE, whose gradient has no σ' factor, moved with it." if "bce_ovr" in sig else "."))
    else:
        verdict = "which accounts for part of the loss-dependence; the rest is unexplained here."
    return (f"At identical weights the step-0 ratio depends on the loss: sigmoid outputs start near 1/2 against "
            f"one-hot targets, a mean output error of {err:.2f} that enters the output layer's gradient directly but "
            f"mostly cancels on its way down. The control sets the output bias so that the untrained model predicts "
            f"the class prior (log-prior bias; mean error about 0). The median over runs (descriptive) of the ratio "
            f"||dL/dW_1|| / ||dL/dW_out|| at the default bias → at the log-prior bias, deepest networks: "
            + "; ".join(parts) + f"; {verdict}")


def calibration_finding(claims: pd.DataFrame, cal: pd.DataFrame, subject: str = "mse_sigmoid") -> str:
    """Cross-entropy's test ECE, then what label smoothing, focal loss, MSE on softmax and the question's
    ``subject`` did against it, per dataset (no loss is named best: that would be a pick among all losses,
    untested), and the ECE floors."""
    if cal.empty or cal["test_ece"].isna().all():
        return absent("test-split metrics", "no evaluation run finished")
    ref = cal[cal["loss"] == "cross_entropy"]
    best = (ref if len(ref) else cal).iloc[0]
    interval = (f"95% CI [{best['test_ece_low']:.3f}, {best['test_ece_high']:.3f}]" if not np.isnan(best["test_ece_low"])
                else f"no interval: fewer than {MIN_SEEDS} seeds")
    out = (f"Expected calibration error on the test split, {label(best['loss'])}: {best['test_ece']:.3f} ({interval}, "
           f"median over {int(best['problems'])} settings; every loss in the table below).")
    fmt = lambda x: f"{x:+.3f}"                                                  # noqa: E731
    said = []
    for loss in dict.fromkeys(("cross_entropy_ls", "focal", "mse_softmax", "mse_sigmoid", subject)):
        rows = claims[claims["claim"] == f"{wording.ACCURACY_CLAIMS}.test_ece.{loss}_vs_cross_entropy"]
        rows = rows.assign(pooled=rows["dataset"] == POOLED).sort_values(["pooled", "dataset"])
        if rows.empty:
            continue
        items = [f"{names.dataset(r['dataset'])} **{r['estimate']:+.3f}**" if not r["pooled"] else
                 f"pooled **{r['estimate']:+.3f}**" + ("" if np.isnan(r["ci_low"]) else
                                                       " [{}, {}]".format(*wording.ends(r["ci_low"], r["ci_high"], 0.0, fmt)))
                 for _, r in rows.iterrows()]
        resolved = (rows["p_adjusted"] < wording.ALPHA).all()
        said.append(f"{label(loss)}: " + ", ".join(items) + ("†" if resolved else ""))
    if said:
        out += (" Minus cross-entropy's ECE per dataset and pooled (the pooled value with its 95% seed-bootstrap "
                "interval; †: resolved on every dataset and pooled after Holm's adjustment; every interval in "
                "Appendix B): " + "; ".join(said) + ".")
    scaled = []
    for loss in dict.fromkeys(("cross_entropy_ls", "focal", "mse_softmax", "mse_sigmoid", subject)):
        r = pooled_row(claims, f"{wording.ACCURACY_CLAIMS}.test_ece_ts.{loss}_vs_cross_entropy")
        every = claims[claims["claim"] == f"{wording.ACCURACY_CLAIMS}.test_ece_ts.{loss}_vs_cross_entropy"]
        if r is not None:       # † as above: resolved on every dataset and pooled
            scaled.append(f"{label(loss)} **{r['estimate']:+.3f}**" + (
                "" if np.isnan(r["ci_low"]) else " [{}, {}]".format(*wording.ends(r["ci_low"], r["ci_high"], 0.0, fmt)))
                + ("†" if (every["p_adjusted"] < wording.ALPHA).all() else ""))
    if scaled:
        out += (" After temperature scaling (one T per model, fitted on validation), the pooled differences from "
                "cross-entropy's ECE are " + "; ".join(scaled) + ": what is left once a single scale is undone.")
    temp = pooled_row(claims, f"{wording.ACCURACY_CLAIMS}.temperature.cross_entropy")
    if temp is not None:
        lo, hi = wording.ends(temp["ci_low"], temp["ci_high"], 1.0, lambda x: f"{x:.3g}")
        out += (f" Cross-entropy's fitted temperature, the median over settings, was **{temp['estimate']:.3g}**"
                + ("" if np.isnan(temp["ci_low"]) else f" [{lo}, {hi}]")
                + (": overconfident, the premise of the label-smoothing literature" if temp["ci_low"] > 1 else
                   ": underconfident, so the label-smoothing literature's premise (above 1, overconfident) does not "
                   "hold here" if temp["ci_high"] < 1 else
                   ", not resolved from 1 (above 1: overconfident, the label-smoothing literature's premise)")
                + ".")
    floors = claims[claims["claim"] == "ece_floor"]
    if len(floors):
        out += (" A perfectly calibrated model with cross-entropy's confidences would still show an ECE of "
                + ", ".join(f"{r['estimate']:.3f} on {names.dataset(r['dataset'])}" for _, r in floors.iterrows())
                + " (simulated from the confidences of its runs at the rates tuned for speed, whose per-example "
                  "outputs are kept: the noise floor of the measure on test splits this size).")
    return out


def literature_caveat(literature: pd.DataFrame) -> str:
    """The one caveat every accuracy verdict carries (``analysis.literature.budget_caveat``), said once
    above the table; empty where no accuracy claim is compared."""
    said = [c for c in literature.get("caveat", pd.Series(dtype=str)).fillna("") if c]
    if not said:
        return ""
    n = len(said)
    return (f"**One caveat on all {n} accuracy verdicts** (*short budget*): {said[0]}; a *disagree* with a claim "
            f"of equal accuracy may be the budget's, an *agree* with a claim of worse accuracy holds for short "
            f"budgets only.")


def mnist1d_finding(row: pd.DataFrame) -> str:
    """Our best MNIST-1D configuration with cross-entropy, chosen on validation accuracy, and its test
    accuracy beside the paper's MLP (``report_tables.mnist1d``)."""
    if row.empty:
        return absent("MNIST-1D result", "MNIST-1D was not swept with cross-entropy")
    r = row.iloc[0]
    interval = (f"95% CI [{r['test_acc_low']:.1%}, {r['test_acc_high']:.1%}] over seeds, " if not np.isnan(r["test_acc_low"])
                else f"too few seeds for an interval (fewer than {MIN_SEEDS}), ")
    budget = (f"Our budget is {r['paper_budget_ratio']:.0f} times shorter than the paper's ({r['epochs']:.1f} epochs of "
              f"its 4,000 training signals), sized to compare losses at equal cost; `config/mnist1d.yaml` trains it "
              f"longer (README)."
              if r["paper_budget_ratio"] > 4 else
              f"The budget is {r['epochs']:.0f} epochs of the paper's 4,000 training signals, "
              f"{1 / r['paper_budget_ratio']:.2g} of the paper's 6,000 steps of 100.")
    return (f"MNIST-1D, the best configuration with cross-entropy on validation ({r['activation']}, hidden layers "
            f"{r['hidden']}, {OPT.get(r['optimizer'], r['optimizer'])}"
            + (f", rate {r['lr']:.3g}" if not np.isnan(r["lr"]) else "") + "): "
            f"test accuracy **{r['test_acc']:.1%}** ({interval}mean over {int(r['seeds'])} seeds) after "
            f"{int(r['steps']):,} steps of batch {int(r['batch_size'])}, beside **{r['paper_acc']:.0%}** for the MLP "
            f"baseline of Greydanus (2020), a 2-hidden-layer ReLU network of 100 units trained with Adam for 6,000 "
            f"steps of batch 100 on the same training and test signals. " + budget)


def matched_rate_finding(claims: pd.DataFrame) -> str:
    """The ranking at equal effective rate: each loss's steps over cross-entropy's at cross-entropy's tuned
    effective rate (the ``effective_rate.*`` claims, over every dataset), in one sentence."""
    rows = claims[claims["claim"].str.startswith("effective_rate.")]
    rows = rows[rows["dataset"] == POOLED] if (rows["dataset"] == POOLED).any() else rows
    if rows.empty:
        return absent("comparison at equal effective rate", "SGD or cross-entropy was not swept, or no loss's "
                                                            "tried rates reach cross-entropy's tuned effective rate")
    parts = [f"{label(r.subject)} {wording.num(r.estimate)}×" + (
        " ([{}, {}], {} settings)".format(*wording.ends(r.ci_low, r.ci_high, 1.0, wording.num), r.n)
        if not np.isnan(r.ci_low) else f" ({r.n} settings)") for r in rows.sort_values("estimate").itertuples()]
    seeds = int(rows["seeds"].max())
    caveat = (" Read this view as descriptive: cross-entropy's steps here come from the tuning seeds that chose its "
              "rate (a winner's advantage the other losses, read at a rate not chosen for them, do not have), and a "
              "row resting on two or three settings is an anecdote.")
    return ("At equal effective rate — every loss at cross-entropy's tuned effective rate on the same setting, "
            "read off its own tried rates seed by seed (tuning seeds, SGD, linear in log-log between the two "
            "rates around it) — the steps to the target relative to cross-entropy are: " + "; ".join(parts) +
            ". A loss whose tried rates do not reach that effective rate is left out of that setting"
            + (f"; {seeds} tuning seeds are too few for an interval." if seeds < MIN_SEEDS else ".") + caveat)
