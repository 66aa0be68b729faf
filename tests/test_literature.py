"""Published claims beside ours: the verdict follows the interval, and a wrong prediction is caught."""
import math

import pandas as pd
import pytest

from experiments import columns
from experiments.analysis.literature import PAPERS, literature_table, verdict


@pytest.mark.parametrize("expect,lo,hi,want", [
    (("below", 0.0), -0.3, -0.1, "agree"),
    (("below", 0.0), 0.1, 0.3, "disagree"),
    (("below", 0.0), -0.1, 0.1, "inconclusive"),
    (("above", 1.0), 1.5, 3.0, "agree"),
    (("above", 1.0), 0.2, 0.9, "disagree"),
    (("within", -0.02, 0.02), -0.01, 0.015, "agree"),
    (("within", -0.02, 0.02), 0.03, 0.05, "disagree"),
    (("within", -0.02, 0.02), -0.01, 0.05, "inconclusive"),
])
def test_verdict_reads_the_whole_interval(expect, lo, hi, want):
    assert verdict(expect, lo, hi)[0] == want


def _claims(values: dict) -> pd.DataFrame:
    """Pooled rows (dataset "all") beside a per-dataset row that must not be read."""
    rows = [dict(claim=c, dataset=ds, estimate=e + shift, ci_low=lo + shift, ci_high=hi + shift, n=10)
            for c, (e, lo, hi) in values.items() for ds, shift in (("all", 0.0), ("digits", 5.0))]
    return pd.DataFrame(rows).reindex(columns=columns.CLAIMS)


def test_table_has_every_paper_and_says_what_was_not_measured():
    ls = "test.test_ece.cross_entropy_ls_vs_cross_entropy"
    t = literature_table(_claims({ls: (-0.02, -0.03, -0.01),
                                  "test.test_acc.focal_vs_cross_entropy": (0.01, 0.0, 0.02)}))
    assert list(t.columns) == columns.LITERATURE and len(t) == len(PAPERS)
    for paper in ["Golik", "Glorot & Bengio", "Janocha & Czarnecki", "Hui & Belkin", "Lin et al.", "Müller"]:
        assert t["paper"].str.contains(paper).any()
    muller = t[t["our_claim"] == ls].iloc[0]
    assert (muller["verdict"], muller["estimate"]) == ("agree", -0.02)
    assert t.loc[t["paper"] == "Lin et al. 2017", "verdict"].iloc[0] == "not comparable"
    missing = t[t["our_claim"] == "test.test_acc.mse_logits_vs_cross_entropy"].iloc[0]
    assert missing["verdict"] == "not measured" and math.isnan(missing["estimate"])


def test_an_estimate_without_an_interval_is_inconclusive():
    ls = "test.test_ece.cross_entropy_ls_vs_cross_entropy"
    t = literature_table(_claims({ls: (-0.02, math.nan, math.nan)})).set_index("our_claim")
    assert t.loc[ls, "verdict"] == "inconclusive" and "too few seeds" in t.loc[ls, "why"]


def test_a_deliberately_wrong_prediction_is_caught(monkeypatch):
    """Label smoothing measured to *raise* ECE: the table must say disagree, not agree."""
    import experiments.analysis.literature as lit

    ls = "test.test_ece.cross_entropy_ls_vs_cross_entropy"
    claims = _claims({ls: (0.02, 0.01, 0.03)})
    assert literature_table(claims).set_index("our_claim").loc[ls, "verdict"] == "disagree"
    flipped = [dict(p, expect=("above", 0.0)) if p["our_claim"] == ls else p for p in PAPERS]
    monkeypatch.setattr(lit, "PAPERS", flipped)
    assert literature_table(claims).set_index("our_claim").loc[ls, "verdict"] == "agree"
