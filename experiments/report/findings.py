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

from .. import columns
from ..analysis.claims import pooled_row
from ..analysis.stats import MIN_SEEDS, POOLED, bootstrap, percentile_interval as bootstrap_ci, stable_seed, units
from ..convergence.gradients import gradient_at
from . import wording
from ..overflow.probe import IMPLEMENTATION_LABELS

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
            f"to it is {g_mse:.1e}, against {g_ce:.2f} for cross-entropy: about {float(f'{abs(g_ce / g_mse):.2g}'):,.0f} times smaller.")
    mine = runs[runs["loss"] == "mse_sigmoid"]
    sat = mine[mine["activation"].isin(["sigmoid", "tanh"])]["final_saturated_frac"].dropna()
    if len(sat):
        _, lo, hi = bootstrap_ci(sat.to_numpy())
        text += (f" In training, the median fraction of saturated sigmoid/tanh hidden units at the end of the "
                 f"sigmoid + MSE runs was {sat.median():.2g} (descriptive: 95% interval [{lo:.2g}, {hi:.2g}] over "
                 f"{len(sat)} runs).")
    return text


def output_saturation_finding(stuck: pd.DataFrame, claims: pd.DataFrame | None = None,
                              label=lambda loss: loss) -> str:
    """What the output-saturation table (``analysis.saturation.stuck_table``) says about the lecture's
    mechanism: per optimiser, sigmoid + MSE's share of training examples wrong and stuck at the end (with
    its interval), the share of its remaining errors that are stuck, and cross-entropy's beside it; then
    whether the mechanism accounts for the slowness and for the larger gap under Adam."""
    from ..convergence.losses import STUCK_FRACTION

    ms = stuck[stuck["loss"] == "mse_sigmoid"].set_index("optimizer") if len(stuck) else stuck
    if ms.empty:
        return absent("output-saturation measure", "sigmoid + MSE was not swept")
    ce = stuck[stuck["loss"] == "cross_entropy"].set_index("optimizer")
    opt_words = {"sgd": "SGD", "adam": "Adam"}
    parts = []
    for opt, r in ms.iterrows():
        text = (f"under {opt_words.get(opt, opt)}, {r['stuck_end']:.1%} of sigmoid + MSE's training examples ended "
                f"wrong and stuck (median over {int(r['runs'])} runs, 95% interval [{r['stuck_end_low']:.1%}, "
                f"{r['stuck_end_high']:.1%}], descriptive; at the peak {r['stuck_peak']:.1%}; its median training "
                f"error at the end {r['error_end']:.1%})")
        if not np.isnan(r["stuck_of_errors"]):
            text += f", {r['stuck_of_errors']:.0%} of the errors it had left"
        if opt in ce.index:
            c = ce.loc[opt]
            text += (f"; cross-entropy's {c['stuck_end']:.1%} [{c['stuck_end_low']:.1%}, {c['stuck_end_high']:.1%}]"
                     + (f" ({c['stuck_of_errors']:.0%} of its errors, training error {c['error_end']:.1%}; its "
                        f"gradient does not carry the vanished factor)" if not np.isnan(c["stuck_of_errors"]) else ""))
        parts.append(text)
    share = ms["stuck_of_errors"].dropna()
    if share.empty:
        verdict = "No sigmoid + MSE run ended with an error, so the measure cannot speak."
    elif share.min() >= 0.5:
        verdict = ("Most of the errors sigmoid + MSE keeps are stuck, so the lecture's mechanism is at work: those "
                   "examples get almost no gradient, while cross-entropy's p − t keeps pushing its wrong answers.")
    elif share.max() < 0.1:
        verdict = ("Few of the errors sigmoid + MSE keeps are stuck, so its slowness here is not the lecture's "
                   "mechanism, and this measure does not say what it is (the effective-rate view in Appendix C "
                   "tests one candidate, the size of the gradient).")
    else:
        verdict = ("The lecture's mechanism accounts for part of sigmoid + MSE's remaining errors, not most.")
    ratio = {o: pooled_row(claims, f"speed_ratio.mse_sigmoid_vs_cross_entropy.{o}") if claims is not None
             else None for o in ("sgd", "adam")}
    if {"sgd", "adam"} <= set(share.index) and all(r is not None for r in ratio.values()) \
            and ratio["adam"]["estimate"] > ratio["sgd"]["estimate"]:
        gap = (f"Its gap to cross-entropy is larger under Adam ({wording.num(ratio['adam']['estimate'])}× against "
               f"{wording.num(ratio['sgd']['estimate'])}× under SGD)")
        verdict += (f" {gap}, and under Adam, which rescales every parameter's step to a similar size, a larger share "
                    f"of its errors is stuck: a rescaled step does not give back a gradient that is near zero on "
                    f"those examples, so the larger gap is consistent with this mechanism."
                    if share["adam"] > share["sgd"] else
                    f" {gap}, but its stuck share is not larger there: this mechanism does not explain why the gap "
                    f"grows under Adam, which remains unexplained here.")
    return (f"The lecture's mechanism measured where it acts, on the training examples: an example is *stuck* when it "
            f"is answered wrongly and its true-class output q is below 1/2 with derivative q(1 − q) below "
            f"{STUCK_FRACTION:g} of its maximum (q the sigmoid, or the softmax probability, of the true class). "
            + "; ".join(p[0].upper() + p[1:] if i == 0 else p for i, p in enumerate(parts)) + ". " + verdict)


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
            f"tuned rates are {ci(lo, 'tuned_lr')} and {ci(hi, 'tuned_lr')}, so their effective rates (rate × "
            f"gradient scale) are {ci(lo, 'effective_lr')} and {ci(hi, 'effective_lr')}. Across all "
            f"{len(d)} losses the largest median tuned rate is {spread('tuned_lr'):.2g} times the smallest, the "
            f"largest median effective rate {spread('effective_lr'):.2g} times the smallest (ratios of medians; "
            f"each median's 95% interval is in Appendix C): "
            + ("tuning compensates most of the difference in gradient scale."
               if spread("effective_lr") < spread("tuned_lr") / 3 else
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
        out.append(f"Under {wording.OPT_LABELS.get(opt, opt)}, slower than cross-entropy after Holm's adjustment: "
                   f"{', '.join(map(wording.label, slower['subject'])) or 'none'}; faster: "
                   f"{', '.join(map(wording.label, faster['subject'])) or 'none'} (Figure 1 gives each ratio "
                   "with its interval).")
    return " ".join(out) or convergence_finding(claims)


def convergence_finding(claims: pd.DataFrame) -> str:
    """Every loss against cross-entropy under each optimiser, pooled (the speed_ratio claims)."""
    datasets = set(claims.loc[claims["claim"].str.startswith("speed_ratio."), "dataset"])
    where = POOLED if POOLED in datasets else next(iter(datasets), POOLED)
    said = [wording.speed_summary(claims, opt, where) for opt in ("sgd", "adam")]
    said = [x for x in said if x]
    if said:
        return " ".join(said)
    return absent("comparison of losses", "cross-entropy or a second loss was not swept, or neither reached the "
                                          "target anywhere")


def search_finding(claims: pd.DataFrame, summary: pd.DataFrame | None = None) -> str:
    """How the rate searches ended, over every dataset (the tuning.search_outcome census), and, with the
    summary, how many configurations tuned to a rate that reaches the target missed it on most evaluation
    seeds (a rate chosen on 3 seeds does not always carry over)."""
    rows = claims[(claims["claim"] == "tuning.search_outcome") & (claims["dataset"] == POOLED)]
    if rows.empty:
        rows = claims[claims["claim"] == "tuning.search_outcome"]
    if rows.empty:
        return absent("rate search", "no configuration was tuned")
    n = int(rows["n"].iloc[0])
    parts = [f"**{int(r['seeds'])}** ({r['estimate']:.0%}) with {wording.OUTCOME_WORDS.get(r['subject'], r['subject'])}"
             for _, r in rows.sort_values("seeds", ascending=False).iterrows()]
    out = f"Of {n} tuned configurations, " + "; ".join(parts) + "."
    if summary is not None and "search_outcome" in summary:
        solved = summary[summary["search_outcome"] != "unsolved"]
        missed = solved[solved["reached_frac"] < 0.5]
        out += (f" Of the {len(solved)} whose chosen rate reached the target on the tuning seeds, {len(missed)} "
                f"reached it on fewer than half of their evaluation seeds.")
    return out


def target_finding(rule: pd.DataFrame, steps_of: dict) -> str:
    """Whether tuned cross-entropy reaches the main target late in each dataset's budget (the
    ``targets.target_rule`` table)."""
    if rule.empty:
        return absent("target check", "cross-entropy was not evaluated")
    parts = [f"{r.dataset}: {r.reached_frac:.0%} of {r.runs} runs, median at {r.median_budget_share:.0%} of "
             f"{steps_of.get(r.dataset, 0):,} steps" + (f" (not learning, left out: {r.cells_left_out})"
                                                      if r.cells_left_out else "")
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
            parts.append(f"`{IMPLEMENTATION_LABELS.get(naive, naive)}` gave its first non-finite value at {row['measured_threshold']:.4g} "
                         f"({_setting(row)}), where IEEE-754 arithmetic predicts {row['predicted_threshold']:.4g}")
        else:
            parts.append(f"`{IMPLEMENTATION_LABELS.get(naive, naive)}` stayed finite over the whole probed range ({_setting(row)})")
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


def amp_finding(amp: pd.DataFrame) -> str:
    """Reduced-precision training, per loss implementation: the smallest logit scale at which half or more
    of the seeds (without a gradient scaler, under either optimiser) stopped at a non-finite value, per
    autocast format, beside the float32 control's (the same implementation without autocast): a format
    that breaks where float32 does not is the format's doing."""
    from ..overflow.probe import IMPLEMENTATION_LABELS as NAMES

    d = amp[~amp["grad_scaler"].astype(bool)]
    if d.empty or "float32" not in set(d["dtype"]):
        return absent("reduced-precision comparison", "the float32 control or every run without a scaler is missing")
    broke = (d.assign(bad=d["status"] == "nonfinite").groupby(["implementation", "dtype", "optimizer", "logit_scale"])
             ["bad"].mean() >= 0.5).reset_index()
    first = broke[broke["bad"]].groupby(["implementation", "dtype"])["logit_scale"].min()
    parts = []
    for impl in dict.fromkeys(d["implementation"]):
        control = first.get((impl, "float32"), np.nan)
        said = []
        for dtype in [x for x in ("float16", "bfloat16") if x in set(d["dtype"])]:
            s = first.get((impl, dtype), np.nan)
            if np.isnan(s):
                said.append(f"never in {dtype}")
            else:
                whose = ("as in float32, so not the format's doing" if not np.isnan(control) and s >= control
                         else "where float32 did not: the format's")
                said.append(f"from logit scale {s:g} in {dtype} ({whose})")
        if np.isnan(control) and all(x.startswith("never") for x in said):
            parts.append(f"`{NAMES.get(impl, impl)}` never stopped at a NaN/inf, in any format (whether it still learned "
                         f"at large scales is the table's last columns)")
            continue
        parts.append(f"`{NAMES.get(impl, impl)}` broke " + ", ".join(said)
                     + (f"; the float32 control from {control:g}" if not np.isnan(control) else
                        "; the float32 control never"))
    return ("Training under autocast, the loss receiving its logits in the half format, half or more of the seeds "
            "stopped at a NaN/inf (without a gradient scaler, under SGD or Adam): " + "; ".join(parts) + ".")


def failure_finding(runs: pd.DataFrame, divergence_factor: float) -> str:
    """Counts per status over ``runs`` (tuning and evaluation runs together when ``stage`` is a column)."""
    counts = runs["status"].value_counts()
    n = {x: int(counts.get(x, 0)) for x in columns.STATUSES}
    stages = ""
    if "stage" in runs:
        per = runs["stage"].value_counts()
        stages = " (" + ", ".join(f"{int(per[x]):,} {x}" for x in ["tune", "evaluate"] if x in per) + ")"
    return (f"Of {len(runs):,} runs{stages}, **{n['nonfinite']:,}** produced NaN/inf, **{n['diverged']:,}** "
            f"diverged (training loss above {divergence_factor:g}× its start), **{n['not_reached']:,}** finished "
            f"without reaching the target accuracy and {n['ok']:,} reached it; every one is a row, and a broken "
            f"run stops updating while the others in its batch train on.")


def summary_findings(claims, thresholds, examples, grads, runs) -> list[str]:
    """The bullets of the report's summary: every loss against cross-entropy per optimiser (pooled,
    faster and slower said alike), how often each reached the target, the rate searches, then the overflow
    thresholds and the lecture (exact values, no sampling); the gradients are the mechanism section's."""
    out = [speed_pointer(claims)]   # the ratios themselves: Figure 1, the convergence section, Appendix B
    for c in ("reach_fraction.mse_sigmoid.sgd", "reach_fraction.cross_entropy.sgd"):
        if (text := claim(claims, c)) is not None:
            out.append(text)
    out.append(search_finding(claims))
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
        c = claims[claims["claim"] == f"depth.grad_ratio_{when}.{dataset}.{act}.{opt}.{loss}"] \
            if claims is not None and "claim" in claims else pd.DataFrame()
        if len(c):
            r = c.iloc[0]
            return f"{r['estimate']:.3g} (95% CI [{r['ci_low']:.3g}, {r['ci_high']:.3g}])"
        row = d[(d["activation"] == act) & (d["depth"] == deepest) & (d["loss"] == loss)]
        if row.empty:
            return None
        r = row.iloc[0]
        return (f"{r[f'grad_ratio_{when}']:.3g} (95% CI [{r[f'grad_ratio_{when}_low']:.3g}, "
                f"{r[f'grad_ratio_{when}_high']:.3g}])")

    parts = [f"{act} **{text.replace(' (', '×** (', 1)}" for act in dict.fromkeys(d["activation"])
             if (text := ratio(act, "cross_entropy", "init")) is not None]
    out = (f"With {deepest} hidden layers on {dataset} ({opt.upper() if opt == 'sgd' else opt}, cross-entropy), the first "
           f"layer's weight gradient at initialisation is, relative to the output layer's: " + "; ".join(parts) + ".")
    sig = d[(d["activation"] == "sigmoid") & (d["depth"] == deepest)].set_index("loss")
    if {"cross_entropy", "mse_sigmoid"} <= set(sig.index):
        ce, ms = sig.loc["cross_entropy"], sig.loc["mse_sigmoid"]
        out += (f" At the end of training the sigmoid ratio is {ratio('sigmoid', 'cross_entropy', 'end')} with "
                f"cross-entropy and {ratio('sigmoid', 'mse_sigmoid', 'end')} with sigmoid + MSE, with "
                f"{ce['saturated_end']:.0%} and {ms['saturated_end']:.0%} of the sigmoid units saturated (medians "
                f"over runs).")
        # the mechanism: sigma' <= 1/4 per layer, times the gain 1/sqrt(3) of U(+-1/sqrt(n)) weights
        out += (f" Saturation is not needed for this: the sigmoid's slope is at most 1/4, and weights drawn "
                f"from U(±1/√n) pass back a gradient scaled by about 1/√3, so each sigmoid layer keeps at most "
                f"1/(4√3) ≈ 0.14 of it; over {deepest} layers, (1/(4√3)) to the power {deepest} ≈ "
                f"{(1 / (4 * np.sqrt(3))) ** deepest:.1e}, the order measured (sigmoid outputs sit near 1/2, so "
                f"the forward activations do not shrink to compensate). tanh has slope 1 at 0 and its activations "
                f"shrink with its gradients, which is why its weight gradients stay comparable across layers.")
    return out


def init_control_finding(control: pd.DataFrame, label=lambda loss: loss) -> str:
    """The control of the depth study (``convergence.init_control``): at each dataset's deepest
    architecture, per activation, the step-0 ratio of the sigmoid-output losses against cross-entropy's,
    with the default output bias and at the log class prior; whether the difference is the mean-error
    inflation (the default ratio differs from cross-entropy's by more than 25% and the log-prior one does
    not)."""
    from ..convergence.init_control import control_table

    t = control_table(control)
    if t.empty:
        return absent("initialisation control", "no dataset was swept at more than one depth")
    depth = t["hidden"].map(lambda h: len(h.split("-")))
    t = t[depth == depth.groupby(t["dataset"]).transform("max")]
    sig = [x for x in ("bce_ovr", "mse_sigmoid") if x in set(t["loss"])]
    if "cross_entropy" not in set(t["loss"]) or not sig:
        return absent("initialisation control", "cross-entropy or a sigmoid-output loss was not in the depth study")
    err = control[(control["loss"].isin(sig)) & (control["output_bias"] == "default")]["mean_output_error"].median()
    near = lambda a, b: abs(np.log(a / b)) < np.log(1.25)      # noqa: E731
    parts, explained = [], []
    for (ds, act, hidden), sub in t.groupby(["dataset", "activation", "hidden"], sort=False):
        s = sub.set_index("loss")
        if "cross_entropy" not in s.index:
            continue
        ce = s.loc["cross_entropy"]
        mine = [x for x in sig if x in s.index]
        said = " and ".join(f"{label(x)} {s.loc[x, 'default']:.3g} → {s.loc[x, 'log_prior']:.3g}" for x in mine)
        where = f"{ds}, {len(hidden.split('-'))} {act} layers" if t["dataset"].nunique() > 1 else \
            f"{len(hidden.split('-'))} {act} layers"
        parts.append(f"{where}: {said} (cross-entropy {ce['default']:.3g} → {ce['log_prior']:.3g})")
        explained += [(not near(s.loc[x, "default"], ce["default"]), near(s.loc[x, "log_prior"], ce["log_prior"]))
                      for x in mine]
    names = " and ".join(label(x) for x in sig)
    if not explained or not any(d for d, _ in explained):
        verdict = f"at the default bias {names} already start where cross-entropy does, so there is nothing to explain."
    elif all(c for d, c in explained if d):
        verdict = (f"the loss-dependence of the ratio at initialisation is the mean-error inflation of the output "
                   f"layer's gradient, not a vanishing gradient of MSE" + (
                       ": BCE, whose gradient has no σ' factor, moved with it." if "bce_ovr" in sig else "."))
    else:
        verdict = "which accounts for part of the loss-dependence; the rest is unexplained here."
    return (f"At identical weights the step-0 ratio depends on the loss: sigmoid outputs start near 1/2 against "
            f"one-hot targets, a mean output error of {err:.2f} that enters the output layer's gradient directly but "
            f"mostly cancels on its way down. The control sets the output bias so that the untrained model predicts "
            f"the class prior (log-prior bias; mean error about 0). The median over runs (descriptive) of the ratio "
            f"||dL/dW_1|| / ||dL/dW_out|| at the default bias → at the log-prior bias, deepest networks: "
            + "; ".join(parts) + f"; {verdict}")


def calibration_finding(claims: pd.DataFrame, cal: pd.DataFrame, label=lambda loss: loss) -> str:
    """Cross-entropy's test ECE, then what label smoothing, focal loss and MSE on softmax did against it, per
    dataset (no loss is named best: that would be a pick among all losses, untested), and the ECE floors."""
    if cal.empty or cal["test_ece"].isna().all():
        return absent("test-split metrics", "no evaluation run finished")
    ref = cal[cal["loss"] == "cross_entropy"]
    best = (ref if len(ref) else cal).iloc[0]
    out = (f"Expected calibration error on the test split, {label(best['loss'])}: "
           f"{best['test_ece']:.3f} (95% CI [{best['test_ece_low']:.3f}, {best['test_ece_high']:.3f}], median over "
           f"{int(best['problems'])} problems; every loss in the table below).")
    said = []
    for loss in ("cross_entropy_ls", "focal", "mse_softmax", "mse_sigmoid"):
        rows = claims[claims["claim"] == f"{wording.ACCURACY_CLAIMS}.test_ece.{loss}_vs_cross_entropy"]
        rows = rows.assign(pooled=rows["dataset"] == POOLED).sort_values(["pooled", "dataset"])
        if rows.empty:
            continue
        items = [f"{'pooled' if r['pooled'] else r['dataset']} **{r['estimate']:+.3f}**"
                 + ("" if np.isnan(r["ci_low"]) else f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]")
                 + ("†" if r["p_adjusted"] < wording.ALPHA else "") for _, r in rows.iterrows()]
        said.append(f"{label(loss)}: " + ", ".join(items))
    if said:
        out += (" Minus cross-entropy's ECE, per dataset and pooled, with 95% seed-bootstrap intervals (†: resolved "
                "after Holm's adjustment; every sentence in Appendix B): " + "; ".join(said) + ".")
    scaled = []
    for loss in ("cross_entropy_ls", "focal", "mse_softmax", "mse_sigmoid"):
        r = pooled_row(claims, f"{wording.ACCURACY_CLAIMS}.test_ece_ts.{loss}_vs_cross_entropy")
        if r is not None:
            scaled.append(f"{label(loss)} **{r['estimate']:+.3f}**" + (
                "" if np.isnan(r["ci_low"]) else f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]")
                + ("†" if r["p_adjusted"] < wording.ALPHA else ""))
    if scaled:
        out += (" After temperature scaling (one T per model, fitted on validation), the pooled differences from "
                "cross-entropy's ECE are " + "; ".join(scaled) + ": what is left once a single scale is undone.")
    floors = claims[claims["claim"] == "ece_floor"]
    if len(floors):
        out += (" A perfectly calibrated model with cross-entropy's confidences would still show an ECE of "
                + ", ".join(f"{r['estimate']:.3f} on {r['dataset']}" for _, r in floors.iterrows())
                + " (simulated from the confidences of its runs at the rates tuned for speed, whose per-example "
                  "outputs are kept: the noise floor of the measure on test splits this size).")
    return out


# Greydanus (2020), MNIST-1D README and paper table: test accuracy of their MLP baseline.
MNIST1D_MLP_BASELINE = 0.68
MNIST1D_PAPER_BUDGET = 6000 * 100     # their steps x batch (mnist1d's train.py defaults)
MNIST1D_TRAIN = 4000                  # the published training split, all of which we train on


def mnist1d_finding(runs: pd.DataFrame) -> str:
    """Our best MNIST-1D configuration with cross-entropy, chosen on validation accuracy (mean over seeds;
    the report passes the runs at the rates of best validation accuracy),
    and its test accuracy beside the paper's MLP (choosing on the test split would flatter it)."""
    d = runs[(runs["dataset"] == "mnist1d") & (runs["loss"] == "cross_entropy")].dropna(subset=["test_acc"])
    if d.empty:
        return absent("MNIST-1D result", "MNIST-1D was not swept with cross-entropy")
    keys = ["activation", "hidden", "optimizer", "learn_scale", "logit_scale"]
    best = d.groupby(keys)["final_val_acc"].mean().idxmax()
    chosen = d.set_index(keys).loc[best].reset_index()
    sub = chosen["test_acc"].to_numpy(dtype=float)
    found = bootstrap(units(chosen, "test_acc", "loss", ["cross_entropy"], keys), "mean", stable_seed("mnist1d"))
    e = next(iter(found.values()))
    est, lo, hi = e.estimate, e.ci_low, e.ci_high
    steps, batch = int(d["steps"].iloc[0]), int(d["batch_size"].iloc[0])
    ratio = MNIST1D_PAPER_BUDGET / (steps * batch)
    budget = (f"Our budget is {ratio:.0f} times shorter than the paper's ({steps * batch / MNIST1D_TRAIN:.1f} epochs of "
              f"its 4,000 training signals), sized to compare losses at equal cost, not to reach the published "
              f"accuracy; `config/mnist1d.yaml` trains MNIST-1D to a budget of its own (README)."
              if ratio > 4 else
              f"The budget is {steps * batch / MNIST1D_TRAIN:.0f} epochs of the paper's 4,000 training signals, "
              f"{steps * batch / MNIST1D_PAPER_BUDGET:.2g} of the paper's 6,000 steps of 100.")
    rate = chosen["lr"].iloc[0] if "lr" in chosen and chosen["lr"].nunique() == 1 else None
    return (f"MNIST-1D, the best configuration with cross-entropy on validation ({best[0]}, hidden layers {best[1]}, "
            f"{best[2]}" + (f", rate {rate:.3g}" if rate is not None else "") + "): "
            f"test accuracy **{est:.1%}** ("
            + (f"95% CI [{lo:.1%}, {hi:.1%}], seed bootstrap, " if not np.isnan(lo) else "too few seeds for an interval, ")
            + f"mean over {len(sub)} seeds) after "
            f"{steps:,} steps of batch {batch}, beside **{MNIST1D_MLP_BASELINE:.0%}** for the MLP baseline of "
            f"Greydanus (2020), a 2-hidden-layer ReLU network of 100 units trained with Adam for 6,000 steps of "
            f"batch 100 on the same training and test signals. " + budget)


def matched_rate_finding(claims: pd.DataFrame, label=lambda loss: loss) -> str:
    """The ranking at equal effective rate: each loss's steps over cross-entropy's at cross-entropy's tuned
    effective rate (the ``effective_rate.*`` claims, over every dataset), in one sentence."""
    rows = claims[claims["claim"].str.startswith("effective_rate.")]
    rows = rows[rows["dataset"] == POOLED] if (rows["dataset"] == POOLED).any() else rows
    if rows.empty:
        return absent("comparison at equal effective rate", "SGD or cross-entropy was not swept, or no loss's "
                                                            "tried rates reach cross-entropy's tuned effective rate")
    parts = [f"{label(r.subject)} {wording.num(r.estimate)}×" + (
        f" ([{wording.num(r.ci_low)}, {wording.num(r.ci_high)}], {r.n} problems)" if not np.isnan(r.ci_low) else
        f" ({r.n} problems)") for r in rows.sort_values("estimate").itertuples()]
    seeds = int(rows["seeds"].max())
    caveat = (" Read this view as descriptive: cross-entropy's steps here come from the tuning seeds that chose its "
              "rate (a winner's advantage the other losses, read at a rate not chosen for them, do not have), and a "
              "row resting on two or three problems is an anecdote.")
    return ("At equal effective rate — every loss at cross-entropy's tuned effective rate on the same problem, "
            "read off its own tried rates seed by seed (tuning seeds, SGD, linear in log-log between the two "
            "rates around it) — the steps to the target relative to cross-entropy are: " + "; ".join(parts) +
            f". A loss whose tried rates do not reach that effective rate is left out of that problem"
            + (f"; {seeds} tuning seeds are too few for an interval." if seeds < MIN_SEEDS else ".") + caveat)
