"""Classification losses, as a registry of per-example functions.

Every loss takes logits ``z`` of shape ``(..., C)`` (any dtype) and integer
targets ``y`` of shape ``(...)`` with values in ``[0, C)``, and returns the
per-example loss of shape ``(...)``. Averaging over the batch gives the
usual ``reduction="mean"`` value of the matching torch built-in, which the
tests check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _onehot(y: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(y, num_classes).to(dtype)  # (..., C)


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l(z, y) = -log softmax(z)_y = logsumexp(z) - z_y   (``F.cross_entropy``)."""
    c = z.shape[-1]
    return F.cross_entropy(z.reshape(-1, c), y.reshape(-1), reduction="none").reshape(y.shape)


def mse_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l(z, y) = (1/C) sum_j (softmax(z)_j - [j = y])^2   (``F.mse_loss`` on probabilities)."""
    p = torch.softmax(z, dim=-1)
    return ((p - _onehot(y, z.shape[-1], p.dtype)) ** 2).mean(-1)


def mse_sigmoid(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l(z, y) = (1/C) sum_j (sigmoid(z_j) - [j = y])^2: the lecture's "sigmoid + MSE".

    d l / d z_j = (2/C) (s_j - t_j) s_j (1 - s_j) vanishes when s_j saturates.
    """
    s = torch.sigmoid(z)
    return ((s - _onehot(y, z.shape[-1], s.dtype)) ** 2).mean(-1)


def hinge(z: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """l(z, y) = (1/C) sum_{j != y} max(0, margin - z_y + z_j)   (``nn.MultiMarginLoss``, p=1)."""
    zy = z.gather(-1, y.unsqueeze(-1))                       # (..., 1)
    terms = torch.clamp(margin - zy + z, min=0)              # (..., C)
    terms = terms.masked_fill(_onehot(y, z.shape[-1], torch.bool), 0)
    return terms.sum(-1) / z.shape[-1]


LOSSES = {
    "cross_entropy": cross_entropy,
    "mse_softmax": mse_softmax,
    "mse_sigmoid": mse_sigmoid,
    "hinge": hinge,
}

# Labels for figures and tables; the same keys as LOSSES (a test checks it).
LOSS_LABELS = {
    "cross_entropy": "cross-entropy (softmax)",
    "mse_softmax": "MSE on softmax",
    "mse_sigmoid": "MSE on sigmoid",
    "hinge": "multi-class hinge",
}


def get_loss(name: str):
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {sorted(LOSSES)}")
    return LOSSES[name]
