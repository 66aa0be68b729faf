"""The lecture's worked numbers, recomputed, beside the values it states.

Entropy in bits, H(p) = -sum_i p_i log2 p_i; cross-entropy of a one-hot P
against Q in nats, H(P, Q) = -sum_i P_i ln Q_i (0 log 0 = 0); and the
784-dimension example where ``F.cross_entropy(logits, t)`` equals
``F.nll_loss(log(softmax(logits)), t)``.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from . import columns
from .sweep import derive_seed


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """H(p) = -sum_i p_i log2 p_i, in bits."""
    return -(p * torch.log2(p)).sum()


def cross_entropy_onehot(target: int, q: torch.Tensor) -> torch.Tensor:
    """H(P, Q) = -ln Q_target for one-hot P: zero-probability terms contribute nothing."""
    return -torch.log(q[target])


def lecture_logits(seed: int, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The lecture's ``x @ w.T`` with x ~ N(0,1) (1, 784) and w ~ N(0,1) (10, 784), times ``scale``.

    Returns float32 logits (1, 10) and the target ``tensor([3])``.
    """
    g = torch.Generator().manual_seed(derive_seed(seed, "lecture-784"))
    x = torch.randn(1, 784, generator=g)
    w = torch.randn(10, 784, generator=g)
    return scale * (x @ w.t()), torch.tensor([3])


def examples(seed: int = 0) -> pd.DataFrame:
    """One row per worked number, with the stated value, the computed one and whether they agree."""
    rows = []

    def add(example, description, stated, computed, decimals, comparable=True, note=""):
        matches = round(computed, decimals) == round(stated, decimals) if comparable else None
        rows.append(dict(example=example, description=description, stated=stated, computed=computed,
                         decimals=decimals, comparable=comparable, matches=matches, note=note))

    for name, p, stated, dec in [
        ("entropy_uniform4", [0.25] * 4, 2.0, 4),
        ("entropy_0.7", [0.1, 0.1, 0.1, 0.7], 1.3568, 4),
        ("entropy_0.999", [0.001, 0.001, 0.001, 0.999], 0.0313, 4),
    ]:
        add(name, f"entropy of {p} in bits", stated, float(entropy_bits(torch.tensor(p))), dec)
    add("cross_entropy_q1", "H([1,0,0,0,0], [0.4,0.3,0.05,0.05,0.2]) = -ln 0.4", 0.916,
        float(cross_entropy_onehot(0, torch.tensor([0.4, 0.3, 0.05, 0.05, 0.2]))), 3)
    add("cross_entropy_q2", "H([1,0,0,0,0], [0.98,0.01,0,0,0.01]) = -ln 0.98", 0.02,
        float(cross_entropy_onehot(0, torch.tensor([0.98, 0.01, 0.0, 0.0, 0.01]))), 2)

    logits, t = lecture_logits(seed)
    ce = float(F.cross_entropy(logits, t))
    nll = float(F.nll_loss(torch.log(F.softmax(logits, dim=1)), t))
    unseeded = "the lecture drew x and w without a seed, so only the equality of the two is reproducible"
    add("cross_entropy_784", "F.cross_entropy(x @ w.T, [3]), x (1,784), w (10,784)", 82.4905, ce, 4,
        comparable=False, note=unseeded)
    add("nll_log_softmax_784", "F.nll_loss(log(softmax(x @ w.T)), [3])", 82.4905, nll, 4,
        comparable=False, note=unseeded)
    add("cross_entropy_minus_nll_784", "difference of the two (the lecture shows them equal)", 0.0,
        ce - nll, 3)
    return pd.DataFrame(rows, columns=columns.EXAMPLES)
