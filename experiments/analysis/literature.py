"""Published results beside ours: ``results/literature.parquet``.

Each entry of :data:`PAPERS` states one published claim in a line, the setting
it was measured in, the row of our claims table (``experiments.analysis.claims``) that
measures the closest thing here, and what the claim predicts for that number:

- ``("below", t)`` / ``("above", t)``: the claim predicts our estimate below / above t;
- ``("within", a, b)``: it predicts the estimate in [a, b] (e.g. "comparable": a small band around 0).

The verdict reads our 95% interval: **agree** when it lies wholly where the claim
predicts, **disagree** when wholly on the other side, **inconclusive** when it
straddles the boundary; **not comparable** when the settings differ in what the
claim is about (said in ``reason``), and **not measured** when the loss or setting
was not swept in this run.

Claims about the same number have bands that exclude each other, so one interval
cannot agree with both: Golik's "worse" is more than 2 points below cross-entropy,
Janocha & Czarnecki's "close" within 2 points of it.

**Bands are a registry fixed before the run** (:data:`PAPERS`, read from ``literature.yaml`` beside this module): each band comes with
its reason (``band_reason``) and when it was set (``band_fixed``). A band changed
after seeing results says so in its verdict (Golik's was "below 0" until a review
found that both verdicts agreed on the same -0.7 points, and was moved to exclude
Janocha's: its verdict is marked post hoc). **Each verdict first checks its paper's
premise on our data** where the claim rests on one (Müller et al.: label smoothing
helps a model that is overconfident; is cross-entropy overconfident here?): where
the premise fails, the verdict is "not comparable" and says why.

Each verdict names the rate selection its number comes from (``selection``,
``experiments.convergence.tuning.SELECTIONS``): accuracy and calibration verdicts
read the runs at the rate of best final validation accuracy (``tuned_for_acc.*``
claims; accuracy as the mean over settings, as a paper's number is a mean over its
runs), speed verdicts the speed selection, the depth verdict initialisation.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from .. import columns
from .claims import pooled_row

REGISTRY = Path(__file__).with_name("literature.yaml")


def _load(path: Path = REGISTRY) -> list[dict]:
    """The registry's entries, each ``expect`` (and its premise's) as a tuple."""
    papers = yaml.safe_load(path.read_text())["papers"]
    for p in papers:
        p["expect"] = tuple(p["expect"])
        if "premise" in p:
            p["premise"]["expect"] = tuple(p["premise"]["expect"])
    return papers


PAPERS = _load()


def _unit(our_claim: str | None) -> tuple[float, str]:
    """(scale, unit) in which a claim's numbers are read: accuracy differences in percentage points."""
    accuracy = bool(our_claim) and len(our_claim.split(".")) > 1 and our_claim.split(".")[1].startswith("test_acc")
    return (100.0, " points") if accuracy else (1.0, "")


def band(expect: tuple, our_claim: str | None = None) -> str:
    """What a claim predicts for our estimate, in words and in its unit: "below -2 points",
    "within [-2, 2] points", "above 1"."""
    k, unit = _unit(our_claim)
    if expect[0] in ("below", "above"):
        return f"{expect[0]} {k * expect[1]:g}{unit}"
    if expect[0] == "within":
        return f"within [{k * expect[1]:g}, {k * expect[2]:g}]{unit}"
    raise ValueError(f"unknown expectation {expect!r}")


def selection(our_claim: str) -> str:
    """The rate selection behind a claim id: ``accuracy`` for ``tuned_for_acc.*``, ``speed`` for the others
    measured at tuned rates."""
    return "accuracy" if our_claim.startswith("tuned_for_acc.") else "speed"


def verdict(expect: tuple, lo: float, hi: float, our_claim: str | None = None) -> tuple[str, str]:
    """(verdict, why) of an interval [lo, hi] against what a claim predicts (words in the claim's unit)."""
    kind, where = expect[0], band(expect, our_claim)
    k, unit = _unit(our_claim)
    edges = [k * e for e in expect[1:]]
    near = lambda x: min(edges, key=lambda e: abs(e - x))          # noqa: E731  (the edge an end could print as)
    shown = f"[{_apart(k * lo, near(k * lo))}, {_apart(k * hi, near(k * hi))}]{unit}"
    if kind in ("below", "above"):
        t = expect[1]
        inside, outside = (hi < t, lo > t) if kind == "below" else (lo > t, hi < t)
    else:
        a, b = expect[1:]
        inside, outside = a <= lo and hi <= b, hi < a or lo > b
    if inside:
        return "agree", f"the whole 95% interval {shown} lies inside the band ({where}), as the claim predicts"
    if outside:
        side = ("above" if lo > expect[1] else "below") if kind in ("below", "above") else \
            ("below" if hi < expect[1] else "above")
        return "disagree", f"the whole 95% interval {shown} lies {side} the band ({where})"
    return "inconclusive", f"the 95% interval {shown} reaches both inside and outside the band ({where})"


def short_reason(verdict_: str, reason: str) -> str:
    """A verdict's reason in a few words for the report's main table: where the interval lies against the
    band, or why the settings are not comparable (the full ``reason`` has the numbers)."""
    for key, short in (("lies inside", "interval inside the band"), ("lies above", "interval above the band"),
                       ("lies below", "interval below the band"), ("reaches both", "interval across the band's edge")):
        if key in reason and verdict_ != "not comparable":
            return short + (" (band set post hoc)" if "post hoc" in reason else "")
    if reason.startswith("its premise does not hold here"):
        return "its premise does not hold here (Appendix C)"
    return reason.split(" (Our measurement:")[0]


def budget_caveat(epochs: tuple[float, float] | None) -> str:
    """The caveat every accuracy verdict carries: our budgets (``epochs``: the fewest and the most epochs of
    a dataset's training split over the pool, ``budget_epochs``) are a few epochs, the papers trained for tens
    to hundreds, so a gap that closes late in training is still open here."""
    ours = "a few epochs" if epochs is None else (
        f"{epochs[0]:.1f} epochs" if round(epochs[0], 1) == round(epochs[1], 1)
        else f"{epochs[0]:.1f} to {epochs[1]:.1f} epochs")
    return (f"our budgets are {ours} of the training split, the paper's runs far longer: a gap that closes late "
            f"in training is still open here")


def budget_epochs(runs: pd.DataFrame, datasets: pd.DataFrame) -> tuple[float, float] | None:
    """(fewest, most) epochs per run over the datasets in ``runs``: steps x batch size / training examples
    (``datasets.parquet``'s n_train); None when either table lacks what it needs."""
    if runs.empty or not {"steps", "batch_size", "dataset"} <= set(runs) or "n_train" not in datasets:
        return None
    n = datasets.set_index("dataset")["n_train"]
    e = (runs["steps"] * runs["batch_size"] / runs["dataset"].map(n)).dropna()
    return (float(e.min()), float(e.max())) if len(e) else None


def _premise(p: dict, claims: pd.DataFrame) -> tuple[str, str] | None:
    """(verdict, reason) when the paper's premise fails or cannot be checked on our data; None when it holds
    (or the claim rests on none)."""
    if "premise" not in p:
        return None
    pr = p["premise"]
    c = pooled_row(claims, pr["claim"])
    if c is None or math.isnan(c["ci_low"]):
        return "not comparable", f"its premise ({pr['text']}) could not be checked here: no interval on our data"
    holds, _ = verdict(pr["expect"], float(c["ci_low"]), float(c["ci_high"]))
    if holds == "agree":
        return None
    return "not comparable", (f"its premise does not hold here: {pr['text']} is not resolved (our "
                              f"{c['estimate']:.3g}, 95% interval [{_apart(c['ci_low'], pr['expect'][1])}, "
                              f"{_apart(c['ci_high'], pr['expect'][1])}])")


def _apart(x: float, edge: float) -> str:
    """``x`` to 3 significant figures, or more where that would print the band's edge it is not."""
    for digits in range(3, 12):
        if x == edge or f"{x:.{digits}g}" != f"{edge:.{digits}g}":
            return f"{x:.{digits}g}"
    return f"{x!r}"


def literature_table(claims: pd.DataFrame, epochs: tuple[float, float] | None = None) -> pd.DataFrame:
    """One row per entry of :data:`PAPERS` (``columns.LITERATURE``), our number from ``claims``; every
    accuracy verdict carries the budget caveat (``budget_caveat(epochs)``), the same for each paper."""
    rows = []
    for p in PAPERS:
        row = {k: p[k] for k in ("paper", "claim", "their_setting", "our_claim", "our_setting", "band_reason",
                                 "band_fixed")}
        row.update(selection=p.get("selection", selection(p["our_claim"])), band=band(p["expect"], p["our_claim"]))
        c = pooled_row(claims, p["our_claim"])
        if c is None:
            row.update(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, verdict="not measured",
                       reason="the loss or setting it needs was not swept in this run")
        else:
            row.update(estimate=float(c["estimate"]), ci_low=float(c["ci_low"]), ci_high=float(c["ci_high"]))
            v, why = verdict(p["expect"], row["ci_low"], row["ci_high"], p["our_claim"])
            if math.isnan(row["ci_low"]):
                v, why = "inconclusive", "no interval: too few seeds (experiments.analysis.stats.MIN_SEEDS)"
            elif p.get("post_hoc"):
                why += "; the band was set post hoc, after an earlier run's results (band_fixed)"
            if (failed := _premise(p, claims)) is not None:
                v, why = failed[0], failed[1] + f" (Our measurement: {why}.)"
            if not p.get("comparable", True):
                v, why = "not comparable", p["why_not"] + f" (Our measurement: {why}.)"
            row.update(verdict=v, reason=why)
        row["caveat"] = budget_caveat(epochs) if ".test_acc" in p["our_claim"] else ""
        row["short_reason"] = short_reason(row["verdict"], row["reason"]) + (
            "; short budget (caveat)" if row["caveat"] and row["verdict"] not in ("not comparable", "not measured")
            else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns.LITERATURE)
