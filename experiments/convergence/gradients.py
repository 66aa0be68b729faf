"""Analytic view of the vanishing gradient: d loss / d z_y as a function of the true-class logit.

For C classes with every other logit at 0, sweep the true-class logit z_y and
take the derivative of each loss with autograd in float64. Sigmoid + MSE gives
(2/C)(s - 1) s (1 - s), which vanishes both when the answer is right and when
it is confidently wrong (s -> 0); cross-entropy gives p_y - 1, which stays near
-1 while the answer is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .losses import get_loss, registered


def logit_gradients(num_classes: int = 10, z_min: float = -12.0, z_max: float = 12.0,
                    points: int = 241, params: dict | None = None) -> pd.DataFrame:
    """Long table: loss, true_logit, grad (d loss / d z_y), one row per loss and logit value."""
    zy = torch.linspace(z_min, z_max, points, dtype=torch.float64)
    rows = []
    for name in registered():
        z = torch.zeros(points, num_classes, dtype=torch.float64)
        z[:, 0] = zy
        z.requires_grad_()
        y = torch.zeros(points, dtype=torch.long)
        (g,) = torch.autograd.grad(get_loss(name, params)(z, y).sum(), z)
        rows.append(pd.DataFrame({"loss": name, "true_logit": zy.numpy(), "grad": g[:, 0].numpy()}))
    return pd.concat(rows, ignore_index=True)


def gradient_at(table: pd.DataFrame, loss: str, logit: float) -> float:
    """The tabulated gradient of ``loss`` at the logit nearest ``logit``."""
    sub = table[table["loss"] == loss]
    return float(sub.iloc[int(np.abs(sub["true_logit"] - logit).argmin())]["grad"])


def grad_norm_at_zero(name: str, num_classes: int = 10, params: dict | None = None) -> float:
    """||dl/dz|| at z = 0 (every class equally likely), per example: the gradient scale a loss starts
    training with, whatever the class (z = 0 is symmetric). Cross-entropy: sqrt(1 - 1/C); sigmoid +
    MSE: 1 / (4 sqrt(C)) (tests/test_gradients.py derives each)."""
    z = torch.zeros(1, num_classes, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(get_loss(name, params)(z, torch.zeros(1, dtype=torch.long)).sum(), z)
    return float(g.norm())
