"""Where does each way of computing cross-entropy stop giving finite numbers?

Probe logits for C classes put the largest logit ``gap`` above the target's::

    z = [gap, 0, 0, ..., 0],  target y = 1
    exact loss = logsumexp(z) - z_y = gap + log(1 + (C - 1) e^{-gap})

Each implementation computes the loss and its gradient with respect to ``z``
in the probe's dtype; the table records whether both are finite and the
relative error against the exact value (computed in float64 from the closed
form above, which is itself stable for every gap).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import columns

DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def log_softmax_naive(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The lecture's ``nll_loss(log(softmax(z)), y)``: -log(softmax(z)_y).

    Breaks when softmax(z)_y rounds to 0 (then log gives -inf).
    """
    return F.nll_loss(torch.log(torch.softmax(z, dim=-1)), y, reduction="none")


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy``: logsumexp(z) - z_y with the max subtracted (fused, stable)."""
    return F.cross_entropy(z, y, reduction="none")


# name -> f(z (N, C), y (N,)) -> per-example loss (N,)
IMPLEMENTATIONS = {
    "log_softmax_naive": log_softmax_naive,
    "cross_entropy": cross_entropy,
}


def probe_logits(gap: float, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits (1, C) with z_0 = gap and all others 0, target class 1."""
    z = torch.zeros(1, num_classes, dtype=torch.float64)
    z[0, 0] = gap
    return z, torch.tensor([1])


def exact_loss(gap: float, num_classes: int) -> float:
    """gap + log(1 + (C-1) e^-gap), evaluated without overflow for any gap >= 0."""
    return gap + math.log1p((num_classes - 1) * math.exp(-gap))


def gap_grid(gap_min: float, gap_max: float, per_decade: int) -> np.ndarray:
    """Log-spaced gaps from gap_min to gap_max inclusive."""
    n = int(round(math.log10(gap_max / gap_min) * per_decade)) + 1
    return np.geomspace(gap_min, gap_max, n)


def probe(implementation: str, dtype: str, num_classes: int, gap: float) -> dict:
    """One probe: loss and d loss / d z in ``dtype``; never raises on inf/NaN."""
    fn = IMPLEMENTATIONS[implementation]
    z64, y = probe_logits(gap, num_classes)
    z = z64.to(DTYPES[dtype]).requires_grad_()
    loss = fn(z, y).sum()
    (grad,) = torch.autograd.grad(loss, z)
    value = float(loss.detach().to(torch.float64))
    ref = exact_loss(gap, num_classes)
    finite = math.isfinite(value)
    return dict(
        implementation=implementation, dtype=dtype, num_classes=num_classes, logit_gap=float(gap),
        loss=value, loss_finite=finite, grad_finite=bool(torch.isfinite(grad).all()),
        reference_loss=ref, relative_error=abs(value - ref) / ref if finite else math.inf,
    )


def run_probes(cfg: dict) -> pd.DataFrame:
    """Every (implementation, dtype, num_classes, gap) of the config's overflow section."""
    ov = cfg["overflow"]
    gaps = gap_grid(ov["gap_min"], ov["gap_max"], ov["points_per_decade"])
    rows = [probe(impl, dt, c, g)
            for impl in ov["implementations"] for dt in ov["dtypes"]
            for c in ov["num_classes"] for g in gaps]
    return pd.DataFrame(rows, columns=columns.PROBES)
