"""Intervals and tests from one resampling procedure, and Holm's adjustment (numpy; torch-free).

**The units.** A claim compares *arms* (two losses, or a loss at two logit scales) on *problems*
(settings every arm meets: dataset, architecture, activation, optimiser, logit scale, ...) over
*seeds*. The settings are a designed grid, not a sample: they are fixed, and every claim is made per
dataset and pooled over the settings swept. The random units are the seeds (initial weights and
data order), and they are *crossed* with the settings: one replicate id gives the same initial
weights and minibatches to every loss, activation, optimiser and scale of a dataset and architecture.
So the bootstrap resamples seed ids, jointly for every problem and arm of a dataset (keeping the
pairing and the correlation between settings that share a seed), independently between datasets
(whose seeds are different draws). Treating each setting as an independent unit would count the
same ten seeds many times over. Each replicate draws S - 1 of a dataset's S seeds with replacement
(McCarthy & Snowden 1985; Rao & Wu 1988): with S draws the bootstrap variance of a mean is
(S - 1)/S of the unbiased one, which leaves intervals from 3 to 5 seeds visibly too short; with
S - 1 it is unbiased.

**The statistic** is two-level: per problem, a reducer over seeds (the median steps in budgets, a
miss or a break at the budget; the mean accuracy, a break at chance), combined across arms (a
ratio, a difference); then across problems, the median or the mean. The *estimand* is that
statistic at the seed population: e.g. the median over the swept settings of each setting's ratio
of median steps. A mean over problems is also *t-calibrated* (:func:`t_calibration`): its
replicates' spread is widened by the t quantile that a percentile interval from few seeds lacks.

**Interval and test agree by construction.** From B replicates of the statistic (those where it is
defined), with c = min(#{b <= null}, #{b >= null}):

    p = min(1, max(2c, 1) / B)              (two-sided; 1/B when no replicate reaches the null)
    interval = [b_(m), b_(B + 1 - m)]        (order statistics, m = ceil(alpha B / 2))

The interval is exactly the set of nulls that the test does not reject at alpha: p < alpha if and
only if the interval excludes the null (``tests/test_stats.py`` checks it on every claim).

:func:`holm` adjusts p-values within a family (Holm 1979: step-down, controls the family-wise error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

RESAMPLES = 2000
# Fewer seeds than this in a dataset: its estimate stands without an interval or test. In the planted-truth
# tests (tests/test_planted.py) intervals from 3 seeds covered about 80% of the time and from 4 about 89%,
# below the 90% floor; from 5 and 6, 93-98.5% (200 replicates).
MIN_SEEDS = 5
ALPHA = 0.05
CHUNK = 250          # replicates computed at once (memory: CHUNK x problems x seeds per arm)
POOLED = "all"       # the stratum name of a claim over every dataset


def _quiet(fn):
    """numpy warns on an all-NaN slice (a problem with no seed left); NaN is the answer there."""
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"), _no_runtime_warnings():
            return fn(*args, **kwargs)
    return wrapped


class _no_runtime_warnings:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def _median(x: np.ndarray, axis=-1) -> np.ndarray:
    """The median over ``axis`` ignoring NaN (+inf counts as a value; the mean of the two middle values
    for an even count), NaN where nothing is left: np.nanmedian's answer, by one sort."""
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = (~np.isnan(x)).sum(-1)
    srt = np.sort(x, axis=-1)                                       # NaN sorts last, after +inf
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(srt, np.maximum(n // 2, 0).clip(max=x.shape[-1] - 1)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        out = np.where(lo == hi, lo, (lo + hi) / 2)                 # inf == inf: no inf - inf
    return np.where(n > 0, out, np.nan)


@_quiet
def _mean(x: np.ndarray, axis=-1) -> np.ndarray:
    return np.nanmean(x, axis=axis)


@_quiet
def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, NaN where both are +inf (neither reached: no speed to compare) or either is NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.where((a == 0) & (b == 0), 1.0, a / np.where(b == 0, np.nan, b))
    out = np.where((b == 0) & (a > 0), np.inf, out)
    return np.where(np.isinf(a) & np.isinf(b), np.nan, out)


@dataclass(frozen=True)
class Statistic:
    """Per problem ``within`` reduces each arm's seeds (..., seeds) -> (...); ``combine`` joins the arms
    (one or two); ``across`` reduces problems (R, P) -> (R,). ``null``: the value of no effect (None:
    descriptive, no test)."""
    name: str
    within: Callable
    combine: Callable
    across: Callable
    null: float | None
    arms: int
    mean: bool = False    # a mean over problems of means over seeds: its interval is t-calibrated (below)
    bounds: tuple = (-math.inf, math.inf)   # where the statistic can lie (a share: [0, 1]); the interval stays there
    censored: bool = False                  # a ratio of medians censored at the budget (claims say where it binds)


@_quiet
def _censored_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b of two medians in budgets, each censored at the budget (1: half or more of the seeds missed or
    broke): NaN where both are at the budget (neither reached: no speed to compare), else the ratio, which
    is a lower bound where ``a`` is censored."""
    out = _ratio(a, b)
    return np.where((np.asarray(a) >= 1) & (np.asarray(b) >= 1), np.nan, out)


WORSE_BY = 0.05     # a setting is "worse" when an arm's mean accuracy is more than 5 points below the other's


@_quiet
def _worse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 where a is more than ``WORSE_BY`` below b, 0 where not, NaN where either is undefined."""
    d = a - b
    return np.where(np.isnan(d), np.nan, (d < -WORSE_BY - 1e-9).astype(float))    # (0.85 - 0.9 is not worse)


STATISTICS = {
    # steps to the target in budgets, a miss or a break at the budget (1): the median over seeds, a ratio of
    # two arms (NaN where both medians sit at the budget), the median over problems
    "ratio_of_medians": Statistic("ratio_of_medians", _median, _censored_ratio, _median, 1.0, 2, censored=True),
    # how a speed ratio changes between two conditions (e.g. Adam over SGD), per problem from four arms
    # (subject and reference under each condition), seeds resampled jointly: (a / b) / (c / d), the median
    "ratio_of_ratios": Statistic("ratio_of_ratios", _median,
                                 lambda a, b, c, d: _ratio(_censored_ratio(a, b), _censored_ratio(c, d)), _median,
                                 1.0, 4),
    # a test metric: the mean over seeds, a difference of two arms, the median over problems
    "difference_of_means": Statistic("difference_of_means", _mean, lambda a, b: a - b, _median, 0.0, 2),
    # the same, descriptive (no test): accuracy, where a run that broke scores chance. An isolated break (one seed
    # in ten) moves its setting's mean by several points but seldom the median of the settings, so this median
    # describes the typical setting, not the median of the expected differences; the mean carries the test
    "median_difference": Statistic("median_difference", _mean, lambda a, b: a - b, _median, None, 2),
    # the same, the mean over problems
    "mean_difference": Statistic("mean_difference", _mean, lambda a, b: a - b, _mean, 0.0, 2, mean=True),
    # the share of problems where the first arm's mean is more than WORSE_BY below the second's (descriptive)
    "share_worse": Statistic("share_worse", _mean, _worse, _mean, None, 2, bounds=(0.0, 1.0)),
    # a share (reached the target, 0/1): the mean over seeds, then over problems
    "mean": Statistic("mean", _mean, lambda a: a, _mean, None, 1, mean=True, bounds=(0.0, 1.0)),
    # one arm's level of a test metric: the mean over seeds, the median over problems (descriptive)
    "median_of_means": Statistic("median_of_means", _mean, lambda a: a, _median, None, 1),
    # one arm's median (e.g. a gradient ratio, null 1 = no shrinkage): the median over seeds, then problems
    "median": Statistic("median", _median, lambda a: a, _median, 1.0, 1),
}


@dataclass
class Units:
    """One claim's data: per stratum (dataset), per arm, an array (problems, seeds), rows aligned
    across arms (the same problem), columns the stratum's seed ids (NaN: not run). Build it with
    :func:`units`."""
    strata: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    seeds: dict[str, list] = field(default_factory=dict)

    def problems(self) -> int:
        return sum(next(iter(arms.values())).shape[0] for arms in self.strata.values())


def units(df: pd.DataFrame, value: str, arm: str, arms: list, problem: list[str], stratum: str = "dataset",
          seed: str = "seed") -> Units:
    """:class:`Units` from a long table (one row per run): ``value`` per (stratum, problem, arm, seed).
    Only problems on which every arm has a value for some seed are kept; two rows in one unit raise."""
    out = Units()
    d = df.loc[df[arm].isin(arms).to_numpy(), list(dict.fromkeys([stratum, *problem, arm, seed, value]))]
    keys = list(dict.fromkeys([stratum, *problem, arm, seed]))
    twice = d.duplicated(keys, keep=False)
    if twice.any():                  # two runs in one unit: a concatenation gone wrong, not a replicate
        first = d.loc[twice, keys].iloc[0].to_dict()
        raise ValueError(f"{int(twice.sum())} rows share a unit ({', '.join(keys)}), e.g. {first}: one run per "
                         f"unit is expected")
    for name, sub in d.groupby(stratum, sort=True):
        if not set(arms) <= set(sub[arm]):
            continue
        p = sub.groupby(problem, sort=True, dropna=False).ngroup().to_numpy()          # (runs,) problem id
        seeds = np.sort(sub[seed].unique())
        s = np.searchsorted(seeds, sub[seed].to_numpy())
        a = pd.Categorical(sub[arm], categories=arms).codes
        grid = np.full((len(arms), p.max() + 1, len(seeds)), np.nan)                   # (arms, P, S)
        grid[a, p, s] = sub[value].to_numpy(dtype=float)
        keep = (~np.isnan(grid)).any(2).all(0)
        if keep.any():
            out.strata[str(name)] = {x: grid[i][keep] for i, x in enumerate(arms)}
            out.seeds[str(name)] = list(seeds)
    return out


def _per_problem(stat: Statistic, arrays: list[np.ndarray]) -> np.ndarray:
    """(..., P, S) per arm -> (..., P)."""
    return stat.combine(*[stat.within(a, axis=-1) for a in arrays])


@dataclass(frozen=True)
class Estimate:
    estimate: float
    ci_low: float
    ci_high: float
    null_value: float
    p_value: float
    problems: int
    seeds: int
    replicates: int
    loo_low: float = math.nan      # the estimate with one problem left out, at its lowest and highest
    loo_high: float = math.nan
    censored: int = 0              # problems where the subject's median sits at the budget, the reference's not
    lower_bound: bool = False      # the estimate would grow were those problems' ratios unbounded


@_quiet
def t_calibration(reps: list[np.ndarray], seeds: list[int], alpha: float = ALPHA) -> float:
    """How much wider a mean's replicates are spread: t_{1 - alpha/2, df} / z_{1 - alpha/2}, with df the
    Welch-Satterthwaite degrees of freedom of a mean over the strata (each stratum's replicates (R, P_n)
    of per-problem values and its seed count S_n; df = S - 1 for one stratum). The bootstrap's spread
    (S - 1 draws of S seeds) already has the unbiased variance; what a percentile interval from 5 to 10
    seeds still lacks is the t quantile (planted means covered 84-92% without it, tests/test_planted.py)."""
    from scipy.stats import norm, t

    total = sum(r.shape[1] for r in reps)
    v = np.array([np.nanvar(np.nanmean(r, axis=1)) * (r.shape[1] / total) ** 2 for r in reps])   # per stratum
    dof = np.array([max(s - 1, 1) for s in seeds], dtype=float)
    df = float(v.sum() ** 2 / np.sum(v ** 2 / dof)) if v.sum() > 0 else float(dof.sum())
    return float(t.ppf(1 - alpha / 2, df) / norm.ppf(1 - alpha / 2))


def min_replicates(alpha: float = ALPHA) -> int:
    """The fewest defined replicates at which the test and the interval can agree: with B of them the
    smallest p is 1/B (no replicate across the null) while the interval is then [min, max] and excludes
    the null, so 1/B must be below ``alpha``: B > 1/alpha (21 at 5%)."""
    return math.floor(1 / alpha) + 1


def decide(estimate: float, replicates: np.ndarray, null: float | None, alpha: float = ALPHA) -> tuple:
    """(low, high, p) from bootstrap replicates: the interval is the set of nulls the test keeps at
    ``alpha`` (module docstring). NaN replicates (statistic undefined) are left out; with fewer than
    ``min_replicates(alpha)`` left, all NaN (the claims table's ``replicates`` says how many). ``null``
    None: the interval alone, p NaN."""
    r = np.sort(np.asarray(replicates, dtype=float)[~np.isnan(replicates)])
    B = len(r)
    if B < min_replicates(alpha) or np.isnan(estimate):
        return (math.nan, math.nan, math.nan)
    m = max(1, math.ceil(alpha * B / 2))
    lo, hi = float(r[m - 1]), float(r[B - m])
    if null is None:
        return (lo, hi, math.nan)
    c = min(int((r <= null).sum()), int((r >= null).sum()))
    return (lo, hi, min(1.0, max(2 * c, 1) / B))


def bootstrap(u: Units, stat: Statistic | str, seed: int, resamples: int = RESAMPLES,
              alpha: float = ALPHA) -> dict[str, Estimate]:
    """The claim per stratum and pooled (``POOLED``, when there are several strata): estimate, the
    interval and the test from the same ``resamples`` replicates (seed ids resampled with replacement
    within each stratum, jointly for all its problems and arms). A stratum with fewer than
    ``MIN_SEEDS`` seeds (and a pool of such strata only) gets its estimate alone: NaN interval and p."""
    stat = STATISTICS[stat] if isinstance(stat, str) else stat
    names = list(u.strata)
    if not names:
        return {}
    rng = np.random.default_rng(seed)
    arms = list(next(iter(u.strata.values())))
    point = {n: _per_problem(stat, [u.strata[n][a] for a in arms]) for n in names}     # (P_n,)
    reps = {n: [] for n in names}
    for start in range(0, resamples, CHUNK):
        R = min(CHUNK, resamples - start)
        for n in names:
            S = len(u.seeds[n])
            idx = rng.integers(0, S, size=(R, max(1, S - 1)))                             # (R, S - 1)
            drawn = [np.moveaxis(u.strata[n][a][:, idx], 1, 0) for a in arms]             # (R, P, S)
            reps[n].append(_per_problem(stat, drawn))                                     # (R, P)
    reps = {n: np.concatenate(v) for n, v in reps.items()}
    groups = {n: [n] for n in names}
    if len(names) > 1:
        groups[POOLED] = names
    out = {}
    for g, members in groups.items():
        pp = np.concatenate([point[n] for n in members])
        est = float(stat.across(pp[None, :], axis=-1)[0])
        rr = stat.across(np.concatenate([reps[n] for n in members], axis=1), axis=-1)
        if stat.mean:
            rr = est + (rr - est) * t_calibration([reps[n] for n in members], [len(u.seeds[n]) for n in members],
                                                  alpha)
        rr = np.clip(rr, *stat.bounds)
        enough = any(len(u.seeds[n]) >= MIN_SEEDS for n in members)
        lo, hi, p = decide(est, rr, stat.null, alpha) if enough else (math.nan,) * 3
        loo = leave_one_out(stat, pp)
        censored, bound = _censoring(stat, [u.strata[n] for n in members], arms, pp, est)
        out[g] = Estimate(est, lo, hi, math.nan if stat.null is None else float(stat.null), p,
                          int(np.sum(~np.isnan(pp))), int(max(len(u.seeds[n]) for n in members)),
                          int(np.sum(~np.isnan(rr))) if enough else 0, *loo, censored, bound)
    return out


@_quiet
def leave_one_out(stat: Statistic, per_problem: np.ndarray) -> tuple[float, float]:
    """(lowest, highest) of the statistic over problems with each problem left out in turn: whether a
    claim rests on one setting (NaN with fewer than three problems)."""
    keep = np.flatnonzero(~np.isnan(per_problem))
    if len(keep) < 3:
        return (math.nan, math.nan)
    pp = per_problem[keep]
    drop = ~np.eye(len(pp), dtype=bool)                                              # (P, P): row i leaves i out
    vals = stat.across(np.where(drop, pp[None, :], np.nan), axis=-1)                # (P,)
    return (float(np.nanmin(vals)), float(np.nanmax(vals)))


def _censoring(stat: Statistic, strata: list[dict], arms: list, per_problem: np.ndarray, est: float) -> tuple[int, bool]:
    """For a censored ratio: how many problems have the subject's median at the budget and the reference's
    below it (their ratio is a lower bound), and whether the estimate is a lower bound (the median over
    problems grows when those ratios are made unbounded)."""
    if not stat.censored:
        return (0, False)
    a = np.concatenate([stat.within(s[arms[0]], axis=-1) for s in strata])
    b = np.concatenate([stat.within(s[arms[1]], axis=-1) for s in strata])
    cens = (a >= 1) & (b < 1)
    if not cens.any():
        return (0, False)
    upper = float(stat.across(np.where(cens, np.inf, per_problem)[None, :], axis=-1)[0])
    return (int(cens.sum()), bool(upper > est))


def holm(p: pd.Series | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN kept as NaN): p_(i) x (m - i + 1), running maximum, at most 1."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate(p[ok][order] * (m - np.arange(m))))
    vals = np.empty(m)
    vals[order] = adj
    out[ok] = vals
    return out


def percentile_interval(values, statistic=np.median, seed: int = 0, resamples: int = RESAMPLES) -> tuple:
    """(estimate, low, high): ``statistic`` (a numpy reducer taking ``axis``) of independent ``values``
    (1-D; NaN left out) with a 95% percentile bootstrap interval, for descriptive numbers of a table (e.g. a median over runs of one
    setting). Claims use :func:`bootstrap`."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return (math.nan, math.nan, math.nan)
    est = float(statistic(x))
    if len(np.unique(x)) < 2:
        return (est, est, est)
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore"):          # a median of samples holding +inf
        reps = statistic(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)   # (resamples,)
    lo, hi, _ = decide(est, reps, None)
    return (est, lo, hi)


def stable_seed(*parts: object) -> int:
    """A bootstrap seed from a claim's identity (a hash, so two claims never share one by accident)."""
    import zlib
    return zlib.crc32("/".join(map(str, parts)).encode())
