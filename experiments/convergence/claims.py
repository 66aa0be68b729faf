"""The report's headline claims about convergence, as data: ``results/convergence/claims.parquet``.

One row per claim: a stable id, the sentence the report prints, the estimate
with its 95% bootstrap interval (``experiments.stats``), the number of units
behind it, and the paired test with its p-value where two things are compared.
Every number is measured on the evaluation seeds, at rates (and, in the "best
scale" view, logit scales) chosen on the tuning seeds.

Units: a *problem* is a setting that every loss meets on the same seeds and
data order (dataset, activation, architecture, optimiser, scale learned or not,
and for per-scale claims the logit scale); a loss's cost on it is the median
over evaluation seeds of its steps to the target (+inf when most seeds missed).
Intervals resample problems; tests are paired sign tests over problems. A claim
whose interval includes "no difference" says so in its sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns
from ..stats import bootstrap_ci, sign_test
from .losses import LOSS_LABELS
from .tables import best_scales, depth_sweeps, paired_difference, per_problem, win_shares

OPT_LABELS = {"sgd": "SGD", "adam": "Adam"}


def label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


def _n(x: float) -> str:
    """A number for a sentence: 3 significant figures, inf as never."""
    return "∞" if np.isinf(x) else f"{x:.3g}"


def _ci(lo: float, hi: float, pct: bool = False) -> str:
    if pct:
        return f"95% CI [{lo:.0%}, {hi:.0%}]"
    return f"95% CI [{_n(lo)}, {_n(hi)}]"


def _p(p: float) -> str:
    return f"p = {p:.2g}" if p >= 1e-4 else "p < 0.0001"


def _row(claim, statement, est, lo, hi, n, test="", p=np.nan) -> dict:
    return dict(claim=claim, statement=statement, estimate=float(est), ci_low=float(lo), ci_high=float(hi), n=int(n),
                test=test, p_value=float(p))


def _costs(summary: pd.DataFrame, by_scale: bool) -> pd.DataFrame:
    """Problems x losses: median steps over eval seeds at the tuned rate; per scale, or at each loss's best scale."""
    rows = summary[summary["best_lr"] & (True if by_scale else summary["best_scale"])]
    problem = [k for k in columns.CONFIG_KEYS if k not in ("loss", "lr") and (by_scale or k != "logit_scale")]
    return rows.pivot_table(index=problem, columns="loss", values="steps_to_target_median", aggfunc="first")


def _ratio(slow: pd.Series, fast: pd.Series, seed: int) -> dict | None:
    """slow / fast over problems where either reached: median ratio, its interval, and a sign test."""
    both = pd.concat([slow.rename("slow"), fast.rename("fast")], axis=1).dropna()
    both = both[np.isfinite(both).any(axis=1)]                      # neither reached: no speed to compare
    if both.empty:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (both["slow"] / both["fast"]).to_numpy()
    est, lo, hi = bootstrap_ci(ratio, seed=seed)
    wins, losses, p = sign_test(both["fast"], both["slow"])
    return dict(est=est, lo=lo, hi=hi, n=len(both), wins=wins, losses=losses, p=p,
                same=" — the interval includes no difference" if lo <= 1 <= hi else "")


def ratio_claim(claim: str, costs: pd.DataFrame, slow: str, fast: str, what: str) -> dict | None:
    """How many times the steps of ``fast`` the loss ``slow`` needs, over problems where either reached."""
    if slow not in costs or fast not in costs:
        return None
    r = _ratio(costs[slow], costs[fast], seed=len(claim))
    if r is None:
        return None
    tested = (f"{label(fast)} was faster on {r['wins']} and slower on {r['losses']} ({_p(r['p'])}, sign test)")
    if np.isinf(r["est"]):
        statement = (f"{what}, {label(slow)} missed the target on most seeds in most of the {r['n']} problems where "
                     f"either reached it (the median ratio of steps is infinite); {tested}.")
    else:
        statement = (f"{what}, {label(slow)} needed **{_n(r['est'])}×** the steps of {label(fast)} "
                     f"({_ci(r['lo'], r['hi'])}, median over {r['n']} problems{r['same']}); {tested}.")
    return _row(claim, statement, r["est"], r["lo"], r["hi"], r["n"], "sign test", r["p"])


def reach_claims(runs: pd.DataFrame) -> list[dict]:
    """Per optimiser and loss: the share of evaluation runs that reached the target, at tuned rates."""
    out = []
    for (opt, loss), sub in runs.groupby(["optimizer", "loss"], sort=True):
        per_config = sub.groupby(columns.CONFIG_KEYS, dropna=False)["steps_to_target"].agg(lambda s: s.notna().mean())
        est, lo, hi = bootstrap_ci(per_config.to_numpy(), statistic=np.mean, seed=len(loss))
        est = float(sub["steps_to_target"].notna().mean())
        out.append(_row(f"reach_fraction.{loss}.{opt}",
                        f"Under {OPT_LABELS.get(opt, opt)} at tuned rates, {label(loss)} reached the target in "
                        f"**{est:.0%}** of {len(sub)} runs ({_ci(lo, hi, pct=True)} over {len(per_config)} "
                        f"configurations).", est, lo, hi, len(sub)))
    return out


def best_loss_claims(summary: pd.DataFrame, runs: pd.DataFrame) -> list[dict]:
    """Per optimiser, at each loss's best scale and rate: the fastest loss (median over problems of its
    steps) and its margin over the runner-up; and every loss's share of wins (a tie of k counts 1/k)."""
    out = []
    costs = _costs(summary, by_scale=False)
    shares = win_shares(runs, summary)
    for opt in sorted(summary["optimizer"].unique()):
        c = costs.xs(opt, level="optimizer") if "optimizer" in costs.index.names else costs
        c = c.dropna(axis=1, how="all")
        o = OPT_LABELS.get(opt, opt)
        sh = shares[shares["optimizer"] == opt]
        unit = [k for k in sh.columns if k not in ("loss", "share", "seed")]
        for loss, s in sh.groupby("loss"):
            per_unit = s.groupby(unit, dropna=False)["share"].mean()
            est, lo, hi = bootstrap_ci(per_unit.to_numpy(), statistic=np.mean, seed=len(loss) + 7)
            est = float(s["share"].mean())
            out.append(_row(f"win_share.{loss}.{opt}",
                            f"Under {o}, {label(loss)} was fastest on **{est:.0%}** of {len(s)} problem-seeds "
                            f"(a win shared by k losses counts 1/k; {_ci(lo, hi, pct=True)}).",
                            est, lo, hi, len(s)))
        if c.shape[1] < 2:
            continue
        order = c.median().sort_values(kind="stable")
        best, runner = order.index[0], order.index[1]
        _, b_lo, b_hi = bootstrap_ci(c[best].to_numpy(), seed=len(opt))
        if not np.isfinite(order.iloc[0]):
            out.append(_row(f"best_loss.{opt}", f"Under {o}, no loss reached the target on most seeds of most "
                                                f"problems, even at its best scale and rate.", np.inf, np.inf,
                            np.inf, len(c)))
            continue
        tied = order.index[order == order.iloc[0]].tolist()        # a tie in the median is said as one
        lead = (f"**{label(best)}** was fastest" if len(tied) == 1 else
                " and ".join(f"**{label(x)}**" for x in tied) + " tied for fastest")
        r = ratio_claim(f"best_loss.{opt}", c, runner, best,
                        f"Under {o}, at each loss's best scale and rate, {lead} "
                        f"(median {_n(order.iloc[0])} steps over {len(c)} problems, {_ci(b_lo, b_hi)}); the runner-up")
        if r is not None:
            out.append(r)
    return out


def scale_claims(summary: pd.DataFrame, tuning: pd.DataFrame) -> list[dict]:
    """Per loss: the steps at its worst logit scale over those at its best (both chosen on the tuning
    seeds, both at their tuned rates), measured on the evaluation seeds."""
    out = []
    keys = [k for k in columns.CONFIG_KEYS if k not in ("lr", "logit_scale")]
    if tuning.loc[tuning["chosen"], "logit_scale"].nunique() < 2:
        return out
    best = best_scales(tuning).rename("best")
    worst = best_scales(tuning, worst=True).rename("worst")
    s = summary[summary["best_lr"]].set_index(keys)
    pair = pd.concat([best, worst], axis=1).join(s[["logit_scale", "steps_to_target_median"]], how="left")
    at_best = pair[pair["logit_scale"] == pair["best"]]["steps_to_target_median"]
    at_worst = pair[pair["logit_scale"] == pair["worst"]]["steps_to_target_median"]
    for loss in sorted(set(at_best.index.get_level_values("loss"))):
        r = _ratio(at_worst.xs(loss, level="loss"), at_best.xs(loss, level="loss"), seed=len(loss) + 3)
        if r is None:
            continue
        out.append(_row(f"scale_effect.{loss}",
                        f"Logit scale and {label(loss)}: at its worst scale (on the tuning seeds) it needed "
                        f"**{_n(r['est'])}×** the steps of its best scale on the evaluation seeds "
                        f"({_ci(r['lo'], r['hi'])}, {r['n']} settings{r['same']}; {_p(r['p'])}, sign test).",
                        r["est"], r["lo"], r["hi"], r["n"], "sign test", r["p"]))
    return out


def tuning_claim(tuning: pd.DataFrame) -> dict:
    chosen = tuning[tuning["chosen"]]
    edge = chosen["at_edge"].to_numpy(dtype=float)
    est, lo, hi = bootstrap_ci(edge, statistic=np.mean, seed=1)
    return _row("tuning.at_edge", f"The chosen learning rate is still at an edge of the rates tried for "
                                  f"**{int(edge.sum())} of {len(edge)}** configurations ({est:.1%}, 95% CI "
                                  f"[{lo:.1%}, {hi:.1%}]) after the search extended the grid.", est, lo, hi, len(edge))


METRIC_WORDS = {"test_acc": ("test accuracy", True), "test_nll": ("test NLL", False),
                "test_brier": ("Brier score", False), "test_ece": ("expected calibration error", False)}


def test_metric_claims(runs: pd.DataFrame, reference: str = "cross_entropy") -> list[dict]:
    """Per loss and test metric: the paired difference from ``reference`` (loss minus reference, mean
    over seeds per problem, median over problems), its interval and a sign test."""
    out = []
    for metric, (words, higher_better) in METRIC_WORDS.items():
        t = per_problem(runs, metric)
        if reference not in t:
            continue
        for loss in [x for x in t.columns if x != reference]:
            both = t[[loss, reference]].dropna()
            if both.empty:
                continue
            _, (est, lo, hi) = paired_difference(t, loss, reference, metric)
            wins, losses, p = sign_test(both[reference], both[loss])      # reference below the loss
            same = " — the interval includes no difference" if lo <= 0 <= hi else ""
            fmt = (lambda v: f"{v:+.1%}") if metric == "test_acc" else (lambda v: f"{v:+.3f}")
            out.append(_row(f"test.{metric}.{loss}_vs_{reference}",
                            f"On the test split, {label(loss)} minus {label(reference)} in {words}: "
                            f"**{fmt(est)}** (95% CI [{fmt(lo)}, {fmt(hi)}], median over {len(both)} problems"
                            f"{same}); {label(reference)} was lower on {wins} and higher on {losses} "
                            f"({_p(p)}, sign test).", est, lo, hi, len(both), "sign test", p))
    return out


def depth_claims(layers: pd.DataFrame) -> list[dict]:
    """Per activation and loss, at the deepest architecture of a depth sweep: the ratio of the input-side
    layer's weight-gradient norm to the output layer's at initialisation (median over runs)."""
    r = depth_sweeps(layers) if layers is not None else pd.DataFrame()
    if r.empty:
        return []
    out = []
    for (dataset, act, opt, loss), sub in r.groupby(["dataset", "activation", "optimizer", "loss"], sort=True):
        deep = sub[sub["depth"] == sub["depth"].max()]
        for when in ("init", "end"):
            est, lo, hi = bootstrap_ci(deep[f"grad_ratio_{when}"].to_numpy(dtype=float), seed=len(act) + len(loss))
            same = " — the interval includes 1 (no shrinkage)" if lo <= 1 <= hi else ""
            at = "at initialisation" if when == "init" else "at the end of training"
            out.append(_row(f"depth.grad_ratio_{when}.{dataset}.{act}.{opt}.{loss}",
                            f"{int(deep['depth'].iloc[0])} hidden {act} layers on {dataset}, {label(loss)}, "
                            f"{OPT_LABELS.get(opt, opt)}: ||dL/dW|| of the first layer over the output layer's "
                            f"{at} is **{_n(est)}** ({_ci(lo, hi)}, median over {len(deep)} runs{same}).",
                            est, lo, hi, len(deep)))
    return out


def claims_table(runs: pd.DataFrame, summary: pd.DataFrame, tuning: pd.DataFrame,
                 layers: pd.DataFrame | None = None, matched: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every headline claim about convergence, one row each (``columns.CLAIMS``). ``matched``: problems x
    losses, steps at cross-entropy's tuned effective rate (``tables.matched_rate_costs``)."""
    rows = [tuning_claim(tuning)]
    per_scale = _costs(summary, by_scale=True)
    for opt in sorted(summary["optimizer"].unique()):
        c = per_scale.xs(opt, level="optimizer")
        for slow in ("mse_sigmoid", "mse_softmax"):
            r = ratio_claim(f"speed_ratio.{slow}_vs_cross_entropy.{opt}", c, slow, "cross_entropy",
                            f"Under {OPT_LABELS.get(opt, opt)} at tuned rates")
            if r is not None:
                rows.append(r)
    if matched is not None and not matched.empty:
        for loss in [x for x in matched.columns if x != "cross_entropy"]:
            r = ratio_claim(f"effective_rate.{loss}_vs_cross_entropy", matched, loss, "cross_entropy",
                            "At cross-entropy's tuned effective rate (tuning seeds, SGD)")
            if r is not None:
                rows.append(r)
    rows += reach_claims(runs)
    rows += best_loss_claims(summary, runs)
    rows += scale_claims(summary, tuning)
    if set(columns.TEST_METRICS) <= set(runs.columns):
        rows += test_metric_claims(runs)
    rows += depth_claims(layers)
    return pd.DataFrame(rows, columns=columns.CLAIMS)
